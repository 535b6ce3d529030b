# circus-c: one non-recursive Makefile. `make`, `make test`, `make SANITIZE=1 test`,
# `make run`, `make deps`, `make bench`, `make fuzz`. Objects go to build/.
CC       ?= cc
PYTHON   ?= /usr/bin/python3
BUILD    ?= build
WERROR   ?= -Werror
PKGS      = libzmq libczmq jansson libbsd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev
# the sync worker (syncserver/) alone links these
# (libcurl only for its header: tokenserver.c loads it with dlopen at the
# first verifier call, so a worker's start does not map its 18 libraries)
SYNC_PKGS  = libmicrohttpd sqlite3 libcrypto inih jansson
SYNC_CFLAGS := $(shell pkg-config --cflags $(SYNC_PKGS) libcurl 2>/dev/null)
SYNC_LIBS  := $(shell pkg-config --libs $(SYNC_PKGS) 2>/dev/null) -ldl -lpthread

WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wmissing-declarations -Wwrite-strings \
       -Wpointer-arith -Wundef -Wimplicit-fallthrough -Wvla \
       -Wno-missing-field-initializers $(WERROR)
OPT ?= -O2 -g
ifeq ($(SANITIZE),1)
BUILD := build-san
OPT = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
      -fno-omit-frame-pointer
LDSAN = -fsanitize=address,undefined
endif
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP -Ilib $(PKG_CFLAGS) \
             $(SYNC_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(LDSAN) $(LDFLAGS)

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA     = $(BUILD)/libcircus.a

CIRCUSD_SRC  = $(wildcard circusd/*.c)
CIRCUSD_OBJ  = $(CIRCUSD_SRC:%.c=$(BUILD)/obj/%.o)
# everything of circusd but main.c, linked into unit tests and fuzzers
CIRCUSD_CORE = $(filter-out $(BUILD)/obj/circusd/main.o,$(CIRCUSD_OBJ))

CTL_SRC  = $(wildcard circusctl/*.c)
CTL_OBJ  = $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
CTL_CORE = $(filter-out $(BUILD)/obj/circusctl/main.o,$(CTL_OBJ))

SYNC_SRC  = $(wildcard syncserver/*.c)
SYNC_OBJ  = $(SYNC_SRC:%.c=$(BUILD)/obj/%.o)
# everything of syncserver but main.c, linked into its unit tests and fuzzers
SYNC_CORE = $(filter-out $(BUILD)/obj/syncserver/main.o,$(SYNC_OBJ))

UNIT_SRC  = $(wildcard tests/unit/test-*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)

# the objects of every .c file in folder $(1)
dir_obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c))

# Bundled plugins (doc/design.md §11, §17.7): plugins/<name>.c + the shared
# runtime plugins/plugin.c -> $(BUILD)/circus-plugin-<name>, next to circusd.
PLUGINS     = flapping statsd fullstats watchdog command_reloader \
              resource_watcher http_observer redis_observer
PLUGIN_RT   = $(BUILD)/obj/plugins/plugin.o
.SECONDARY: $(PLUGINS:%=$(BUILD)/obj/plugins/%.o) $(PLUGIN_RT)

# The programs: each NAME links $(NAME_OBJ) and the lib with $(NAME_LIBS).
PROGS = circusd circusctl syncserver
circusd_OBJ     = $(CIRCUSD_OBJ)
circusd_LIBS    = $(PKG_LIBS) -lm
circusctl_OBJ   = $(CTL_OBJ)
circusctl_LIBS  = $(PKG_LIBS) -lreadline -lm
syncserver_OBJ  = $(SYNC_OBJ)
syncserver_LIBS = $(SYNC_LIBS) -lm
# the others are one folder of .c files each
circusd-stats_OBJ  = $(call dir_obj,circusd-stats)
circusd-stats_LIBS = $(PKG_LIBS) -lmicrohttpd -lm
circus-top_OBJ     = $(call dir_obj,circus-top)
circus-top_LIBS    = $(PKG_LIBS) -lncurses -lm
PROGS += circusd-stats circus-top
# each plugin: its file and the runtime (RedisObserver speaks RESP: hiredis)
$(foreach p,$(PLUGINS),$(eval circus-plugin-$(p)_OBJ = \
    $(BUILD)/obj/plugins/$(p).o $(PLUGIN_RT)))
$(foreach p,$(PLUGINS),$(eval circus-plugin-$(p)_LIBS = $(PKG_LIBS) -lm))
circus-plugin-redis_observer_LIBS += -lhiredis
PROGS += $(PLUGINS:%=circus-plugin-%)
BINS = $(PROGS:%=$(BUILD)/%)

.PHONY: all test unit e2e run deps clean check bench bench-quick fuzz soak format
all: $(BINS) $(HELPER_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

.SECONDEXPANSION:
$(BINS): $(BUILD)/%: $$($$*_OBJ) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $($*_LIBS)

$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $<

$(BUILD)/tests/test-ctl-%: tests/unit/test-ctl-%.c $(CTL_CORE) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icircusctl $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lreadline -lcmocka -lm

$(BUILD)/tests/test-sync-%: tests/unit/test-sync-%.c $(SYNC_CORE) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isyncserver $(LDFLAGS_ALL) -o $@ $^ $(SYNC_LIBS) -lcmocka -lm

$(BUILD)/tests/test-plugin-%: tests/unit/test-plugin-%.c $(PLUGIN_RT) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iplugins $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

$(BUILD)/tests/test-%: tests/unit/test-%.c $(CIRCUSD_CORE) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icircusd $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# `make e2e E2E=tests/e2e/test_faults.py PYTEST_ARGS="-k fork"`: some tests
E2E ?= tests/e2e
e2e: all
	CIRCUS_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider $(E2E) $(PYTEST_ARGS)

test: unit e2e
check: test

# circus.ini includes watchers.d/: the sync worker on 127.0.0.1:5000 (its
# database, secret and logs go to var/, made on the first run)
run: all
	@mkdir -p var
	$(BUILD)/circusd circus.ini

# Every Debian package the build, the tests and the benchmarks need.
DEBS = build-essential pkg-config libzmq3-dev libczmq-dev libev-dev \
       libjansson-dev libbsd-dev libreadline-dev libcmocka-dev \
       python3-pytest python3-zmq tmux clang libclang-rt-14-dev \
       libmicrohttpd-dev libncurses-dev prometheus libsqlite3-dev \
       libssl-dev libinih-dev libcurl4-openssl-dev python3-requests iproute2 \
       libhiredis-dev redis-server clang-format
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "all dependencies present"; fi

clean:
	rm -rf build build-san build-fuzz

# `make format`: clang-format with the style of .clang-format (tabs, the
# tmux/OpenBSD layout) rewrites FORMAT_FILES in place, by default every C
# file of the project; `make format FORMAT_FILES=circusd/events.c` for some.
FORMAT_DIRS  = lib circusd circusctl circusd-stats circus-top plugins \
               syncserver tests/unit tests/helpers tests/fuzz
FORMAT_FILES = $(foreach d,$(FORMAT_DIRS),$(wildcard $(d)/*.c $(d)/*.h))
format:
	clang-format -i --style=file:$(CURDIR)/.clang-format $(FORMAT_FILES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Sub-makefiles owned by the benchmark and fuzzing harnesses.
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
