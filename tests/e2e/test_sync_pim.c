/*
 * test_sync_pim.c: Contacts, Calendar, Tasks and Notes through Sync against
 * a real easd: what one device writes another reads back (14.1 and 16.1),
 * Changes merged field by field as the Supported list says (ghosting),
 * lossy echoes of bodies and pictures kept from destroying data, birthdays
 * as dates, the rules of Tasks and Notes, calendar filter windows, and a
 * bulk Add that a retry does not duplicate. Test numbers are those of
 * field-notes.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e_mail.h"

/* Namespaces of the PIM classes, declared on each ApplicationData. */
#define NS                                                                                                           \
	" xmlns:c=\"Contacts\" xmlns:c2=\"Contacts2\" xmlns:cal=\"Calendar\" xmlns:t=\"Tasks\" xmlns:n=\"Notes\""

#define BODY(type, data)                                                                                             \
	"<airsyncbase:Body><airsyncbase:Type>" type "</airsyncbase:Type><airsyncbase:Data>" data                     \
	"</airsyncbase:Data></airsyncbase:Body>"

#define BERLIN_ZONE                                                                                              \
	"xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAAAAFAAMAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAAFAAIAAAAAAAAA" \
	"xP///w=="

/* Bodies as the device asks: plain or HTML, whole. */
#define PLAIN_WHOLE "<airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference>"
#define HTML_WHOLE "<airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPreference>"

static const char *text(struct e2e_mail *f, const struct wbxml_node *root, enum wbxml_tag tag)
{
	return easclient_find_text(root, tag, f->arena);
}

static struct wbxml_node *sync_folder(struct e2e_mail *f, struct easclient *client, const char *folder, const char *key,
			       const char *options, const char *commands)
{
	return e2e_mail_sync(f, client, folder, key, 100, options, commands);
}

/* The last response as XML, for a failure's message. */
static const char *response_xml(struct e2e_mail *f)
{
	struct buf xml;
	buf_init(&xml, 0);
	wbxml_to_xml(f->response.body.data, f->response.body.len, NULL, NULL, &xml, NULL);
	const char *copy = xml.len > 0 ? e2e_mail_format(f, "%.*s", (int)xml.len, (const char *)xml.data) : "(empty)";
	buf_cleanup(&xml);
	return copy;
}

/* The device sends its commands, which all succeed; *key moves on. */
static void step(struct e2e_mail *f, struct easclient *client, const char *folder, const char **key,
		 const char *commands)
{
	struct wbxml_node *root = sync_folder(f, client, folder, *key, NULL, commands);
	if (easclient_find(root, WBXML_AIRSYNC_RESPONSES) != NULL)
		fail_msg("a command failed: %s", response_xml(f));
	*key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
}

/* SyncKey 0 of the folder, with inner XML of a Supported element (NULL: none sent). */
static const char *start(struct e2e_mail *f, struct easclient *client, const char *folder, const char *supported)
{
	const char *collection =
		e2e_mail_format(f, "<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId>%s%s%s</Collection>",
				folder, supported != NULL ? "<Supported" NS ">" : "", supported != NULL ? supported : "",
				supported != NULL ? "</Supported>" : "");
	struct wbxml_node *root = e2e_mail_post_sync(f, client, collection, NULL);
	assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	return text(f, root, WBXML_AIRSYNC_SYNC_KEY);
}

/* An Add command of fields (inner XML of ApplicationData). */
static const char *add(struct e2e_mail *f, const char *client_id, const char *fields)
{
	return e2e_mail_format(f, "<Add><ClientId>%s</ClientId><ApplicationData" NS ">%s</ApplicationData></Add>",
			       client_id, fields);
}

static const char *change(struct e2e_mail *f, const char *server_id, const char *fields)
{
	return e2e_mail_format(f, "<Change><ServerId>%s</ServerId><ApplicationData" NS ">%s</ApplicationData></Change>",
			       server_id, fields);
}

/* The answer to the request's only Add: its Status, and its ServerId in *server_id (when 1). */
static const char *add_status(struct e2e_mail *f, const struct wbxml_node *root, const char **server_id)
{
	const struct wbxml_node *answer = easclient_find(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD);
	assert_non_null(answer);
	if (server_id != NULL)
		*server_id = text(f, answer, WBXML_AIRSYNC_SERVER_ID);
	return text(f, answer, WBXML_AIRSYNC_STATUS);
}

/* A device's next Sync brings one command of that kind: returns it (its ApplicationData inside). */
static const struct wbxml_node *one_command(struct e2e_mail *f, struct easclient *client, const char *folder,
					    const char **key, const char *options, enum wbxml_tag kind)
{
	struct wbxml_node *root = sync_folder(f, client, folder, *key, options, NULL);
	const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
	if (commands == NULL || easclient_count(commands, kind) != 1)
		fail_msg("expected one command %#x in %s", kind, response_xml(f));
	*key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	return easclient_find(commands, kind);
}

/* Syncs a new device through the folder; returns how many items it got. */
static unsigned count_items(struct e2e_mail *f, const char *device_id, const char *folder)
{
	struct easclient *client = e2e_mail_device(f, device_id, 0);
	const char *key = start(f, client, folder, NULL);
	unsigned count = 0;
	for (bool more = true; more;) {
		struct wbxml_node *root = e2e_mail_sync(f, client, folder, key, 512, NULL, NULL);
		count += easclient_count(easclient_find(root, WBXML_AIRSYNC_COMMANDS), WBXML_AIRSYNC_ADD);
		more = easclient_find(root, WBXML_AIRSYNC_MORE_AVAILABLE) != NULL;
		key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	}
	easclient_free(&client);
	return count;
}

/* The event of that subject in a new device's first Sync of the calendar. */
static const struct wbxml_node *event_named(struct e2e_mail *f, struct easclient *client, const char *calendar,
					    const char *subject)
{
	const char *key = start(f, client, calendar, NULL);
	struct wbxml_node *root = sync_folder(f, client, calendar, key, NULL, NULL);
	const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
	for (const struct wbxml_node *add = commands != NULL ? commands->first_child : NULL; add != NULL; add = add->next)
		if (strcmp(text(f, add, WBXML_CALENDAR_SUBJECT), subject) == 0)
			return add;
	fail_msg("no event %s", subject);
	return NULL;
}

static const char *contacts_of(struct e2e_mail *f)
{
	return e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "9"));
}

#define ADA                                                                                                          \
	"<c:FirstName>Ada</c:FirstName><c:LastName>Lovelace</c:LastName><c:JobTitle>Analyst</c:JobTitle>"            \
	"<c:Email1Address>ada@example.org</c:Email1Address><c:Birthday>1980-06-01T22:00:00.000Z</c:Birthday>"        \
	"<c:Categories><c:Category>VIP</c:Category></c:Categories><c:Children><c:Child>Byron</c:Child></c:Children>" \
	"<c2:NickName>Countess</c2:NickName>" BODY("1", "Met at the Analytical Engine demo.")

/*
 * A contact written on a 14.1 phone reaches a 16.1 laptop with every
 * field (the birthday as the date meant, T48; FileAs made, T53); the
 * laptop's Change without Supported keeps what it leaves out (T45), and
 * the phone gets the whole contact back.
 */
