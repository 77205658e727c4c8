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

struct eas_command {
	const char *name;           /* the Cmd= value */
	eas_handler *handler;       /* NULL: not implemented yet (answered "not supported") */
	enum wbxml_tag root;        /* root element of request and response */
	enum wbxml_tag status;      /* the Status element of the response's root */
	unsigned flags;             /* enum eas_command_flag */
};

/* The command of that name (case-sensitive, as MS-ASHTTP spells it), or NULL. */
const struct eas_command *eas_command_find(const char *name);

/* Answers <Root><Status>status</Status></Root> with HTTP 200. */
void eas_answer_status(struct eas_request *request, const struct eas_command *command, int status,
		       const char *reason);
/* Starts a WBXML response in request->response. */
void eas_writer_init(struct eas_request *request, struct wbxml_writer *writer);
/* Ends it; an encoding failure becomes HTTP 500 (a bug or a limit). */
void eas_writer_finish(struct eas_request *request, struct wbxml_writer *writer);

/* Provision check before a command: 0, or the status that sends the device to Provision. */
int eas_policy_status(const struct eas_request *request);

/* Handlers, one file each. */
void eas_provision(struct eas_request *request);
void eas_foldersync(struct eas_request *request);

#endif
