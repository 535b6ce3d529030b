/* SPDX-License-Identifier: Apache-2.0 */
/* The one fork/exec child (see forkexec.h). */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "forkexec.h"

/* Signals the daemon may have changed, reset to SIG_DFL in the child. */
static const int spawn_reset_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
	SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2, SIGWINCH, SIGXFSZ, SIGALRM };

static const char *const spawn_step_names[] = { "spawn", "pipe2", "vfork",
	"dup2", "chdir", "setsid", "setrlimit", "setgroups", "setgid",
	"setuid", "exec" };

void
spawn_plan_init(struct spawn_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	plan->fd0 = plan->fd1 = plan->fd2 = -1;
	plan->cgroup_fd = -1;
	plan->cgroup_dir = -1;
}

const char *
spawn_step_name(enum spawn_step step)
{
	if ((size_t)step >= nitems(spawn_step_names))
		return spawn_step_names[0];
	return spawn_step_names[step];
}

int
spawn_format_pid(char *buf, size_t len, long pid)
{
	char digits[24];
	size_t n = 0, i;

	if (pid < 0)
		return -1;
	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	if (n + 1 > len)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = digits[n - 1 - i];
	buf[n] = '\0';
	return 0;
}

/* Report a failed step to the parent and exit. */
static void NORETURN
spawn_child_fail(int errfd, enum spawn_step step)
{
	int msg[2] = { (int)step, errno };

	(void)!write(errfd, msg, sizeof msg);
	_exit(127);
}

/* Signal dispositions and mask as a fresh program expects them. */
static void
spawn_child_signals(void)
{
	struct sigaction sa;
	sigset_t empty;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < nitems(spawn_reset_sigs); i++)
		sigaction(spawn_reset_sigs[i], &sa, NULL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

/* Apply the rlimits; nofile=infinity falls back to the hard limit. */
static int
spawn_child_rlimits(const struct spawn_plan *plan)
{
	struct rlimit rl;
	int i;

	for (i = 0; i < plan->nrl; i++) {
		rl.rlim_cur = rl.rlim_max = plan->rl_val[i];
		if (setrlimit(plan->rl_res[i], &rl) == 0)
			continue;
		if (plan->rl_res[i] == RLIMIT_NOFILE &&
		    plan->rl_val[i] == RLIM_INFINITY &&
		    getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
				continue;
		}
		return -1;
	}
	return 0;
}

/* Everything >= 3 closes on exec except the fds the plan hands over. */
static void
spawn_child_fds(const struct spawn_plan *plan)
{
	int i;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1) {
		for (i = 3; i < 65536; i++)
			(void)fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	for (i = 0; i < plan->nkeep; i++)
		(void)fcntl(plan->keep[i], F_SETFD, 0);
	for (i = 0; i < plan->nlisten; i++)
		(void)fcntl(3 + i, F_SETFD, 0);
}

/* Socket activation, first half: copy the listening fds (and the error
 * pipe) above 3 + nlisten, so that placing them at 3, 4, ... can clobber
 * none of them, whatever numbers they had (doc/design.md §3). The copies
 * close on exec. */
static void
spawn_child_listen_lift(const struct spawn_plan *plan, int *errfd,
    int *tmp)
{
	int i, low = 3 + plan->nlisten;

	if (plan->nlisten == 0)
		return;
	if (*errfd < low) {
		i = fcntl(*errfd, F_DUPFD_CLOEXEC, low);
		if (i == -1)
			spawn_child_fail(*errfd, SPAWN_DUP);
		*errfd = i;
	}
	for (i = 0; i < plan->nlisten; i++)
		if ((tmp[i] = fcntl(plan->listen[i], F_DUPFD_CLOEXEC,
		    low)) == -1)
			spawn_child_fail(*errfd, SPAWN_DUP);
}

/* Second half: the copies go to 3, 4, ...; LISTEN_PID is this pid. */
static void
spawn_child_listen_place(const struct spawn_plan *plan, int errfd,
    const int *tmp)
{
	int i;

	for (i = 0; i < plan->nlisten; i++) {
		if (dup2(tmp[i], 3 + i) == -1)
			spawn_child_fail(errfd, SPAWN_DUP);
		(void)close(tmp[i]);
	}
	if (plan->pid_slot != NULL && spawn_format_pid(plan->pid_slot,
	    plan->pid_slot_len, (long)getpid()) == -1) {
		errno = ERANGE;
		spawn_child_fail(errfd, SPAWN_DUP);
	}
}

/* The child, between vfork and exec: async-signal-safe calls only;
 * in_cgroup: created in its cgroup already (clone3). */
static void NORETURN __attribute__((noinline))
spawn_child(const struct spawn_plan *plan, int errfd, bool in_cgroup)
{
	int tmp[SPAWN_MAX_FDS];

	spawn_child_signals();
	/* first, so that nothing the program forks escapes; "0" is the
	 * writer itself. Best effort: without it the process group is the
	 * tree (doc/design.md §20). */
	if (plan->cgroup_fd != -1 && !in_cgroup)
		(void)!write(plan->cgroup_fd, "0", 1);
	spawn_child_listen_lift(plan, &errfd, tmp);
	if (plan->fd0 != -1 && dup2(plan->fd0, 0) == -1)
		spawn_child_fail(errfd, SPAWN_DUP);
	if (plan->fd1 != -1 && dup2(plan->fd1, 1) == -1)
		spawn_child_fail(errfd, SPAWN_DUP);
	if (plan->fd2 != -1 && dup2(plan->fd2, 2) == -1)
		spawn_child_fail(errfd, SPAWN_DUP);
	spawn_child_listen_place(plan, errfd, tmp);
	if (plan->cwd != NULL && chdir(plan->cwd) == -1)
		spawn_child_fail(errfd, SPAWN_CHDIR);
	if (setsid() == -1)
		spawn_child_fail(errfd, SPAWN_SETSID);
	if (spawn_child_rlimits(plan) == -1)
		spawn_child_fail(errfd, SPAWN_RLIMIT);
	if (plan->set_groups)
		(void)setgroups((size_t)plan->ngroups, plan->groups);
	if (plan->set_gid && setgid(plan->gid) == -1)
		spawn_child_fail(errfd, SPAWN_SETGID);
	if (plan->set_uid && setuid(plan->uid) == -1)
		spawn_child_fail(errfd, SPAWN_SETUID);
	spawn_child_fds(plan);
	execve(plan->path, plan->argv, plan->envp);
	spawn_child_fail(errfd, SPAWN_EXEC);
}

/* vfork in its own frame so the caller's variables cannot be clobbered;
 * the child never returns from here. */
static pid_t __attribute__((noinline))
spawn_vfork(const struct spawn_plan *plan, int errfd)
{
	pid_t pid = vfork();

	if (pid == 0)
		spawn_child(plan, errfd, false);
	return pid;
}

/*
 * The same, created in the cgroup plan->cgroup_dir: clone3 with
 * CLONE_INTO_CGROUP (Linux 5.7), CLONE_VM and CLONE_VFORK, which is vfork
 * with a cgroup. A move through cgroup.procs waits for an RCU grace
 * period (6-9 ms a spawn measured here); this costs nothing more than
 * vfork (doc/design.md §20). The system call is made inline: as in
 * vfork, the child runs on the parent's stack until it execs, and a
 * return through a libc wrapper would let it overwrite the wrapper's
 * return address, which the parent then uses. x86-64 only, and not
 * under AddressSanitizer (it would not know the child shares its
 * stack); -1 with errno ENOSYS elsewhere, and the caller falls back.
 */
#if defined(__x86_64__) && defined(SYS_clone3) && \
    !defined(__SANITIZE_ADDRESS__)
#define SPAWN_HAVE_CLONE3	1
#define SPAWN_CLONE_INTO_CGROUP	0x200000000ULL
struct spawn_clone_args {	/* struct clone_args of linux/sched.h, v2 */
	uint64_t	flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t	stack, stack_size, tls, set_tid, set_tid_size;
	uint64_t	cgroup;
};

static pid_t __attribute__((noinline))
spawn_clone3(const struct spawn_plan *plan, int errfd)
{
	struct spawn_clone_args args;
	long ret;

	memset(&args, 0, sizeof args);
	args.flags = CLONE_VM | CLONE_VFORK | SPAWN_CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)plan->cgroup_dir;
	__asm__ volatile ("syscall"
	    : "=a" (ret)
	    : "0" ((long)SYS_clone3), "D" (&args), "S" (sizeof args)
	    : "rcx", "r11", "memory");
	if (ret == 0)
		spawn_child(plan, errfd, true);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}
