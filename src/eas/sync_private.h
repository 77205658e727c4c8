/*
 * sync_private.h: the Sync command's request model, shared by its two files:
 * sync_request.c reads the WBXML into it, sync.c runs it.
 */
#ifndef EAS_SYNC_PRIVATE_H
#define EAS_SYNC_PRIVATE_H

#include "eas/eas_private.h"
#include "pim/email.h"

/* MS-ASCMD 2.2.3.199: WindowSize is 1 to 512, 100 when absent. */
#define SYNC_DEFAULT_WINDOW 100
#define SYNC_MAX_WINDOW 512

enum sync_command_kind {
	SYNC_ADD,
	SYNC_CHANGE,
	SYNC_DELETE,
	SYNC_FETCH,
};

/* One client command of a collection's Commands. */
struct sync_command {
	enum sync_command_kind kind;
	struct slice server_id;
	struct slice client_id;     /* Add */
	bool has_change;            /* Change: the ApplicationData was read */
	struct pim_email_state change;
	unsigned changed_fields;    /* enum pim_email_field: which fields the client sent */
};

/* Sync status values of a collection (MS-ASCMD 2.2.3.177.17). */
enum sync_status {
	SYNC_STATUS_SUCCESS = 1,
	SYNC_STATUS_INVALID_SYNC_KEY = 3,
	SYNC_STATUS_PROTOCOL_ERROR = 4,
	SYNC_STATUS_SERVER_ERROR = 5,
	SYNC_STATUS_CONVERSION_ERROR = 6,
	SYNC_STATUS_CONFLICT = 7,
	SYNC_STATUS_NOT_FOUND = 8,
	SYNC_STATUS_HIERARCHY_CHANGED = 12,
	SYNC_STATUS_EMPTY_REQUEST = 13,
	SYNC_STATUS_TOO_MANY_COLLECTIONS = 15,
	SYNC_STATUS_RETRY = 16,
};

struct sync_collection {
	struct slice sync_key;
	struct slice collection_id;
	bool get_changes;
	bool get_changes_given;
	unsigned window_size;       /* 0: not given */
	bool deletes_as_moves;
	uint8_t filter_type;
	struct pim_email_options options;
	struct sync_command *commands;
	unsigned command_count;
	unsigned command_capacity;
};

struct sync_request {
	struct sync_collection *collections;
	unsigned collection_count;
	unsigned collection_capacity;
	unsigned window_size;       /* [14.0+] for the whole response; 0: not given */
	bool partial;
	bool wait_given;            /* Wait or HeartbeatInterval */
};

/*
 * Reads the request body. Returns 0, or a Sync status for the whole
 * request (protocol error, too many collections) with *reason_out set.
 */
int sync_request_parse(struct eas_request *request, struct sync_request *sync_out,
		       const char **reason_out);

#endif