static void contact_round_trip_between_versions(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *phone_key = start(f, f->phone, contacts, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, phone_key, NULL, add(f, "c1", ADA));
	assert_string_equal(add_status(f, root, &server_id), "1");
	assert_null(easclient_find(root, WBXML_AIRSYNC_COMMANDS)); /* not echoed */
	phone_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);

	const char *laptop_key = start(f, laptop, contacts, NULL);
	const struct wbxml_node *item = one_command(f, laptop, contacts, &laptop_key, PLAIN_WHOLE, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_AIRSYNC_SERVER_ID), server_id);
	assert_string_equal(text(f, item, WBXML_CONTACTS_FIRST_NAME), "Ada");
	assert_string_equal(text(f, item, WBXML_CONTACTS_JOB_TITLE), "Analyst");
	assert_string_equal(text(f, item, WBXML_CONTACTS_EMAIL1_ADDRESS), "ada@example.org");
	assert_string_equal(text(f, item, WBXML_CONTACTS_BIRTHDAY), "1980-06-02T00:00:00.000Z");
	assert_string_equal(text(f, item, WBXML_CONTACTS_CATEGORY), "VIP");
	assert_string_equal(text(f, item, WBXML_CONTACTS_CHILD), "Byron");
	assert_string_equal(text(f, item, WBXML_CONTACTS2_NICK_NAME), "Countess");
	assert_string_equal(text(f, item, WBXML_CONTACTS_FILE_AS), "Lovelace, Ada");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "Met at the Analytical Engine demo.");
	assert_null(easclient_find(item, WBXML_CONTACTS_ANNIVERSARY)); /* T49: none, none sent */

	root = sync_folder(f, laptop, contacts, laptop_key, NULL,
		    change(f, server_id, "<c:FirstName>Ada</c:FirstName><c:LastName>Lovelace</c:LastName>"
					 "<c:JobTitle>Countess of Lovelace</c:JobTitle>"));
	assert_null(easclient_find(root, WBXML_AIRSYNC_RESPONSES)); /* succeeded */
	item = one_command(f, f->phone, contacts, &phone_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CONTACTS_JOB_TITLE), "Countess of Lovelace");
	assert_string_equal(text(f, item, WBXML_CONTACTS_BIRTHDAY), "1980-06-02T00:00:00.000Z");
	assert_string_equal(text(f, item, WBXML_CONTACTS_CATEGORY), "VIP");
	assert_string_equal(text(f, item, WBXML_CONTACTS2_NICK_NAME), "Countess");
	assert_non_null(strstr(text(f, item, WBXML_AIRSYNCBASE_DATA), "Analytical Engine"));
	/* An empty element clears the field, whoever sends it. */
	sync_folder(f, f->phone, contacts, phone_key, NULL, change(f, server_id, "<c:Categories/><c2:NickName/>"));
	item = one_command(f, laptop, contacts, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_null(easclient_find(item, WBXML_CONTACTS_CATEGORIES));
	assert_null(easclient_find(item, WBXML_CONTACTS2_NICK_NAME));
	assert_string_equal(text(f, item, WBXML_CONTACTS_JOB_TITLE), "Countess of Lovelace");
	easclient_free(&laptop);
}

/*
 * Ghosting (T43, T44, T46): a device that listed fields in Supported at
 * SyncKey 0 deletes a listed field it leaves out and keeps the others; an
 * empty Supported keeps everything; a Supported sent later is ignored, and
 * the list survives a restart.
 */
static void supported_list_decides_what_omitted_means(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	const char *key = start(f, f->phone, contacts,
				"<c:FirstName/><c:LastName/><c:JobTitle/><c:Email1Address/><c:FileAs/>");
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL, add(f, "c1", ADA));
	assert_string_equal(add_status(f, root, &server_id), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	assert_int_equal(e2e_restart(&f->server, NULL), 0);
	/* Supported with a key other than 0: no error, ignored. */
	const char *collection = e2e_mail_format(
		f, "<Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId><Supported/></Collection>", key, contacts);
	root = e2e_mail_post_sync(f, f->phone, collection, NULL);
	if (root != NULL)
		assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "1");
	root = sync_folder(f, f->phone, contacts, key, NULL,
		    change(f, server_id, "<c:FirstName>Ada</c:FirstName><c:LastName>King</c:LastName>"));
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);

	struct easclient *laptop = e2e_mail_device(f, "LAPTOP", 0);
	const char *laptop_key = start(f, laptop, contacts, "");
	const struct wbxml_node *item = one_command(f, laptop, contacts, &laptop_key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_CONTACTS_LAST_NAME), "King");
	assert_null(easclient_find(item, WBXML_CONTACTS_JOB_TITLE));      /* listed, left out: deleted */
	assert_null(easclient_find(item, WBXML_CONTACTS_EMAIL1_ADDRESS));
	assert_string_equal(text(f, item, WBXML_CONTACTS_FILE_AS), "King, Ada"); /* listed, left out: made again */
	assert_string_equal(text(f, item, WBXML_CONTACTS_CATEGORY), "VIP");     /* not listed: kept */
	assert_string_equal(text(f, item, WBXML_CONTACTS_CHILD), "Byron");
	assert_non_null(easclient_find(item, WBXML_AIRSYNCBASE_BODY));          /* R878 */
	/* The laptop's empty Supported keeps everything it leaves out. */
	sync_folder(f, laptop, contacts, laptop_key, NULL, change(f, server_id, "<c:FirstName>Augusta</c:FirstName>"));
	item = one_command(f, f->phone, contacts, &key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CONTACTS_FIRST_NAME), "Augusta");
	assert_string_equal(text(f, item, WBXML_CONTACTS_LAST_NAME), "King");
	assert_string_equal(text(f, item, WBXML_CONTACTS_CHILD), "Byron");
	easclient_free(&laptop);
}

/* T45 strict: with [sync] omitted = delete, a device without Supported deletes what it leaves out. */
static void omitted_fields_deleted_when_configured(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	const char *key = start(f, f->phone, contacts, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL, add(f, "c1", ADA));
	assert_string_equal(add_status(f, root, &server_id), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, f->phone, contacts, key, NULL, change(f, server_id, "<c:FirstName>Ada</c:FirstName>"));
	const char *tablet_key = start(f, f->tablet, contacts, NULL);
	const struct wbxml_node *item = one_command(f, f->tablet, contacts, &tablet_key, NULL, WBXML_AIRSYNC_ADD);
	assert_null(easclient_find(item, WBXML_CONTACTS_BIRTHDAY));
	assert_null(easclient_find(item, WBXML_CONTACTS_CATEGORIES));
	assert_string_equal(text(f, item, WBXML_CONTACTS_FILE_AS), "Ada");
	assert_non_null(easclient_find(item, WBXML_AIRSYNCBASE_BODY)); /* R878 whatever the mode */
	/* T51: a picture past [sync] max_picture_size is dropped, the contact is kept (Status 1). */
	char picture[201];
	memset(picture, 'A', 200);
	picture[200] = '\0';
	root = sync_folder(f, f->phone, contacts, text(f, root, WBXML_AIRSYNC_SYNC_KEY), NULL,
		    add(f, "big", e2e_mail_format(f, "<c:FirstName>Big</c:FirstName><c:Picture>%s</c:Picture>", picture)));
	assert_string_equal(add_status(f, root, NULL), "1");
	item = one_command(f, f->tablet, contacts, &tablet_key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_CONTACTS_FIRST_NAME), "Big");
	assert_null(easclient_find(item, WBXML_CONTACTS_PICTURE));
	/* T76: [sync] max_commands = 200 takes 200 Adds; 201 get the request Status 4 and store nothing. */
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	for (unsigned count = 200; count <= 201; count++) {
		struct buf adds;
		buf_init(&adds, 0);
		for (unsigned i = 0; i < count; i++)
			buf_printf(&adds, "<Add><ClientId>%u-%u</ClientId><ApplicationData" NS "><c:FirstName>N%u</c:FirstName>"
					  "</ApplicationData></Add>", count, i, i);
		root = sync_folder(f, f->phone, contacts, key, NULL, e2e_mail_format(f, "%.*s", (int)adds.len, (const char *)adds.data));
		buf_cleanup(&adds);
		if (count == 200) {
			assert_int_equal(easclient_count(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD), 200);
			key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
		} else {
			assert_string_equal(text(f, root, WBXML_AIRSYNC_STATUS), "4");
		}
	}
	assert_int_equal(count_items(f, "COUNTER", contacts), 202);
	/* Strict or not, a field the device's version lacks (16.x's location) is not deleted by a 14.1 Change. */
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")), *event_id;
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *laptop_key = start(f, laptop, calendar, NULL);
	root = sync_folder(f, laptop, calendar, laptop_key, NULL,
			   add(f, "e", "<cal:Subject>Plan</cal:Subject><cal:BusyStatus>2</cal:BusyStatus><airsyncbase:Location>"
				       "<airsyncbase:DisplayName>Room A</airsyncbase:DisplayName></airsyncbase:Location>"));
	assert_string_equal(add_status(f, root, &event_id), "1");
	const char *phone_key = start(f, f->phone, calendar, NULL);
	one_command(f, f->phone, calendar, &phone_key, NULL, WBXML_AIRSYNC_ADD);
	step(f, f->phone, calendar, &phone_key, change(f, event_id, "<cal:Subject>Plan B</cal:Subject>"));
	item = event_named(f, laptop, calendar, "Plan B");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DISPLAY_NAME), "Room A");
	assert_null(easclient_find(item, WBXML_CALENDAR_BUSY_STATUS));
	easclient_free(&laptop);
}

static int setup_delete_omitted(void **state)
{
	return e2e_mail_setup_with(state, "[sync]\nomitted = delete\nmax_picture_size = 100\nmax_commands = 200\n");
}

/*
 * Bodies (T39, T40, T41): a device that got 500 characters of plain text
 * of an HTML body and writes them back with another change leaves the HTML
 * as it was; so does one that sends the whole plain rendering, or a Body
 * without Data; a real edit replaces it.
 */
