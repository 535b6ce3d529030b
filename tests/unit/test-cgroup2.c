/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/cgroup2.c: the mountinfo and /proc/self/cgroup
 * parsers, and (as root with a writable cgroup2) a real subtree: a child
 * joins it through cgroup.procs, is a member, is killed, and the
 * cgroups are removed.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup2.h"
#include "forkexec.h"

#define HYBRID \
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" \
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" \
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

static void
test_mountinfo(void **state)
{
	char out[64];
	const char *s;

	(void)state;
	assert_int_equal(cg2_parse_mountinfo(HYBRID, strlen(HYBRID), out,
	    sizeof out), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	/* optional fields before "-", an escaped space in the mount point */
	s = "24 1 0:22 / /mnt/a\\040b rw shared:9 master:2 - cgroup2 none rw\n";
	assert_int_equal(cg2_parse_mountinfo(s, strlen(s), out, sizeof out), 0);
	assert_string_equal(out, "/mnt/a b");
	/* v1 only, a "cgroup2" that is not the fstype, garbage */
	s = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup2 rw\n";
	assert_int_equal(cg2_parse_mountinfo(s, strlen(s), out, sizeof out),
	    -1);
	assert_int_equal(cg2_parse_mountinfo("- cgroup2", 9, out, sizeof out),
	    -1);
	assert_int_equal(cg2_parse_mountinfo("", 0, out, sizeof out), -1);
	/* does not fit */
	assert_int_equal(cg2_parse_mountinfo(HYBRID, strlen(HYBRID), out, 8),
	    -1);
}

static void
test_self(void **state)
{
	char out[64];
	const char *s;

	(void)state;
	s = "9:name=systemd:/\n4:memory:/x\n0::/\n";
	assert_int_equal(cg2_parse_self(s, strlen(s), out, sizeof out), 0);
	assert_string_equal(out, "/");
	s = "0::/user.slice/session-2.scope";
	assert_int_equal(cg2_parse_self(s, strlen(s), out, sizeof out), 0);
	assert_string_equal(out, "/user.slice/session-2.scope");
	s = "1:cpu:/\n";
	assert_int_equal(cg2_parse_self(s, strlen(s), out, sizeof out), -1);
	s = "0::relative\n";
	assert_int_equal(cg2_parse_self(s, strlen(s), out, sizeof out), -1);
}

/* The members read in steps: lines cut between reads are put together
 * (a directory with a plain cgroup.procs stands in for a cgroup). */
static void
test_reader_steps(void **state)
{
	struct cg2 cg = { .procs_fd = -1, .home_fd = -1 };
	struct cg2_reader *r;
	char dir[] = "/tmp/circus-unit-cg-XXXXXX", path[64];
	FILE *f;
	pid_t *pids;
	size_t n, i, steps = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	assert_non_null(f = fopen(path, "w"));
	for (i = 5000; i >= 1; i--)	/* unsorted, 23 KiB */
		fprintf(f, "%zu\n", i);
	fprintf(f, "x1\n0\n99999999999\n");	/* ignored */
	fclose(f);
	cg.dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(cg.dirfd != -1);
	r = cg2_reader_open(&cg);
	while (!cg2_reader_step(r, 1)) {
		steps++;
		assert_true(steps < 100);
	}
	assert_true(steps >= 5);
	n = cg2_reader_take(r, &pids);
	cg2_reader_free(r);
	assert_int_equal(n, 5000);
	for (i = 0; i < n; i++)
		assert_int_equal(pids[i], (pid_t)(i + 1));
	free(pids);
	/* and at once */
	assert_int_equal(cg2_members(&cg, &pids), 5000);
	free(pids);
	close(cg.dirfd);
	unlink(path);
	rmdir(dir);
}

/* cpu.stat: usage_usec wherever it is in the text. */
static void
test_cpu_usec(void **state)
{
	uint64_t u = 0;

	(void)state;
	assert_int_equal(cg2_parse_cpu_usec("usage_usec 8322\nuser_usec 8322\n"
	    "system_usec 0\n", &u), 0);
	assert_true(u == 8322);
	assert_int_equal(cg2_parse_cpu_usec("nr_periods 0\nusage_usec 12\n",
	    &u), 0);
	assert_true(u == 12);
	assert_int_equal(cg2_parse_cpu_usec("user_usec 5\n", &u), -1);
	assert_int_equal(cg2_parse_cpu_usec("usage_usec x\n", &u), -1);
	assert_int_equal(cg2_parse_cpu_usec("", &u), -1);
}

/* lib/forkexec creates a process in the cgroup itself (clone3 with
 * CLONE_INTO_CGROUP): given only the directory, no cgroup.procs, the
 * child is a member as soon as spawn_run returns (doc/design.md §20). */
static void
spawn_into(struct cg2 *w)
{
	static char sleep_path[] = "/bin/sleep", thirty[] = "30";
	static char *const argv[] = { sleep_path, thirty, NULL };
	static char *const envp[] = { NULL };
	struct spawn_plan plan;
	struct spawn_error e;
	pid_t pid, *pids;
	int status;

	if (!spawn_into_cgroup_built()) {
		fprintf(stderr, "spawn into a cgroup: not in this build\n");
		return;
	}
	spawn_plan_init(&plan);
	plan.path = argv[0];
	plan.argv = argv;
	plan.envp = envp;
	plan.cgroup_dir = w->dirfd;
	pid = spawn_run(&plan, &e);
	assert_true(pid > 0);
	assert_int_equal(cg2_members(w, &pids), 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	assert_int_equal(cg2_kill(w), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
}

/* A real subtree, when this machine lets us make one. */
static void
test_subtree(void **state)
{
	struct cg2 *root, *w;
	char name[64], *cause = NULL;
	pid_t pid, *pids;
	size_t n;
	int status, tries;

	(void)state;
	snprintf(name, sizeof name, "circus-unit-%d", (int)getpid());
	if ((root = cg2_open_root(name, &cause)) == NULL) {
		fprintf(stderr, "skipped: %s\n", cause);
		free(cause);
		skip();
	}
	w = cg2_child(root, "1-w", &cause);
	assert_non_null(w);
	assert_int_equal(cg2_members(w, &pids), 0);
	/* asleep it holds no fd; awake it works as before */
	cg2_sleep(w);
	assert_int_equal(w->dirfd, -1);
	assert_int_equal(w->procs_fd, -1);
	assert_int_equal(cg2_wake(w, &cause), 0);
	assert_true(w->dirfd != -1 && w->procs_fd != -1);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (write(w->procs_fd, "0", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	/* polled with a bound: the child joins as it starts */
	for (n = 0, tries = 0; n == 0 && tries < 10000; tries++) {
		n = cg2_members(w, &pids);
		if (n == 0)
			usleep(1000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	assert_int_equal(cg2_kill(w), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(cg2_remove(w), 0);
	/* a fresh one: after a cgroup.kill, some kernels kill what is
	 * created in that cgroup (circusd/cgroup.c, cgroup_renew) */
	w = cg2_child(root, "2-w", &cause);
	assert_non_null(w);
	spawn_into(w);
	assert_int_equal(cg2_remove(w), 0);
	assert_int_equal(cg2_remove(root), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_reader_steps),
		cmocka_unit_test(test_cpu_usec),
		cmocka_unit_test(test_subtree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
