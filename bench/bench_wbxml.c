/*
 * bench_wbxml.c: the WBXML codec benchmark (`make bench`).
 *
 * Owns: one synthetic Sync response of 10,000 contacts, each with every
 * Contacts field EAS 16.1 still has (about 14 MB), and the figures
 * measured on it: decode and encode throughput, the same decode by
 * libwbxml2 for comparison, XML rendering, and the decoder's working
 * memory (heap and stack) for a large and a small message. A second
 * argument names a file to write the message to.
 * Figures are reported, never asserted: a slow machine
 * must not fail a build. The report goes to stdout and to argv[1].
 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "wbxml/wbxml.h"

/*
 * libwbxml2 collides with our header twice: its wbxml.h has the same
 * include guard (WBXML_H) and its WBXMLError has an enumerator WBXML_OK like
 * our enum wbxml_status. Ours is included first, so the guard makes
 * wbxml_conv.h's own #include "wbxml.h" a no-op; wbxml_errors.h (which pulls
 * in wbxml_config.h and wbxml_defines.h) supplies what that file would have.
 * Their WBXML_OK is renamed LIBWBXML_OK while their headers are read.
 */
#define WBXML_OK LIBWBXML_OK
#include <wbxml/wbxml_errors.h>
#include <wbxml/wbxml_conv.h>
#undef WBXML_OK

/* Debian's libwbxml2-dev does not install wbxml_tree.h; the library exports these. */
typedef struct WBXMLTree_s WBXMLTree;
WBXMLError wbxml_tree_from_wbxml(WB_UTINY *wbxml, WB_ULONG wbxml_len, WBXMLLanguage lang,
				 WBXMLCharsetMIBEnum charset, WBXMLTree **tree);
void wbxml_tree_destroy(WBXMLTree *tree);

#define BENCH_CONTACTS 10000u
#define SMALL_CONTACTS 100u
#define MIN_RUN_SECONDS 1.0
#define OUR_RUNS 5
#define LIBWBXML_RUNS 3
#define PROBE_STACK_SIZE (256u * 1024)
#define STACK_PATTERN 0xA5
#define MEMORY_TARGET (64u * 1024)
#define MB 1e6

/* ---- report ---- */


_Noreturn static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_wbxml: %s: %s\n", what, why);
	exit(1);
}