#else
static pid_t
spawn_clone3(UNUSED const struct spawn_plan *plan, UNUSED int errfd)
{
	errno = ENOSYS;
	return -1;
}
#endif

int
spawn_probe_into_cgroup(int dir)
{
#ifdef SPAWN_HAVE_CLONE3
	struct spawn_clone_args args;
	long ret;
	int status;

	memset(&args, 0, sizeof args);
	args.flags = SPAWN_CLONE_INTO_CGROUP;	/* a plain fork, no CLONE_VM */
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)dir;
	__asm__ volatile ("syscall"
	    : "=a" (ret)
	    : "0" ((long)SYS_clone3), "D" (&args), "S" (sizeof args)
	    : "rcx", "r11", "memory");
	if (ret == 0)
		_exit(0);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	while (waitpid((pid_t)ret, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;	/* killed at birth */
		return -1;
	}
	return 0;
#else
	(void)dir;
	errno = ENOSYS;
	return -1;
#endif
}

bool
spawn_into_cgroup_built(void)
{
#ifdef SPAWN_HAVE_CLONE3
	return true;
#else
	return false;
#endif
}

/* clone3 into the cgroup when there is one and the kernel can; otherwise
 * vfork (the child then joins through cgroup.procs). */
static pid_t
spawn_fork(const struct spawn_plan *plan, int errfd)
{
	pid_t pid;

	if (plan->cgroup_dir != -1) {
		pid = spawn_clone3(plan, errfd);
		if (pid != -1 || (errno != ENOSYS && errno != E2BIG &&
		    errno != EINVAL && errno != EOPNOTSUPP && errno != EPERM))
			return pid;
	}
	return spawn_vfork(plan, errfd);
}

/* What the child wrote before exiting: 1 and *e, or 0 if it exec'd. */
static int
spawn_read_error(int fd, struct spawn_error *e)
{
	int msg[2];
	ssize_t n;

	do
		n = read(fd, msg, sizeof msg);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof msg)
		return 0;
	e->step = (enum spawn_step)msg[0];
	e->err = msg[1];
	return 1;
}

pid_t
spawn_run(const struct spawn_plan *plan, struct spawn_error *e)
{
	int errpipe[2], saved_errno;
	sigset_t all, old;
	pid_t pid;

	if (pipe2(errpipe, O_CLOEXEC) == -1) {
		e->step = SPAWN_PIPE;
		e->err = errno;
		return -1;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_fork(plan, errpipe[1]);
	saved_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(errpipe[1]);
	if (pid == -1) {
		close(errpipe[0]);
		e->step = SPAWN_FORK;
		e->err = saved_errno;
		return -1;
	}
	if (spawn_read_error(errpipe[0], e)) {
		close(errpipe[0]);
		return -1;
	}
	close(errpipe[0]);
	return pid;
}
