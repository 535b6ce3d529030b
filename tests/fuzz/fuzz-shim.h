/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forced into every daemon object of the fuzz build (-include): the
 * process-creating, signalling and file-mutating calls of circusd go to
 * the fake world of fuzz-shim.c, so a fuzzer can never fork, signal a real
 * process or touch a file outside its scratch directory.
 */
#ifndef FUZZ_SHIM_H
#define FUZZ_SHIM_H

#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

pid_t	fuzz_vfork(void);
int	fuzz_kill(pid_t, int);
int	fuzz_open(const char *, int, ...);
int	fuzz_rename(const char *, const char *);
int	fuzz_unlink(const char *);

/* The fake world, driven by the harnesses (fuzz-shim.c). */
enum fake_state { FAKE_ALIVE = 1, FAKE_DYING, FAKE_REAPED };

/* Forget every fake process; pids restart at FAKE_PID_BASE. */
void	fuzz_fake_reset(void);
/* Files may only be written under this directory (and /dev/null). */
void	fuzz_fake_set_root(const char *);
/* Make the next n vfork() calls fail with EAGAIN. */
void	fuzz_fake_fail_vforks(int n);
/* Next process that died (signal or fuzz_fake_crash) and was not yet
 * reported: 1 with its pid and wait status, or 0. It is reaped. */
int	fuzz_fake_next_dead(pid_t *, int *status);
/* The oldest living fake process exits with code 1; 0 if none. */
pid_t	fuzz_fake_crash(void);
/* Every living fake process dies of SIGKILL (teardown). */
void	fuzz_fake_kill_all(void);
/* Living fake processes. */
int	fuzz_fake_alive(void);

#define FAKE_PID_BASE	7000000
#define FAKE_MAX_ALIVE	48

#define vfork()		fuzz_vfork()
#define kill(p, s)	fuzz_kill(p, s)
#define open(...)	fuzz_open(__VA_ARGS__)
#define rename(a, b)	fuzz_rename(a, b)
#define unlink(p)	fuzz_unlink(p)

#endif