static void say_header(int argc, char **argv)
{
	char date[32], cpu[128];
	time_t now = time(NULL);
	struct tm utc;
	gmtime_r(&now, &utc);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &utc);
	bench_cpu_model(cpu, sizeof(cpu));
	bench_say("easd WBXML codec benchmark\n");
	bench_say("date:    %s\n", date);
	bench_say("command: make bench (%s%s%s)\n", argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	bench_say("nproc:   %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	bench_say("cpu:     %s\n", cpu);
	/* Other jobs on the machine lower every figure; the load says how much to trust them. */
	double load[3];
	if (getloadavg(load, 3) == 3)
		bench_say("load:    %.2f %.2f %.2f\n", load[0], load[1], load[2]);
}

static void write_report(const char *path)
{
	if (bench_report_write(path) < 0)
		die(path, "cannot write the report");
}

/* The message itself, for comparing whole processes (easctl, wbxml2xml). */
static void write_message(const char *path, const struct buf *message)
{
	FILE *file = fopen(path, "wb");
	if (file == NULL || fwrite(message->data, 1, message->len, file) != message->len || fclose(file) != 0)
		die(path, "cannot write the message");
}

/* ---- the message ---- */

static const char *const first_names[] = {
	"Anna", "Bjorn", "Chloe", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiroshi",
	"Ines", "Jonas", "Kavya", "Liam", "Mei", "Nadia", "Oscar", "Priya",
};
static const char *const last_names[] = {
	"Andersson", "Brown", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia",
	"Haddad", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau",
};
static const char *const topics[] = {
	"Sales", "Engineering", "Research", "Operations", "Marketing", "Support", "Finance",
};
static const char *const cities[] = {
	"Lisbon", "Oslo", "Toronto", "Nairobi", "Osaka", "Lyon", "Denver", "Porto Alegre",
};
static const char *const countries[] = {
	"Portugal", "Norway", "Canada", "Kenya", "Japan", "France", "United States", "Brazil",
};
static const char *const domains[] = { "example.com", "example.org", "example.net" };
static const char *const suffixes[] = { "Jr.", "Sr.", "III", "PhD" };
static const char *const honorifics[] = { "Ms.", "Mr.", "Dr.", "Prof." };
static const char *const categories[] = { "Business", "Friends", "Family", "VIP", "Suppliers" };

#define COUNT(list) (sizeof(list) / sizeof((list)[0]))
#define PICK(list, i) ((list)[(i) % COUNT(list)])

/* A 1x1 PNG in base64 (MS-ASCNTC Picture), varied in its middle. */
#define PICTURE_FORMAT "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mN%04uAAAAAElFTkSuQmCC"

enum value_kind {
	KIND_TEXT, KIND_PERSON, KIND_FIRST, KIND_LAST, KIND_FILE_AS, KIND_COMPANY, KIND_ID,
	KIND_STREET, KIND_STATE, KIND_POSTAL, KIND_EMAIL, KIND_PHONE, KIND_DATE, KIND_URL,
	KIND_RANK, KIND_PICTURE, KIND_WORD,
};

/*
 * What goes in a field, found from its tag name. First hit wins, so the
 * address parts come before "Address" (an e-mail or IM address) and
 * JobTitle before Title. KIND_WORD fields take a word from their list.
 */
static const struct {
	const char *part;
	enum value_kind kind;
	const char *const *words;
	size_t count;
} value_kinds[] = {
	{ "Street", KIND_STREET, NULL, 0 }, { "State", KIND_STATE, NULL, 0 },
	{ "PostalCode", KIND_POSTAL, NULL, 0 }, { "City", KIND_WORD, cities, COUNT(cities) },
	{ "Country", KIND_WORD, countries, COUNT(countries) }, { "Address", KIND_EMAIL, NULL, 0 },
	{ "Phone", KIND_PHONE, NULL, 0 }, { "Number", KIND_PHONE, NULL, 0 },
	{ "MMS", KIND_PHONE, NULL, 0 }, { "Anniversary", KIND_DATE, NULL, 0 },
	{ "Birthday", KIND_DATE, NULL, 0 }, { "WebPage", KIND_URL, NULL, 0 },
	{ "WeightedRank", KIND_RANK, NULL, 0 }, { "Picture", KIND_PICTURE, NULL, 0 },
	{ "FileAs", KIND_FILE_AS, NULL, 0 }, { "FirstName", KIND_FIRST, NULL, 0 },
	{ "LastName", KIND_LAST, NULL, 0 }, { "CompanyName", KIND_COMPANY, NULL, 0 },
	{ "Id", KIND_ID, NULL, 0 }, { "Name", KIND_PERSON, NULL, 0 },
	{ "Spouse", KIND_PERSON, NULL, 0 }, { "Suffix", KIND_WORD, suffixes, COUNT(suffixes) },
	{ "JobTitle", KIND_TEXT, NULL, 0 }, { "Title", KIND_WORD, honorifics, COUNT(honorifics) },
};

static size_t value_kind_of(const char *name)
{
	size_t i = 0;
	while (i < COUNT(value_kinds) && strstr(name, value_kinds[i].part) == NULL)
		i++;
	return i;
}

/* The token shifts the lists so that two fields of one contact rarely agree. */
static void field_value(const char *name, unsigned token, unsigned i, char *out, size_t size)
{
	const char *first = PICK(first_names, i), *last = PICK(last_names, i / 3);
	const char *other_first = PICK(first_names, i + token);
	const char *other_last = PICK(last_names, i + token);
	unsigned year = 1950 + i % 60, month = 1 + i % 12, day = 1 + (i + token) % 28;
	size_t k = value_kind_of(name);
	enum value_kind kind = k < COUNT(value_kinds) ? value_kinds[k].kind : KIND_TEXT;
	const char *word = kind == KIND_WORD ? value_kinds[k].words[(i + token) % value_kinds[k].count] : "";
	switch (kind) {
	case KIND_WORD: snprintf(out, size, "%s", word); break;
	case KIND_PERSON: snprintf(out, size, "%s %s", other_first, other_last); break;
	case KIND_FIRST: snprintf(out, size, "%s", first); break;
	case KIND_LAST: snprintf(out, size, "%s", last); break;
	case KIND_FILE_AS: snprintf(out, size, "%s %u, %s", last, i, first); break;
	case KIND_COMPANY: snprintf(out, size, "%s & %s Ltd", last, PICK(last_names, i + 5)); break;
	case KIND_ID: snprintf(out, size, "%c-%08u", name[0], i * 7919u + token); break;
	case KIND_STREET: snprintf(out, size, "%u %s St", 1 + (i + token) % 900, other_last); break;
	case KIND_STATE: snprintf(out, size, "%c%c", 'A' + (i + token) % 26, 'A' + i % 26); break;
	case KIND_POSTAL: snprintf(out, size, "%05u", (i * 37u + token) % 100000); break;
	case KIND_EMAIL: snprintf(out, size, "%s%u@%s", last, i, PICK(domains, token)); break;
	case KIND_PHONE: snprintf(out, size, "+1 555 %03u %04u", token * 7 % 1000, i % 10000); break;
	case KIND_DATE: snprintf(out, size, "%04u-%02u-%02uT00:00:00.000Z", year, month, day); break;
	case KIND_URL: snprintf(out, size, "https://example.com/~%u", i); break;
	case KIND_RANK: snprintf(out, size, "%u", i % 1000); break;
	case KIND_PICTURE: snprintf(out, size, PICTURE_FORMAT, i % 10000); break;
	case KIND_TEXT: snprintf(out, size, "%s %u", PICK(topics, i + token), i); break;
	}
}

static void write_list(struct wbxml_writer *writer, enum wbxml_tag container, enum wbxml_tag item,
		       const char *const *values, size_t count, unsigned i)
{
	wbxml_writer_start(writer, container);
	for (unsigned k = 0; k < 1 + i % 3; k++)
		wbxml_writer_element_cstr(writer, item, values[(i + k) % count]);
	wbxml_writer_end(writer);
}

static void write_field(struct wbxml_writer *writer, enum wbxml_tag tag, const char *name, unsigned i)
{
	char value[160];
	switch (tag) {
	case WBXML_CONTACTS_CATEGORY:
	case WBXML_CONTACTS_CHILD:
		return; /* inside their containers */
	case WBXML_CONTACTS_CATEGORIES:
		write_list(writer, tag, WBXML_CONTACTS_CATEGORY, categories, COUNT(categories), i);
		return;
	case WBXML_CONTACTS_CHILDREN:
		write_list(writer, tag, WBXML_CONTACTS_CHILD, first_names, COUNT(first_names), i + 7);
		return;
	default:
		field_value(name, wbxml_tag_token(tag), i, value, sizeof(value));
		wbxml_writer_element_cstr(writer, tag, value);
	}
}

/* Every field of the page that EAS 16.1 has: the 2.5-only ones (Contacts
   Body, BodySize, BodyTruncated) gave way to AirSyncBase Body. */
static void write_page_fields(struct wbxml_writer *writer, unsigned page, unsigned i)
{
	for (unsigned token = 0x05; token < 64; token++) {
		const struct wbxml_tag_info *info = wbxml_tag_info(page, token);
		if (info == NULL || (info->versions & WBXML_V16_1) == 0)
			continue;
		write_field(writer, (enum wbxml_tag)(page << 8 | token), info->name, i);
	}
}

/* A plain-text body (MS-ASAIRS Type 1) of 150 to 350 bytes. */
static void write_body(struct wbxml_writer *writer, unsigned i)
{
	static const char sentence[] =
		"Met at the regional conference; follow up about the renewal and the "
		"new delivery schedule. Prefers e-mail before noon, phone after. ";
	char body[512];
	int n = snprintf(body, sizeof(body), "Notes for contact %u. ", i);
	size_t len = (size_t)n, want = 150 + (i * 37u) % 200;
	while (len < want) {
		size_t piece = sizeof(sentence) - 1 < want - len ? sizeof(sentence) - 1 : want - len;
		memcpy(body + len, sentence, piece);
		len += piece;
	}
	wbxml_writer_start(writer, WBXML_AIRSYNCBASE_BODY);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_TYPE, 1);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, len);
	wbxml_writer_element_string(writer, WBXML_AIRSYNCBASE_DATA, body, len);
	wbxml_writer_end(writer);
}

