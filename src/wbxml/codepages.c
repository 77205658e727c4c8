/*
 * codepages.c: lookups over the generated tag table (wbxml_codepages.h).
 * Name lookups serve XML parsing (tools and tests), not the request path,
 * so a scan of one page's 64 slots is enough.
 */
#include "wbxml/wbxml_codepages.h"

#include <string.h>

const struct wbxml_tag_info *wbxml_tag_info(unsigned page, unsigned token)
{
	if (page >= WBXML_PAGE_COUNT || token >= 64)
		return NULL;
	const struct wbxml_tag_info *info = &wbxml_tag_table[page * 64 + token];
	return info->name != NULL ? info : NULL;
}

const char *wbxml_tag_name(enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = wbxml_tag_info(wbxml_tag_page(tag), wbxml_tag_token(tag));
	return info != NULL ? info->name : NULL;
}

const char *wbxml_tag_namespace(enum wbxml_tag tag)
{
	return wbxml_namespaces[wbxml_tag_page(tag)];
}

static bool name_equals(const char *name, const char *text, size_t len)
{
	return name != NULL && strlen(name) == len && memcmp(name, text, len) == 0;
}

int wbxml_page_lookup(const char *ns, size_t ns_len)
{
	/* Exchange logs and libwbxml write "AirSync:"; MS-ASCMD writes "AirSync". */
	if (ns_len > 0 && ns[ns_len - 1] == ':')
		ns_len--;
	for (unsigned page = 0; page < WBXML_PAGE_COUNT; page++)
		if (name_equals(wbxml_namespaces[page], ns, ns_len) && wbxml_page_has_tags(page))
			return (int)page;
	return -1;
}

int wbxml_tag_lookup(const char *ns, size_t ns_len, const char *name, size_t name_len,
		     int libwbxml_names, enum wbxml_tag *tag_out)
{
	int page = wbxml_page_lookup(ns, ns_len);
	if (page < 0)
		return -1;
	for (unsigned token = 5; token < 64; token++) {
		const struct wbxml_tag_info *info = wbxml_tag_info((unsigned)page, token);
		if (info == NULL)
			continue;
		if (name_equals(info->name, name, name_len) ||
		    (libwbxml_names && name_equals(info->libwbxml_name, name, name_len))) {
			*tag_out = (enum wbxml_tag)((unsigned)page << 8 | token);
			return 0;
		}
	}
	return -1;
}
