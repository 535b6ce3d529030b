/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process statistics (stats.c) beyond the two entry points in circusd.h:
 * batches that share one /proc scan between the processes of a command,
 * and the pure formatting helpers of protocol.md §4.2, exposed for tests.
 */
#ifndef CIRCUSD_STATS_H
#define CIRCUSD_STATS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct process;

/* The fields of /proc/<pid>/stat that the info object needs. */
struct stats_stat {
	char state; /* R, S, D, Z, ... */
	pid_t ppid;
	uint64_t utime_ticks;
	uint64_t stime_ticks;
	long nice;
	long num_threads;
	uint64_t start_ticks; /* since boot */
	uint64_t vsize_bytes;
	uint64_t rss_pages;
};

/* One command's worth of sampling: one clock reading, one user name
 * cache, at most one /proc scan for children. */
struct stats_batch;

struct stats_batch *stats_batch_new(void);
void stats_batch_free(struct stats_batch *);
/* Info object (or the "No such process (stopped?)" string) for pid;
 * last_ticks/last_time may be NULL (cpu is then 0.0). Caller owns. */
json_t *stats_batch_pid(struct stats_batch *, pid_t, bool with_children,
    uint64_t *last_ticks, double *last_time);
/* Info for a supervised process: adds started and wid, age since spawn. */
json_t *stats_batch_process(struct stats_batch *, struct process *);
/* Seed a cpu sample with the process start, so the first percent is the
 * average since it started instead of 0.0. */
void stats_seed_from_start(pid_t, uint64_t *last_ticks, double *last_time);
/* Release the ppid cache kept between calls (shutdown). */
void stats_cache_free(void);

/* Python's bytes2human: "1.70M", "1.00K", "512B". */
void stats_bytes2human(uint64_t n, char *buf, size_t len);
/* The ctime quirk of §4.2 from a CPU time in microseconds: "0:00.41". */
void stats_ctime(uint64_t cpu_us, char *buf, size_t len);
/* Basename of the first word of argv[0] from raw /proc/<pid>/cmdline
 * bytes, or "N/A" when there is none. */
void stats_cmdline_name(const char *data, size_t len, char *buf, size_t buflen);
/* Python round(v, ndigits) for small ndigits (correctly rounded). */
double stats_round(double v, int ndigits);
/* Parse the text of /proc/<pid>/stat (comm may hold spaces and ')').
 * Returns 0, or -1 if malformed. */
int stats_parse_stat(const char *buf, size_t len, struct stats_stat *);

#endif