static void write_add(struct wbxml_writer *writer, unsigned i)
{
	char server_id[32];
	snprintf(server_id, sizeof(server_id), "1:%u", i + 1);
	wbxml_writer_start(writer, WBXML_AIRSYNC_ADD);
	wbxml_writer_element_cstr(writer, WBXML_AIRSYNC_SERVER_ID, server_id);
	wbxml_writer_start(writer, WBXML_AIRSYNC_APPLICATION_DATA);
	write_page_fields(writer, wbxml_tag_page(WBXML_CONTACTS_FILE_AS), i);
	write_body(writer, i);
	write_page_fields(writer, wbxml_tag_page(WBXML_CONTACTS2_NICK_NAME), i);
	wbxml_writer_end(writer);
	wbxml_writer_end(writer);
}

/* Appends a Sync response carrying contacts Adds to out. */
static void build_sync_response(struct buf *out, unsigned contacts)
{
	struct wbxml_writer writer;
	const char *reason = NULL;
	wbxml_writer_init(&writer, out);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_SYNC);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_COLLECTIONS);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_COLLECTION);
	wbxml_writer_element_cstr(&writer, WBXML_AIRSYNC_CLASS, "Contacts");
	wbxml_writer_element_cstr(&writer, WBXML_AIRSYNC_SYNC_KEY, "{5A6D2F3B-8C41-4E0A-9B7D-1F2E3C4D5E6F}2");
	wbxml_writer_element_cstr(&writer, WBXML_AIRSYNC_COLLECTION_ID, "1");
	wbxml_writer_element_uint(&writer, WBXML_AIRSYNC_STATUS, 1);
	wbxml_writer_start(&writer, WBXML_AIRSYNC_COMMANDS);
	for (unsigned i = 0; i < contacts; i++)
		write_add(&writer, i);
	for (int level = 0; level < 4; level++)
		wbxml_writer_end(&writer);
	if (wbxml_writer_finish(&writer, &reason) != WBXML_OK)
		die("writer", reason);
}