static void lossy_body_echoes_keep_the_stored_body(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	char html[4096];
	int n = snprintf(html, sizeof(html), "&lt;p&gt;Join: https://join.example.org/m/42&lt;/p&gt;");
	for (int i = 0; i < 40; i++)
		n += snprintf(html + n, sizeof(html) - (size_t)n, "&lt;p&gt;Agenda line %d of the long meeting.&lt;/p&gt;", i);
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *laptop_key = start(f, laptop, contacts, NULL);
	struct wbxml_node *root =
		sync_folder(f, laptop, contacts, laptop_key, HTML_WHOLE,
		     add(f, "c1", e2e_mail_format(f, "<c:FirstName>Ada</c:FirstName>" BODY("2", "%s"), html)));
	assert_string_equal(add_status(f, root, &server_id), "1");
	laptop_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);

	const char *cut = "<airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
			  "<airsyncbase:TruncationSize>500</airsyncbase:TruncationSize></airsyncbase:BodyPreference>";
	const char *phone_key = start(f, f->phone, contacts, NULL);
	const struct wbxml_node *item = one_command(f, f->phone, contacts, &phone_key, cut, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_TRUNCATED), "1");
	const char *received = text(f, item, WBXML_AIRSYNCBASE_DATA);
	assert_true(strlen(received) <= 500);
	/* T39: the 500 characters back, with a real change beside them. */
	step(f, f->phone, contacts, &phone_key,
	     change(f, server_id,
		    e2e_mail_format(f, "<c:FirstName>Ada</c:FirstName><c:JobTitle>Host</c:JobTitle>" BODY("1", "%s"),
				    received)));
	item = one_command(f, laptop, contacts, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CONTACTS_JOB_TITLE), "Host");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_TYPE), "2");
	assert_non_null(strstr(text(f, item, WBXML_AIRSYNCBASE_DATA), "https://join.example.org/m/42"));
	assert_non_null(strstr(text(f, item, WBXML_AIRSYNCBASE_DATA), "Agenda line 39"));
	/* T40: the whole plain rendering, as a tablet asking for plain text got it. */
	const char *tablet_key = start(f, f->tablet, contacts, NULL);
	item = one_command(f, f->tablet, contacts, &tablet_key, PLAIN_WHOLE, WBXML_AIRSYNC_ADD);
	const char *plain = text(f, item, WBXML_AIRSYNCBASE_DATA);
	assert_non_null(strstr(plain, "Agenda line 39"));
	step(f, f->tablet, contacts, &tablet_key,
	     change(f, server_id, e2e_mail_format(f, "<c:FirstName>Ada</c:FirstName><c:JobTitle>Chair</c:JobTitle>"
						  BODY("1", "%s"), plain)));
	/* T41: a Body without Data. */
	step(f, f->tablet, contacts, &tablet_key,
	     change(f, server_id, "<c:FirstName>Ada</c:FirstName><c:JobTitle>Chair</c:JobTitle>"
				  "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:Body>"));
	item = one_command(f, laptop, contacts, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CONTACTS_JOB_TITLE), "Chair");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_TYPE), "2");
	/* A real edit replaces it. */
	step(f, f->tablet, contacts, &tablet_key,
	     change(f, server_id, "<c:FirstName>Ada</c:FirstName>" BODY("1", "Agenda changed")));
	item = one_command(f, laptop, contacts, &laptop_key, PLAIN_WHOLE, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "Agenda changed");
	easclient_free(&laptop);
}

/* T52: an iPhone's empty Picture keeps the picture; another device's clears it. */
static void empty_picture_from_iphone_keeps_the_picture(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	struct easclient_options options = e2e_client_options(&f->server, "alice", "correct horse", "IPHONE1");
	options.device_type = "iPhone";
	options.user_agent = "Apple-iPhone9C1/1705.5";
	struct easclient *iphone = easclient_new(&options);
	assert_int_equal(easclient_provision(iphone, NULL), 0);
	const char *key = start(f, f->phone, contacts, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL,
				       add(f, "c1", "<c:FirstName>Ada</c:FirstName><c:Picture>/9j/4AAQSkZJRg==</c:Picture>"));
	assert_string_equal(add_status(f, root, &server_id), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *iphone_key = start(f, iphone, contacts, NULL);
	one_command(f, iphone, contacts, &iphone_key, NULL, WBXML_AIRSYNC_ADD);
	sync_folder(f, iphone, contacts, iphone_key, NULL,
	     change(f, server_id, "<c:FirstName>Ada</c:FirstName><c:MobilePhoneNumber>+15550100</c:MobilePhoneNumber>"
				  "<c:Picture/>"));
	const struct wbxml_node *item = one_command(f, f->phone, contacts, &key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CONTACTS_MOBILE_PHONE_NUMBER), "+15550100");
	assert_string_equal(text(f, item, WBXML_CONTACTS_PICTURE), "/9j/4AAQSkZJRg==");
	root = sync_folder(f, f->phone, contacts, key, NULL, change(f, server_id, "<c:FirstName>Ada</c:FirstName><c:Picture/>"));
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	item = one_command(f, iphone, contacts, &iphone_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_null(easclient_find(item, WBXML_CONTACTS_PICTURE));
	easclient_free(&iphone);
}

/*
 * Bulk (T69, T70, T72, T74): 300 contacts in one Add, two sharing a
 * ClientId, one with a birthday that is no date; the retry of the same
 * request answers the same ServerIds and statuses and stores nothing twice.
 */
static void bulk_add_and_retry_store_each_contact_once(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f);
	struct buf commands;
	buf_init(&commands, 0);
	for (unsigned i = 1; i <= 300; i++) {
		const char *birthday = i == 37 ? "not-a-date" : "1970-01-01T00:00:00.000Z";
		unsigned client_id = i == 2 ? 1 : i; /* AOSP's same-millisecond ids */
		buf_printf(&commands,
			   "<Add><ClientId>new_%u</ClientId><ApplicationData" NS "><c:FirstName>Person</c:FirstName>"
			   "<c:LastName>Number %u</c:LastName><c:Birthday>%s</c:Birthday></ApplicationData></Add>",
			   client_id, i, birthday);
	}
	buf_append_byte(&commands, '\0');
	const char *key = start(f, f->phone, contacts, NULL);
	char *answers[2];
	for (unsigned attempt = 0; attempt < 2; attempt++) {
		struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL, (const char *)commands.data);
		const struct wbxml_node *responses = easclient_find(root, WBXML_AIRSYNC_RESPONSES);
		assert_int_equal(easclient_count(responses, WBXML_AIRSYNC_ADD), 300);
		struct buf seen;
		buf_init(&seen, 0);
		unsigned i = 1;
		for (const struct wbxml_node *answer = responses->first_child; answer != NULL; answer = answer->next, i++) {
			const char *status = text(f, answer, WBXML_AIRSYNC_STATUS);
			assert_string_equal(status, i == 37 ? "6" : "1");
			buf_printf(&seen, "%s=%s;", text(f, answer, WBXML_AIRSYNC_CLIENT_ID),
				   i == 37 ? "-" : text(f, answer, WBXML_AIRSYNC_SERVER_ID));
		}
		buf_append_byte(&seen, '\0');
		answers[attempt] = strdup((const char *)seen.data);
		buf_cleanup(&seen);
	}
	assert_string_equal(answers[0], answers[1]);
	/* Two Adds of new_1: two contacts, two ServerIds. */
	assert_non_null(strstr(answers[0], "new_1="));
	assert_non_null(strstr(strstr(answers[0], "new_1=") + 1, "new_1="));
	free(answers[0]);
	free(answers[1]);
	buf_cleanup(&commands);
	assert_int_equal(count_items(f, "COUNTER", contacts), 299);
}

/*
 * What a hostile or broken device repeats costs it, not easd: one ClientId
 * in 1,001 Adds (the 1,001st is refused), a series with 1,001 exceptions
 * (refused whole).
 */
