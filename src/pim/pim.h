/*
 * pim.h: the EAS classes (Email, Contacts, Calendar, Tasks, Notes) behind
 * one interface, the class table, and what they share: body options, the
 * state the store keeps beside an item's content, and content read by
 * ranges. The Sync engine picks the class from the folder and asks it to
 * read a client's ApplicationData, make or merge the item to store, write
 * the item for a device, and place it in a filter window; it never knows
 * which class it holds.
 *
 * Must not: know HTTP or the store. The caller gives the stored content
 * (a pim_source) and state, and stores what the class returns.
 */
#ifndef PIM_H
#define PIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"
#include "wbxml/wbxml.h"

/* Body types (MS-ASAIRS 2.2.2.22.1). */
enum pim_body_type {
	PIM_BODY_PLAIN = 1,
	PIM_BODY_HTML = 2,
	PIM_BODY_RTF = 3,
	PIM_BODY_MIME = 4,
};

/* One airsyncbase:BodyPreference. */
struct pim_body_preference {
	uint8_t type;             /* enum pim_body_type */
	uint32_t truncation_size; /* bytes; 0: no truncation */
	bool all_or_none;         /* larger than truncation_size: not in this type at all */
	uint16_t preview;         /* characters of plain-text Preview [14.0+]; 0: none */
};

#define PIM_MAX_BODY_PREFERENCES 4

struct pim_options {
	unsigned protocol_version;  /* 121, 140, 141, 160, 161 */
	struct pim_body_preference preferences[PIM_MAX_BODY_PREFERENCES];
	unsigned preference_count;  /* 0: plain text, untruncated */
	uint8_t mime_support;       /* 0 never MIME, 1 for S/MIME only, 2 always */
	uint32_t mime_truncation;   /* bytes for a MIME body; 0: none */
};

/* What the store keeps about a message besides its MIME. */
struct pim_email_state {
	bool read;
	uint8_t flag_status;        /* 0 none, 1 complete, 2 active (MS-ASEMAIL Flag Status) */
	const char *categories[8];  /* NULL-terminated when fewer */
	int64_t received;           /* Unix seconds: DateReceived */
	const char *file_reference_prefix; /* "folder:item" — attachment i is "<prefix>:<i>" */
	/* The mailbox's owner (login or address): a meeting message they organize is shown as
	   plain mail, not as an invitation to answer. NULL: not known (every meeting is theirs to answer). */
	const char *user;
};

/*
 * A message read by ranges, so that it need not be in memory whole: read
 * copies len bytes from offset (inside [0, size)) into dst and returns 0,
 * or -1 when it cannot (the message then reads as cut short there).
 * GMime keeps each part as a range of the source, and decodes only what
 * is asked for. The source and its context must outlive the arena's use.
 */
struct pim_source {
	uint64_t size;
	int (*read)(void *context, uint64_t offset, void *dst, size_t len);
	void *context;
};

/* A source reading mime[0..len), which must outlive it (tests, fuzzing). */
void pim_source_memory(struct pim_source *source, const uint8_t *mime, size_t len);

/* The element's version bit for a protocol version (121, 140, ...). */
uint8_t pim_version_bit(unsigned protocol_version);
/* Whether the protocol version has the tag (data/codepages.tsv). */
bool pim_has_tag(uint8_t version_bit, enum wbxml_tag tag);

/* ---- the class table ---- */

/*
 * The elements a device said it supports in a folder (airsync:Supported,
 * MS-ASCMD 2.2.3.179), sent with its SyncKey 0 and kept with the folder
 * state. An element it supports and leaves out of a Change is deleted; one
 * it does not support is kept ("ghosted").
 */
#define PIM_SUPPORTED_MAX 128
struct pim_supported {
	bool given;                 /* a Supported element was sent (perhaps empty) */
	unsigned count;
	uint16_t tags[PIM_SUPPORTED_MAX]; /* enum wbxml_tag */
};

/* An item as the store keeps it. */
struct pim_item {
	const struct pim_source *content; /* Email: the message; the others: their fields (fields.c) */
	const struct pim_email_state *state;
};

/* What the device that writes is, for the class's rules. */
struct pim_author {
	unsigned protocol_version;
	int folder_type;              /* MS-ASCMD 2.2.3.186.3 */
	const char *user;             /* the user's address (a draft's From) */
	int64_t now;                  /* Unix seconds */
	const struct pim_options *options;     /* how the device asked for bodies: what it was sent */
	const struct pim_supported *supported; /* NULL: none stored */
	bool keep_omitted;            /* no Supported sent: an omitted element is kept ([sync] ghosting) */
	bool empty_picture_echo;      /* the device sends <Picture/> for a picture it did not make (iOS 8.2+) */
	size_t max_picture;           /* a contact's Picture longer than this is not kept; 0: no limit */
};