/* ---- timing ---- */

typedef void (*bench_fn)(void *context);

/* Best over runs of the seconds one call takes; each run repeats the call
   for at least min_seconds so that short calls are not clock noise. */
static double best_seconds(bench_fn fn, void *context, int runs, double min_seconds)
{
	double best = HUGE_VAL;
	for (int r = 0; r < runs; r++) {
		unsigned calls = 0;
		double start = bench_now(), elapsed;
		do {
			fn(context);
			calls++;
			elapsed = bench_now() - start;
		} while (elapsed < min_seconds);
		if (elapsed / calls < best)
			best = elapsed / calls;
	}
	return best;
}

struct decode_job {
	const uint8_t *input;
	size_t len;
	size_t events;
	size_t elements;
};

/* The whole message through the pull reader; any error ends the benchmark. */
static void decode_events(void *context)
{
	struct decode_job *job = context;
	struct wbxml_reader reader;
	struct wbxml_event event;
	size_t events = 0, elements = 0;
	wbxml_reader_init(&reader, job->input, job->len, NULL);
	do {
		if (wbxml_reader_next(&reader, &event) != WBXML_OK)
			die("reader", reader.error.reason);
		events++;
		elements += event.type == WBXML_EVENT_START;
	} while (event.type != WBXML_EVENT_DONE);
	job->events = events;
	job->elements = elements;
}

static double bench_decode(const struct buf *message, struct decode_job *job)
{
	*job = (struct decode_job){ message->data, message->len, 0, 0 };
	double seconds = best_seconds(decode_events, job, OUR_RUNS, MIN_RUN_SECONDS);
	double mbps = (double)message->len / seconds / MB;
	bench_say("\n== decode, event API (wbxml_reader_next), best of %d runs of >= %.0f s\n",
	    OUR_RUNS, MIN_RUN_SECONDS);
	bench_say("events per message: %zu (%zu elements)\n", job->events, job->elements);
	bench_say("time per message:   %.2f ms\n", seconds * 1e3);
	bench_say("throughput:         %.0f MB/s, %.1f M events/s (target >= 300 MB/s)\n",
	    mbps, (double)job->events / seconds / 1e6);
	return mbps;
}

/* ---- libwbxml2 ---- */

static void libwbxml_tree(void *context)
{
	const struct buf *message = context;
	WBXMLTree *tree = NULL;
	WBXMLError status = wbxml_tree_from_wbxml(message->data, (WB_ULONG)message->len,
						  WBXML_LANG_ACTIVESYNC, WBXML_CHARSET_UTF_8, &tree);
	if (status != LIBWBXML_OK)
		die("libwbxml wbxml_tree_from_wbxml", (const char *)wbxml_errors_string(status));
	wbxml_tree_destroy(tree);
}

