/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake world behind fuzz-shim.h. vfork() hands out pids far above any
 * real pid_max without creating anything; kill() only ever reaches those
 * fake processes (a fatal signal makes one "die", to be reported by
 * fuzz_fake_next_dead, every third one ignores SIGTERM); open() for
 * writing, rename() and unlink() refuse every path outside the scratch
 * directory (relative ones too), so a fuzzed stream filename cannot touch
 * the machine.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-shim.h"

/* The shim's own calls are the real ones. */
#undef vfork
#undef kill
#undef open
#undef rename
#undef unlink

struct fake_proc {
	pid_t		pid;
	enum fake_state	state;
	int		status;		/* wait status once dying */
};

static struct fake_proc	*fake;
static size_t		 nfake, fake_cap;
static int		 fail_vforks;
static char		 root[4096];

void
fuzz_fake_reset(void)
{
	free(fake);
	fake = NULL;
	nfake = fake_cap = 0;
	fail_vforks = 0;
}

void
fuzz_fake_set_root(const char *dir)
{
	size_t n = strlen(dir);

	if (n + 2 > sizeof root)
		abort();
	memcpy(root, dir, n);
	if (n == 0 || root[n - 1] != '/')
		root[n++] = '/';
	root[n] = '\0';
}

void
fuzz_fake_fail_vforks(int n)
{
	fail_vforks = n;
}

int
fuzz_fake_alive(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < nfake; i++)
		if (fake[i].state == FAKE_ALIVE)
			n++;
	return n;
}

pid_t
fuzz_vfork(void)
{
	struct fake_proc *f;

	if (fail_vforks > 0 || fuzz_fake_alive() >= FAKE_MAX_ALIVE) {
		if (fail_vforks > 0)
			fail_vforks--;
		errno = EAGAIN;
		return -1;
	}
	if (nfake == fake_cap) {
		fake_cap = fake_cap ? fake_cap * 2 : 16;
		fake = realloc(fake, fake_cap * sizeof *fake);
		if (fake == NULL)
			abort();
	}
	f = &fake[nfake];
	f->pid = FAKE_PID_BASE + (pid_t)nfake;
	f->state = FAKE_ALIVE;
	f->status = 0;
	nfake++;
	return f->pid;
}

static struct fake_proc *
fake_find(pid_t pid)
{
	if (pid < FAKE_PID_BASE || (size_t)(pid - FAKE_PID_BASE) >= nfake)
		return NULL;
	return &fake[pid - FAKE_PID_BASE];
}

/* Signals a fake worker survives (handled, ignored or stopping). */
static int
fake_survives(pid_t pid, int sig)
{
	switch (sig) {
	case SIGHUP: case SIGUSR1: case SIGUSR2: case SIGCHLD: case SIGCONT:
	case SIGURG: case SIGWINCH: case SIGSTOP: case SIGTSTP: case SIGTTIN:
	case SIGTTOU:
		return 1;
	case SIGTERM:
		return (pid - FAKE_PID_BASE) % 3 == 2;
	default:
		return 0;
	}
}

int
fuzz_kill(pid_t pid, int sig)
{
	struct fake_proc *f;

	if (sig < 0 || sig > 64) {
		errno = EINVAL;
		return -1;
	}
	if (pid == 0 || pid == -1) {	/* never broadcast */
		errno = EPERM;
		return -1;
	}
	f = fake_find(pid < 0 ? -pid : pid);
	if (f == NULL || f->state == FAKE_REAPED) {
		errno = ESRCH;
		return -1;
	}
	if (sig != 0 && f->state == FAKE_ALIVE && !fake_survives(f->pid, sig)) {
		f->state = FAKE_DYING;
		f->status = sig;	/* WIFSIGNALED, WTERMSIG == sig */
	}
	return 0;
}

pid_t
fuzz_fake_crash(void)
{
	size_t i;

	for (i = 0; i < nfake; i++) {
		if (fake[i].state == FAKE_ALIVE) {
			fake[i].state = FAKE_DYING;
			fake[i].status = 1 << 8;	/* exit(1) */
			return fake[i].pid;
		}
	}
	return 0;
}

void
fuzz_fake_kill_all(void)
{
	size_t i;

	for (i = 0; i < nfake; i++) {
		if (fake[i].state == FAKE_ALIVE) {
			fake[i].state = FAKE_DYING;
			fake[i].status = SIGKILL;
		}
	}
}

int
fuzz_fake_next_dead(pid_t *pid, int *status)
{
	size_t i;

	for (i = 0; i < nfake; i++) {
		if (fake[i].state == FAKE_DYING) {
			fake[i].state = FAKE_REAPED;
			*pid = fake[i].pid;
			*status = fake[i].status;
			return 1;
		}
	}
	return 0;
}

/* A path the fuzzed daemon may create, write, rename or remove. */
static int
path_ok(const char *path)
{
	if (path == NULL)
		return 0;
	if (strcmp(path, "/dev/null") == 0 ||
	    strcmp(path, "/proc/self/fd/1") == 0 ||
	    strcmp(path, "/proc/self/fd/2") == 0)
		return 1;
	if (strstr(path, "..") != NULL)
		return 0;
	if (path[0] != '/')
		return 0;	/* relative to a cwd that is not ours */
	return root[0] != '\0' && strncmp(path, root, strlen(root)) == 0;
}

int
fuzz_open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT)) {
		if (!path_ok(path)) {
			errno = EACCES;
			return -1;
		}
	}
	return open(path, flags, mode);
}

int
fuzz_rename(const char *from, const char *to)
{
	if (!path_ok(from) || !path_ok(to)) {
		errno = EACCES;
		return -1;
	}
	return rename(from, to);
}

int
fuzz_unlink(const char *path)
{
	if (!path_ok(path)) {
		errno = EACCES;
		return -1;
	}
	return unlink(path);
}
