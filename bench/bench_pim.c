/*
 * bench_pim.c: what contacts and calendars cost on a real easd, started
 * through the e2e harness (field-notes §6, seed 003). Reported, not
 * asserted:
 *   1. one Sync adding 10,000 contacts (a phone's whole address book in one
 *      POST): time, easd CPU, easd's RSS growth;
 *   2. the same request again (its answer lost): time, items stored after
 *      it (duplicates), whether it answers the same ServerIds;
 *   3. an initial sync of those 10,000 contacts to another device in
 *      windows of 100: time, round trips, easd CPU;
 *   4. the same for a 5-year calendar (10 events a week and 50 weekly
 *      series), added in one Sync.
 *
 * Usage: bench_pim [RESULT_FILE [BUILD_DIR]] (see bench_choose_build).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "e2e.h"
#include "store/store.h"

#define PASSWORD "bench password"
#define CONTACTS 10000
#define WINDOW 100
#define YEARS 5
#define EVENTS_PER_WEEK 10
#define SERIES 50
#define MAX_ROUNDS 10000

static struct e2e_server easd;

static struct easclient *device(const char *device_id)
{
	struct easclient_options options = e2e_client_options(&easd, "bench", PASSWORD, device_id);
	struct easclient *client = easclient_new(&options);
	if (client == NULL || easclient_provision(client, NULL) < 0)
		bench_die(&easd, "cannot provision %s", device_id);
	return client;
}

/* The ServerId of the folder of that FolderSync Type. */
static char *folder_of_type(struct easclient *client, const char *type)
{
	static const char xml[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	struct easclient_response response;
	struct arena *arena = arena_new(0);
	char *found = NULL;
	easclient_response_init(&response);
	if (easclient_post_xml(client, "FolderSync", xml, &response) < 0 || response.http_status != 200)
		bench_die(&easd, "FolderSync failed");
	struct wbxml_node *root = easclient_parse(&response, arena);
	for (const struct wbxml_node *add = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD); add != NULL; add = add->next)
		if (strcmp(easclient_find_text(add, WBXML_FOLDERHIERARCHY_TYPE, arena), type) == 0)
			found = strdup(easclient_find_text(add, WBXML_FOLDERHIERARCHY_SERVER_ID, arena));
	easclient_response_cleanup(&response);
	arena_free(&arena);
	if (found == NULL)
		bench_die(&easd, "no folder of type %s", type);
	return found;
}

/* Posts a Sync given as XML; returns its SyncKey, and the response in *response. */
static char *post_sync(struct easclient *client, const char *xml, struct easclient_response *response)
{
	struct arena *arena = arena_new(0);
	if (easclient_post_xml(client, "Sync", xml, response) < 0 || response->http_status != 200)
		bench_die(&easd, "Sync failed: HTTP %ld", response->http_status);
	struct wbxml_node *root = easclient_parse(response, arena);
	const char *key = root != NULL ? easclient_find_text(root, WBXML_AIRSYNC_SYNC_KEY, arena) : NULL;
	if (key == NULL)
		bench_die(&easd, "Sync answered without a SyncKey");
	char *copy = strdup(key);
	arena_free(&arena);
	return copy;
}

static char *start(struct easclient *client, const char *folder)
{
	char xml[256];
	struct easclient_response response;
	easclient_response_init(&response);
	snprintf(xml, sizeof(xml),
		 "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId>"
		 "</Collection></Collections></Sync>", folder);
	char *key = post_sync(client, xml, &response);
	easclient_response_cleanup(&response);
	return key;
}

/* A Sync of count Adds made by add(i, out), as WBXML. */
static void bulk_request(const char *folder, const char *key, unsigned count, void (*add)(unsigned, struct buf *),
			 struct buf *wbxml)
{
	struct buf xml;
	struct wbxml_error error;
	buf_init(&xml, 0);
	buf_printf(&xml, "<Sync xmlns=\"AirSync\" xmlns:c=\"Contacts\" xmlns:cal=\"Calendar\" xmlns:b=\"AirSyncBase\">"
			 "<Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId><Commands>", key, folder);
	for (unsigned i = 0; i < count; i++)
		add(i, &xml);
	buf_printf(&xml, "</Commands></Collection></Collections></Sync>");
	buf_init(wbxml, 0);
	if (wbxml_from_xml((const char *)xml.data, xml.len, false, wbxml, &error) != 0)
		bench_die(&easd, "cannot encode the bulk request: %s", error.reason);
	buf_cleanup(&xml);
}

static void contact(unsigned i, struct buf *xml)
{
	buf_printf(xml,
		   "<Add><ClientId>new_%u</ClientId><ApplicationData><c:FirstName>First%u</c:FirstName>"
		   "<c:LastName>Last%u</c:LastName><c:CompanyName>Company %u</c:CompanyName>"
		   "<c:Email1Address>person%u@example.org</c:Email1Address><c:MobilePhoneNumber>+1555%07u</c:MobilePhoneNumber>"
		   "<c:BusinessAddressCity>Springfield</c:BusinessAddressCity><c:Birthday>1980-06-%02uT00:00:00.000Z</c:Birthday>"
		   "<b:Body><b:Type>1</b:Type><b:Data>Notes about person %u.</b:Data></b:Body></ApplicationData></Add>",
		   i, i, i, i % 500, i, i, i % 28 + 1, i);
}