/* Start tags in XML text: '<' not followed by '/', '?' or '!'. */
static size_t xml_elements(const uint8_t *xml, size_t len)
{
	size_t count = 0;
	for (size_t i = 0; i + 1 < len; i++)
		count += xml[i] == '<' && xml[i + 1] != '/' && xml[i + 1] != '?' && xml[i + 1] != '!';
	return count;
}

/* libwbxml's public converter, once: also a check that it saw every
   element. Returns its MB/s. */
static double libwbxml_to_xml(const struct buf *message, size_t our_elements)
{
	WBXMLConvWBXML2XML *conv = NULL;
	WB_UTINY *xml = NULL;
	WB_ULONG xml_len = 0;
	if (wbxml_conv_wbxml2xml_create(&conv) != LIBWBXML_OK)
		die("libwbxml", "cannot create a converter");
	wbxml_conv_wbxml2xml_set_language(conv, WBXML_LANG_ACTIVESYNC);
	wbxml_conv_wbxml2xml_set_charset(conv, WBXML_CHARSET_UTF_8);
	wbxml_conv_wbxml2xml_set_gen_type(conv, WBXML_GEN_XML_COMPACT);
	double start = bench_now();
	WBXMLError status = wbxml_conv_wbxml2xml_run(conv, message->data, (WB_ULONG)message->len,
						     &xml, &xml_len);
	double seconds = bench_now() - start;
	wbxml_conv_wbxml2xml_destroy(conv);
	if (status != LIBWBXML_OK)
		die("libwbxml wbxml_conv_wbxml2xml_run", (const char *)wbxml_errors_string(status));
	bench_say("wbxml_conv_wbxml2xml_run (compact XML, one run): %.0f ms, %.1f MB/s; "
	    "%lu bytes of XML, %zu elements (ours: %zu)\n", seconds * 1e3,
	    (double)message->len / seconds / MB, (unsigned long)xml_len,
	    xml_elements(xml, xml_len), our_elements);
	free(xml);
	return (double)message->len / seconds / MB;
}

/* Returns the MB/s of libwbxml's XML converter. */
static double bench_libwbxml(const struct buf *message, double our_mbps, size_t our_elements)
{
	struct buf copy = *message;
	double seconds = best_seconds(libwbxml_tree, &copy, LIBWBXML_RUNS, 0);
	double mbps = (double)message->len / seconds / MB;
	bench_say("\n== decode, libwbxml2 0.11.8 (same bytes, ActiveSync, UTF-8), best of %d\n",
	    LIBWBXML_RUNS);
	bench_say("wbxml_tree_from_wbxml + wbxml_tree_destroy: %.0f ms, %.1f MB/s\n", seconds * 1e3, mbps);
	double xml_mbps = libwbxml_to_xml(message, our_elements);
	bench_say("ratio ours / libwbxml: %.0fx its tree, %.0fx its XML converter (target >= 10x)\n",
	    our_mbps / mbps, our_mbps / xml_mbps);
	return xml_mbps;
}

/* ---- XML rendering ---- */

struct render_job {
	const struct buf *message;
	struct wbxml_xml_options options;
	bool fresh; /* a new buffer each time, as easctl has; else one reused, as a log has */
	struct buf reused;
	size_t xml_len;
};

static void render_xml(void *context)
{
	struct render_job *job = context;
	struct buf fresh;
	struct buf *out = job->fresh ? &fresh : &job->reused;
	struct wbxml_error error;
	buf_init(&fresh, 0);
	out->len = 0;
	if (wbxml_to_xml(job->message->data, job->message->len, NULL, &job->options, out, &error) != WBXML_OK)
		die("wbxml_to_xml", error.reason);
	job->xml_len = out->len;
	buf_cleanup(&fresh);
}

