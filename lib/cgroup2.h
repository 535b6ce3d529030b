/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cgroup v2 subtree of our own (doc/design.md §20): find where cgroup2
 * is mounted and which cgroup we are in, make child cgroups, read their
 * members, kill them, remove them. The parsers of /proc/self/mountinfo
 * and /proc/self/cgroup are pure (tests, tests/fuzz/fuzz-cgroup.c).
 */
#ifndef CIRCUS_CGROUP2_H
#define CIRCUS_CGROUP2_H

#include <sys/types.h>

#include <stdint.h>

#include <stdbool.h>
#include <stddef.h>

struct cg2 {
	int	 dirfd;
	int	 procs_fd;	/* cgroup.procs, write-only; -1 for a root */
	int	 home_fd;	/* a root: its parent's cgroup.procs, or -1 */
	char	*path;
};

/* The mount point of the first cgroup2 line of mountinfo text (octal
 * escapes decoded). 0, or -1 when there is none or it is malformed. */
int		 cg2_parse_mountinfo(const char *text, size_t len, char *out,
		     size_t outlen);
/* The "0::<path>" line of /proc/<pid>/cgroup text: 0, or -1. */
int		 cg2_parse_self(const char *text, size_t len, char *out,
		     size_t outlen);
/* Make <mount><own cgroup>/<name> (an empty one left from a previous
 * run of the same name is reused): NULL and *cause when cgroup2 is not
 * mounted or not writable. */
struct cg2	*cg2_open_root(const char *name, char **cause);
/* Make (or reuse) the child name of parent, with cgroup.procs open. */
struct cg2	*cg2_child(struct cg2 *parent, const char *name, char **cause);
/* The members (cgroup.procs), sorted; caller frees *out. */
size_t		 cg2_members(struct cg2 *, pid_t **out);
/* The same a bounded read at a time (a big cgroup from an event loop):
 * open, step until true, take the sorted members, free. */
struct cg2_reader;
struct cg2_reader *cg2_reader_open(struct cg2 *);
bool		 cg2_reader_step(struct cg2_reader *, size_t max_bytes);
size_t		 cg2_reader_take(struct cg2_reader *, pid_t **out);
void		 cg2_reader_free(struct cg2_reader *);
/* Kill every member: cgroup.kill when the kernel has it (5.14), else
 * SIGKILL to each member read. 0, or -1 when nothing could be done. */
int		 cg2_kill(struct cg2 *);
/* True when the kernel offers cgroup.kill. */
bool		 cg2_has_kill(struct cg2 *);
/* Move every member of cg back to root's parent (the cgroup we came
 * from): they stay, outside the subtree. The number left behind. */
size_t		 cg2_release(struct cg2 *root, struct cg2 *cg);
/* Remove the cgroup (rmdir; it must be empty) and free it; -1 (and it
 * is freed anyway) when the directory stays. */
int		 cg2_remove(struct cg2 *);
/* What the kernel counts for the whole cgroup: CPU time (cpu.stat
 * usage_usec, always there in cgroup v2) and memory (memory.current, -1
 * when the memory controller is not enabled for it). 0, or -1. */
int		 cg2_usage(struct cg2 *, uint64_t *cpu_usec, int64_t *memory);
/* The usage_usec of a cpu.stat text, or -1 (tests). */
int		 cg2_parse_cpu_usec(const char *text, uint64_t *out);
/* Remove the cgroups "<prefix><pid>" beside root (under the same parent)
 * whose pid is not alive and which hold no process, their children
 * first: what a daemon killed before its own cleanup left. How many went
 * away. */
size_t		 cg2_sweep_stale(struct cg2 *root, const char *prefix);
/* Free without removing. */
void		 cg2_free(struct cg2 *);

/* Close a child cgroup's fds while nothing uses it (a stopped watcher
 * holds none); cg2_wake opens them again before any other call. */
void		 cg2_sleep(struct cg2 *);
int		 cg2_wake(struct cg2 *, char **cause);

#endif