/* Week w's events (single ones) start five years ago; every 52nd Add is a weekly series instead. */
static void event(unsigned i, struct buf *xml)
{
	time_t start = time(NULL) - (time_t)YEARS * 365 * 86400 + (time_t)i * 7 * 86400 / EVENTS_PER_WEEK;
	char from[20], to[20];
	struct tm tm;
	time_t end = start + 3600;
	gmtime_r(&start, &tm);
	strftime(from, sizeof(from), "%Y%m%dT%H%M%SZ", &tm);
	gmtime_r(&end, &tm);
	strftime(to, sizeof(to), "%Y%m%dT%H%M%SZ", &tm);
	buf_printf(xml,
		   "<Add><ClientId>e%u</ClientId><ApplicationData><cal:Subject>Meeting %u</cal:Subject>"
		   "<cal:StartTime>%s</cal:StartTime><cal:EndTime>%s</cal:EndTime><cal:Location>Room %u</cal:Location>"
		   "<cal:BusyStatus>2</cal:BusyStatus><cal:Sensitivity>0</cal:Sensitivity><cal:Reminder>15</cal:Reminder>"
		   "<cal:UID>uid-%u@example.org</cal:UID>%s<b:Body><b:Type>1</b:Type><b:Data>Agenda %u</b:Data></b:Body>"
		   "</ApplicationData></Add>",
		   i, i, from, to, i % 20, i,
		   i % 52 == 0 ? "<cal:Recurrence><cal:Type>1</cal:Type><cal:Interval>1</cal:Interval>"
				 "<cal:DayOfWeek>2</cal:DayOfWeek></cal:Recurrence>" : "",
		   i);
}

/* One POST of a bulk request: seconds, and easd's CPU and RSS growth around it. */
static double timed_post(struct easclient *client, const struct buf *wbxml, struct easclient_response *response,
			 double *cpu_out, long *growth_out)
{
	long rss = bench_rss_kb(easd.pid);
	double cpu = bench_cpu_seconds(easd.pid), began = bench_now();
	if (easclient_post(client, "Sync", wbxml->data, wbxml->len, NULL, response) < 0 || response->http_status != 200)
		bench_die(&easd, "bulk Sync failed: HTTP %ld", response->http_status);
	double seconds = bench_now() - began;
	*cpu_out = bench_cpu_seconds(easd.pid) - cpu;
	*growth_out = bench_peak_rss_kb(easd.pid) - rss;
	return seconds;
}

/* Items of the folder in the store. */
static uint64_t stored_items(const char *folder)
{
	char path[300], error[256];
	struct store *store;
	uint64_t count = 0;
	snprintf(path, sizeof(path), "%s/data", easd.dir);
	if (store_open(path, 1, &store, error, sizeof(error)) < 0)
		bench_die(&easd, "store_open: %s", error);
	struct store_session *session = store_session_acquire(store);
	if (store_folder_count(session, strtoll(folder, NULL, 10), &count) != STORE_OK)
		bench_die(&easd, "cannot count items");
	store_session_release(&session);
	store_close(&store);
	return count;
}

/* A new device syncs the folder to the end in windows of WINDOW. */
static void initial_sync(const char *what, const char *device_id, const char *folder, unsigned expected)
{
	struct easclient *client = device(device_id);
	struct easclient_response response;
	struct arena *arena = arena_new(0);
	char *key = start(client, folder), xml[512];
	unsigned items = 0, rounds = 0;
	double cpu = bench_cpu_seconds(easd.pid), began = bench_now();
	easclient_response_init(&response);
	for (bool more = true; more && rounds < MAX_ROUNDS; rounds++) {
		snprintf(xml, sizeof(xml),
			 "<Sync xmlns=\"AirSync\"><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
			 "<WindowSize>%d</WindowSize></Collection></Collections></Sync>", key, folder, WINDOW);
		free(key);
		key = post_sync(client, xml, &response);
		struct wbxml_node *root = easclient_parse(&response, arena);
		items += easclient_count(easclient_find(root, WBXML_AIRSYNC_COMMANDS), WBXML_AIRSYNC_ADD);
		more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
	}
	double seconds = bench_now() - began;
	bench_say("  initial sync of %s: %u items (%u expected) in %u round trips of %d: %.2f s, easd CPU %.2f s\n",
		  what, items, expected, rounds, WINDOW, seconds, bench_cpu_seconds(easd.pid) - cpu);
	free(key);
	easclient_response_cleanup(&response);
	arena_free(&arena);
	easclient_free(&client);
}