/* One line per way of rendering; returns the MB/s of the first. */
static double bench_render(const struct buf *message, double decode_mbps, double libwbxml_xml_mbps)
{
	static const struct { const char *label; bool compact, fresh; } ways[] = {
		{ "indented (easctl's), buffer reused", false, false },
		{ "compact (a log's), buffer reused", true, false },
		{ "indented, fresh buffer (as easctl)", false, true },
	};
	double first = 0;
	bench_say("\n== render XML (wbxml_to_xml, one pass), best of %d runs of >= %.0f s\n", OUR_RUNS,
	    MIN_RUN_SECONDS);
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		struct render_job job = { message, { .compact = ways[i].compact }, ways[i].fresh, { 0 }, 0 };
		buf_init(&job.reused, 0);
		double seconds = best_seconds(render_xml, &job, OUR_RUNS, MIN_RUN_SECONDS);
		buf_cleanup(&job.reused);
		double mbps = (double)message->len / seconds / MB;
		bench_say("%-36s %6.2f ms, %4.0f MB/s of WBXML in, %4.0f MB/s of XML out (%zu bytes)\n",
		    ways[i].label, seconds * 1e3, mbps, (double)job.xml_len / seconds / MB, job.xml_len);
		if (i == 0)
			first = mbps;
	}
	bench_say("ratio: decode alone %.1fx faster than rendering; rendering %.0fx libwbxml's converter\n",
	    decode_mbps / first, first / libwbxml_xml_mbps);
	return first;
}

/* ---- working memory ---- */

static size_t heap_in_use(void)
{
	struct mallinfo2 info = mallinfo2();
	return info.uordblks + info.hblkhd;
}

/* Heap in use is sampled after every event, so an allocation the reader
   kept across events would show; one made and freed within a single
   wbxml_reader_next call would not (glibc 2.34 dropped the malloc hooks
   that could count calls without interposing malloc). */
static size_t heap_peak_delta(const struct buf *message, size_t *after_out)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	size_t before = heap_in_use(), peak = before;
	wbxml_reader_init(&reader, message->data, message->len, NULL);
	do {
		if (wbxml_reader_next(&reader, &event) != WBXML_OK)
			die("reader", reader.error.reason);
		size_t in_use = heap_in_use();
		if (in_use > peak)
			peak = in_use;
	} while (event.type != WBXML_EVENT_DONE);
	size_t after = heap_in_use();
	*after_out = after > before ? after - before : 0;
	return peak - before;
}

static void *probe_main(void *context)
{
	struct decode_job *job = context;
	if (job->input != NULL)
		decode_events(job);
	return NULL;
}

/* Bytes of a fresh thread stack written while the job ran. glibc keeps the
   thread descriptor and TLS at the top of a stack given with
   pthread_attr_setstack, so an empty job gives the baseline. */
static size_t stack_touched(struct decode_job *job)
{
	uint8_t *stack = malloc(PROBE_STACK_SIZE);
	pthread_attr_t attr;
	pthread_t thread;
	if (stack == NULL)
		die("stack probe", "out of memory");
	memset(stack, STACK_PATTERN, PROBE_STACK_SIZE);
	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, stack, PROBE_STACK_SIZE) != 0 ||
	    pthread_create(&thread, &attr, probe_main, job) != 0)
		die("stack probe", "cannot start the thread");
	pthread_join(thread, NULL);
	pthread_attr_destroy(&attr);
	size_t untouched = 0;
	while (untouched < PROBE_STACK_SIZE && stack[untouched] == STACK_PATTERN)
		untouched++;
	free(stack);
	return PROBE_STACK_SIZE - untouched;
}

static void bench_memory(const char *label, const struct buf *message)
{
	struct decode_job empty = { 0 };
	struct decode_job job = { message->data, message->len, 0, 0 };
	size_t heap_after;
	size_t heap = heap_peak_delta(message, &heap_after);
	size_t baseline = stack_touched(&empty);
	size_t stack = stack_touched(&job);
	size_t total = heap + stack;
	bench_say("%s (%zu bytes):\n", label, message->len);
	bench_say("  heap: %zu bytes above the start at its peak, %zu after\n", heap, heap_after);
	bench_say("  stack: %zu bytes touched (%zu by the decode, %zu by thread start-up)\n",
	    stack, stack - baseline, baseline);
	bench_say("  peak beyond the input: %zu bytes (target <= %u)%s\n", total, MEMORY_TARGET,
	    total <= MEMORY_TARGET ? "" : "  ** over target **");
}

/* ---- encode and tree ---- */

static void encode_message(void *context)
{
	struct buf *out = context;
	out->len = 0;
	build_sync_response(out, BENCH_CONTACTS);
}

