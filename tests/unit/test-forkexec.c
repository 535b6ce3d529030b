/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for lib/forkexec.c, the one fork/exec child of processes and
 * hooks: real children of /bin/sh, each waited for with waitpid().
 */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forkexec.h"

static char sh_path[] = "PATH=/usr/bin:/bin", sh_name[] = "sh", sh_c[] = "-c";
static char *sh_envp[] = { sh_path, NULL };

/* Run sh -c script with the plan's other settings; the pid. */
static pid_t
run_sh(struct spawn_plan *plan, const char *script, struct spawn_error *e)
{
	static char *argv[4];

	argv[0] = sh_name;
	argv[1] = sh_c;
	argv[2] = (char *)script;
	argv[3] = NULL;
	plan->path = "/bin/sh";
	plan->argv = argv;
	plan->envp = sh_envp;
	return spawn_run(plan, e);
}

/* Wait for the child; its wait status. */
static int
wait_status(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* The exit code of a child that exited normally. */
static int
exit_code(pid_t pid)
{
	int status = wait_status(pid);

	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Read what the child wrote on a pipe until EOF, NUL-terminated. */
static void
read_all(int fd, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < size && (n = read(fd, buf + off, size - off - 1)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
}

/* The program runs with its argv and envp; its exit code comes back. */
static void
test_runs_program(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	pid_t pid;

	(void)state;
	spawn_plan_init(&plan);
	pid = run_sh(&plan, "test \"$PATH\" = /usr/bin:/bin && exit 3", &e);
	assert_true(pid > 0);
	assert_int_equal(exit_code(pid), 3);
}

/* A program that cannot be executed is reported as the exec step with
 * its errno, not as a child that ran. */
static void
test_exec_failure(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e = { 0, 0 };
	char nope[] = "nope", *argv[] = { nope, NULL };
	int status;

	(void)state;
	spawn_plan_init(&plan);
	plan.path = "/nonexistent/circus-spawn-test";
	plan.argv = argv;
	plan.envp = sh_envp;
	assert_int_equal(spawn_run(&plan, &e), -1);
	assert_int_equal(e.step, SPAWN_EXEC);
	assert_int_equal(e.err, ENOENT);
	assert_string_equal(spawn_step_name(e.step), "exec");
	/* The failed child exited with 127 (the only child now). */
	assert_true(wait(&status) > 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 127);
}

/* A working directory that does not exist is the chdir step. */
static void
test_chdir_failure(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e = { 0, 0 };

	(void)state;
	spawn_plan_init(&plan);
	plan.cwd = "/nonexistent/circus-spawn-dir";
	assert_int_equal(run_sh(&plan, "exit 0", &e), -1);
	assert_int_equal(e.step, SPAWN_CHDIR);
	assert_int_equal(e.err, ENOENT);
	assert_string_equal(spawn_step_name(e.step), "chdir");
	while (waitpid(-1, NULL, 0) > 0)
		;
}

/* fd0 and fd1 of the plan become the child's stdin and stdout; cwd is
 * applied. */
static void
test_stdio_and_cwd(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	int in[2], out[2];
	char buf[256];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "hello\n", 6), 6);
	close(in[1]);
	spawn_plan_init(&plan);
	plan.fd0 = in[0];
	plan.fd1 = out[0 + 1];
	plan.cwd = "/";
	pid = run_sh(&plan, "read x; echo \"$x $(pwd)\"", &e);
	assert_true(pid > 0);
	close(in[0]);
	close(out[1]);
	read_all(out[0], buf, sizeof buf);
	close(out[0]);
	assert_int_equal(exit_code(pid), 0);
	assert_string_equal(buf, "hello /\n");
}

/* Only the fds in keep stay open over exec. */
static void
test_keep_fds(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	int kept[2], other[2];
	char script[128];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(kept), 0);
	assert_int_equal(pipe(other), 0);	/* not close-on-exec */
	spawn_plan_init(&plan);
	plan.keep[plan.nkeep++] = kept[1];
	snprintf(script, sizeof script,
	    "echo x >&%d || exit 1; (echo y >&%d) 2>/dev/null && exit 2; "
	    "exit 0", kept[1], other[1]);
	pid = run_sh(&plan, script, &e);
	assert_true(pid > 0);
	assert_int_equal(exit_code(pid), 0);
	close(kept[0]);
	close(kept[1]);
	close(other[0]);
	close(other[1]);
}

