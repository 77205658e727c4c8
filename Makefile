# easd: plain GNU make. See README.md for the targets a user runs.
#
#   make            build easd's programs into build/
#   make run        install what is missing, build, run the demo server (./var;
#                   ports: EASD_PORT, EASD_LMTP_PORT)
#   make check      install what is missing, build, run every test, then the
#                   same tests under AddressSanitizer + UBSan (build/asan/),
#                   then replay the fuzz corpora (build/fuzz/); ends with
#                   "N passed, M failed" over every suite (tools/check.sh)
#   make bench      benchmarks; figures go to bench/results/
#   make fuzz       long fuzzing runs (FUZZ_SECONDS per target)
#   make soak       the push soak for minutes (SOAK_CYCLES, SOAK_SECONDS, SOAK_DEVICES)
#   make deb        the Debian package in debian/out/, lintian clean
#   make package-check  make deb, then install, check and purge it on this machine

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES = make gcc clang libclang-rt-dev pkg-config xxd \
	libglib2.0-dev libxml2-dev libcmocka-dev libsqlite3-dev libinih-dev \
	libmicrohttpd-dev libcrypt-dev zlib1g-dev libcurl4-openssl-dev swaks wrk sqlite3 \
	libwbxml2-dev libwbxml2-utils libgmime-3.0-dev libical-dev tzdata postfix groff-base man-db \
	libsystemd-dev systemd libgnutls28-dev
# Debian packages `make deb` needs: the packaging tools and debian/control's
# Build-Depends (the libraries' -dev packages; no test tool).
DEB_BUILD_PACKAGES = dpkg-dev debhelper fakeroot lintian pkgconf \
	libglib2.0-dev libxml2-dev libsqlite3-dev libinih-dev libmicrohttpd-dev libcrypt-dev \
	zlib1g-dev libcurl4-openssl-dev libgmime-3.0-dev libical-dev libsystemd-dev libgnutls28-dev
PKGS = glib-2.0 libxml-2.0 sqlite3 inih libmicrohttpd gnutls libxcrypt zlib gmime-3.0 libical libcurl libsystemd
TEST_PKGS = cmocka
BENCH_PKGS = libwbxml2

BUILD ?= build
SAN ?=
CC ?= cc
OPT ?= -O2

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARNINGS) -Isrc -I$(GEN)
ifneq ($(SAN),)
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_SAN = -fsanitize=address,undefined
endif

GEN ?= build/gen
# Evaluated once per make run; `make check` runs the builds in sub-makes,
# after `deps` has installed the packages.
pkg_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkg_libs = $(shell pkg-config --libs $(1) 2>/dev/null)
PKG_CFLAGS := $(call pkg_cflags,$(PKGS))
PKG_LIBS := $(call pkg_libs,$(PKGS))
TEST_CFLAGS := $(call pkg_cflags,$(TEST_PKGS) $(BENCH_PKGS))
TEST_LIBS := $(call pkg_libs,$(TEST_PKGS) $(BENCH_PKGS))

CFLAGS_ALL = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm

