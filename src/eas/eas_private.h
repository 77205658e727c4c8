/* eas_private.h: what the command files share; nothing outside src/eas/ includes it. */
#ifndef EAS_PRIVATE_H
#define EAS_PRIVATE_H

#include "eas/eas.h"
#include "eas/status.h"
#include "wbxml/wbxml.h"

enum eas_command_flag {
	EAS_NO_POLICY = 1 << 0,   /* allowed without the current policy key (Provision) */
	EAS_EMPTY_BODY = 1 << 1,  /* an empty body is allowed (Sync, Ping, GetAttachment) */
	EAS_MIME_BODY_12 = 1 << 2, /* 12.1 sends raw MIME (message/rfc822), not WBXML */
};

typedef void eas_handler(struct eas_request *request);
typedef void eas_resume_handler(struct eas_request *request, const struct eas_park *park);

struct eas_command {
	const char *name;           /* the Cmd= value */
	eas_handler *handler;       /* NULL: not implemented yet (answered "not supported") */
	enum wbxml_tag root;        /* root element of request and response */
	enum wbxml_tag status;      /* the Status element of the response's root */
	unsigned flags;             /* enum eas_command_flag */
	eas_resume_handler *resume; /* commands that park: goes on when the wait ends */
};

/* The command of that name (case-sensitive, as MS-ASHTTP spells it), or NULL. */
const struct eas_command *eas_command_find(const char *name);

/* Answers <Root><Status>status</Status></Root> with HTTP 200. */
void eas_answer_status(struct eas_request *request, const struct eas_command *command, int status,
		       const char *reason);
/* A common status: in the body from 14.0 on (HTTP 200), as http_status_12 for 12.1. */
void eas_answer_failure(struct eas_request *request, const struct eas_command *command, int status,
			unsigned http_status_12, const char *reason);
/*
 * access.c: whether this device of this user may run the command now (a
 * wipe pending, the user's sync off, the device blocked, quarantined or
 * past the device cap); true when it was answered instead.
 */
bool eas_access_refused(struct eas_request *request, const struct eas_command *command);
/* What the answered request showed of its device, for autoblock; a rule that fires blocks the device. */
void eas_access_observe(struct eas_request *request, const struct eas_command *command);
/* ---- hidden.c: classes switched off, for everyone or for the user ---- */

/* "Contacts,Notes" as bits (unknown words ignored), and back. */
unsigned eas_class_mask(const char *list);
const char *eas_class_list(struct arena *arena, unsigned mask);
/* The classes this request's user does not see: [access] disabled_classes and the user's own. */
unsigned eas_hidden_classes(const struct eas_request *request);
bool eas_folder_type_hidden(unsigned hidden, int folder_type);
/* store_folder_get of the user's folder, STORE_NOT_FOUND for one of a hidden class. */
int eas_folder_get(struct eas_request *request, struct arena *arena, int64_t folder_id, struct store_folder *out);

/* Notes a collection asked at SyncKey 0 (0: the hierarchy). */
void eas_note_sync_key_zero(struct eas_request *request, int64_t collection);
/* Starts a WBXML response in request->response. */
void eas_writer_init(struct eas_request *request, struct wbxml_writer *writer);
/* Ends it; an encoding failure becomes HTTP 500 (a bug or a limit). */
void eas_writer_finish(struct eas_request *request, struct wbxml_writer *writer);

/*
 * Reads the text of the element just started (after its START event) up to
 * and including its END; child elements are skipped. *text_out is the last
 * string or opaque piece, empty when there is none. Returns 0 or -1.
 */
int eas_read_text(struct wbxml_reader *reader, struct slice *text_out);

/* Item ServerIds are "folder:item" (opaque to clients, MS-ASCMD 2.2.3.166.x). */
/* The item id of text if it names an item of folder_id. Returns 0 or -1. */
int eas_server_id_parse(struct slice text, int64_t folder_id, int64_t *item_out);
/* Writes <tag>folder:item</tag>. */
void eas_server_id_write(struct wbxml_writer *writer, enum wbxml_tag tag, int64_t folder_id, int64_t item_id);
/* A folder's ServerId (its id in decimal) as a number. Returns 0 or -1. */
int eas_folder_id_parse(struct slice text, int64_t *folder_out);