/* The rlimits of the plan are set (soft and hard). */
static void
test_rlimits(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	int out[2];
	char buf[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	spawn_plan_init(&plan);
	plan.fd1 = out[1];
	plan.rl_res[plan.nrl] = RLIMIT_NOFILE;
	plan.rl_val[plan.nrl++] = 64;
	pid = run_sh(&plan, "echo $(ulimit -Sn) $(ulimit -Hn)", &e);
	assert_true(pid > 0);
	close(out[1]);
	read_all(out[0], buf, sizeof buf);
	close(out[0]);
	assert_int_equal(exit_code(pid), 0);
	assert_string_equal(buf, "64 64\n");
}

/* A signal the daemon ignores is back to its default in the child: a
 * shell cannot undo an ignored-on-entry signal, so only the reset lets
 * its own SIGTERM kill it. The child is its own session leader. */
static void
test_signals_reset_and_setsid(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	struct sigaction ign, old;
	int status;
	pid_t pid;

	(void)state;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
	spawn_plan_init(&plan);
	pid = run_sh(&plan, "set -- $(cat /proc/$$/stat); "
	    "test \"$6\" = $$ || exit 4; kill -TERM $$; exit 0", &e);
	assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
	assert_true(pid > 0);
	status = wait_status(pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

/* The child's pid in decimal: no leading zeros, NUL-terminated, refused
 * when the buffer is too small. */
static void
test_format_pid(void **state)
{
	char buf[24];

	(void)state;
	assert_int_equal(spawn_format_pid(buf, sizeof buf, 0), 0);
	assert_string_equal(buf, "0");
	assert_int_equal(spawn_format_pid(buf, sizeof buf, 7), 0);
	assert_string_equal(buf, "7");
	assert_int_equal(spawn_format_pid(buf, sizeof buf, 40960), 0);
	assert_string_equal(buf, "40960");
	assert_int_equal(spawn_format_pid(buf, sizeof buf, 2147483647L), 0);
	assert_string_equal(buf, "2147483647");
	assert_int_equal(spawn_format_pid(buf, 6, 12345), 0);	/* fits */
	assert_string_equal(buf, "12345");
	memcpy(buf, "keep", 5);
	assert_int_equal(spawn_format_pid(buf, 5, 12345), -1);
	assert_string_equal(buf, "keep");			/* untouched */
	assert_int_equal(spawn_format_pid(buf, sizeof buf, -1), -1);
}

/* A close-on-exec copy of fd at >= 30, fd closed. */
static int
lift(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 30);

	assert_true(copy >= 30);
	close(fd);
	return copy;
}

/* Socket activation: the listen fds land at 3, 4, ... in plan order even
 * when they already sit there swapped, and LISTEN_PID is the child's own
 * pid, written by the child into the reserved slot. */
static void
test_listen_fds_swapped(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	static char pidvar[] = "LISTEN_PID=\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	static char *envp[] = { sh_path, pidvar, NULL };
	static char *argv[4];
	char buf[128], want[128];
	int a[2], b[2];
	pid_t pid;

	(void)state;
	/* fds 3 and 4 free, then a's write end at 4 and b's at 3 */
	assert_int_equal(fcntl(3, F_GETFD), -1);
	assert_int_equal(fcntl(4, F_GETFD), -1);
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	a[0] = lift(a[0]);
	a[1] = lift(a[1]);
	b[0] = lift(b[0]);
	b[1] = lift(b[1]);
	assert_int_equal(dup3(a[1], 4, O_CLOEXEC), 4);
	assert_int_equal(dup3(b[1], 3, O_CLOEXEC), 3);
	close(a[1]);
	close(b[1]);

	spawn_plan_init(&plan);
	plan.listen[plan.nlisten++] = 4;	/* a: to fd 3 */
	plan.listen[plan.nlisten++] = 3;	/* b: to fd 4 */
	plan.pid_slot = pidvar + strlen("LISTEN_PID=");
	plan.pid_slot_len = sizeof pidvar - strlen("LISTEN_PID=");
	argv[0] = sh_name;
	argv[1] = sh_c;
	argv[2] = (char *)"echo a $LISTEN_PID $$ >&3; echo b >&4";
	argv[3] = NULL;
	plan.path = "/bin/sh";
	plan.argv = argv;
	plan.envp = envp;
	pid = spawn_run(&plan, &e);
	assert_true(pid > 0);
	close(3);
	close(4);
	assert_int_equal(exit_code(pid), 0);
	read_all(a[0], buf, sizeof buf);
	snprintf(want, sizeof want, "a %ld %ld\n", (long)pid, (long)pid);
	assert_string_equal(buf, want);
	read_all(b[0], buf, sizeof buf);
	assert_string_equal(buf, "b\n");
	close(a[0]);
	close(b[0]);
}

/* The exec-status pipe that would sit among the target fds is moved out of
 * their way: a failure after the fds are placed is still reported. */
static void
test_listen_fds_error_pipe_moved(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e = { 0, 0 };
	char nope[] = "nope", *argv[] = { nope, NULL };
	int p[2], status;

	(void)state;
	assert_int_equal(fcntl(3, F_GETFD), -1);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	p[0] = lift(p[0]);
	p[1] = lift(p[1]);
	/* 3, 4 and up are free: spawn_run's pipe takes them */
	spawn_plan_init(&plan);
	plan.listen[plan.nlisten++] = p[1];
	plan.listen[plan.nlisten++] = p[1];
	plan.listen[plan.nlisten++] = p[0];
	plan.path = "/nonexistent/circus-spawn-test";
	plan.argv = argv;
	plan.envp = sh_envp;
	assert_int_equal(spawn_run(&plan, &e), -1);
	assert_int_equal(e.step, SPAWN_EXEC);
	assert_int_equal(e.err, ENOENT);
	assert_true(wait(&status) > 0);
	assert_int_equal(WEXITSTATUS(status), 127);
	close(p[0]);
	close(p[1]);
}

/* Every step has a name; out of range is "spawn". */
static void
test_step_names(void **state)
{
	(void)state;
	assert_string_equal(spawn_step_name(SPAWN_FORK), "vfork");
	assert_string_equal(spawn_step_name(SPAWN_PIPE), "pipe2");
	assert_string_equal(spawn_step_name(SPAWN_SETUID), "setuid");
	assert_string_equal(spawn_step_name(SPAWN_RLIMIT), "setrlimit");
	assert_string_equal(spawn_step_name((enum spawn_step)99), "spawn");
}

/* With a cgroup_fd the child writes "0" there (joins that cgroup.procs)
 * before exec: a pipe stands in for the file; none by default. */
static void
test_cgroup_fd(void **state)
{
	struct spawn_plan plan;
	struct spawn_error e;
	char buf[16];
	int p[2];
	pid_t pid;

	(void)state;
	spawn_plan_init(&plan);
	assert_int_equal(plan.cgroup_fd, -1);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	plan.cgroup_fd = p[1];
	pid = run_sh(&plan, "exit 0", &e);
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(exit_code(pid), 0);
	read_all(p[0], buf, sizeof buf);
	close(p[0]);
	assert_string_equal(buf, "0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_program),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_chdir_failure),
		cmocka_unit_test(test_stdio_and_cwd),
		cmocka_unit_test(test_keep_fds),
		cmocka_unit_test(test_rlimits),
		cmocka_unit_test(test_signals_reset_and_setsid),
		cmocka_unit_test(test_step_names),
		cmocka_unit_test(test_format_pid),
		cmocka_unit_test(test_listen_fds_swapped),
		cmocka_unit_test(test_listen_fds_error_pipe_moved),
		cmocka_unit_test(test_cgroup_fd),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
