# circus-c: one non-recursive Makefile. `make`, `make test`, `make SANITIZE=1 test`,
# `make run`, `make deps`, `make bench`, `make fuzz`. Objects go to build/.
CC       ?= cc
PYTHON   ?= /usr/bin/python3
BUILD    ?= build
WERROR   ?= -Werror
PKGS      = libzmq libczmq jansson libbsd libproc2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev

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
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP -Ilib $(PKG_CFLAGS) $(CFLAGS)
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

UNIT_SRC  = $(wildcard tests/unit/test-*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)

BINS = $(BUILD)/circusd $(BUILD)/circusctl

# Other programs: one folder of .c files each, linked with libcircus.a and
# the libraries named in LIBS_<program>.
PROGRAMS = circusd-stats circus-top
LIBS_circusd-stats = -lmicrohttpd
LIBS_circus-top = -lncurses
BINS += $(PROGRAMS:%=$(BUILD)/%)

.PHONY: all test unit e2e run deps clean check bench bench-quick fuzz soak format
all: $(BINS) $(HELPER_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/circusd: $(CIRCUSD_OBJ) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/circusctl: $(CTL_OBJ) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lreadline -lm

.SECONDEXPANSION:
$(PROGRAMS:%=$(BUILD)/%): $(BUILD)/%: \
    $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard $$*/*.c))) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(LIBS_$*) -lm

$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $<

$(BUILD)/tests/test-ctl-%: tests/unit/test-ctl-%.c $(CTL_CORE) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icircusctl $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lreadline -lcmocka -lm

$(BUILD)/tests/test-%: tests/unit/test-%.c $(CIRCUSD_CORE) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icircusd $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: all
	CIRCUS_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

test: unit e2e
check: test

run: all
	$(BUILD)/circusd circus.ini

# Every Debian package the build, the tests and the benchmarks need.
DEBS = build-essential pkg-config libzmq3-dev libczmq-dev libev-dev \
       libjansson-dev libbsd-dev libproc2-dev libreadline-dev libcmocka-dev \
       python3-pytest python3-zmq tmux clang libclang-rt-14-dev \
       libmicrohttpd-dev libncurses-dev prometheus
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

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Sub-makefiles owned by the benchmark and fuzzing harnesses.
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