/* A client's Add or Change, as read from its ApplicationData (the class's own form). */
struct pim_input {
	const char *invalid;          /* not NULL: refused (Sync Status 6) for this reason */
	void *data;                   /* NULL: nothing was sent (the Delete of an occurrence) */
	/* [16.0+] airsyncbase:InstanceId: the Change or Delete is of that occurrence only (MS-ASCMD 2.2.3.24, 2.2.3.42.2). */
	const char *instance;
	bool remove_instance;         /* a Delete of the occurrence */
};

/* What the store keeps after an Add or a Change. Strings in the arena. */
struct pim_update {
	const char *invalid;          /* not NULL: refused (Sync Status 6) for this reason */
	bool unchanged;               /* a Change that sets what is there: nothing to write */
	bool keep_content;            /* a Change of the state only (Email flags) */
	struct slice content;
	int64_t received;             /* the item's place in filter windows (Email: delivery time) */
	int64_t date;
	const char *message_id;       /* "" when none; an event's ClientUid (see client_uid) */
	/* [16.x] the client's own id of an event (MS-ASCAL 2.2.2.13 ClientUid): an Add of one the
	   folder already has maps to that item instead of making a second (field-notes T75). */
	bool client_uid;
	bool read;
	uint8_t flag_status;
	const char *categories;       /* newline-separated */
};

struct pim_fields_spec;
struct pim_class;

struct pim_class {
	const char *name;             /* airsync:Class (MS-ASCMD 2.2.3.27.4) */
	/*
	 * Reads ApplicationData (reader just after its START) up to its END.
	 * Returns 0 with *out filled, out->invalid set for a value the class
	 * refuses, or a wbxml status when the WBXML does not decode.
	 */
	int (*read)(const struct pim_class *class, struct wbxml_reader *reader, struct arena *arena, bool add,
		    struct pim_input *out);
	/* An Add: the item to store, or update->invalid. Returns 0, or -1 (server error). */
	int (*create)(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		      const struct pim_input *input, struct pim_update *update);
	/* A Change merged into the stored item. Returns 0, or -1 (server error). */
	int (*merge)(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		     const struct pim_item *item, const struct pim_input *input, struct pim_update *update);
	/*
	 * Writes the item's ApplicationData children for a device's options
	 * (whole false: a Change the class may send in part, as Email sends
	 * its flags). Returns 0, or -1 when the content gives no item.
	 */
	int (*write)(const struct pim_class *class, struct wbxml_writer *writer, struct arena *arena,
		     const struct pim_item *item, const struct pim_options *options, bool whole);
	/* The oldest place (pim_update.received) a FilterType lets through at now; 0: every item. */
	int64_t (*filter_start)(uint8_t filter_type, int64_t now);
	/* What an item of size content bytes weighs in a response, at most. */
	uint64_t (*estimated_bytes)(const struct pim_options *options, uint64_t size);
	/* A change can move an item out of the filter window (an event's end, a task's completion): a
	   device that has it keeps it and gets the change. */
	bool place_moves;
	/* Refuses a Supported list (Notes: MS-ASNOTE 3.2.5.3, Status 4). */
	bool no_supported;
	/* The classes kept as their fields (fields.c): their own rules. */
	const struct pim_fields_spec *fields;
};

/* ---- iCalendar and vCard files (easctl import and export) ---- */

/*
 * An item read from a file: its class and its fields, as a Sync Add
 * would carry them (pim_input.data for class->create); line is where it
 * starts in the file. Returns 0 to go on, another value to stop.
 */
typedef int pim_import_fn(void *context, const struct pim_class *class, void *fields, unsigned line);
/*
 * Reads an iCalendar file (events, tasks, notes as VJOURNAL) or a vCard
 * file (contacts), told apart by their first line, and calls fn for each
 * item. Returns 0, fn's value when it stopped, or -1 with error naming
 * the line of what does not read.
 */
int pim_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context, char *error,
	       size_t error_len);
/* The file of a class's items: its head, each item (returns -1 for content that gives none), its tail. */
void pim_export_begin(struct buf *out, const struct pim_class *class);
int pim_export_item(struct buf *out, struct arena *arena, const struct pim_class *class, const struct pim_item *item);
void pim_export_end(struct buf *out, const struct pim_class *class);

/* The class of a folder type, or NULL for a folder that holds no items easd syncs. */
const struct pim_class *pim_class_for_folder(int folder_type);

extern const struct pim_class pim_class_email, pim_class_contacts, pim_class_calendar, pim_class_tasks,
	pim_class_notes;

#endif
