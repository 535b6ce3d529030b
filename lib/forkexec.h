/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one fork/exec child of the daemon, used by worker processes and
 * hooks: the parent prepares a plan, vfork()s with every signal blocked,
 * the child applies the plan with async-signal-safe calls only and execs,
 * and a failure of any step comes back through a close-on-exec pipe
 * (doc/design.md §3, §4). Not named spawn.h: with -Ilib it would hide
 * the system's <spawn.h>.
 */
#ifndef CIRCUS_FORKEXEC_H
#define CIRCUS_FORKEXEC_H

#include <sys/resource.h>
#include <sys/types.h>

#include <stdbool.h>

#define SPAWN_MAX_FDS		64
#define SPAWN_MAX_RLIM		16
#define SPAWN_MAX_GROUPS	64

/* The step that failed: in the parent (pipe, fork) or in the child. */
enum spawn_step {
	SPAWN_PIPE = 1, SPAWN_FORK, SPAWN_DUP, SPAWN_CHDIR, SPAWN_SETSID,
	SPAWN_RLIMIT, SPAWN_SETGROUPS, SPAWN_SETGID, SPAWN_SETUID, SPAWN_EXEC,
};

/* Everything the child needs, prepared before vfork. */
struct spawn_plan {
	const char	*path;
	char		*const *argv;
	char		*const *envp;
	const char	*cwd;			/* NULL = stay */
	int		 fd0, fd1, fd2;		/* -1 = inherit */
	int		 keep[SPAWN_MAX_FDS];	/* >= 3, stay open over exec */
	int		 nkeep;
	int		 rl_res[SPAWN_MAX_RLIM];
	rlim_t		 rl_val[SPAWN_MAX_RLIM];
	int		 nrl;
	bool		 set_gid, set_uid, set_groups;
	gid_t		 gid;
	uid_t		 uid;
	gid_t		 groups[SPAWN_MAX_GROUPS];
	int		 ngroups;
	/* socket activation (doc/design.md §3): listen[i] is moved to fd
	 * 3 + i (and kept open); pid_slot, when set, is the value of an
	 * envp entry "LISTEN_PID=" with pid_slot_len bytes reserved, which
	 * the child fills with its own pid */
	int		 listen[SPAWN_MAX_FDS];
	int		 nlisten;
	char		*pid_slot;
	size_t		 pid_slot_len;
	int		 cgroup_fd;		/* -1; else a cgroup.procs the
						 * child joins (doc/design.md
						 * §20) */
	int		 cgroup_dir;		/* -1; else that cgroup's
						 * directory: the child is
						 * created in it (clone3) */
};

/* Why a spawn failed: the step and its errno. */
struct spawn_error {
	enum spawn_step	step;
	int		err;
};

/* An empty plan: inherit fds 0-2, no limits, same ids. */
void		 spawn_plan_init(struct spawn_plan *);
/* Start the plan's program: its pid, or -1 with *e filled. A child that
 * failed before exec has exited with 127 and is left to the caller's
 * reaper (libev's SIGCHLD handler reaps every child). */
pid_t		 spawn_run(const struct spawn_plan *, struct spawn_error *e);
/* pid in decimal, NUL-terminated, into buf of len bytes (no leading
 * zeros, "0" for 0): 0, or -1 when it does not fit or pid < 0. Safe in
 * the vfork child (no locale, no stdio). */
int		 spawn_format_pid(char *buf, size_t len, long pid);
/* The call a step names ("vfork", "chdir", "exec", ...). */
const char	*spawn_step_name(enum spawn_step);
/* Whether a plan's cgroup_dir creates the child in its cgroup (clone3 with
 * CLONE_INTO_CGROUP: this build can try it; the kernel may still refuse,
 * and then the child joins through cgroup_fd). */
bool		 spawn_into_cgroup_built(void);
/* Can a process be created in the cgroup dir (an open directory)? One is
 * (clone3 into it), exits at once and is reaped: 0, or -1 with errno
 * (ENOSYS: not in this build; ECHILD: it did not live). */
int		 spawn_probe_into_cgroup(int dir);

#endif
