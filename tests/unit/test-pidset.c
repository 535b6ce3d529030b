/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/pidset.c: the sorted pid sets behind the
 * started/kept/stopped lists of start, restart and reload replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pidset.h"

/* A sorted set of the n pids given. */
static struct pidset *
set_of(size_t n, const pid_t *pids)
{
	struct pidset *s = pidset_new();
	size_t i;

	for (i = 0; i < n; i++)
		pidset_add(s, pids[i]);
	pidset_sort(s);
	return s;
}

/* The set as compact JSON text, e.g. "[1,2]". */
static void
assert_set(const struct pidset *s, const char *want)
{
	json_t *j = pidset_json(s);
	char *text = json_dumps(j, JSON_COMPACT);

	assert_string_equal(text, want);
	free(text);
	json_decref(j);
}

/* Adds in any order come out ascending. */
static void
test_sort(void **state)
{
	static const pid_t pids[] = { 40, 7, 1000, 3, 99 };
	struct pidset *s;
	pid_t i;

	(void)state;
	s = set_of(5, pids);
	assert_set(s, "[3,7,40,99,1000]");
	pidset_free(s);
	/* growth past the first allocation */
	s = pidset_new();
	for (i = 500; i > 0; i--)
		pidset_add(s, i);
	pidset_sort(s);
	assert_int_equal(s->n, 500);
	assert_int_equal(s->v[0], 1);
	assert_int_equal(s->v[499], 500);
	pidset_free(s);
}

/* before/after -> stopped (only before), kept (both), started (only
 * after), each ascending, as a restart reports them. */
static void
test_compare(void **state)
{
	static const pid_t before[] = { 10, 30, 20, 50 };
	static const pid_t after[] = { 60, 20, 5, 50 };
	struct pidset *b, *a, stopped = { 0 }, kept = { 0 }, started = { 0 };

	(void)state;
	b = set_of(4, before);
	a = set_of(4, after);
	pidset_compare(b, a, &stopped, &kept, &started);
	assert_set(&stopped, "[10,30]");
	assert_set(&kept, "[20,50]");
	assert_set(&started, "[5,60]");
	free(stopped.v);
	free(kept.v);
	free(started.v);
	pidset_free(a);
	pidset_free(b);
}

/* NULL and empty sets are empty; NULL outputs are skipped. */
static void
test_compare_empty(void **state)
{
	static const pid_t pids[] = { 2, 1 };
	struct pidset *s, only = { 0 }, both = { 0 };

	(void)state;
	s = set_of(2, pids);
	pidset_compare(NULL, s, &only, &both, NULL);
	assert_set(&only, "[]");
	assert_set(&both, "[]");
	pidset_compare(s, NULL, &only, &both, NULL);
	assert_set(&only, "[1,2]");
	assert_set(&both, "[]");
	pidset_compare(s, s, NULL, &both, NULL);
	assert_set(&both, "[1,2]");
	assert_set(NULL, "[]");
	free(only.v);
	free(both.v);
	pidset_free(s);
	pidset_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_compare_empty),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
