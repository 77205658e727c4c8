/*
 * wbxml_codepages.h: the EAS tag table (MS-ASWBXML 2.1.2.1), generated from
 * data/codepages.tsv by tools/gen-codepages.awk. Names only; no behaviour.
 */
#ifndef WBXML_CODEPAGES_H
#define WBXML_CODEPAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wbxml_tags.h"

/* Protocol versions as bits of wbxml_tag_info.versions. */
enum wbxml_version_bit {
	WBXML_V2_5 = 1 << 0,
	WBXML_V12_0 = 1 << 1,
	WBXML_V12_1 = 1 << 2,
	WBXML_V14_0 = 1 << 3,
	WBXML_V14_1 = 1 << 4,
	WBXML_V16_0 = 1 << 5,
	WBXML_V16_1 = 1 << 6,
};

/* Where libwbxml 0.11.8 (used only to cross-check us) departs from the spec. */
enum wbxml_tag_flag {
	WBXML_TAG_LIBWBXML_OPAQUE = 1 << 0,  /* it carries the content as opaque */
	WBXML_TAG_LIBWBXML_UNKNOWN = 1 << 1, /* it does not know the token */
};

#define WBXML_QNAME_PADDING 64 /* more than the longest prefixed name (49) */

struct wbxml_tag_info {
	const char *name;          /* the spec's name; NULL: no such tag */
	const char *libwbxml_name; /* libwbxml's older name, NULL when the same */
	uint8_t versions;          /* enum wbxml_version_bit: versions that have it */
	uint8_t flags;             /* enum wbxml_tag_flag */
	/* The name with its page's XML prefix ("airsyncbase:Body"), for
	   rendering without building names; the bare name is at prefix_len.
	   WBXML_QNAME_PADDING bytes may be read from any place in it, past
	   its end, so a renderer can copy a fixed size (no call for a few
	   bytes). */
	const char *qname;
	uint8_t qname_len;
	uint8_t prefix_len;
};

/* Namespace of each page ("AirSync", "Contacts", ...). */
extern const char *const wbxml_namespaces[WBXML_PAGE_COUNT];
/* Number of tags each page defines (0 for page 3, AirNotify). */
extern const uint8_t wbxml_page_tag_count[WBXML_PAGE_COUNT];
/* Indexed by page * 64 + token. */
extern const struct wbxml_tag_info wbxml_tag_table[WBXML_PAGE_COUNT * 64];

static inline unsigned wbxml_tag_page(enum wbxml_tag tag) { return (unsigned)tag >> 8; }
static inline unsigned wbxml_tag_token(enum wbxml_tag tag) { return (unsigned)tag & 0x3F; }

/* The tag's table entry, or NULL when page or token is not defined. */
const struct wbxml_tag_info *wbxml_tag_info(unsigned page, unsigned token);
/* Whether a page defines any tag (page 3, AirNotify, no longer does). */
static inline bool wbxml_page_has_tags(unsigned page)
{
	return page < WBXML_PAGE_COUNT && wbxml_page_tag_count[page] > 0;
}
/* The tag's name, or NULL when it is not a defined tag. */
const char *wbxml_tag_name(enum wbxml_tag tag);
/* The namespace of the tag's page. The tag must be defined. */
const char *wbxml_tag_namespace(enum wbxml_tag tag);

/*
 * Finds a tag by namespace and name. The namespace may carry the trailing
 * colon Exchange logs and libwbxml use ("AirSync:"). With libwbxml_names,
 * libwbxml's older names are accepted too. Returns 0, or -1 when unknown.
 */
int wbxml_tag_lookup(const char *ns, size_t ns_len, const char *name, size_t name_len,
		     int libwbxml_names, enum wbxml_tag *tag_out);
/* Page of a namespace (same colon rule), or -1. */
int wbxml_page_lookup(const char *ns, size_t ns_len);

#endif