/* Whether two Sync answers carry the same Responses (the SyncKey of a repeated request is a new one). */
static bool same_responses(const struct easclient_response *a, const struct easclient_response *b)
{
	struct arena *arena = arena_new(0);
	const struct wbxml_node *first = easclient_find(easclient_parse(a, arena), WBXML_AIRSYNC_RESPONSES);
	const struct wbxml_node *again = easclient_find(easclient_parse(b, arena), WBXML_AIRSYNC_RESPONSES);
	bool same = first != NULL && again != NULL && wbxml_tree_equal(first, again);
	arena_free(&arena);
	return same;
}

static void phase_contacts(void)
{
	struct easclient *phone = device("PHONE");
	char *folder = folder_of_type(phone, "9"), *key = start(phone, folder);
	struct easclient_response first, again;
	struct buf wbxml;
	double cpu;
	long growth;
	easclient_response_init(&first);
	easclient_response_init(&again);
	bulk_request(folder, key, CONTACTS, contact, &wbxml);
	bench_say("\n1. one Sync adding %d contacts (%zu bytes of WBXML)\n", CONTACTS, wbxml.len);
	double seconds = timed_post(phone, &wbxml, &first, &cpu, &growth);
	bench_say("  %.2f s, easd CPU %.2f s, easd peak RSS growth %ld kB; %llu contacts stored\n", seconds, cpu, growth,
		  (unsigned long long)stored_items(folder));
	bench_say("\n2. the same request again (its answer lost)\n");
	seconds = timed_post(phone, &wbxml, &again, &cpu, &growth);
	bench_say("  %.2f s, easd CPU %.2f s; %llu contacts stored after it (duplicates: %lld); the same %u answers\n"
		  "  (ClientId, Status, ServerId) in the same order: %s\n",
		  seconds, cpu, (unsigned long long)stored_items(folder), (long long)stored_items(folder) - CONTACTS,
		  CONTACTS, same_responses(&first, &again) ? "yes" : "NO");
	bench_say("\n3. a second device\n");
	initial_sync("10,000 contacts", "LAPTOP", folder, CONTACTS);
	buf_cleanup(&wbxml);
	easclient_response_cleanup(&first);
	easclient_response_cleanup(&again);
	free(key);
	free(folder);
	easclient_free(&phone);
}

static void phase_calendar(void)
{
	unsigned events = YEARS * 52 * EVENTS_PER_WEEK;
	struct easclient *phone = device("CALPHONE");
	char *folder = folder_of_type(phone, "8"), *key = start(phone, folder);
	struct easclient_response response;
	struct buf wbxml;
	double cpu;
	long growth;
	easclient_response_init(&response);
	bulk_request(folder, key, events, event, &wbxml);
	bench_say("\n4. a %d-year calendar: %u events, %u of them weekly series, in one Sync\n", YEARS, events,
		  (events + 51) / 52);
	double seconds = timed_post(phone, &wbxml, &response, &cpu, &growth);
	bench_say("  added in %.2f s, easd CPU %.2f s\n", seconds, cpu);
	initial_sync("the calendar", "CALLAPTOP", folder, events);
	buf_cleanup(&wbxml);
	easclient_response_cleanup(&response);
	free(key);
	free(folder);
	easclient_free(&phone);
}

int main(int argc, char **argv)
{
	static const char *const users[] = { "bench:" PASSWORD, NULL };
	char model[128];
	double began = bench_now();
	bench_choose_build(argc, argv);
	if (e2e_start(&easd, "[http]\nthreads = 0\n", users) < 0)
		bench_die(&easd, "cannot start %s/easd", getenv("EASD_BUILD"));
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	bench_cpu_model(model, sizeof(model));
	bench_say("Contacts and calendars on a real easd (make bench: %s)\n", argv[0]);
	bench_say("date: %04d-%02d-%02dT%02d:%02dZ, command: make bench, nproc %ld, %s, load average at start %.1f\n",
		  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, sysconf(_SC_NPROCESSORS_ONLN),
		  model, bench_load_average());
	bench_say("easd: release build, threads = nproc, SQLite store (WAL, synchronous=FULL); the client on the same\n"
		  "      machine; easd CPU from /proc/<pid>/stat, RSS growth = peak RSS (VmHWM) after - RSS before\n");
	bench_say("easd RSS after start: %ld kB\n", bench_rss_kb(easd.pid));
	phase_contacts();
	phase_calendar();
	int stopped = e2e_stop(&easd);
	bench_say("\nwhole run: %.0f s; load average at the end %.1f; easd stopped with status %d\n", bench_now() - began,
		  bench_load_average(), stopped);
	e2e_cleanup(&easd);
	int status = 0;
	if (argc > 1 && bench_report_write(argv[1]) < 0) {
		fprintf(stderr, "bench_pim: cannot write %s: %s\n", argv[1], strerror(errno));
		status = 1;
	}
	bench_report_free();
	return status;
}
