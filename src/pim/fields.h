/*
 * fields.h: the classes kept as their fields (Contacts, Calendar, Tasks,
 * Notes): one engine (fields.c) and, per class, the rules that differ
 * (struct pim_fields_spec, in contacts.c, calendar.c, tasks.c, notes.c).
 *
 * An item is the ApplicationData a device sent, normalised: a WBXML
 * document whose root is airsync:ApplicationData, each top-level field at
 * most once, the body as airsyncbase:Body with its Type and Data only, no
 * top-level field empty (an empty one in a Change clears the field). So
 * every field one device sends reaches another as it was sent, whatever
 * the protocol version of each (a field the reader's version lacks is left
 * out for it, not lost).
 *
 * Must not: be included from outside src/pim/.
 */
#ifndef PIM_FIELDS_H
#define PIM_FIELDS_H

#include "pim/pim.h"

/* What leaving a field out of a Change means for a class. */
enum pim_omitted {
	PIM_OMITTED_BY_SUPPORTED, /* MS-ASCMD 2.2.3.179: the device's Supported list decides */
	PIM_OMITTED_KEPT,         /* always kept (MS-ASCMD 2.2.3.24 R878: Body, Picture; R876: Exceptions) */
	PIM_OMITTED_DELETED,      /* always deleted (Notes' Categories, MS-ASNOTE R112) */
};

struct pim_fields_spec {
	enum pim_omitted (*omitted)(enum wbxml_tag tag, unsigned protocol_version);
	/*
	 * Checks and normalises an item after an Add, or after a Change was
	 * merged into it: NULL, or static text saying why it is refused
	 * (Sync Status 6).
	 */
	const char *(*check)(struct arena *arena, struct wbxml_node *item, const struct pim_author *author);
	/* The item's place in filter windows (pim_update.received), when author writes it. */
	int64_t (*place)(const struct wbxml_node *item, const struct pim_author *author);
	/* Turns what a device sent into the stored form, in place, before it is merged (NULL: nothing). */
	void (*translate)(struct arena *arena, struct wbxml_node *sent);
	/* Whether a field is the server's on this item, whatever a device sends (a received meeting's organizer). */
	bool (*owned)(const struct wbxml_node *item, enum wbxml_tag tag, const struct pim_author *author);
	/* Merges a field a class keeps in parts (Exceptions, one per occurrence); NULL: not such a field. */
	struct wbxml_node *(*merge_field)(struct arena *arena, const struct pim_author *author,
					  const struct wbxml_node *item, struct wbxml_node *stored, struct wbxml_node *sent);
	/*
	 * A Change or Delete of one occurrence (InstanceId) as a Change of the
	 * item (NULL: the class has no occurrences, Status 6). sent may be
	 * NULL for a Delete.
	 */
	struct wbxml_node *(*instance)(struct arena *arena, struct wbxml_node *sent, const char *instance, bool remove);
	/* Whether a field a device sent says nothing new about the stored one (NULL: none such). */
	bool (*same)(const struct wbxml_node *stored, const struct wbxml_node *sent);
	/* Writes a field its own way for the device (or leaves it out): true when it did (NULL: never). */
	bool (*write_field)(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
			    const struct wbxml_node *field, const struct pim_options *options);
	/* Writes what the server adds to an item it sends (NULL: nothing). */
	void (*write_extra)(struct wbxml_writer *writer, struct arena *arena, const struct wbxml_node *item,
			    const struct pim_item *stored, const struct pim_options *options);
};

/* The class table's operations for these classes. */
int pim_fields_read(const struct pim_class *class, struct wbxml_reader *reader, struct arena *arena, bool add,
		    struct pim_input *out);
int pim_fields_create(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		      const struct pim_input *input, struct pim_update *update);
int pim_fields_merge(const struct pim_class *class, struct arena *arena, const struct pim_author *author,
		     const struct pim_item *item, const struct pim_input *input, struct pim_update *update);
int pim_fields_write(const struct pim_class *class, struct wbxml_writer *writer, struct arena *arena,
		     const struct pim_item *item, const struct pim_options *options, bool whole);
uint64_t pim_fields_estimated_bytes(const struct pim_options *options, uint64_t size);
int64_t pim_fields_no_filter(uint8_t filter_type, int64_t now);

/* ---- for the class files ---- */

/* The top-level field of that tag, or NULL. */
struct wbxml_node *pim_fields_find(const struct wbxml_node *item, enum wbxml_tag tag);
/* Its text ("" when absent or not text), NUL-terminated. */
const char *pim_fields_text(const struct wbxml_node *item, enum wbxml_tag tag);
/* Sets a top-level text field (replacing it, or appending it). */
void pim_fields_set(struct arena *arena, struct wbxml_node *item, enum wbxml_tag tag, const char *text);
/*
 * Appends a copy of node, sharing its subtree, as the last child of
 * parent: the lists node came from stay as they were. The subtree's
 * parent links move to the copy (the encoder walks up them); the tree it
 * came from is not encoded again.
 */
void pim_fields_adopt(struct arena *arena, struct wbxml_node *parent, const struct wbxml_node *node);
/* Removes a top-level field, if there. */
void pim_fields_remove(struct wbxml_node *item, enum wbxml_tag tag);
/* A dateTime of MS-ASDTYPE 2.3 ("2026-12-03T15:30:00.000Z") or the compact form of calendar times
   ("20261203T153000Z") as Unix seconds. Returns 0, or -1 for anything else. */
int pim_fields_parse_time(const char *text, int64_t *time_out);
/* t as MS-ASDTYPE dateTime, in arena. */
const char *pim_fields_format_time(struct arena *arena, int64_t t);
/* t in the compact form of MS-ASCAL times ("20261203T153000Z"), in arena. */
const char *pim_fields_compact_time(struct arena *arena, int64_t t);
/* The item's place by a time field (Unix seconds), or fallback without a valid one. */
int64_t pim_fields_time(const struct wbxml_node *item, enum wbxml_tag tag, int64_t fallback);

/* The stored item's fields, or NULL when its content is gone or not ours. */
struct wbxml_node *pim_fields_tree(struct arena *arena, const struct pim_item *item);

/* Writes a field and what is inside it, leaving out what the device's version does not have. */
void pim_fields_write_node(struct wbxml_writer *writer, uint8_t version_bit, const struct wbxml_node *node);
/* A new empty ApplicationData, or element of that tag. */
struct wbxml_node *pim_fields_new(struct arena *arena, struct wbxml_node *parent, enum wbxml_tag tag);

/* A field holding a decimal number from 0 to max: 0 with *value_out, -1 when absent, -2 when not such a number. */
int pim_fields_number(const struct wbxml_node *item, enum wbxml_tag tag, unsigned max, unsigned *value_out);

#endif