static void repeated_client_ids_and_exceptions_are_bounded(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	struct buf commands;
	buf_init(&commands, 0);
	for (unsigned i = 0; i < 1001; i++)
		buf_printf(&commands, "<Add><ClientId>same</ClientId><ApplicationData" NS "><c:FirstName>P%u</c:FirstName>"
				      "</ApplicationData></Add>", i);
	const char *key = start(f, f->phone, contacts, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL,
					      e2e_mail_format(f, "%.*s", (int)commands.len, (const char *)commands.data));
	const struct wbxml_node *answers = easclient_find(root, WBXML_AIRSYNC_RESPONSES);
	assert_int_equal(easclient_count(answers, WBXML_AIRSYNC_ADD), 1001);
	assert_string_equal(text(f, answers->last_child, WBXML_AIRSYNC_STATUS), "6");
	assert_string_equal(text(f, answers->first_child, WBXML_AIRSYNC_STATUS), "1");
	commands.len = 0;
	buf_printf(&commands, "<cal:Subject>Daily</cal:Subject><cal:StartTime>20260101T090000Z</cal:StartTime>"
			      "<cal:EndTime>20260101T093000Z</cal:EndTime><cal:Recurrence><cal:Type>0</cal:Type></cal:Recurrence>"
			      "<cal:Exceptions>");
	for (unsigned i = 0; i < 1001; i++)
		buf_printf(&commands, "<cal:Exception><cal:ExceptionStartTime>%s</cal:ExceptionStartTime><cal:Deleted>1"
				      "</cal:Deleted></cal:Exception>", e2e_mail_format(f, "2026%02u%02uT090000Z", 1 + i / 28 % 12, 1 + i % 28));
	buf_printf(&commands, "</cal:Exceptions>");
	key = start(f, f->phone, calendar, NULL);
	root = sync_folder(f, f->phone, calendar, key, NULL,
			   add(f, "series", e2e_mail_format(f, "%.*s", (int)commands.len, (const char *)commands.data)));
	assert_string_equal(add_status(f, root, NULL), "6");
	buf_cleanup(&commands);
}

/* Sends the first part bytes of a Sync request whose body is body, then closes the connection. */
static void send_cut_off(struct e2e_mail *f, const struct buf *body, size_t part)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(f->server.port) };
	inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	gchar *credentials = g_base64_encode((const guchar *)"alice:correct horse", 19);
	const char *head = e2e_mail_format(
		f, "POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=PHONE1&DeviceType=TestPhone HTTP/1.1\r\n"
		   "Host: 127.0.0.1\r\nAuthorization: Basic %s\r\nMS-ASProtocolVersion: 14.1\r\nX-MS-PolicyKey: %u\r\n"
		   "Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: %zu\r\n\r\n",
		credentials, easclient_policy_key(f->phone), body->len);
	g_free(credentials);
	assert_true(write(fd, head, strlen(head)) == (ssize_t)strlen(head));
	assert_true(write(fd, body->data, part) == (ssize_t)part);
	close(fd);
}

/*
 * T71: a bulk Add cut off mid-upload stores nothing; one during which easd
 * is killed stores all or nothing; sent again, every contact is there
 * once.
 */
static void bulk_add_cut_off_or_killed_stores_each_once(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f);
	const char *key = start(f, f->phone, contacts, NULL);
	struct buf commands, body;
	struct wbxml_error error;
	buf_init(&commands, 0);
	for (unsigned i = 1; i <= 2000; i++)
		buf_printf(&commands, "<Add><ClientId>%u</ClientId><ApplicationData" NS "><c:FirstName>P%u</c:FirstName>"
				      "<c:Email1Address>p%u@example.org</c:Email1Address></ApplicationData></Add>", i, i, i);
	const char *xml = e2e_mail_format(f, "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections>%s"
					     "</Collections></Sync>",
					  e2e_mail_collection(f, contacts, key, 100, NULL, e2e_mail_format(f, "%.*s", (int)commands.len,
													 (const char *)commands.data)));
	buf_init(&body, 0);
	assert_int_equal(wbxml_from_xml(xml, strlen(xml), false, &body, &error), 0);
	send_cut_off(f, &body, body.len / 2);
	usleep(200000);
	assert_int_equal(count_items(f, "COUNTER1", contacts), 0);
	struct e2e_call *call = e2e_mail_call_start(f, "PHONE1", f->phone, "Sync", xml, 0);
	usleep(30000);
	assert_int_equal(e2e_crash_restart(&f->server), 0);
	e2e_mail_call_end(call, 10000);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL, e2e_mail_format(f, "%.*s", (int)commands.len,
											   (const char *)commands.data));
	assert_int_equal(easclient_count(easclient_find(root, WBXML_AIRSYNC_RESPONSES), WBXML_AIRSYNC_ADD), 2000);
	assert_int_equal(count_items(f, "COUNTER2", contacts), 2000);
	buf_cleanup(&commands);
	buf_cleanup(&body);
}

/* T58: notes' own rules on a 14.1 device. */
static void notes_keep_body_and_subject_and_own_their_date(void **state)
{
	struct e2e_mail *f = *state;
	const char *notes = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "10")), *server_id;
	/* (e) Supported is refused in Notes (MS-ASNOTE R114: Status 4). */
	const char *collection = e2e_mail_format(
		f, "<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId><Supported" NS "><n:Subject/></Supported>"
		   "</Collection>", notes);
	assert_string_equal(text(f, e2e_mail_post_sync(f, f->phone, collection, NULL), WBXML_AIRSYNC_STATUS), "4");
	const char *key = start(f, f->phone, notes, NULL);
	/* (a) No MessageClass: a sticky note; IPM.Note: not a note. */
	struct wbxml_node *root = sync_folder(f, f->phone, notes, key, NULL,
				       add(f, "n1", "<n:Subject>Milk</n:Subject><n:Categories><n:Category>Home</n:Category>"
						    "</n:Categories><n:LastModifiedDate>2001-01-01T00:00:00.000Z</n:LastModifiedDate>"
						    BODY("1", "Buy milk")));
	assert_string_equal(add_status(f, root, &server_id), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, f->phone, notes, key, NULL,
		    add(f, "n2", "<n:Subject>X</n:Subject><n:MessageClass>IPM.Note</n:MessageClass>" BODY("1", "x")));
	assert_string_equal(add_status(f, root, NULL), "6");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	/* (b) A Change with a category only keeps Body and Subject; (c) one without Categories clears them. */
	root = sync_folder(f, f->phone, notes, key, NULL,
		    change(f, server_id, "<n:Categories><n:Category>Shop</n:Category></n:Categories>"));
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *tablet_key = start(f, f->tablet, notes, NULL);
	const struct wbxml_node *item = one_command(f, f->tablet, notes, &tablet_key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_NOTES_SUBJECT), "Milk");
	assert_string_equal(text(f, item, WBXML_NOTES_CATEGORY), "Shop");
	assert_string_equal(text(f, item, WBXML_NOTES_MESSAGE_CLASS), "IPM.StickyNote");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "Buy milk");
	/* (d) The server's modification time, not the client's. */
	assert_string_not_equal(text(f, item, WBXML_NOTES_LAST_MODIFIED_DATE), "2001-01-01T00:00:00.000Z");
	assert_int_equal(strncmp(text(f, item, WBXML_NOTES_LAST_MODIFIED_DATE), "20", 2), 0);
	/* A 16.1 device reads the note the 14.1 phone wrote. */
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *laptop_key = start(f, laptop, notes, NULL);
	item = one_command(f, laptop, notes, &laptop_key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_NOTES_SUBJECT), "Milk");
	assert_string_equal(text(f, item, WBXML_NOTES_CATEGORY), "Shop");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "Buy milk");
	easclient_free(&laptop);
	/* (f) 12.1 has no Notes class: no Notes folder in its FolderSync. */
	struct easclient *old = e2e_mail_device(f, "OLD121", 121);
	assert_int_equal(easclient_post_xml(old, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey>"
							     "</FolderSync>", &f->response), 0);
	root = easclient_parse(&f->response, f->arena);
	for (const struct wbxml_node *a = easclient_find(root, WBXML_FOLDERHIERARCHY_ADD); a != NULL; a = a->next)
		assert_string_not_equal(text(f, a, WBXML_FOLDERHIERARCHY_TYPE), "10");
	assert_non_null(easclient_find(root, WBXML_FOLDERHIERARCHY_ADD));
	easclient_free(&old);
	sync_folder(f, f->phone, notes, key, NULL, change(f, server_id, "<n:Subject>Oat milk</n:Subject>"));
	item = one_command(f, f->tablet, notes, &tablet_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_NOTES_SUBJECT), "Oat milk");
	assert_null(easclient_find(item, WBXML_NOTES_CATEGORIES));
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "Buy milk");
}

/*
 * Tasks (T56, T57): what MS-ASTASK refuses gets Status 6; a Change without
 * Importance and ReminderSet keeps them; an odd Importance is kept as
 * sent; a task completed elsewhere leaves a device that syncs incomplete
 * tasks only.
 */
