# Fuzzing and soak targets (included by the top-level Makefile).
#
#   make fuzz                   build the libFuzzer harnesses with clang into
#                               build-fuzz/ and run each for FUZZ_SECONDS
#                               (default 30) on its seed corpus; prints the
#                               executions of each; fails on any crash
#   make fuzz FUZZ_SECONDS=3600 the long run (see tests/fuzz/README.md)
#   make fuzz-build             only build the harnesses
#   make soak                   the long fault/flood/churn tests (SOAK=1)
#
# The harnesses (tests/fuzz/fuzz-*.c) link the daemon and circusctl sources
# compiled with -fsanitize=fuzzer-no-link,address,undefined and with
# tests/fuzz/fuzz-shim.h forced in, which routes vfork/kill/open/rename/
# unlink to the fake world of fuzz-shim.c. New inputs found go to
# build-fuzz/corpus/<name>/ (the seeds in tests/fuzz/corpus/ stay as they
# are); crashes are written to build-fuzz/crashes/.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_ARGS    ?=
FBUILD        = build-fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -O1 -g $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link -Wall -Wextra -Wno-unused-parameter \
                -Wno-missing-field-initializers -Ilib -Icircusd -Icircusctl \
                -Itests/fuzz $(PKG_CFLAGS) -include tests/fuzz/fuzz-shim.h
FUZZ_LDFLAGS  = -fsanitize=fuzzer $(FUZZ_SAN)

FUZZ_NAMES    = request ini ctl
FUZZ_BINS     = $(FUZZ_NAMES:%=$(FBUILD)/fuzz-%)

FUZZ_LIB_OBJ  = $(LIB_SRC:%.c=$(FBUILD)/obj/%.o)
FUZZ_D_OBJ    = $(filter-out $(FBUILD)/obj/circusd/main.o, \
                  $(CIRCUSD_SRC:%.c=$(FBUILD)/obj/%.o))
FUZZ_CTL_OBJ  = $(filter-out $(FBUILD)/obj/circusctl/main.o, \
                  $(CTL_SRC:%.c=$(FBUILD)/obj/%.o))
FUZZ_SHIM_OBJ = $(FBUILD)/obj/tests/fuzz/fuzz-shim.o

.PHONY: fuzz-build fuzz-run fuzz-clean

$(FBUILD)/obj/%.o: %.c tests/fuzz/fuzz-shim.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FBUILD)/fuzz-request: tests/fuzz/fuzz-request.c $(FUZZ_D_OBJ) \
    $(FUZZ_SHIM_OBJ) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(FBUILD)/fuzz-ini: tests/fuzz/fuzz-ini.c $(FUZZ_D_OBJ) $(FUZZ_SHIM_OBJ) \
    $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(FBUILD)/fuzz-ctl: tests/fuzz/fuzz-ctl.c $(FUZZ_CTL_OBJ) $(FUZZ_SHIM_OBJ) \
    $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) \
	    -lreadline -lm

# The sync worker's authentication input (Hawk header, token payload):
# its objects and lib's log and xmalloc (with the shim, which log.c's
# open() goes to).
FUZZ_NAMES        += sync-hawk
FUZZ_SYNC_AUTH_OBJ = $(addprefix $(FBUILD)/obj/syncserver/, crypto.o token.o \
                       hawk.o nonce.o) $(addprefix $(FBUILD)/obj/lib/, log.o \
                       xmalloc.o)

