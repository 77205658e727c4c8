/*
 * query.h: the request line's query, in both forms MS-ASHTTP allows
 * (2.2.1.1.1.1 base64-encoded, 2.2.1.1.1.2 plain text), parsed into one
 * struct. Only syntax and lengths are checked here; whether the user or
 * device may do anything is decided later.
 */
#ifndef HTTP_QUERY_H
#define HTTP_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

/* Bounds on what a device may put in the query: LIMIT_QUERY_BYTES and the
   other LIMIT_* of the request line, in guard/limits.h. */
#include "guard/limits.h"

struct http_query {
	bool base64_form;
	struct slice command;      /* "Sync", "FolderSync", ...; base64 codes are mapped to names */
	struct slice user;         /* may be empty */
	struct slice device_id;    /* never empty after a successful parse; hex if binary (base64 form) */
	struct slice device_type;  /* never empty after a successful parse */
	uint8_t protocol_version;  /* base64 form: version * 10 (121, 140, ...); plain form: 0 (header gives it) */
	bool has_policy_key;       /* base64 form only: a 4-byte key was present */
	uint32_t policy_key;
	uint16_t locale;           /* base64 form only */
	struct slice attachment_name, collection_id, item_id, long_id, occurrence;
	bool save_in_sent;         /* SaveInSent=T, or Options bit 0x01 */
	bool accept_multipart;     /* Options bit 0x02 (base64 form only) */
};

/*
 * Parses raw (still percent-encoded) query bytes, without the leading '?'.
 * The form is plain when a "Cmd=" parameter is present, base64 otherwise.
 * Slices in *query_out point into arena memory (decoded copies). Returns 0,
 * or -1 with *reason_out a static phrase for the log ("device_id_invalid",
 * "base64_invalid", ...). Never reads past len; never allocates more than a
 * small multiple of len.
 */
int http_query_parse(struct arena *arena, const char *raw, size_t len,
		     struct http_query *query_out, const char **reason_out);

/* The command name of a base64-form command code (MS-ASHTTP 2.2.1.1.1.1.2), or NULL. */
const char *http_command_name(uint8_t code);

#endif