# Library sources: everything under src/ but programs and tests.
TEST_SRC = $(wildcard src/*/test_*.c)
LIB_SRC = $(filter-out src/easctl/% src/easd/% $(TEST_SRC),$(wildcard src/*/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/codepages_gen.o
EASCTL_SRC = $(wildcard src/easctl/*.c)
EASD_SRC = $(wildcard src/easd/*.c)
E2E_SRC = $(wildcard tests/e2e/test_*.c)
TESTS = $(TEST_SRC:src/%.c=$(BUILD)/tests/%) $(E2E_SRC:tests/%.c=$(BUILD)/tests/%)
TESTLIB_OBJ = $(patsubst tests/lib/%.c,$(BUILD)/tests/lib/%.o,$(wildcard tests/lib/*.c))

EASBENCH_SRC = $(wildcard tools/easbench/*.c)

PROGRAMS = $(BUILD)/easd $(BUILD)/easctl $(BUILD)/easbench

.PHONY: all deps run check test test-asan fuzz-check fuzz bench soak clean install
.DELETE_ON_ERROR:

all: $(PROGRAMS)

deps:
	@echo "deps: the build and test set (DEB_PACKAGES; the .deb needs only runtime libraries, README.md \"Debian package\"):"
	@echo "  $(DEB_PACKAGES)"
	@tools/install-deps.sh $(DEB_PACKAGES)

# ---- install (PREFIX, DESTDIR; see doc/running.md "Install as a service") ----
PREFIX ?= /usr/local
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
DOCDIR = $(PREFIX)/share/doc/easd
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc

# An existing /etc/easd/easd.conf is never overwritten: it is the site's.
# Only easd and easctl are built for it (easbench needs the test libraries).
install: $(BUILD)/easd $(BUILD)/easctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/easd
	install -m 755 $(BUILD)/easd $(BUILD)/easctl $(DESTDIR)$(SBINDIR)/
	install -m 644 doc/man/easd.8 doc/man/easctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 doc/man/easd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 easd.conf.example doc/running.md doc/postfix-main.cf.example doc/nginx.conf.example $(DESTDIR)$(DOCDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|' dist/easd.service > $(DESTDIR)$(UNITDIR)/easd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/easd/easd.conf || \
		sed -e 's|^data_dir = .*|data_dir = /var/lib/easd|' -e 's|^dir = .*|dir = /var/log/easd|' \
			easd.conf.example > $(DESTDIR)$(SYSCONFDIR)/easd/easd.conf
	chmod 640 $(DESTDIR)$(SYSCONFDIR)/easd/easd.conf

# ---- the Debian package (debian/; README.md "Debian package") ----
# Built by dpkg-buildpackage in a copy of the tree in a temporary folder (its
# objects in that copy's debian/build, never in build/), then checked by
# lintian, which fails the target on any error or warning. The .deb, the
# .changes and the .buildinfo are left in DEB_OUT.
DEB_OUT ?= debian/out
.PHONY: deb package-check
deb:
	@tools/install-deps.sh $(DEB_BUILD_PACKAGES)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	version=$$(dpkg-parsechangelog -S Version); arch=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	mkdir "$$tmp/easd"; \
	tar -c --exclude=./.git --exclude=./build --exclude=./var --exclude=./debian/out \
		--exclude=./debian/build --exclude=./debian/easd --exclude=./debian/.debhelper . | tar -x -C "$$tmp/easd"; \
	(cd "$$tmp/easd" && dpkg-buildpackage -us -uc -b); \
	mkdir -p $(DEB_OUT); rm -f $(DEB_OUT)/easd_* $(DEB_OUT)/easd-dbgsym_*; \
	cp "$$tmp"/easd*_"$$version"_* $(DEB_OUT)/; \
	echo "deb: lintian $(DEB_OUT)/easd_$${version}_$$arch.changes"; \
	lintian --display-info --fail-on error,warning $(DEB_OUT)/easd_$${version}_$$arch.changes; \
	echo "deb: $$(ls $(DEB_OUT)/easd_$${version}_$$arch.deb), lintian clean"

# Builds the package, installs it on this machine with apt-get, checks it and
# purges it (tests/package/debian_package.sh): slow and not for a machine
# one cares about, so not part of `make check`.
package-check: deb
	EASD_SOURCE=$(CURDIR) DEB_OUT=$(DEB_OUT) tests/package/debian_package.sh

# The demo: ./var with user demo/demodemo and demo mail, easd in the foreground.
run: deps
	$(MAKE) all
	EASD_BUILD=$(BUILD) tools/run-demo.sh

# ---- generated code pages ----
$(GEN)/wbxml_tags.h $(GEN)/codepages_gen.c: tools/gen-codepages.awk data/codepages.tsv data/namespaces.tsv
	@mkdir -p $(GEN)
	awk -v header=$(GEN)/wbxml_tags.h -v source=$(GEN)/codepages_gen.c \
		-f tools/gen-codepages.awk data/namespaces.tsv data/codepages.tsv

# ---- objects ----
$(BUILD)/%.o: %.c $(GEN)/wbxml_tags.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/gen/codepages_gen.o: $(GEN)/codepages_gen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc/wbxml -c $< -o $@

$(BUILD)/libeasd.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/easctl: $(EASCTL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libeasd.a
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/easd: $(EASD_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libeasd.a
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread

# easbench, the device simulator, is built on the tests' EAS client library.
$(BUILD)/tools/easbench/%.o: tools/easbench/%.c $(GEN)/wbxml_tags.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/lib $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/easbench: $(EASBENCH_SRC:%.c=$(BUILD)/%.o) $(TESTLIB_OBJ) $(BUILD)/libeasd.a
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS) -lpthread

# ---- tests ----
$(BUILD)/tests/lib/%.o: tests/lib/%.c $(GEN)/wbxml_tags.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/lib $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: src/%.c $(TESTLIB_OBJ) $(BUILD)/libeasd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/lib $(TEST_CFLAGS) -MMD -MP \
		$(LDFLAGS_SAN) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libeasd.a $(LIBS) $(TEST_LIBS)

$(BUILD)/tests/e2e/%: tests/e2e/%.c $(TESTLIB_OBJ) $(BUILD)/libeasd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/lib $(TEST_CFLAGS) -MMD -MP \
		$(LDFLAGS_SAN) -o $@ $< $(TESTLIB_OBJ) $(BUILD)/libeasd.a $(LIBS) $(TEST_LIBS)

# make check's record: each suite (a test program or script, a fuzz target)
# adds "passed NAME" or "failed NAME" to this file, and tools/check.sh counts
# the lines. Empty (a plain make test) records nothing.
CHECK_RESULTS ?=
# Shell, in a suite loop: $$result (passed or failed) of the suite named $(1)
# goes into CHECK_RESULTS; a failure sets $$failed, and the loop goes on.
record_suite = [ "$$result" = passed ] || failed=1; \
	[ -z "$(CHECK_RESULTS)" ] || echo "$$result $(1)" >> "$(CHECK_RESULTS)"
SCRIPT_TESTS = tests/cli/run.sh $(wildcard tests/e2e/*.sh)

# Runs every test, also after one failed, and fails if any did; a test finds
# the repository's data through EASD_SOURCE. The test programs run TEST_JOBS
# at once (each on its own ports and directory; most of their time is spent
# waiting on easd), each one's output printed whole when it ends
# (tools/run_suite.sh); the scripts one after the other.
TEST_JOBS ?= 2
test: $(TESTS) $(PROGRAMS)
	@failed=0; printf '%s\n' $(TESTS) | EASD_SOURCE=$(CURDIR) EASD_BUILD=$(BUILD) \
		CHECK_RESULTS="$(CHECK_RESULTS)" xargs -P $(TEST_JOBS) -n1 tools/run_suite.sh || failed=1; \
	for t in $(SCRIPT_TESTS); do \
		echo "== $$t"; result=passed; EASD_SOURCE=$(CURDIR) EASD_BUILD=$(BUILD) $$t || result=failed; \
		$(call record_suite,$$t on $(BUILD)); \
	done; exit $$failed

# One test program at a time: under the sanitizers two at once leave too
# little of this 2-core machine for the tests that time easd.
test-asan:
	$(MAKE) BUILD=build/asan SAN=1 CC=clang OPT=-O1 TEST_JOBS=1 test

# tools/check.sh runs all, test, test-asan and fuzz-check (each also when
# one before failed, but for the build) and ends with "N passed, M failed".
check: deps
	@MAKE="$(MAKE)" tools/check.sh build/check-results

# ---- fuzzing (clang libFuzzer) ----
FUZZ_TARGETS = $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BUILD = build/fuzz
FUZZ_SECONDS ?= 900
FUZZ_CHECK_SECONDS ?= 5

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
		CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_BUILD)/libeasd.a
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# A target's dictionary is fuzz/<its name>.dict, else fuzz/<first word of its
# name>.dict, when there is one (fuzz_email_draft reads WBXML, not MIME).
fuzz_dict = d=fuzz/$${t\#fuzz_}; [ -f $$d.dict ] && d=$$d.dict || d=$${d%%_*}.dict; \
	dict=; [ -f $$d ] && dict=-dict=$$d

# Replays each corpus, then fuzzes briefly, two targets at once (one per
# core; tools/fuzz_check_one.sh); a crash fails the target, and the check
# goes on with the others.
fuzz-check: fuzz-build
	@echo $(FUZZ_TARGETS) | tr ' ' '\n' | FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_CHECK_SECONDS=$(FUZZ_CHECK_SECONDS) \
		CHECK_RESULTS="$(CHECK_RESULTS)" xargs -P2 -n1 tools/fuzz_check_one.sh

fuzz: deps fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		$(fuzz_dict); mkdir -p $(FUZZ_BUILD)/new-$$t; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) $$dict \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ \
			$(FUZZ_BUILD)/new-$$t fuzz/corpus/$${t#fuzz_}; \
	done

# ---- benchmarks ----
$(BUILD)/bench/%: bench/%.c $(TESTLIB_OBJ) $(BUILD)/libeasd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/lib $(TEST_CFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS) -lpthread

bench: deps
	$(MAKE) all $(BUILD)/bench/bench_wbxml $(BUILD)/bench/bench_auth $(BUILD)/bench/bench_sync \
		$(BUILD)/bench/bench_fetch $(BUILD)/bench/bench_pim
	$(BUILD)/bench/bench_wbxml bench/results/wbxml.txt
	$(BUILD)/bench/bench_auth bench/results/auth.txt
	bench/bench_http.sh $(BUILD) bench/results/http.txt
	$(BUILD)/bench/bench_sync bench/results/sync.txt
	$(BUILD)/bench/bench_fetch bench/results/fetch.txt
	$(BUILD)/bench/bench_pim bench/results/pim.txt
	bench/bench_mail.sh $(BUILD) bench/results/mail.txt
	bench/bench_storm.sh $(BUILD) bench/results/storm.txt

# The push soak for minutes instead of seconds (tests/e2e/soak_push.sh).
soak: deps all
	EASD_SOURCE=$(CURDIR) EASD_BUILD=$(BUILD) SOAK_CYCLES=$${SOAK_CYCLES:-20} SOAK_SECONDS=$${SOAK_SECONDS:-30} \
		SOAK_DEVICES=$${SOAK_DEVICES:-200} tests/e2e/soak_push.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
