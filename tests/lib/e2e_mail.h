/*
 * e2e_mail: the fixture of the end-to-end tests of Sync on mail folders
 * (test_sync_email, test_sync_options, test_sendmail): a real easd with
 * users alice and bob (password "battery staple"), alice's two
 * provisioned devices, mail put into her folders behind easd's back, and
 * Sync requests built from XML. Every helper asserts with cmocka, so it
 * may only be called inside a test, setup or teardown; what it returns
 * lives in the fixture's arena until teardown.
 */
#ifndef E2E_MAIL_H
#define E2E_MAIL_H

#include <stdint.h>

#include "e2e.h"
#include "store/store.h"

/* Plain-text bodies cut to 200 bytes keep Adds small: inner XML of <Options>. */
#define E2E_MAIL_BODY_PREFERENCE                                                                                     \
	"<airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"                                         \
	"<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference>"

struct e2e_mail {
	struct e2e_server server;
	struct easclient *phone;             /* PHONE1 and TABLET1: alice's, provisioned, default version */
	struct easclient *tablet;
	struct easclient_response response;  /* the last one any helper received */
	struct arena *arena;
	char inbox[24];                      /* CollectionIds of Inbox and Deleted Items */
	char trash[24];
	unsigned empty_responses;            /* Syncs answered with an empty body */
	char data_dir[300];                  /* easd's, for the store opened beside it */
};

/*
 * cmocka setup and teardown: *state is a struct e2e_mail with easd running.
 * Setup returns -1 when easd does not start; teardown returns -1 when it
 * did not stop cleanly.
 */
int e2e_mail_setup(void **state);
/* The same with extra configuration (INI text appended to the test defaults). */
int e2e_mail_setup_with(void **state, const char *extra_config);
int e2e_mail_teardown(void **state);
/* A cmocka test run on a fresh fixture (needs cmocka.h). */
#define E2E_MAIL_CASE(test) cmocka_unit_test_setup_teardown(test, e2e_mail_setup, e2e_mail_teardown)

/* A provisioned device of alice; protocol_version 0 is easclient's default. The caller frees it. */
struct easclient *e2e_mail_device(struct e2e_mail *mail, const char *device_id, unsigned protocol_version);
/* The ServerId of alice's folder of that FolderSync Type ("2" Inbox, "3" Drafts, "4" Deleted Items). */
const char *e2e_mail_folder_of_type(struct e2e_mail *mail, const char *type);

/* `easctl -c CONFIG ARGS...` on the running easd's configuration (ARGS split at spaces):
   asserts it exits 0 and returns what it printed. */
const char *e2e_mail_easctl(struct e2e_mail *mail, const char *args);

/* printf into the arena. */
char *e2e_mail_format(struct e2e_mail *mail, const char *pattern, ...) __attribute__((format(printf, 2, 3)));

/*
 * Stores one message (whole MIME text) into alice's folder of folder_type
 * (STORE_FOLDER_*) the way LMTP does, committed before returning.
 */
void e2e_mail_add(struct e2e_mail *mail, int folder_type, const void *mime, size_t len, const char *message_id,
		  int64_t received);
/* count small messages received now, Message-IDs "<prefix><n>@example.org" for n from first, in one commit. */
void e2e_mail_deliver(struct e2e_mail *mail, int folder_type, const char *prefix, unsigned first, unsigned count);
/*
 * One small message per age, Message-ID "<prefix>-<age>d@example.org", in
 * one commit. An age of N days is received N days less an hour ago, so that
 * it is well inside an N-day window and well outside an (N-1)-day one
 * whatever second easd reads its clock; age 0 is now.
 */
void e2e_mail_deliver_aged(struct e2e_mail *mail, int folder_type, const char *prefix, const unsigned *ages_in_days,
			   unsigned count);
/* The stored item of a ServerId "folder:item"; its strings live in the arena. */
struct store_item e2e_mail_item(struct e2e_mail *mail, const char *server_id);

/*
 * One <Collection> of a Sync request: options is the inner XML of
 * <Options> (NULL: no Options element, the sticky ones apply), commands
 * that of <Commands> (NULL: none). GetChanges unless key is "0".
 */
const char *e2e_mail_collection(struct e2e_mail *mail, const char *folder, const char *key, unsigned window,
				const char *options, const char *commands);
/*
 * Posts a Sync of those collections (then after, e.g. "<Partial/>", or
 * NULL), asserting HTTP 200. The prefixes airsyncbase and email are
 * declared. collections NULL posts no body at all, which asks for the
 * cached request again (MS-ASCMD 2.2.1.21.1). Returns the response, or
 * NULL for an empty one (counted).
 */
struct wbxml_node *e2e_mail_post_sync(struct e2e_mail *mail, struct easclient *client, const char *collections,
				      const char *after);
/*
 * What an empty Sync response stands for (MS-ASCMD 2.2.1.21.2): the
 * collection, its key unchanged, Status 1 and no commands, as a tree.
 */
struct wbxml_node *e2e_mail_empty_answer(struct e2e_mail *mail, const char *key, const char *folder);
/* One collection's Sync (see e2e_mail_collection); an empty response comes back as e2e_mail_empty_answer. */
struct wbxml_node *e2e_mail_sync(struct e2e_mail *mail, struct easclient *client, const char *folder, const char *key,
				 unsigned window, const char *options, const char *commands);

/*
 * What a device does before it syncs or pings anything: FolderSync, then
 * the Inbox from SyncKey 0 to the end (plain-text bodies). Returns the
 * Inbox key, in the fixture's arena.
 */
const char *e2e_mail_sync_inbox(struct e2e_mail *mail, struct easclient *client);

/*
 * A request in flight on a thread and connection of its own, as a phone's
 * push connection is, while the test goes on with the device's other
 * requests. The connection is device_id's with the policy key of like (the
 * same device when like is that device's client). xml NULL posts an empty
 * body; timeout_ms 0 is easclient's 60 s, else the client hangs up then.
 */
struct e2e_call;
struct e2e_call *e2e_mail_call_start(struct e2e_mail *mail, const char *device_id, struct easclient *like,
				     const char *command, const char *xml, unsigned timeout_ms);
/* The same for another user of the fixture (bob, password "battery staple"). */
struct e2e_call *e2e_mail_call_start_as(struct e2e_mail *mail, const char *user, const char *password,
					const char *device_id, struct easclient *like, const char *command,
					const char *xml, unsigned timeout_ms);
/* Whether the answer (or the hang-up) has come. */
bool e2e_mail_call_done(struct e2e_call *call);
/* Asserts it is still waiting after ms. */
void e2e_mail_call_assert_waiting(struct e2e_call *call, unsigned ms);
/*
 * Waits up to within_ms for the answer, asserting it came with HTTP 200,
 * and frees the call. Returns the response tree, NULL for an empty body.
 */
struct wbxml_node *e2e_mail_call_finish(struct e2e_mail *mail, struct e2e_call *call, int64_t within_ms);
/* Waits up to within_ms for the call however it ends (0: answered, else the transport failed), and frees it. */
int e2e_mail_call_end(struct e2e_call *call, int64_t within_ms);
/* Waits up to within_ms for a call whose client hung up (no answer), and frees it. */
void e2e_mail_call_abandoned(struct e2e_call *call, int64_t within_ms);
/* CLOCK_MONOTONIC milliseconds. */
int64_t e2e_mail_now_ms(void);

#endif
