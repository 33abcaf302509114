# cockpit — terminal operator cockpit for self-healing PostgreSQL.
#
#   make            build ./cockpit (warnings on, never -Werror: a newer compiler
#                   must not break a user's build)
#   make deps       install the Debian packages the build and tests need (only
#                   the missing ones; sudo when not root)
#   make check      deps, then every test: unit + integration under ASan+UBSan
#                   with -Werror, the threaded tests under TSan
#   make demo       scratch PostgreSQL with live incidents, cockpit opened on it
#   make bench      benchmarks (bench/)
#   make fuzz       libFuzzer harnesses (tests/fuzz/), FUZZ_SECONDS each; needs clang
#   make install    PREFIX=/usr/local DESTDIR=
#
# Knobs: V=1 (verbose), WERROR=1, SANITIZE=address,undefined | thread,
# CFLAGS/LDFLAGS (yours, respected), PKG_CONFIG.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/cockpit
PKG_CONFIG ?= pkg-config
CC         ?= cc
CFLAGS     ?= -O2 -g

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKGS    := libpq ncursesw jansson yaml-0.1 libcurl libcrypto

COCKPIT_WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wwrite-strings -Wvla
ifeq ($(WERROR),1)
COCKPIT_WARN += -Werror
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# libpg_query ships no .pc file in Debian 12.
PGQ_LIBS   := -lpg_query

COCKPIT_CPPFLAGS := -D_GNU_SOURCE -DCOCKPIT_VERSION='"$(VERSION)"' \
	-DCOCKPIT_DATADIR='"$(DATADIR)"' -Isrc -MMD -MP
# libc before libpg_query: libpg_query exports its own strnlen, which would
# otherwise be bound (and the library loaded) though nothing calls it yet.
COCKPIT_LIBS := $(PKG_LIBS) -lc $(PGQ_LIBS) -lpthread -lm

comma := ,
ifeq ($(SANITIZE),)
BUILD := build/release
else
BUILD := build/$(subst $(comma),-,$(SANITIZE))
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
# gcc's "undefined" leaves out float-to-integer overflow; we want it.
ifneq ($(findstring undefined,$(SANITIZE)),)
SAN_FLAGS += -fsanitize=float-cast-overflow
endif
endif

ALL_CFLAGS  = $(COCKPIT_CPPFLAGS) $(PKG_CFLAGS) $(COCKPIT_WARN) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

ifneq ($(V),1)
Q := @
QCC = @printf '  CC      %s\n' $<;
QLD = @printf '  LD      %s\n' $@;
endif

