/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the sync worker's number printing (syncserver/bso.c):
 * sync_fmt_ts and sync_fmt_int print by hand what printf would, for the
 * edges (0, one digit, a whole second, the limits) and a sweep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

/* What the hand-written sync_fmt_ts must print: seconds, two decimals. */
static void
want_ts(int64_t cs, char *out)
{
	uint64_t u = cs < 0 ? -(uint64_t)cs : (uint64_t)cs;

	snprintf(out, 32, "%s%llu.%02llu", cs < 0 ? "-" : "",
	    (unsigned long long)(u / 100), (unsigned long long)(u % 100));
}

static void
test_timestamps(void **state)
{
	static const int64_t edges[] = { 0, 1, 9, 10, 99, 100, 101, 105,
	    179640419580, INT64_MAX, -1, -50, -150, INT64_MIN };
	char got[32], want[32];
	size_t i;
	int64_t cs;

	(void)state;
	assert_string_equal(sync_fmt_ts(0, got), "0.00");
	assert_string_equal(sync_fmt_ts(5, got), "0.05");
	assert_string_equal(sync_fmt_ts(179640419580, got), "1796404195.80");
	assert_string_equal(sync_fmt_ts(-150, got), "-1.50");
	for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		want_ts(edges[i], want);
		assert_string_equal(sync_fmt_ts(edges[i], got), want);
	}
	for (cs = 0; cs < 100000; cs += 7) {
		want_ts(cs, want);
		assert_string_equal(sync_fmt_ts(cs, got), want);
	}
}

static void
test_integers(void **state)
{
	static const long long edges[] = { 0, 1, -1, 9, 10, -10, 1000000,
	    LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
	char got[32], want[32];
	size_t i;
	long long n;

	(void)state;
	for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		snprintf(want, sizeof want, "%lld", edges[i]);
		assert_string_equal(sync_fmt_int(edges[i], got), want);
	}
	for (n = -50000; n < 50000; n += 13) {
		snprintf(want, sizeof want, "%lld", n);
		assert_string_equal(sync_fmt_int(n, got), want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_integers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