$(FBUILD)/fuzz-sync-hawk: tests/fuzz/fuzz-sync-hawk.c $(FUZZ_SYNC_AUTH_OBJ) \
    $(FUZZ_SHIM_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isyncserver $(FUZZ_LDFLAGS) -o $@ $^ \
	    $(SYNC_LIBS) -lm

# The sync worker's request validation (query strings, BSO JSON, POST
# bodies): bso.c, postjson.c and lib's xmalloc/log.
FUZZ_NAMES        += sync-bso
FUZZ_SYNC_BSO_OBJ  = $(FBUILD)/obj/syncserver/bso.o \
                     $(FBUILD)/obj/syncserver/postjson.o $(addprefix \
                       $(FBUILD)/obj/lib/, log.o xmalloc.o)

$(FBUILD)/fuzz-sync-bso: tests/fuzz/fuzz-sync-bso.c $(FUZZ_SYNC_BSO_OBJ) \
    $(FUZZ_SHIM_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isyncserver $(FUZZ_LDFLAGS) -o $@ $^ \
	    $(SYNC_LIBS) -lm

# The cgroup v2 parsers (mountinfo, /proc/self/cgroup): lib/cgroup2.c
# and lib's log and xmalloc.
FUZZ_NAMES        += cgroup
FUZZ_CGROUP_OBJ    = $(addprefix $(FBUILD)/obj/lib/, cgroup2.o log.o \
                       xmalloc.o)

$(FBUILD)/fuzz-cgroup: tests/fuzz/fuzz-cgroup.c $(FUZZ_CGROUP_OBJ) \
    $(FUZZ_SHIM_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

# Each fuzzer runs FUZZ_SECONDS on a copy of its seeds plus what earlier
# runs found; the summary line gives its executions.
fuzz: fuzz-build
	@set -e; total=0; mkdir -p $(FBUILD)/crashes; \
	for n in $(FUZZ_NAMES); do \
		mkdir -p $(FBUILD)/corpus/$$n; \
		echo "== fuzz-$$n: $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		$(FBUILD)/fuzz-$$n -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -rss_limit_mb=2048 -max_len=65536 \
			-print_final_stats=1 \
			-artifact_prefix=$(FBUILD)/crashes/$$n- \
			-dict=tests/fuzz/$$n.dict $(FUZZ_ARGS) \
			$(FBUILD)/corpus/$$n tests/fuzz/corpus/$$n \
			tests/fuzz/regress/$$n \
			> $(FBUILD)/fuzz-$$n.log 2>&1 || { \
			tail -60 $(FBUILD)/fuzz-$$n.log; \
			echo "fuzz-$$n: FAILED (log: $(FBUILD)/fuzz-$$n.log)"; \
			exit 1; }; \
		execs=$$(sed -n -e 's/^stat::number_of_executed_units: *//p' \
			-e 's/^#\([0-9][0-9]*\).*DONE.*/\1/p' \
			$(FBUILD)/fuzz-$$n.log | tail -1); \
		echo "fuzz-$$n: $$execs executions, no crash"; \
		total=$$((total + $${execs:-0})); \
	done; \
	echo "fuzz: $$total executions in total"

# Replay the seeds and the regression inputs (fast: no mutation).
fuzz-regress: fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
		$(FBUILD)/fuzz-$$n -runs=0 tests/fuzz/corpus/$$n \
			tests/fuzz/regress/$$n >/dev/null 2>&1 || { \
			echo "fuzz-$$n: regression input crashed"; \
			$(FBUILD)/fuzz-$$n -runs=0 tests/fuzz/corpus/$$n \
			tests/fuzz/regress/$$n 2>&1 | tail -40; exit 1; }; \
		echo "fuzz-$$n: seeds and regressions pass"; \
	done

fuzz-clean:
	rm -rf $(FBUILD)

-include $(shell find $(FBUILD)/obj -name '*.d' 2>/dev/null)

# The long versions of the black-box reliability tests.
soak: all
	SOAK=1 CIRCUS_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/e2e/test_faults.py \
		tests/e2e/test_flood.py tests/e2e/test_soak.py $(PYTEST_ARGS)

# tests/helpers/failfork.c is an LD_PRELOAD shim, not a program: this
# explicit rule overrides the Makefile's helper pattern rule, so `make all`
# builds it as a shared object (without sanitizers, it is preloaded).
$(BUILD)/helpers/failfork: tests/helpers/failfork.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

# tests/helpers/failnss.c: the same kind of shim, for the user database.
$(BUILD)/helpers/failnss: tests/helpers/failnss.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

# The churn soak's worker runs 100,000 times: never under a sanitizer.
$(BUILD)/helpers/pidlog: tests/helpers/pidlog.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $@ $<
