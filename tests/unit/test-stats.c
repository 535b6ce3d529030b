/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for circusd/stats.c: the formatting helpers of doc/design.md §17.2
 * §4.2 (values checked against CPython) and the /proc readers on ourself. */
#include <sys/types.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "circusd.h"
#include "stats.h"

static void check_b2h(uint64_t, const char *);
static void check_ctime(uint64_t, const char *);
static void check_cmdline(const char *, size_t, const char *);

/* Assert procinfo_bytes2human(n). */
static void
check_b2h(uint64_t n, const char *want)
{
	char buf[32];

	procinfo_bytes2human(n, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* Assert procinfo_ctime(us). */
static void
check_ctime(uint64_t us, const char *want)
{
	char buf[32];

	procinfo_ctime(us, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* Assert procinfo_cmdline_name on len raw bytes. */
static void
check_cmdline(const char *data, size_t len, const char *want)
{
	char buf[64];

	procinfo_cmdline_name(data, len, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* Below 1024 bytes are printed bare, above with two decimals. */
static void
test_bytes2human(void **state)
{
	(void)state;
	check_b2h(0, "0B");
	check_b2h(1, "1B");
	check_b2h(512, "512B");
	check_b2h(1023, "1023B");
	check_b2h(1024, "1.00K");
	check_b2h(1536, "1.50K");
	check_b2h(1036288, "1012.00K");
	check_b2h(1048575, "1024.00K");
	check_b2h(1048576, "1.00M");
	check_b2h(1782579, "1.70M");
	check_b2h(35452354, "33.81M");
	check_b2h(2621440, "2.50M");
	check_b2h(5368709120ULL, "5.00G");
	check_b2h(1099511627776ULL, "1.00T");
	check_b2h((1ULL << 60) - 1, "1024.00P");
	check_b2h(1ULL << 60, "1.00E");
	check_b2h(UINT64_MAX, "16.00E");
}

/* Minutes mod 60, zero-padded seconds, then str(microseconds)[:2]. */
static void
test_ctime(void **state)
{
	(void)state;
	check_ctime(0, "0:00.0");
	check_ctime(410000, "0:00.41");
	check_ctime(50000, "0:00.50");
	check_ctime(100000, "0:00.10");
	check_ctime(5000, "0:00.50");
	check_ctime(123, "0:00.12");
	check_ctime(7, "0:00.7");
	check_ctime(1000000, "0:01.0");
	check_ctime(59990000, "0:59.99");
	check_ctime(60000000, "1:00.0");
	check_ctime(3725100000ULL, "2:05.10");
	check_ctime(3599990000ULL, "59:59.99");
	check_ctime(3600000000ULL, "0:00.0");
	/* 1 day, 61.5 s: days are dropped, then hours. */
	check_ctime(86461500000ULL, "1:01.50");
}

/* Basename of the first word of argv[0]. */
static void
test_cmdline(void **state)
{
	static const char py[] = "/usr/bin/python3\0-m\0x\0";
	static const char ng[] = "nginx: master process /usr/sbin/nginx\0";
	static const char sl[] = "sleep\0"
	                         "100\0";
	static const char sp[] = "/opt/my app/bin/run\0";
	static const char dir[] = "/usr/bin/\0";
	static const char tab[] = "\t /bin/sh -c x\0";
	static const char nul[] = "\0";

	(void)state;
	check_cmdline(py, sizeof py - 1, "python3");
	check_cmdline(ng, sizeof ng - 1, "nginx:");
	check_cmdline(sl, sizeof sl - 1, "sleep");
	check_cmdline(sp, sizeof sp - 1, "my");
	check_cmdline(dir, sizeof dir - 1, "");
	check_cmdline(tab, sizeof tab - 1, "sh");
	check_cmdline("sleep", 5, "sleep");
	check_cmdline("", 0, "N/A");
	check_cmdline(nul, sizeof nul - 1, "N/A");
	check_cmdline("   ", 3, "N/A");
	/* A long name is cut to the buffer, never overflowed. */
	check_cmdline("/x/"
	              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	              "aaaaaaaaaaaa",
	    70,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

/* round() like Python, including the binary-representation cases. */
static void
test_round(void **state)
{
	(void)state;
	assert_true(procinfo_round(2.675, 2) == 2.67);
	assert_true(procinfo_round(0.0065, 3) == 0.006);
	assert_true(procinfo_round(0.0066, 3) == 0.007);
	assert_true(procinfo_round(0.5, 0) == 0.0);
	assert_true(procinfo_round(1.5, 0) == 2.0);
	assert_true(procinfo_round(12.34567, 1) == 12.3);
	assert_true(procinfo_round(1795437458.18, 2) == 1795437458.18);
	assert_true(procinfo_round(0.0, 3) == 0.0);
}

/* /proc/<pid>/stat, with a comm holding spaces and parentheses. */
static void
test_parse_stat(void **state)
{
	static const char line[] =
	    "4242 (a b) c)) R 17 4242 4242 0 -1 "
	    "4194560 120 0 0 0 35 6 0 0 20 -5 3 0 123456 10485760 384 "
	    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	struct procinfo_stat st;

	(void)state;
	assert_int_equal(procinfo_parse_stat(line, sizeof line - 1, &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 17);
	assert_int_equal(st.utime_ticks, 35);
	assert_int_equal(st.stime_ticks, 6);
	assert_int_equal(st.nice, -5);
	assert_int_equal(st.num_threads, 3);
	assert_int_equal(st.start_ticks, 123456);
	assert_int_equal(st.vsize_bytes, 10485760);
	assert_int_equal(st.rss_pages, 384);
	assert_int_equal(procinfo_parse_stat("12 (x", 5, &st), -1);
	assert_int_equal(procinfo_parse_stat("12 (x) S 1 2", 12, &st), -1);
}

/* Our own info object has every key in protocol order. */
static void
test_self_info(void **state)
{
	static const char *const keys[] = { "mem_info1", "mem_info2", "cpu",
		"mem", "ctime", "pid", "username", "nice", "create_time", "age",
		"cmdline", "children" };
	struct procinfo_batch *b;
	json_t *info, *v;
	const char *key;
	uint64_t ticks = 0;
	double when = 0;
	size_t i = 0;

	(void)state;
	b = procinfo_batch_new();
	info = procinfo_batch_pid(b, getpid(), true, &ticks, &when);
	assert_true(json_is_object(info));
	json_object_foreach(info, key, v)
	{
		assert_true(i < sizeof keys / sizeof keys[0]);
		assert_string_equal(key, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof keys / sizeof keys[0]);
	assert_int_equal(json_integer_value(json_object_get(info, "pid")),
	    getpid());
	assert_true(json_real_value(json_object_get(info, "cpu")) == 0.0);
	assert_true(when > 0);
	assert_true(json_is_string(json_object_get(info, "username")));
	assert_true(json_is_real(json_object_get(info, "create_time")));
	assert_true(json_real_value(json_object_get(info, "age")) >= 0);
	assert_string_equal(json_string_value(json_object_get(info, "cmdline")),
	    "test-stats");
	json_decref(info);
	procinfo_batch_free(b);
}

/* Children are found, each with an empty children list. */
static void
test_children(void **state)
{
	struct procinfo_batch *b;
	json_t *info, *kids, *kid;
	pid_t pid;
	int status, round;

	(void)state;
	/* Twice: the second scan reuses the cached ppid table. */
	for (round = 0; round < 2; round++) {
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			pause();
			_exit(0);
		}
		b = procinfo_batch_new();
		info = procinfo_batch_pid(b, getpid(), true, NULL, NULL);
		kids = json_object_get(info, "children");
		assert_int_equal(json_array_size(kids), 1);
		kid = json_array_get(kids, 0);
		assert_int_equal(json_integer_value(
		                     json_object_get(kid, "pid")),
		    pid);
		assert_int_equal(json_array_size(
		                     json_object_get(kid, "children")),
		    0);
		json_decref(info);
		procinfo_batch_free(b);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
	procinfo_cache_free();
}

/* The index of a /proc scan is built a budget of stat reads at a time:
 * with a budget of 8 it takes several calls on any machine (this test's
 * own processes are more than 8 pids with the cache emptied), and then
 * finds the same child as a one-shot scan. */
static void
test_index_in_steps(void **state)
{
	struct procinfo_batch *b;
	json_t *info, *kids;
	pid_t pids[12];
	int status, calls = 0, i;

	(void)state;
	for (i = 0; i < 12; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] == 0) {
			pause();
			_exit(0);
		}
	}
	procinfo_cache_free();
	b = procinfo_batch_new();
	while (!procinfo_batch_index(b, 8)) {
		calls++;
		assert_true(calls < 1000000);
	}
	assert_true(calls >= 1);
	assert_true(procinfo_batch_index(b, 0));
	info = procinfo_batch_pid(b, getpid(), true, NULL, NULL);
	kids = json_object_get(info, "children");
	assert_int_equal(json_array_size(kids), 12);
	json_decref(info);
	procinfo_batch_free(b);
	/* A batch dropped half way frees its listing. */
	procinfo_cache_free();
	b = procinfo_batch_new();
	assert_false(procinfo_batch_index(b, 1));
	procinfo_batch_free(b);
	for (i = 0; i < 12; i++) {
		kill(pids[i], SIGKILL);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
	}
	procinfo_cache_free();
}

/* A pid that does not exist gives the "stopped?" string. */
static void
test_gone(void **state)
{
	json_t *info;

	(void)state;
	info = stats_process_info(0x7ffffff0, false, NULL, NULL);
	assert_true(json_is_string(info));
	assert_string_equal(json_string_value(info),
	    "No such process (stopped?)");
	json_decref(info);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes2human),
		cmocka_unit_test(test_ctime),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_self_info),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_index_in_steps),
		cmocka_unit_test(test_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
