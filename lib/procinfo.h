/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one /proc reader: the process info object of doc/design.md §17.2 for
 * any pid, in batches that share one clock reading and at most one /proc
 * scan for children, plus the pure formatting helpers (exposed for tests).
 * Used by circusd (stats, dstats) and circusd-stats.
 */
#ifndef CIRCUS_PROCINFO_H
#define CIRCUS_PROCINFO_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROCINFO_GONE "No such process (stopped?)"
#define PROCINFO_NA "N/A"

/* The fields of /proc/<pid>/stat that the info object needs. */
struct procinfo_stat {
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

/* What is kept about a pid sampled every interval. Zero it to start. */
struct procinfo_sample {
	bool known;            /* name and uid below were read */
	bool alive;            /* the last sample found the process */
	uint64_t start_ticks;  /* tells a reused pid apart */
	uid_t uid;
	char name[256];        /* cmdline field */
	uint64_t last_ticks;   /* cpu percent between samples */
	double last_time;
	double cpu_seconds;    /* user + system, at the last sample */
	uint64_t rss_bytes;    /* at the last sample */
};

/* One command's worth of sampling: one clock reading, one user name
 * cache, at most one /proc scan for children. */
struct procinfo_batch;

struct procinfo_batch *procinfo_batch_new(void);
void procinfo_batch_free(struct procinfo_batch *);
/* Build the children index now, reading at most budget /proc stat files
 * (a scan of a busy machine, in steps); true when it is ready. Without
 * it, the first info with children builds the whole index at once. */
bool procinfo_batch_index(struct procinfo_batch *, size_t budget);
/* The children of pid in the children index (caller frees *out). */
size_t procinfo_batch_children(struct procinfo_batch *, pid_t, pid_t **out);
/* Every descendant of pid in the children index (caller frees *out). */
size_t procinfo_batch_descendants(struct procinfo_batch *, pid_t,
    pid_t **out);
/* The batch's wall-clock reading (epoch seconds). */
double procinfo_batch_wall(const struct procinfo_batch *);
/* Info object (or the "No such process (stopped?)" string) for pid;
 * last_ticks/last_time may be NULL (cpu is then 0.0). Caller owns. */
json_t *procinfo_batch_pid(struct procinfo_batch *, pid_t, bool with_children,
    uint64_t *last_ticks, double *last_time);
/* Same for a pid sampled repeatedly (children always []): one read of
 * /proc/<pid>/stat; also fills s's cpu_seconds and rss_bytes. */
json_t *procinfo_batch_sample(struct procinfo_batch *, pid_t,
    struct procinfo_sample *s);
/* Seed a cpu sample with the process start, so the first percent is the
 * average since it started instead of 0.0. */
void procinfo_seed_from_start(pid_t, uint64_t *last_ticks, double *last_time);
/* Find children in a descendants table kept from process events
 * (lib/proctree.h) instead of scanning /proc; NULL stops. */
struct proctree;
void procinfo_set_tree(struct proctree *);
/* "events" when children come from that table, "scan" otherwise. */
const char *procinfo_tree_mode(void);
/* Release the ppid cache kept between calls (shutdown). */
void procinfo_cache_free(void);

/* Python's bytes2human: "1.70M", "1.00K", "512B". */
void procinfo_bytes2human(uint64_t n, char *buf, size_t len);
/* The ctime quirk of §4.2 from a CPU time in microseconds: "0:00.41". */
void procinfo_ctime(uint64_t cpu_us, char *buf, size_t len);
/* Basename of the first word of argv[0] from raw /proc/<pid>/cmdline
 * bytes, or "N/A" when there is none. */
void procinfo_cmdline_name(const char *data, size_t len, char *buf,
    size_t buflen);
/* Python round(v, ndigits) for small ndigits (correctly rounded). */
double procinfo_round(double v, int ndigits);
/* Parse the text of /proc/<pid>/stat (comm may hold spaces and ')').
 * Returns 0, or -1 if malformed. */
int procinfo_parse_stat(const char *buf, size_t len, struct procinfo_stat *);

#endif
