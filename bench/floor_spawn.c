/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor_spawn: the machine's raw spawn cost, the floor that circusd's spawn,
 * stop and respawn figures are compared with.
 *
 *   floor_spawn [-m fork|vfork|spawn] [-n N] [-E] [-H SECONDS] [-R MAX]
 *               [-- CMD ARGS...]
 *
 * Starts N copies of CMD (default `sleep 3600`) with the chosen primitive,
 * waits until every child has exec'd (a close-on-exec pipe shared by all
 * children reaches EOF), then SIGTERMs and reaps them all. One JSON line on
 * stdout gives the times. -E gives the children an empty environment (as
 * circusd gives its children with copy_env = false), else they get ours.
 *
 * -H SECONDS holds the children after the spawn for at most SECONDS (until
 * SIGTERM or SIGINT) and prints a "ready" line first, so a harness can read
 * this process's memory while it owns N children.
 * -R MAX turns the hold into a minimal supervisor: every child that dies is
 * reaped and replaced at once (at most MAX replacements), the floor for the
 * death-to-respawn latency.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The children start with no blocked signal, whatever the parent blocks. */
static sigset_t child_mask;
static posix_spawnattr_t spawn_attr;
/* The children's environment: ours, or empty with -E. */
static char *empty_env[] = { NULL };
static char **child_env;

enum spawn_mode { MODE_FORK, MODE_VFORK, MODE_SPAWN };

static const char *const mode_names[] = { "fork", "vfork", "spawn" };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: floor_spawn [-m fork|vfork|spawn] [-n N] [-E] "
			"[-H SECONDS] [-R MAX] [-- CMD ARGS...]\n");
	exit(2);
}

/* Find CMD in $PATH once, in the parent, so that no child searches. */
static int
resolve_path(const char *cmd, char *out, size_t outlen)
{
	const char *path, *p, *end;
	struct stat st;
	size_t dlen;

	if (strchr(cmd, '/') != NULL) {
		if (strlen(cmd) >= outlen)
			return -1;
		strcpy(out, cmd);
		return access(out, X_OK);
	}
	path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		dlen = (size_t)(end - p);
		if (dlen == 0 || dlen + strlen(cmd) + 2 > outlen)
			continue;
		memcpy(out, p, dlen);
		out[dlen] = '/';
		strcpy(out + dlen + 1, cmd);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Child side after fork: exec, or report the failure through the pipe. */
static void
child_exec(const char *path, char *const argv[], int report_fd)
{
	char c = 1;
	ssize_t r;

	sigprocmask(SIG_SETMASK, &child_mask, NULL);
	execve(path, argv, child_env);
	r = write(report_fd, &c, 1);
	(void)r;
	_exit(127);
}

/* vfork in its own frame: nothing of the caller's can be clobbered. */
static pid_t
spawn_vfork(const char *path, char *const argv[], int report_fd)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_exec(path, argv, report_fd);
	return pid;
}

static pid_t
spawn_one(enum spawn_mode mode, const char *path, char *const argv[],
    int report_fd)
{
	pid_t pid;
	int err;

	switch (mode) {
	case MODE_FORK:
		pid = fork();
		if (pid == 0)
			child_exec(path, argv, report_fd);
		return pid;
	case MODE_VFORK:
		return spawn_vfork(path, argv, report_fd);
	case MODE_SPAWN:
		err = posix_spawn(&pid, path, NULL, &spawn_attr, argv,
		    child_env);
		if (err != 0) {
			errno = err;
			return -1;
		}
		return pid;
	}
	return -1;
}

/* Read the exec barrier until every holder of its write end has exec'd. */
static int
wait_exec_barrier(int rfd)
{
	char buf[256];
	int failures = 0;
	ssize_t r;

	for (;;) {
		r = read(rfd, buf, sizeof(buf));
		if (r > 0) {
			failures += (int)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	return failures;
}

static int
find_slot(const pid_t *pids, int n, pid_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return i;
	return -1;
}

/*
 * Hold the children for at most `hold` seconds, until SIGTERM or SIGINT.
 * With max_respawn > 0, replace each child that dies, at once.
 */
static long
hold_children(enum spawn_mode mode, const char *path, char *const argv[],
    pid_t *pids, int n, double hold, long max_respawn)
{
	struct timespec ts;
	sigset_t set;
	double deadline = now_s() + hold, left;
	long respawns = 0;
	int sig, status, slot;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		left = deadline - now_s();
		if (left <= 0)
			break;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: the hold is over */
		}
		if (sig != SIGCHLD)
			break;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			slot = find_slot(pids, n, pid);
			if (slot < 0)
				continue;
			pids[slot] = -1;
			if (respawns >= max_respawn)
				continue;
			pids[slot] = spawn_one(mode, path, argv, -1);
			if (pids[slot] > 0)
				respawns++;
		}
	}
	return respawns;
}

