/*
 * testlib: helpers shared by the unit tests, the fuzz seed generator and the
 * benchmarks: repository paths, fixture files, a seeded random generator and
 * random WBXML trees drawn from the code page table.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"
#include "wbxml/wbxml.h"

/* $EASD_SOURCE/relative (the repository root; "." when unset). Caller frees. */
char *testlib_path(const char *relative);
/* Reads a whole file into out. Returns 0 or -1. */
int testlib_read_file(const char *path, struct buf *out);
/* Reads a file of hex byte pairs separated by white space. Returns 0 or -1. */
int testlib_read_hex(const char *path, struct buf *out);

/* xorshift64*: small, fast, the same sequence on every machine. */
struct testlib_rng {
	uint64_t state;
};

void testlib_rng_init(struct testlib_rng *rng, uint64_t seed);
uint32_t testlib_rand(struct testlib_rng *rng);
/* Uniform in [0, n). */
uint32_t testlib_rand_below(struct testlib_rng *rng, uint32_t n);

struct testlib_tree_options {
	unsigned max_depth;     /* levels below the root */
	unsigned max_children;  /* per element */
	int focus_page;         /* -1: any page; else most tags come from it */
	/* Only what libwbxml 0.11.8 can represent: known tokens, non-empty
	   strings without edge white space, opaque only where it expects it. */
	bool libwbxml_safe;
	/* With libwbxml_safe: only tags libwbxml knows by the specification's
	   name, so that it reads our XML (not only XML in its own names). */
	bool libwbxml_spec_names;
};

/* A random tree in the arena. Every tag of the table can be drawn. */
struct wbxml_node *testlib_random_tree(struct arena *arena, struct testlib_rng *rng,
				       const struct testlib_tree_options *options);
/* Uniformly chosen defined tag (of the page when page >= 0). */
enum wbxml_tag testlib_random_tag(struct testlib_rng *rng, int page,
				  const struct testlib_tree_options *options);

/* Prints a tree as XML to stderr (for failure reports). */
void testlib_dump_tree(const struct wbxml_node *root);

#endif
