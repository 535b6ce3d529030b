/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD shim for fault-injection tests: makes fork() and vfork() fail
 * with EAGAIN on demand. circusd spawns with vfork(), so both are
 * intercepted. Built as a shared object by tests/fuzz/fuzz.mk into
 * $(BUILD)/helpers/failfork (tests/e2e/test_faults.py builds it itself
 * when absent).
 *
 *   FAILFORK_FILE=path   the file holds a count N; while N > 0 each call
 *                        fails and writes N - 1 back (a test arms it at
 *                        any moment by writing a number)
 *   FAILFORK_COUNT=n     fail the first n calls (no file needed)
 *
 * A call that is let through runs fork(): a vfork() wrapper cannot return
 * into its caller's frame as the vfork child, and circusd's child side
 * only uses async-signal-safe calls, which fork() is fine with.
 */
#define _GNU_SOURCE
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t fork(void);
pid_t vfork(void);

static long	 count_left = -1;	/* FAILFORK_COUNT, -1 = unset */
static long	 calls, failed;

/* One more failure due? Consumes it. */
static int
should_fail(void)
{
	const char *path = getenv("FAILFORK_FILE");
	const char *env = getenv("FAILFORK_COUNT");
	char buf[32];
	ssize_t n;
	long v;
	int fd;

	calls++;
	if (count_left == -1 && env != NULL)
		count_left = strtol(env, NULL, 10);
	if (count_left > 0) {
		count_left--;
		return 1;
	}
	if (path == NULL || (fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	v = 0;
	if (n > 0) {
		buf[n] = '\0';
		v = strtol(buf, NULL, 10);
	}
	if (v > 0) {
		n = snprintf(buf, sizeof buf, "%ld\n", v - 1);
		if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0)
			(void)!write(fd, buf, (size_t)n);
	}
	close(fd);
	return v > 0;
}

static pid_t
real_fork(void)
{
	static pid_t (*fn)(void);

	if (fn == NULL)
		fn = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return fn();
}

pid_t
fork(void)
{
	if (should_fail()) {
		failed++;
		errno = EAGAIN;
		return -1;
	}
	return real_fork();
}

pid_t
vfork(void)
{
	return fork();
}