/* ---- options.c: what the commands that send mail items share ---- */

struct pim_options;
struct pim_email_state;

/* Folder types holding mail (MS-ASCMD 2.2.3.186.3), the only items easd keeps today. */
bool eas_folder_holds_mail(int type);
/*
 * Reads the text of the element just started as a decimal number no
 * greater than max; an empty or out-of-range value gives fallback.
 * Returns 0, or -1 when the WBXML does not decode.
 */
int eas_read_number(struct wbxml_reader *reader, unsigned max, unsigned fallback, unsigned *out);
/*
 * tag was just started inside an Options element: if it is a body option
 * (airsync:MIMESupport, airsync:MIMETruncation, airsyncbase:BodyPreference)
 * it is read into *options up to its END and 1 is returned; another tag
 * is left unread and 0 returned; -1 when the WBXML does not decode.
 */
int eas_body_option_read(struct wbxml_reader *reader, enum wbxml_tag tag, struct pim_options *options);
/* The store's per-item state (read, flag, categories, FileReference prefix) for pim_email_write; strings in arena. */
void eas_email_state(struct arena *arena, int64_t folder_id, const struct store_item *item,
		     struct pim_email_state *state_out);

/* ---- content.c: a stored message read by ranges, an attachment streamed ---- */

struct pim_source;

/*
 * A pim_source reading the live item through request->session (which
 * must be held while pim/ reads), its state in arena. Returns a store
 * status: STORE_NOT_FOUND for a tombstone.
 */
int eas_content_source(struct eas_request *request, struct arena *arena, int64_t folder_id, int64_t item_id,
		       struct pim_source *source_out);
/* A stored item's whole content, in arena; STORE_ERROR when it is over max bytes. */
int eas_content_whole(struct eas_request *request, struct arena *arena, int64_t folder_id, int64_t item_id,
		      uint64_t max, struct slice *out);

/* An attachment to stream: where its encoded bytes are, and which decoded bytes to send. */
struct eas_content_payload {
	int64_t folder_id, item_id;
	uint64_t encoded_start, encoded_end; /* in the stored message (pim_attachment) */
	int encoding;
	uint64_t first, length;              /* decoded bytes sent */
	bool base64;                         /* inline Data: sent as base64 */
};

/* Bytes the payload takes in the body. */
uint64_t eas_content_payload_bytes(const struct eas_content_payload *payload);
/*
 * Turns the response into a stream: request->response up to mark, the
 * payload, then the rest of request->response. The buffer passes to the
 * stream; request->response is left empty. If the item goes away or a
 * session cannot be had while it is sent, the body is cut short and the
 * log line gives the reason (attachment_gone, store_sessions_exhausted).
 */
void eas_content_stream(struct eas_request *request, size_t mark, const struct eas_content_payload *payload);

/* ---- compose_request.c: what SendMail, SmartReply and SmartForward ask ---- */

struct eas_compose {
	bool reply, forward;          /* SmartReply, SmartForward */
	bool replace_mime;            /* the device's MIME is the whole message: no original added */
	bool save_in_sent;
	struct slice client_id;       /* empty when the device sent none (12.1) */
	struct slice mime;
	struct slice folder_id, item_id, long_id; /* Source of a SmartReply or SmartForward */
	const char **forwardees;      /* 16.x Forwardees' addresses, in request->arena */
	size_t forwardee_count;
};

/*
 * Reads the request (ComposeMail WBXML from 14.0, the MIME body and query
 * parameters in 12.1). Returns 0, or the status to answer (103: no Mime,
 * a Source where none belongs, an element out of place).
 */
int eas_compose_read(struct eas_request *request, struct eas_compose *compose_out);

/* Provision check before a command: 0, or the status that sends the device to Provision. */
int eas_policy_status(const struct eas_request *request);