int
main(int argc, char **argv)
{
	enum spawn_mode mode = MODE_VFORK;
	char path[PATH_MAX];
	static char arg0[] = "sleep", arg1[] = "3600";
	char *default_argv[] = { arg0, arg1, NULL };
	char **cmd_argv = default_argv;
	double t0, t1, t2, t3, t4, hold = -1;
	long n = 10, max_respawn = 0, respawns = 0;
	int opt, pfd[2], failures, spawn_errors = 0, i, status;
	pid_t *pids;
	sigset_t set;
	char *end;

	child_env = environ;
	while ((opt = getopt(argc, argv, "m:n:EH:R:")) != -1) {
		switch (opt) {
		case 'E':
			child_env = empty_env;
			break;
		case 'm':
			if (strcmp(optarg, "fork") == 0)
				mode = MODE_FORK;
			else if (strcmp(optarg, "vfork") == 0)
				mode = MODE_VFORK;
			else if (strcmp(optarg, "spawn") == 0 ||
			    strcmp(optarg, "posix_spawn") == 0)
				mode = MODE_SPAWN;
			else
				usage();
			break;
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 0 || n > 1000000)
				usage();
			break;
		case 'H':
			hold = strtod(optarg, &end);
			if (*end != '\0' || hold < 0 || hold > 86400)
				usage();
			break;
		case 'R':
			max_respawn = strtol(optarg, &end, 10);
			if (*end != '\0' || max_respawn < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		cmd_argv = argv + optind;
	if (resolve_path(cmd_argv[0], path, sizeof(path)) != 0) {
		fprintf(stderr, "floor_spawn: %s: not found\n", cmd_argv[0]);
		return 1;
	}
	pids = calloc((size_t)(n > 0 ? n : 1), sizeof(*pids));
	if (pids == NULL) {
		perror("floor_spawn: calloc");
		return 1;
	}
	sigemptyset(&child_mask);
	posix_spawnattr_init(&spawn_attr);
	posix_spawnattr_setsigmask(&spawn_attr, &child_mask);
	posix_spawnattr_setflags(&spawn_attr, POSIX_SPAWN_SETSIGMASK);
	/* SIGCHLD stays blocked: the hold loop takes it with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (hold >= 0)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		perror("floor_spawn: pipe2");
		return 1;
	}

	t0 = now_s();
	for (i = 0; i < n; i++) {
		pids[i] = spawn_one(mode, path, cmd_argv, pfd[1]);
		if (pids[i] < 0)
			spawn_errors++;
	}
	t1 = now_s();
	close(pfd[1]);
	failures = wait_exec_barrier(pfd[0]);
	t2 = now_s();
	close(pfd[0]);

	if (hold >= 0) {
		printf("{\"event\": \"ready\", \"pid\": %ld, \"n\": %ld}\n",
		    (long)getpid(), n);
		fflush(stdout);
		respawns = hold_children(mode, path, cmd_argv, pids, (int)n,
		    hold, max_respawn);
	}

	t3 = now_s();
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
	}
	while (waitpid(-1, &status, WNOHANG) > 0)
		;
	t4 = now_s();

	printf("{\"tool\": \"floor_spawn\", \"mode\": \"%s\", \"n\": %ld, "
	       "\"fork_s\": %.9f, \"spawn_s\": %.9f, \"stop_s\": %.9f, "
	       "\"per_spawn_us\": %.3f, \"exec_failures\": %d, "
	       "\"spawn_errors\": %d, \"respawns\": %ld}\n",
	    mode_names[mode], n, t1 - t0, t2 - t0, t4 - t3,
	    n > 0 ? (t2 - t0) / (double)n * 1e6 : 0.0, failures, spawn_errors,
	    respawns);
	free(pids);
	return failures == 0 && spawn_errors == 0 ? 0 : 1;
}