static void tasks_rules_and_incomplete_filter(void **state)
{
	struct e2e_mail *f = *state;
	const char *tasks = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "7")), *server_id;
	const char *key = start(f, f->phone, tasks, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, tasks, key, NULL,
				       add(f, "t1", "<t:Subject>Taxes</t:Subject><t:Importance>7</t:Importance>"
						    "<t:ReminderSet>1</t:ReminderSet><t:Complete>0</t:Complete>"));
	assert_string_equal(add_status(f, root, &server_id), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, f->phone, tasks, key, NULL, add(f, "t2", "<t:Subject>Bad</t:Subject><t:ReminderSet>2</t:ReminderSet>"));
	assert_string_equal(add_status(f, root, NULL), "6");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, f->phone, tasks, key, NULL,
		    add(f, "t3", "<t:Subject>Weekly</t:Subject><t:Recurrence><t:Type>1</t:Type><t:DayOfWeek>2</t:DayOfWeek>"
				 "</t:Recurrence>"));
	assert_string_equal(add_status(f, root, NULL), "6");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	/* The tablet syncs incomplete tasks only (FilterType 8). */
	const char *tablet_key = start(f, f->tablet, tasks, NULL);
	const struct wbxml_node *item =
		one_command(f, f->tablet, tasks, &tablet_key, "<FilterType>8</FilterType>", WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_TASKS_IMPORTANCE), "7");
	step(f, f->phone, tasks, &key, change(f, server_id, "<t:Subject>Taxes 2026</t:Subject><t:Complete>0</t:Complete>"));
	item = one_command(f, f->tablet, tasks, &tablet_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_TASKS_SUBJECT), "Taxes 2026");
	assert_string_equal(text(f, item, WBXML_TASKS_IMPORTANCE), "7");
	assert_string_equal(text(f, item, WBXML_TASKS_REMINDER_SET), "1");
	/* Done, it leaves the incomplete filter, but a device that has it keeps it and learns it is done: a
	   SoftDelete would lose it for good if it were opened again. */
	step(f, f->phone, tasks, &key, change(f, server_id, "<t:Subject>Taxes 2026</t:Subject><t:Complete>1</t:Complete>"));
	item = one_command(f, f->tablet, tasks, &tablet_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_TASKS_COMPLETE), "1");
	/* A 16.1 device that syncs every task sees it done, with the date it was done and every field. */
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP", 161);
	const char *laptop_key = start(f, laptop, tasks, NULL);
	item = one_command(f, laptop, tasks, &laptop_key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_TASKS_SUBJECT), "Taxes 2026");
	assert_string_equal(text(f, item, WBXML_TASKS_IMPORTANCE), "7");
	assert_string_equal(text(f, item, WBXML_TASKS_REMINDER_SET), "1");
	assert_string_equal(text(f, item, WBXML_TASKS_COMPLETE), "1");
	assert_int_equal(strncmp(text(f, item, WBXML_TASKS_DATE_COMPLETED), "20", 2), 0);
	easclient_free(&laptop);
	/* Opened again: back on the tablet's incomplete list. */
	step(f, f->phone, tasks, &key, change(f, server_id, "<t:Subject>Taxes 2026</t:Subject><t:Complete>0</t:Complete>"));
	item = one_command(f, f->tablet, tasks, &tablet_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_TASKS_COMPLETE), "0");
}

/* T75: a 16.1 Add repeated in a new request (new ClientId, its first answer lost) with the same ClientUid is that event. */
static void repeated_client_uid_is_the_same_event(void **state)
{
	struct e2e_mail *f = *state;
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")), *first, *again;
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *key = start(f, laptop, calendar, NULL);
	const char *event = "<cal:Subject>Lunch</cal:Subject><cal:StartTime>20261210T120000Z</cal:StartTime>"
			    "<cal:EndTime>20261210T130000Z</cal:EndTime><cal:ClientUid>lunch-1@laptop</cal:ClientUid>";
	struct wbxml_node *root = sync_folder(f, laptop, calendar, key, NULL, add(f, "c1", event));
	assert_string_equal(add_status(f, root, &first), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, laptop, calendar, key, NULL, add(f, "c2", event));
	assert_string_equal(add_status(f, root, &again), "1");
	assert_string_equal(again, first);
	assert_int_equal(count_items(f, "COUNTER", calendar), 1);
	easclient_free(&laptop);
}


/* A compact calendar time days from now. */
static const char *calendar_time(struct e2e_mail *f, int days)
{
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;
	char out[20];
	gmtime_r(&t, &tm);
	strftime(out, sizeof(out), "%Y%m%dT%H%M%SZ", &tm);
	return e2e_mail_format(f, "%s", out);
}

/*
 * Calendar: a two-week window holds the events that end inside it and the
 * series without an end; a 16.1 Change with the Subject only keeps the rest
 * (T47); the location reaches 14.1 and 16.1 devices in their own element.
 */
static void calendar_window_and_versions(void **state)
{
	struct e2e_mail *f = *state;
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")), *old_id, *new_id, *series_id;
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *laptop_key = start(f, laptop, calendar, NULL);
	const char *event = "<cal:Subject>%s</cal:Subject><cal:StartTime>%s</cal:StartTime><cal:EndTime>%s</cal:EndTime>"
			    "<cal:BusyStatus>2</cal:BusyStatus>%s";
	struct wbxml_node *root = sync_folder(
		f, laptop, calendar, laptop_key, NULL,
		add(f, "e1", e2e_mail_format(f, event, "Old", calendar_time(f, -30), calendar_time(f, -30), "")));
	assert_string_equal(add_status(f, root, &old_id), "1");
	laptop_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, laptop, calendar, laptop_key, NULL,
		    add(f, "e2", e2e_mail_format(f, event, "Review", calendar_time(f, 2), calendar_time(f, 2),
						 "<airsyncbase:Location><airsyncbase:DisplayName>Room A</airsyncbase:DisplayName>"
						 "</airsyncbase:Location>")));
	assert_string_equal(add_status(f, root, &new_id), "1");
	laptop_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, laptop, calendar, laptop_key, NULL,
		    add(f, "e3", e2e_mail_format(f, event, "Standup", calendar_time(f, -100), calendar_time(f, -100),
						 "<cal:Recurrence><cal:Type>0</cal:Type><cal:Interval>1</cal:Interval></cal:Recurrence>")));
	assert_string_equal(add_status(f, root, &series_id), "1");
	laptop_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);

	const char *key = start(f, f->phone, calendar, NULL);
	root = sync_folder(f, f->phone, calendar, key, "<FilterType>4</FilterType>", NULL);
	const struct wbxml_node *commands = easclient_find(root, WBXML_AIRSYNC_COMMANDS);
	assert_int_equal(easclient_count(commands, WBXML_AIRSYNC_ADD), 2);
	for (const struct wbxml_node *added = commands->first_child; added != NULL; added = added->next) {
		assert_string_not_equal(text(f, added, WBXML_AIRSYNC_SERVER_ID), old_id);
		if (strcmp(text(f, added, WBXML_AIRSYNC_SERVER_ID), new_id) == 0)
			assert_string_equal(text(f, added, WBXML_CALENDAR_LOCATION), "Room A");
	}
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	/* T47: 16.1 ghosts every calendar field. */
	sync_folder(f, laptop, calendar, laptop_key, NULL, change(f, new_id, "<cal:Subject>Review v2</cal:Subject>"));
	const struct wbxml_node *item = one_command(f, f->phone, calendar, &key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CALENDAR_SUBJECT), "Review v2");
	assert_string_equal(text(f, item, WBXML_CALENDAR_LOCATION), "Room A");
	assert_string_equal(text(f, item, WBXML_CALENDAR_BUSY_STATUS), "2");
	/* The phone moves it a month back: it leaves the phone's window. */
	sync_folder(f, f->phone, calendar, key, NULL,
	     change(f, new_id, e2e_mail_format(f, event, "Review v2", calendar_time(f, -31), calendar_time(f, -31),
					       "<cal:Location>Room B</cal:Location>")));
	item = one_command(f, laptop, calendar, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DISPLAY_NAME), "Room B");
	/* T38: an event that ends before it starts is refused; one that ends as it starts is fine. */
	root = sync_folder(f, laptop, calendar, laptop_key, NULL,
			   add(f, "bad", e2e_mail_format(f, event, "Backwards", calendar_time(f, 3), calendar_time(f, 2), "")));
	assert_string_equal(add_status(f, root, NULL), "6");
	laptop_key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *instant = calendar_time(f, 4);
	root = sync_folder(f, laptop, calendar, laptop_key, NULL,
			   add(f, "zero", e2e_mail_format(f, event, "Reminder", instant, instant, "")));
	assert_string_equal(add_status(f, root, NULL), "1");
	item = event_named(f, f->tablet, calendar, "Reminder");
	assert_string_equal(text(f, item, WBXML_CALENDAR_START_TIME), instant);
	assert_string_equal(text(f, item, WBXML_CALENDAR_END_TIME), instant);
	easclient_free(&laptop);
}