/* Handlers, one file each. */
void eas_provision(struct eas_request *request);
void eas_foldersync(struct eas_request *request);
void eas_sync(struct eas_request *request);
void eas_getitemestimate(struct eas_request *request);
void eas_moveitems(struct eas_request *request);
void eas_foldercreate(struct eas_request *request);
void eas_folderupdate(struct eas_request *request);
void eas_folderdelete(struct eas_request *request);
void eas_itemoperations(struct eas_request *request);
void eas_ping(struct eas_request *request);
/* The strings, one per line (each ending in "\n"), in arena: an envelope's recipients as the store keeps them. */
const char *eas_join_lines(struct arena *arena, const char *const *list, size_t count);
/* The user's address: the login when it is one, else login@the first local domain (sendmail.c). */
const char *eas_user_address(struct eas_request *request);
/* SendMail, SmartReply and SmartForward alike. */
void eas_sendmail(struct eas_request *request);
void eas_meetingresponse(struct eas_request *request);
/* A Ping's parameters: the request's, or the cached ones standing in. */
struct eas_ping_parameters {
	bool has_heartbeat, has_folders;
	uint64_t heartbeat;
	int64_t *folders;           /* in the request's arena; ids easd never gave are dropped (request->reason names the first) */
	unsigned folder_count, capacity;
	bool too_many;              /* more than [push] max_folders: Status 6 */
};
/* Reads request->body as a Ping. Returns 0, or -1 for one Status 4 answers (malformed, a folder twice). */
int eas_ping_read(struct eas_request *request, struct eas_ping_parameters *parameters_out);
void eas_ping_resume(struct eas_request *request, const struct eas_park *park);
void eas_sync_resume(struct eas_request *request, const struct eas_park *park);

/* ---- folders.c: what FolderCreate, FolderUpdate and FolderDelete share ---- */

/* The request's fields, borrowed from the body; has_* false when the element is absent. */
struct eas_folder_fields {
	bool has_sync_key, has_server_id, has_parent_id, has_display_name, has_type;
	struct slice sync_key, server_id, parent_id, display_name, type;
};

/*
 * Reads the root's FolderHierarchy children SyncKey, ServerId, ParentId,
 * DisplayName and Type; other elements are skipped. Returns 0, or -1 when
 * one of them appears twice or holds elements (the command's Status 10).
 */
int eas_folder_fields_read(struct eas_request *request, struct eas_folder_fields *fields_out);

/* A ParentId: 0 for the mailbox root ("0", MS-ASCMD 2.2.3.129.1), a folder id, or -1 when it names no folder. */
int64_t eas_folder_parent_id(struct slice text);
/* DisplayName: 1-256 characters of UTF-8 without NUL, copied into the request's arena; NULL if not. */
const char *eas_folder_name_copy(struct eas_request *request, struct slice text);
/* Types 2-11 and 19: the default folders a device cannot create, rename, move or delete. */
bool eas_folder_type_is_default(int type);

/*
 * Inside a change: the new parent is the root (0) or a live folder of the
 * user (else Status 5) other than a recipient information cache (Status
 * 3), neither folder_id (the folder moved; 0 for a new one) nor below it,
 * and at most 63 levels deep, so the folder is at most 64 (else Status
 * 10). parent_id < 0 names no folder.
 */
int eas_folder_check_parent(struct eas_request *request, int64_t parent_id, int64_t folder_id,
			    const char **reason_out);
/* Inside a change: no live sibling other than self_id (0: none) has the name, case-insensitively (else Status 2). */
int eas_folder_check_name(struct eas_request *request, int64_t parent_id, const char *name, int64_t self_id,
			  const char **reason_out);

/*
 * The change a command makes, called inside the store transaction after
 * the SyncKey check. Returns 0, or the command's Status with *reason_out.
 */
typedef int eas_folder_change_fn(struct eas_request *request, void *context, const char **reason_out);

/*
 * Runs change in one store transaction between the hierarchy SyncKey
 * check (the device's current key, else Status 9) and the advance of the
 * device's hierarchy state. Returns 0 with *sync_key_out the key to
 * answer, or a Status (the change's, 6 or 9) with *reason_out; nothing is
 * kept then.
 */
int eas_folder_change_run(struct eas_request *request, struct slice sync_key, eas_folder_change_fn *change,
			  void *context, uint64_t *sync_key_out, const char **reason_out);
/* Maps a store failure inside a change to Status 6. */
int eas_folder_store_failure(int store_status, const char **reason_out);
/* Answers <Root><Status>status</Status></Root> for the request's command; no SyncKey, the device keeps its own. */
void eas_folder_fail(struct eas_request *request, int status, const char *reason);

#endif