LIB_SRCS  := $(sort $(shell find src -name '*.c' ! -name main.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/src/main.o
LIB       := $(BUILD)/libcockpit.a
BIN       := $(BUILD)/cockpit

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
ITEST_SRCS := $(sort $(wildcard tests/integration/test_*.c))
ITEST_BINS := $(ITEST_SRCS:%.c=$(BUILD)/%)
TEST_SUPPORT_SRCS := $(sort $(wildcard tests/lib/*.c))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/%.o)
# In-process fake servers for tests (tests/fakes/*.c, libmicrohttpd): linked
# into the unit and integration tests only, never into the library.
FAKE_SRCS  := $(sort $(wildcard tests/fakes/*.c))
FAKE_OBJS  := $(FAKE_SRCS:%.c=$(BUILD)/%.o)
MHD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)
# The same fakes as a process of their own, for the TUI tests (tmux runs the
# real binary): BUILD/tests/fakes/fake-llm.
FAKE_LLM_BIN := $(BUILD)/tests/fakes/fake-llm
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

.PHONY: all deps check check-unit check-integration check-tsan test-bins demo bench \
	install uninstall clean
.DEFAULT_GOAL := all

all: cockpit

cockpit: $(BIN)
	$(Q)cp $(BIN) $@

$(BIN): $(MAIN_OBJ) $(LIB)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(COCKPIT_LIBS)

$(LIB): $(LIB_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/lib/%.o: tests/lib/%.c
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(shell $(PKG_CONFIG) --cflags cmocka) -c -o $@ $<

$(BUILD)/tests/fakes/%.o: tests/fakes/%.c
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(MHD_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(TEST_SUPPORT_OBJS) $(FAKE_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(shell $(PKG_CONFIG) --cflags cmocka) $(ALL_LDFLAGS) \
		-o $@ $< $(TEST_SUPPORT_OBJS) $(FAKE_OBJS) $(LIB) $(shell $(PKG_CONFIG) --libs cmocka) \
		$(COCKPIT_LIBS) $(MHD_LIBS)

$(BUILD)/tests/integration/%: tests/integration/%.c $(TEST_SUPPORT_OBJS) $(FAKE_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(shell $(PKG_CONFIG) --cflags cmocka) $(ALL_LDFLAGS) \
		-o $@ $< $(TEST_SUPPORT_OBJS) $(FAKE_OBJS) $(LIB) $(shell $(PKG_CONFIG) --libs cmocka) \
		$(COCKPIT_LIBS) $(MHD_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(COCKPIT_LIBS)

$(FAKE_LLM_BIN): tests/fakes/main/fake_llm_server.c $(FAKE_OBJS) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(MHD_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(FAKE_OBJS) $(LIB) \
		$(COCKPIT_LIBS) $(MHD_LIBS)

test-bins: $(BIN) $(UNIT_BINS) $(ITEST_BINS) $(FAKE_LLM_BIN)

# ---- fuzzing -----------------------------------------------------------------
#
#   make fuzz         build every tests/fuzz/fuzz_NAME.c with clang + libFuzzer
#                     (build/fuzz/fuzz_NAME, against build/fuzz/libcockpit.a) and
#                     run each in turn for FUZZ_SECONDS; prints runs, seconds and
#                     crashes per harness; any crash fails and names the input to
#                     copy to tests/fuzz/regress/NAME/
#   make fuzz-build   only build them
#   make check        replays tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME
#                     through each harness built by $(CC) without libFuzzer
#                     (BUILD/tests/fuzz/replay_NAME = harness + replay_main.c)
#
# Seeds: tests/fuzz/corpus/NAME (committed, read only); what the fuzzer learns
# goes to build/fuzz/corpus/NAME, crash inputs to build/fuzz/artifacts/NAME;
# tests/fuzz/NAME.dict is passed as -dict= when it exists.
# Knobs: FUZZ_SECONDS (60), FUZZ_ONLY="NAME..." (a subset), FUZZ_CC (clang),
# FUZZ_CFLAGS (-g -O1), FUZZ_SANITIZE (address,undefined), FUZZ_ARGS (more
# libFuzzer flags, e.g. -jobs=2 -workers=2).

FUZZ_CC       ?= clang
FUZZ_CFLAGS   ?= -g -O1
FUZZ_SANITIZE ?= address,undefined
FUZZ_SECONDS  ?= 60
FUZZ_ARGS     ?=
FUZZ_DIR      := build/fuzz
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_ONLY     ?= $(FUZZ_NAMES)
FUZZ_BINS     := $(FUZZ_ONLY:%=$(FUZZ_DIR)/fuzz_%)
# The harnesses need no curses screen loop: everything else, in one archive.
FUZZ_LIB_SRCS := $(filter-out src/ui/tui.c,$(LIB_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_DIR)/%.o)
FUZZ_LIB      := $(FUZZ_DIR)/libcockpit.a
FUZZ_ALL_CFLAGS = $(COCKPIT_CPPFLAGS) $(PKG_CFLAGS) $(COCKPIT_WARN) \
	-fsanitize=$(FUZZ_SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer \
	$(CPPFLAGS) $(FUZZ_CFLAGS)
FUZZ_REPLAY_MAIN := $(BUILD)/tests/fuzz/replay_main.o
FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)

.PHONY: fuzz fuzz-build

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) '$(FUZZ_ARGS)' $(FUZZ_ONLY)

fuzz-build: $(FUZZ_BINS)
	@:

# Library code: coverage-instrumented for libFuzzer, no main().
$(FUZZ_DIR)/src/%.o: src/%.c
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -Itests -fsanitize=fuzzer $(LDFLAGS) \
		-o $@ $< $(FUZZ_LIB) $(COCKPIT_LIBS)

# Regression replay: the same harnesses, the build's compiler and sanitizers.
$(FUZZ_REPLAY_MAIN): tests/fuzz/replay_main.c
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c $(FUZZ_REPLAY_MAIN) $(LIB)
	$(Q)mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) \
		-o $@ $< $(FUZZ_REPLAY_MAIN) $(LIB) $(COCKPIT_LIBS)

test-bins: $(FUZZ_REPLAY_BINS)

# ---- end of fuzzing -----------------------------------------------------------

deps:
	$(Q)sh scripts/deps.sh

# make check: the README's test command. Installs what it needs, then runs the
# whole suite with -Werror under ASan+UBSan, the threaded tests under TSan, and
# the unit tests and server-facing commands of the plain build under valgrind.
check: deps
	$(Q)$(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined test-bins
	$(Q)$(MAKE) --no-print-directory WERROR=1 SANITIZE=thread test-bins
	$(Q)$(MAKE) --no-print-directory WERROR=1 test-bins
	$(Q)sh tests/run.sh build/address-undefined build/thread build/release

check-unit: test-bins
	$(Q)sh tests/run.sh --unit-only $(BUILD)

demo: deps cockpit
	$(Q)sh scripts/demo.sh

bench:
	$(Q)sh scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory cockpit $(BENCH_BINS) $(FAKE_LLM_BIN)
	$(Q)sh bench/run.sh $(BUILD)

install: cockpit
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/runbooks $(DESTDIR)$(DATADIR)/themes
	install -m 755 cockpit $(DESTDIR)$(BINDIR)/cockpit
	install -m 644 cockpit.conf.example $(DESTDIR)$(DATADIR)/cockpit.conf.example
	for f in runbooks/*.yaml; do [ -e "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/runbooks/; done; true
	for f in themes/*.yaml; do [ -e "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/themes/; done; true

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cockpit
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build cockpit

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