static void bench_encode(const struct buf *message)
{
	struct buf out;
	buf_init(&out, 0);
	double seconds = best_seconds(encode_message, &out, OUR_RUNS, MIN_RUN_SECONDS);
	if (out.len != message->len || memcmp(out.data, message->data, out.len) != 0)
		die("encode", "the writer gave other bytes the second time");
	bench_say("\n== encode (wbxml_writer_*, buffer reused), best of %d runs of >= %.0f s\n",
	    OUR_RUNS, MIN_RUN_SECONDS);
	bench_say("time per message: %.2f ms, %.0f MB/s (includes formatting the values with snprintf)\n",
	    seconds * 1e3, (double)out.len / seconds / MB);
	buf_cleanup(&out);
}

struct tree_job {
	const struct buf *message;
	size_t arena_bytes;
};

static void parse_tree(void *context)
{
	struct tree_job *job = context;
	struct arena *arena = arena_new(0);
	struct wbxml_node *root;
	struct wbxml_error error;
	if (wbxml_tree_parse(arena, job->message->data, job->message->len, NULL, &root,
			     &error) != WBXML_OK)
		die("wbxml_tree_parse", error.reason);
	job->arena_bytes = arena_used(arena);
	arena_free(&arena);
}

static void bench_tree(const struct buf *message)
{
	struct tree_job job = { message, 0 };
	double seconds = best_seconds(parse_tree, &job, OUR_RUNS, MIN_RUN_SECONDS);
	bench_say("\n== tree layer, for information, best of %d runs of >= %.0f s\n", OUR_RUNS,
	    MIN_RUN_SECONDS);
	bench_say("wbxml_tree_parse (fresh arena, 16 KB chunks): %.2f ms, %.0f MB/s; arena holds %zu bytes\n",
	    seconds * 1e3, (double)message->len / seconds / MB, job.arena_bytes);
}

struct tree_encode_job {
	const struct wbxml_node *root;
	struct buf out;
};

static void encode_tree(void *context)
{
	struct tree_encode_job *job = context;
	job->out.len = 0;
	if (wbxml_tree_encode(job->root, &job->out) != WBXML_OK)
		die("wbxml_tree_encode", "the writer failed");
}

/* The writer alone, without formatting values: what encode costs a
   command whose strings are already at hand. */
static void bench_tree_encode(const struct buf *message)
{
	struct arena *arena = arena_new(0);
	struct tree_encode_job job;
	struct wbxml_node *root;
	struct wbxml_error error;
	if (wbxml_tree_parse(arena, message->data, message->len, NULL, &root, &error) != WBXML_OK)
		die("wbxml_tree_parse", error.reason);
	job.root = root;
	buf_init(&job.out, 0);
	double seconds = best_seconds(encode_tree, &job, OUR_RUNS, MIN_RUN_SECONDS);
	if (job.out.len != message->len || memcmp(job.out.data, message->data, message->len) != 0)
		die("wbxml_tree_encode", "the tree gave other bytes");
	bench_say("wbxml_tree_encode (buffer reused): %.2f ms, %.0f MB/s\n", seconds * 1e3,
	    (double)message->len / seconds / MB);
	buf_cleanup(&job.out);
	arena_free(&arena);
}

int main(int argc, char **argv)
{
	struct buf message, small;
	struct decode_job job;
	buf_init(&message, 0);
	buf_init(&small, 0);
	say_header(argc, argv);
	build_sync_response(&message, BENCH_CONTACTS);
	build_sync_response(&small, SMALL_CONTACTS);
	bench_say("\nmessage: Sync response, %u contact Adds (all EAS 16.1 Contacts fields, "
	    "AirSyncBase Body, Contacts2): %zu bytes; MB below = 10^6 bytes\n", BENCH_CONTACTS,
	    message.len);

	/* Memory first: mallinfo2 walks the free lists, which are short only
	   until libwbxml has built and freed its trees. */
	bench_say("\n== decoder working memory (sizeof(struct wbxml_reader) = %zu bytes)\n",
	    sizeof(struct wbxml_reader));
	bench_memory("10,000 contacts", &message);
	bench_memory("100 contacts", &small);
	double mbps = bench_decode(&message, &job);
	double libwbxml_xml_mbps = bench_libwbxml(&message, mbps, job.elements);
	bench_render(&message, mbps, libwbxml_xml_mbps);
	bench_encode(&message);
	bench_tree(&message);
	bench_tree_encode(&message);

	if (argc > 1)
		write_report(argv[1]);
	if (argc > 2)
		write_message(argv[2], &message);
	buf_cleanup(&small);
	buf_cleanup(&message);
	bench_report_free();
	return 0;
}
