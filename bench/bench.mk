# Benchmark harness (included by the top-level Makefile).
#   make bench        full run, about 15 minutes on 2 cores; writes BENCHMARKS.md
#   make bench-quick  about 2 minutes; writes bench/results/BENCHMARKS-quick.md
#   make bench BENCH_ARGS="--only spawn,rtt --repeats 3"   a subset
#   make bench BENCH_ARGS="--only bounce"   the sync server's bounces (issue 11)
#   make bench-sync   the sync worker alone; writes BENCHMARKS-sync.md
#   (a subset with --only leaves BENCHMARKS-sync.md alone)
# Baseline programs go to $(BUILD)/bench/; raw JSON to bench/results/
# (gitignored). `bench/run.py --help` lists the options.

BENCH_BUILD = $(BUILD)/bench
BENCH_BINS  = $(BENCH_BUILD)/floor_spawn $(BENCH_BUILD)/zmq_echo \
              $(BENCH_BUILD)/zmq_rtt $(BENCH_BUILD)/floor_http \
              $(BENCH_BUILD)/floor_sqlite
BENCH_RUN   = $(PYTHON) bench/run.py --build $(abspath $(BUILD)) $(BENCH_ARGS)

.PHONY: bench-bins bench-deps bench-sync

bench-bins: $(BENCH_BINS)

$(BENCH_BUILD)/floor_spawn: bench/floor_spawn.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $<

$(BENCH_BUILD)/zmq_echo: bench/zmq_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(shell pkg-config --libs libzmq 2>/dev/null || echo -lzmq)

$(BENCH_BUILD)/zmq_rtt: bench/zmq_rtt.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -pthread $(LDFLAGS_ALL) -o $@ $< $(shell pkg-config --libs libzmq 2>/dev/null || echo -lzmq) -pthread

# the sync worker's floors (bench/sync_bench.py)
$(BENCH_BUILD)/floor_http: bench/floor_http.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(SYNC_LIBS)

$(BENCH_BUILD)/floor_sqlite: bench/floor_sqlite.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(SYNC_LIBS)

SYNC_BENCH = $(PYTHON) bench/sync_bench.py --build $(abspath $(BUILD))

# supervisord (the comparison) and pyzmq (the harness's client), from Debian.
BENCH_DEBS = supervisor python3-zmq wrk
bench-deps:
	@missing=""; for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# A subset (BENCH_ARGS with --only) leaves the sync worker's benchmark and
# BENCHMARKS-sync.md alone; `make bench-sync` runs that one by itself.
bench: all bench-deps bench-bins
	$(BENCH_RUN) --make-target "make bench"
	$(if $(findstring --only,$(BENCH_ARGS)),,$(SYNC_BENCH) --out BENCHMARKS-sync.md)

bench-sync: all bench-deps bench-bins
	$(SYNC_BENCH) --out BENCHMARKS-sync.md

bench-quick: all bench-deps bench-bins
	$(BENCH_RUN) --quick --make-target "make bench-quick"
	@mkdir -p bench/results
	$(SYNC_BENCH) --quick --out bench/results/BENCHMARKS-sync-quick.md
