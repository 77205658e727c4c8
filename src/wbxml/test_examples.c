/*
 * test_examples.c: the specification's example messages (tests/data/examples,
 * copied from shared/protocol/examples): each XML encodes to exactly its
 * bytes, each byte sequence decodes to the tree of its XML, and our XML
 * rendering of the bytes encodes back to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wbxml/wbxml.h"

static const char *const examples[] = {
	"aswbxml-sync-add-contact",
	"foldercreate-request",
	"foldercreate-response",
	"foldersync-initial-request",
	"foldersync-response-nochanges",
	"foldersync-response-status142",
	"getitemestimate-request",
	"moveitems-response",
	"search-gal-request",
};

static void load(const char *name, const char *suffix, struct buf *out, bool hex)
{
	char relative[256];
	snprintf(relative, sizeof(relative), "tests/data/examples/%s%s", name, suffix);
	char *path = testlib_path(relative);
	buf_init(out, 0);
	int status = hex ? testlib_read_hex(path, out) : testlib_read_file(path, out);
	if (status < 0)
		fail_msg("cannot read %s", path);
	free(path);
}

static void assert_same_bytes(const char *name, const char *what, const struct buf *got,
			      const struct buf *want)
{
	if (got->len == want->len && memcmp(got->data, want->data, want->len) == 0)
		return;
	size_t at = 0;
	while (at < got->len && at < want->len && got->data[at] == want->data[at])
		at++;
	fail_msg("%s: %s differs at byte %zu (lengths %zu and %zu)", name, what, at, got->len, want->len);
}

static void example_xml_encodes_to_its_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		struct buf xml, bytes, encoded;
		struct wbxml_error error;
		load(examples[i], ".xml", &xml, false);
		load(examples[i], ".wbxml.hex", &bytes, true);
		buf_init(&encoded, 0);
		if (wbxml_from_xml((const char *)xml.data, xml.len, false, &encoded, &error) != 0)
			fail_msg("%s: line %zu: %s %s", examples[i], error.offset, error.reason, error.detail);
		assert_same_bytes(examples[i], "encoding", &encoded, &bytes);
		buf_cleanup(&xml);
		buf_cleanup(&bytes);
		buf_cleanup(&encoded);
	}
}

static void example_bytes_decode_to_its_xml(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		struct buf xml, bytes, rendered, from_ours, from_theirs;
		struct wbxml_error error;
		struct wbxml_node *ours, *theirs;
		struct arena *arena = arena_new(0);
		load(examples[i], ".xml", &xml, false);
		load(examples[i], ".wbxml.hex", &bytes, true);
		buf_init(&rendered, 0);
		buf_init(&from_ours, 0);
		buf_init(&from_theirs, 0);
		/* Decode the bytes to XML; both XML texts must describe one tree. */
		assert_int_equal(wbxml_to_xml(bytes.data, bytes.len, NULL, NULL, &rendered, &error), 0);
		assert_int_equal(wbxml_from_xml((const char *)rendered.data, rendered.len, false, &from_ours, &error), 0);
		assert_int_equal(wbxml_from_xml((const char *)xml.data, xml.len, false, &from_theirs, &error), 0);
		assert_int_equal(wbxml_tree_parse(arena, from_ours.data, from_ours.len, NULL, &ours, &error), 0);
		assert_int_equal(wbxml_tree_parse(arena, from_theirs.data, from_theirs.len, NULL, &theirs, &error), 0);
		if (!wbxml_tree_equal(ours, theirs))
			fail_msg("%s: decoded tree differs from the example XML:\n%.*s", examples[i],
				 (int)rendered.len, (const char *)rendered.data);
		assert_same_bytes(examples[i], "XML round trip", &from_ours, &bytes);
		buf_cleanup(&xml);
		buf_cleanup(&bytes);
		buf_cleanup(&rendered);
		buf_cleanup(&from_ours);
		buf_cleanup(&from_theirs);
		arena_free(&arena);
	}
}

/* MS-ASHTTP writes namespaces with a trailing colon; both name one page. */
static void namespace_with_colon_is_the_same_page(void **state)
{
	(void)state;
	static const char plain[] = "<FolderSync xmlns=\"FolderHierarchy\"><SyncKey>0</SyncKey></FolderSync>";
	static const char colon[] = "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>0</SyncKey></FolderSync>";
	struct buf a, b;
	buf_init(&a, 0);
	buf_init(&b, 0);
	assert_int_equal(wbxml_from_xml(plain, strlen(plain), false, &a, NULL), 0);
	assert_int_equal(wbxml_from_xml(colon, strlen(colon), false, &b, NULL), 0);
	assert_same_bytes("colon", "encoding", &a, &b);
	buf_cleanup(&a);
	buf_cleanup(&b);
}

struct bad_xml {
	const char *name;
	const char *xml;
	int status;
};

static const struct bad_xml bad_xml_cases[] = {
	{ "not_well_formed", "<Sync xmlns=\"AirSync\"><SyncKey>1</Sync>", WBXML_ERR_ENCODE },
	{ "no_namespace", "<Sync><SyncKey>1</SyncKey></Sync>", WBXML_ERR_UNKNOWN_TAG },
	{ "unknown_namespace", "<Sync xmlns=\"Nope\"/>", WBXML_ERR_UNKNOWN_TAG },
	{ "retired_airnotify_page", "<Notify xmlns=\"AirNotify\"/>", WBXML_ERR_UNKNOWN_TAG },
	{ "unknown_element", "<Sync xmlns=\"AirSync\"><Version>1</Version></Sync>", WBXML_ERR_UNKNOWN_TAG },
	{ "foreign_attribute", "<Sync xmlns=\"AirSync\" id=\"1\"/>", WBXML_ERR_ENCODE },
	{ "bad_marker", "<Sync xmlns=\"AirSync\"><SyncKey wbxml=\"what\">1</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "bad_base64", "<Sync xmlns=\"AirSync\"><SyncKey wbxml=\"opaque\">!!!!</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "base64_string_with_nul", "<Sync xmlns=\"AirSync\"><SyncKey wbxml=\"base64\">AA==</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "mixed_content", "<Sync xmlns=\"AirSync\">text<SyncKey>1</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "marker_with_children", "<Sync xmlns=\"AirSync\" wbxml=\"string\"><SyncKey>1</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "external_entity", "<!DOCTYPE Sync [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Sync xmlns=\"AirSync\"><SyncKey>&x;</SyncKey></Sync>", WBXML_ERR_ENCODE },
	{ "empty_document", "", WBXML_ERR_ENCODE },
};

static void bad_xml_gets_clean_error(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_xml_cases) / sizeof(bad_xml_cases[0]); i++) {
		struct buf out;
		struct wbxml_error error;
		buf_init(&out, 0);
		int status = wbxml_from_xml(bad_xml_cases[i].xml, strlen(bad_xml_cases[i].xml), false, &out, &error);
		if (status != bad_xml_cases[i].status)
			fail_msg("%s: %s (%s %s)", bad_xml_cases[i].name, wbxml_status_name(status),
				 error.reason ? error.reason : "", error.detail);
		assert_int_equal(out.len, 0);
		buf_cleanup(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_xml_encodes_to_its_bytes),
		cmocka_unit_test(example_bytes_decode_to_its_xml),
		cmocka_unit_test(namespace_with_colon_is_the_same_page),
		cmocka_unit_test(bad_xml_gets_clean_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