/*
 * All-day events keep their dates on every device (field-notes F-AD-1):
 * T27 (14.1 Berlin midnight), T28 (16.1 dates), T29 (EndTime 23:59), T30
 * (a 48-hour timed event stays timed).
 */
static void all_day_events_keep_their_dates(void **state)
{
	struct e2e_mail *f = *state;
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8"));
	const char *cases[][2] = {
		{ "<cal:AllDayEvent>1</cal:AllDayEvent><cal:Timezone>" BERLIN_ZONE "</cal:Timezone>"
		  "<cal:StartTime>20261006T220000Z</cal:StartTime><cal:EndTime>20261007T220000Z</cal:EndTime>", "141" },
		{ "<cal:AllDayEvent>1</cal:AllDayEvent><cal:StartTime>20261019T000000Z</cal:StartTime>"
		  "<cal:EndTime>20261023T000000Z</cal:EndTime>", "161" },
		{ "<cal:AllDayEvent>1</cal:AllDayEvent><cal:StartTime>20260310T000000Z</cal:StartTime>"
		  "<cal:EndTime>20260310T235900Z</cal:EndTime>", "141" },
		{ "<cal:AllDayEvent>0</cal:AllDayEvent><cal:StartTime>20260310T080000Z</cal:StartTime>"
		  "<cal:EndTime>20260312T080000Z</cal:EndTime>", "141" },
	};
	/* What a 16.1 device and a 14.1 device get of each: StartTime, EndTime, and whether a TimeZone. */
	const char *expected[][6] = {
		{ "20261007T000000Z", "20261008T000000Z", "-", "20261006T220000Z", "20261007T220000Z", BERLIN_ZONE },
		{ "20261019T000000Z", "20261023T000000Z", "-", "20261019T000000Z", "20261023T000000Z", "zero" },
		{ "20260310T000000Z", "20260311T000000Z", "-", "20260310T000000Z", "20260311T000000Z", "zero" },
		{ "20260310T080000Z", "20260312T080000Z", "", "20260310T080000Z", "20260312T080000Z", "" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct easclient *writer = e2e_mail_device(f, e2e_mail_format(f, "W%u", i), (unsigned)atoi(cases[i][1]));
		const char *key = start(f, writer, calendar, NULL);
		struct wbxml_node *root = sync_folder(f, writer, calendar, key, NULL,
					       add(f, "e", e2e_mail_format(f, "<cal:Subject>Day %u</cal:Subject>%s", i, cases[i][0])));
		assert_string_equal(add_status(f, root, NULL), "1");
		for (unsigned v = 0; v < 2; v++) {
			struct easclient *reader = e2e_mail_device(f, e2e_mail_format(f, "R%u%u", i, v), v == 0 ? 161 : 141);
			const struct wbxml_node *event = event_named(f, reader, calendar, e2e_mail_format(f, "Day %u", i));
			const char *const *want = &expected[i][3 * v];
			assert_string_equal(text(f, event, WBXML_CALENDAR_START_TIME), want[0]);
			assert_string_equal(text(f, event, WBXML_CALENDAR_END_TIME), want[1]);
			const char *zone = text(f, event, WBXML_CALENDAR_TIMEZONE);
			if (strcmp(want[2], "-") == 0)
				assert_null(zone);
			else if (strcmp(want[2], "zero") == 0)
				assert_true(zone != NULL && strspn(zone, "A=") == strlen(zone));
			else if (want[2][0] != '\0')
				assert_string_equal(zone, want[2]);
			easclient_free(&reader);
		}
		easclient_free(&writer);
	}
}

/* The exception of the occurrence that started at start (ExceptionStartTime or InstanceId), or NULL. */
static const struct wbxml_node *exception_at(struct e2e_mail *f, const struct wbxml_node *event, const char *start)
{
	const struct wbxml_node *exceptions = easclient_find(event, WBXML_CALENDAR_EXCEPTIONS);
	for (const struct wbxml_node *e = exceptions != NULL ? exceptions->first_child : NULL; e != NULL; e = e->next) {
		const char *at = text(f, e, WBXML_CALENDAR_EXCEPTION_START_TIME);
		if (at == NULL)
			at = text(f, e, WBXML_AIRSYNCBASE_INSTANCE_ID);
		if (at != NULL && strcmp(at, start) == 0)
			return e;
	}
	return NULL;
}

/*
 * One occurrence deleted or changed never deletes or rewrites the series
 * (seed 001 §1.1; T18, T19, R877, T10): 14.1 sends it as an Exception of
 * the series, 16.1 as a Delete or Change with InstanceId; every device
 * gets a Change of the series with all its exceptions.
 */
static void one_occurrence_never_deletes_the_series(void **state)
{
	struct e2e_mail *f = *state;
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")), *series;
	struct easclient *laptop = e2e_mail_device(f, "LAPTOP161", 161);
	const char *key = start(f, f->phone, calendar, NULL);
	struct wbxml_node *root = sync_folder(
		f, f->phone, calendar, key, NULL,
		add(f, "s", "<cal:Subject>Weekly</cal:Subject><cal:StartTime>20260303T090000Z</cal:StartTime>"
			    "<cal:EndTime>20260303T100000Z</cal:EndTime><cal:Recurrence><cal:Type>1</cal:Type>"
			    "<cal:Interval>1</cal:Interval><cal:DayOfWeek>4</cal:DayOfWeek><cal:Occurrences>10</cal:Occurrences>"
			    "</cal:Recurrence>"));
	assert_string_equal(add_status(f, root, &series), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const char *laptop_key = start(f, laptop, calendar, NULL);
	one_command(f, laptop, calendar, &laptop_key, NULL, WBXML_AIRSYNC_ADD);
	/* T18: 14.1 deletes the 3rd occurrence. */
	step(f, f->phone, calendar, &key,
	     change(f, series, "<cal:Exceptions><cal:Exception><cal:ExceptionStartTime>20260317T090000Z"
			       "</cal:ExceptionStartTime><cal:Deleted>1</cal:Deleted></cal:Exception></cal:Exceptions>"));
	const struct wbxml_node *item = one_command(f, laptop, calendar, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, item, WBXML_CALENDAR_SUBJECT), "Weekly");
	assert_string_equal(text(f, exception_at(f, item, "20260317T090000Z"), WBXML_CALENDAR_DELETED), "1");
	/* T19: 16.1 deletes the 5th, with InstanceId: a Change of the series reaches the 14.1 phone. */
	step(f, laptop, calendar, &laptop_key,
	     e2e_mail_format(f, "<Delete><ServerId>%s</ServerId><airsyncbase:InstanceId>20260331T090000Z"
				"</airsyncbase:InstanceId></Delete>", series));
	item = one_command(f, f->phone, calendar, &key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_non_null(exception_at(f, item, "20260317T090000Z"));
	assert_string_equal(text(f, exception_at(f, item, "20260331T090000Z"), WBXML_CALENDAR_DELETED), "1");
	assert_non_null(easclient_find(item, WBXML_CALENDAR_RECURRENCE));
	/* T10: 16.1 changes the 8th occurrence; the TimeZone an instance cannot have is ignored. */
	step(f, laptop, calendar, &laptop_key,
	     e2e_mail_format(f, "<Change><ServerId>%s</ServerId><airsyncbase:InstanceId>20260421T090000Z"
				"</airsyncbase:InstanceId><ApplicationData" NS "><cal:Subject>Moved</cal:Subject>"
				"<cal:Timezone>" BERLIN_ZONE "</cal:Timezone></ApplicationData></Change>", series));
	/* R877: a 14.1 Change naming one exception leaves the others as they are. */
	item = one_command(f, f->phone, calendar, &key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, exception_at(f, item, "20260421T090000Z"), WBXML_CALENDAR_SUBJECT), "Moved");
	step(f, f->phone, calendar, &key,
	     change(f, series, "<cal:Exceptions><cal:Exception><cal:ExceptionStartTime>20260428T090000Z"
			       "</cal:ExceptionStartTime><cal:Reminder>5</cal:Reminder></cal:Exception></cal:Exceptions>"));
	item = one_command(f, laptop, calendar, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_string_equal(text(f, exception_at(f, item, "20260421T090000Z"), WBXML_CALENDAR_SUBJECT), "Moved");
	assert_string_equal(text(f, exception_at(f, item, "20260428T090000Z"), WBXML_CALENDAR_REMINDER), "5");
	assert_non_null(exception_at(f, item, "20260317T090000Z"));
	assert_non_null(exception_at(f, item, "20260331T090000Z"));
	assert_null(easclient_find(exception_at(f, item, "20260421T090000Z"), WBXML_CALENDAR_TIMEZONE));
	/* T26: the series cut to 4 occurrences keeps only the exceptions among them. */
	step(f, f->phone, calendar, &key,
	     change(f, series, "<cal:Subject>Weekly</cal:Subject><cal:StartTime>20260303T090000Z</cal:StartTime>"
			       "<cal:EndTime>20260303T100000Z</cal:EndTime><cal:Recurrence><cal:Type>1</cal:Type>"
			       "<cal:Interval>1</cal:Interval><cal:DayOfWeek>4</cal:DayOfWeek>"
			       "<cal:Occurrences>4</cal:Occurrences></cal:Recurrence>"));
	item = one_command(f, laptop, calendar, &laptop_key, NULL, WBXML_AIRSYNC_CHANGE);
	assert_non_null(exception_at(f, item, "20260317T090000Z"));
	assert_null(exception_at(f, item, "20260331T090000Z"));
	assert_null(exception_at(f, item, "20260421T090000Z"));
	easclient_free(&laptop);
}

/*
 * Organizers (T32, T33, T34): a new meeting without organizer is the
 * user's; the user is not one of its attendees; an attendee's device that
 * changes a reminder and sends MeetingStatus 1 does not become the
 * organizer of a received meeting.
 */
static void attendee_device_never_becomes_organizer(void **state)
{
	struct e2e_mail *f = *state;
	const char *calendar = e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")), *mine, *carols;
	const char *attendee = "<cal:Attendee><cal:Email>%s</cal:Email><cal:Name>%s</cal:Name></cal:Attendee>";
	const char *key = start(f, f->phone, calendar, NULL);
	struct wbxml_node *root = sync_folder(
		f, f->phone, calendar, key, NULL,
		add(f, "m", e2e_mail_format(f, "<cal:Subject>Plan</cal:Subject><cal:MeetingStatus>1</cal:MeetingStatus>"
					       "<cal:Attendees>%s%s</cal:Attendees>",
					    e2e_mail_format(f, attendee, "alice", "Alice"),
					    e2e_mail_format(f, attendee, "bob@example.org", "Bob"))));
	assert_string_equal(add_status(f, root, &mine), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	root = sync_folder(f, f->phone, calendar, key, NULL,
		    add(f, "r", e2e_mail_format(f, "<cal:Subject>Review</cal:Subject><cal:MeetingStatus>3</cal:MeetingStatus>"
						   "<cal:OrganizerEmail>carol@example.org</cal:OrganizerEmail>"
						   "<cal:OrganizerName>Carol</cal:OrganizerName><cal:Reminder>15</cal:Reminder>"
						   "<cal:StartTime>20260303T090000Z</cal:StartTime><cal:EndTime>20260303T100000Z</cal:EndTime>"
						   "<cal:Recurrence><cal:Type>1</cal:Type><cal:DayOfWeek>4</cal:DayOfWeek></cal:Recurrence>"
						   "<cal:Attendees>%s</cal:Attendees>", e2e_mail_format(f, attendee, "alice", "Alice"))));
	assert_string_equal(add_status(f, root, &carols), "1");
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	/* What iOS sends when the user changes the reminder of a received meeting. */
	step(f, f->phone, calendar, &key,
	     change(f, carols, "<cal:Subject>Review</cal:Subject><cal:MeetingStatus>1</cal:MeetingStatus>"
			       "<cal:Reminder>30</cal:Reminder>"));
	/* Seed 001 §1.2: the reminder of one occurrence, with what buggy clients send beside it. */
	step(f, f->phone, calendar, &key,
	     change(f, carols, "<cal:Exceptions><cal:Exception><cal:ExceptionStartTime>20260310T090000Z"
			       "</cal:ExceptionStartTime><cal:Reminder>5</cal:Reminder><cal:Subject>Mine now</cal:Subject>"
			       "<cal:MeetingStatus>1</cal:MeetingStatus></cal:Exception></cal:Exceptions>"));
	const struct wbxml_node *item = event_named(f, f->tablet, calendar, "Plan");
	assert_string_equal(text(f, item, WBXML_CALENDAR_ORGANIZER_EMAIL), "alice");
	assert_int_equal(easclient_count(easclient_find(item, WBXML_CALENDAR_ATTENDEES), WBXML_CALENDAR_ATTENDEE), 1);
	assert_string_equal(text(f, item, WBXML_CALENDAR_EMAIL), "bob@example.org");
	struct easclient *other = e2e_mail_device(f, "OTHER", 0);
	item = event_named(f, other, calendar, "Review");
	assert_string_equal(text(f, item, WBXML_CALENDAR_ORGANIZER_EMAIL), "carol@example.org");
	assert_string_equal(text(f, item, WBXML_CALENDAR_ORGANIZER_NAME), "Carol");
	assert_string_equal(text(f, item, WBXML_CALENDAR_MEETING_STATUS), "3");
	assert_string_equal(text(f, item, WBXML_CALENDAR_REMINDER), "30");
	assert_non_null(easclient_find(item, WBXML_CALENDAR_ATTENDEES));
	assert_string_equal(text(f, easclient_find(item, WBXML_CALENDAR_RECURRENCE), WBXML_CALENDAR_DAY_OF_WEEK), "4");
	const struct wbxml_node *occurrence = exception_at(f, item, "20260310T090000Z");
	assert_string_equal(text(f, occurrence, WBXML_CALENDAR_REMINDER), "5");
	assert_null(easclient_find(occurrence, WBXML_CALENDAR_SUBJECT));
	assert_null(easclient_find(occurrence, WBXML_CALENDAR_MEETING_STATUS));
	easclient_free(&other);
}

/* Runs easctl with easd's configuration; returns its exit status, its standard error in *err. */
static int easctl(struct e2e_mail *f, const char *args, const char **err)
{
	const char *build = getenv("EASD_BUILD") != NULL ? getenv("EASD_BUILD") : "build";
	const char *err_path = e2e_mail_format(f, "%s/easctl.err", f->server.dir);
	int status = system(e2e_mail_format(f, "%s/easctl -c %s %s 2> %s", build, f->server.config, args, err_path));
	struct buf text;
	buf_init(&text, 0);
	FILE *in = fopen(err_path, "r");
	char chunk[4096];
	size_t n;
	while (in != NULL && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		buf_append(&text, chunk, n);
	if (in != NULL)
		fclose(in);
	*err = e2e_mail_format(f, "%.*s", (int)text.len, text.data != NULL ? (const char *)text.data : "");
	buf_cleanup(&text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *write_file(struct e2e_mail *f, const char *name, const char *text)
{
	const char *path = e2e_mail_format(f, "%s/%s", f->server.dir, name);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	fputs(text, out);
	fclose(out);
	return path;
}

static const char *read_file(struct e2e_mail *f, const char *path)
{
	struct buf text;
	char chunk[4096];
	size_t n;
	buf_init(&text, 0);
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		buf_append(&text, chunk, n);
	fclose(in);
	const char *copy = e2e_mail_format(f, "%.*s", (int)text.len, text.data != NULL ? (const char *)text.data : "");
	buf_cleanup(&text);
	return copy;
}

/*
 * easctl import and export: a vCard and an iCalendar file (from other
 * programs) reach devices as their fields; a file with an item easd
 * refuses imports nothing and names the line; what export writes imports
 * again to the same items.
 */
static void import_and_export_files(void **state)
{
	struct e2e_mail *f = *state;
	const char *err;
	const char *vcf = write_file(f, "c.vcf",
				     "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\n"
				     "EMAIL;TYPE=INTERNET:ada@example.org\r\ntel;type=cell:+44 20 7946 0000\r\n"
				     "BDAY:1815-12-10\r\nCATEGORIES:VIP,Math\r\nNOTE:First programmer\\, they say.\r\n"
				     "END:VCARD\r\n");
	const char *ics = write_file(f, "e.ics",
				     "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
				     "UID:weekly-1@example.org\r\nDTSTAMP:20260101T000000Z\r\n"
				     "DTSTART;TZID=Europe/Berlin:20260303T100000\r\nDTEND;TZID=Europe/Berlin:20260303T110000\r\n"
				     "SUMMARY:Standup\r\nRRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10\r\n"
				     "EXDATE;TZID=Europe/Berlin:20260317T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	assert_int_equal(easctl(f, e2e_mail_format(f, "import alice %s", vcf), &err), 0);
	assert_int_equal(easctl(f, e2e_mail_format(f, "import alice %s", ics), &err), 0);
	const struct wbxml_node *item = event_named(f, f->tablet, e2e_mail_format(f, "%s", e2e_mail_folder_of_type(f, "8")),
						    "Standup");
	assert_string_equal(text(f, item, WBXML_CALENDAR_START_TIME), "20260303T090000Z");
	assert_non_null(text(f, item, WBXML_CALENDAR_TIMEZONE));
	assert_string_equal(text(f, item, WBXML_CALENDAR_DAY_OF_WEEK), "4");
	assert_string_equal(text(f, exception_at(f, item, "20260317T090000Z"), WBXML_CALENDAR_DELETED), "1");
	const char *key = start(f, f->phone, contacts_of(f), NULL);
	item = one_command(f, f->phone, contacts_of(f), &key, NULL, WBXML_AIRSYNC_ADD);
	assert_string_equal(text(f, item, WBXML_CONTACTS_MOBILE_PHONE_NUMBER), "+44 20 7946 0000");
	assert_string_equal(text(f, item, WBXML_CONTACTS_BIRTHDAY), "1815-12-10T00:00:00.000Z");
	assert_string_equal(text(f, item, WBXML_CONTACTS_FILE_AS), "Ada Lovelace");
	assert_string_equal(text(f, item, WBXML_AIRSYNCBASE_DATA), "First programmer, they say.");
	/* One bad contact among good ones: nothing is imported, the line is named. */
	const char *bad = write_file(f, "bad.vcf", "BEGIN:VCARD\r\nN:Good;One;;;\r\nEND:VCARD\r\n"
						   "BEGIN:VCARD\r\nN:Bad;One;;;\r\nBDAY:someday\r\nEND:VCARD\r\n");
	assert_int_equal(easctl(f, e2e_mail_format(f, "import alice %s", bad), &err), 1);
	assert_non_null(strstr(err, "line 4: Contacts refused: birthday_invalid"));
	assert_non_null(strstr(err, "nothing imported"));
	assert_int_equal(count_items(f, "COUNTER", contacts_of(f)), 1);
	/* Export, import into carol, export again: the same file. */
	const char *password = write_file(f, "password", "carol's password\n");
	assert_int_equal(easctl(f, e2e_mail_format(f, "user add carol < %s", password), &err), 0);
	const char *classes[] = { "contacts", "calendar" };
	for (unsigned i = 0; i < 2; i++) {
		const char *a = e2e_mail_format(f, "%s/alice.%s", f->server.dir, classes[i]);
		const char *b = e2e_mail_format(f, "%s/carol.%s", f->server.dir, classes[i]);
		assert_int_equal(easctl(f, e2e_mail_format(f, "export alice %s %s", classes[i], a), &err), 0);
		assert_int_equal(easctl(f, e2e_mail_format(f, "import carol %s", a), &err), 0);
		assert_int_equal(easctl(f, e2e_mail_format(f, "export carol %s %s", classes[i], b), &err), 0);
		const char *first = read_file(f, a), *again = read_file(f, b);
		/* DTSTAMP is when each file was written. */
		if (i == 1) {
			first = strstr(first, "SUMMARY");
			again = strstr(again, "SUMMARY");
		}
		assert_string_equal(first, again);
	}
}

/* Posts a command given as XML; returns its response. */
static struct wbxml_node *post(struct e2e_mail *f, const char *command, const char *xml)
{
	assert_int_equal(easclient_post_xml(f->phone, command, xml, &f->response), 0);
	assert_int_equal(f->response.http_status, 200);
	return easclient_parse(&f->response, f->arena);
}

/*
 * ItemOperations fetches a contact as Contacts; MoveItems moves it to
 * another address book (the user's own, made with FolderCreate), never into
 * a mail folder.
 */
static void contact_fetched_and_moved_between_address_books(void **state)
{
	struct e2e_mail *f = *state;
	const char *contacts = contacts_of(f), *server_id;
	const char *key = start(f, f->phone, contacts, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, contacts, key, NULL, add(f, "c1", ADA));
	assert_string_equal(add_status(f, root, &server_id), "1");
	root = post(f, "ItemOperations",
		    e2e_mail_format(f, "<ItemOperations xmlns=\"ItemOperations\" xmlns:a=\"AirSync\"><Fetch><Store>Mailbox"
				       "</Store><a:CollectionId>%s</a:CollectionId><a:ServerId>%s</a:ServerId></Fetch>"
				       "</ItemOperations>", contacts, server_id));
	assert_string_equal(text(f, root, WBXML_AIRSYNC_CLASS), "Contacts");
	assert_string_equal(text(f, root, WBXML_CONTACTS_LAST_NAME), "Lovelace");
	const char *folder_key = text(f, post(f, "FolderSync", "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey>"
							      "</FolderSync>"), WBXML_FOLDERHIERARCHY_SYNC_KEY);
	root = post(f, "FolderCreate",
		    e2e_mail_format(f, "<FolderCreate xmlns=\"FolderHierarchy\"><SyncKey>%s</SyncKey><ParentId>0</ParentId>"
				       "<DisplayName>Club</DisplayName><Type>14</Type></FolderCreate>", folder_key));
	const char *club = text(f, root, WBXML_FOLDERHIERARCHY_SERVER_ID);
	const char *move = "<MoveItems xmlns=\"Move\"><Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId>"
			   "<DstFldId>%s</DstFldId></Move></MoveItems>";
	root = post(f, "MoveItems", e2e_mail_format(f, move, server_id, contacts, f->inbox));
	assert_string_equal(text(f, root, WBXML_MOVE_STATUS), "5");
	root = post(f, "MoveItems", e2e_mail_format(f, move, server_id, contacts, club));
	assert_string_equal(text(f, root, WBXML_MOVE_STATUS), "3");
	assert_int_equal(count_items(f, "COUNTER", club), 1);
}

/* The access log says what each Sync asked of which class: items added, changed, deleted (issue 12's diagnosis). */
static void the_access_log_counts_the_items_a_sync_sends(void **state)
{
	struct e2e_mail *f = *state;
	const char *folder = contacts_of(f);
	const char *key = start(f, f->phone, folder, NULL);
	struct wbxml_node *root = sync_folder(f, f->phone, folder, key, NULL,
					      e2e_mail_format(f, "%s%s", add(f, "a1", "<c:FirstName>Ann</c:FirstName>"),
							      add(f, "a2", "<c:FirstName>Ben</c:FirstName>")));
	key = text(f, root, WBXML_AIRSYNC_SYNC_KEY);
	const struct wbxml_node *responses = easclient_find(root, WBXML_AIRSYNC_RESPONSES);
	const char *ann = text(f, easclient_find(responses, WBXML_AIRSYNC_ADD), WBXML_AIRSYNC_SERVER_ID);
	const char *ben = text(f, easclient_find(responses, WBXML_AIRSYNC_ADD)->next, WBXML_AIRSYNC_SERVER_ID);
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "\tSync\t", "\tContacts\t2\t0\t0", NULL }));
	step(f, f->phone, folder, &key,
	     e2e_mail_format(f, "%s<Delete><ServerId>%s</ServerId></Delete>",
			     change(f, ann, "<c:FirstName>Anne</c:FirstName>"), ben));
	assert_true(e2e_log_has(&f->server, (const char *const[]){ "\tSync\t", "\tContacts\t0\t1\t1", NULL }));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		E2E_MAIL_CASE(contact_round_trip_between_versions),
		E2E_MAIL_CASE(supported_list_decides_what_omitted_means),
		cmocka_unit_test_setup_teardown(omitted_fields_deleted_when_configured, setup_delete_omitted,
						e2e_mail_teardown),
		E2E_MAIL_CASE(lossy_body_echoes_keep_the_stored_body),
		E2E_MAIL_CASE(empty_picture_from_iphone_keeps_the_picture),
		E2E_MAIL_CASE(bulk_add_and_retry_store_each_contact_once),
		E2E_MAIL_CASE(bulk_add_cut_off_or_killed_stores_each_once),
		E2E_MAIL_CASE(repeated_client_ids_and_exceptions_are_bounded),
		E2E_MAIL_CASE(notes_keep_body_and_subject_and_own_their_date),
		E2E_MAIL_CASE(tasks_rules_and_incomplete_filter),
		E2E_MAIL_CASE(calendar_window_and_versions),
		E2E_MAIL_CASE(repeated_client_uid_is_the_same_event),
		E2E_MAIL_CASE(contact_fetched_and_moved_between_address_books),
		E2E_MAIL_CASE(all_day_events_keep_their_dates),
		E2E_MAIL_CASE(one_occurrence_never_deletes_the_series),
		E2E_MAIL_CASE(attendee_device_never_becomes_organizer),
		E2E_MAIL_CASE(import_and_export_files),
		E2E_MAIL_CASE(the_access_log_counts_the_items_a_sync_sends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
