/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for circusd/subst.c: $(circus.*) and shlex split/quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

/* A fixed table of known keys (lower case). */
static const char *
lookup(void *ctx, const char *key)
{
	static const char *const table[][2] = {
		{ "wid", "3" },
		{ "env.home", "/home/me" },
		{ "sockets.web", "5" },
		{ "sockets.some-socket", "6" },
		{ "numprocesses", "2" },
	};
	size_t	 i;

	(void)ctx;
	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcmp(table[i][0], key) == 0)
			return (table[i][1]);
	}
	return (NULL);
}

/* Substitute in and compare with want. */
static void
check_subst(const char *in, const char *want)
{
	char	*out;

	out = subst_circus(in, lookup, NULL);
	assert_string_equal(out, want);
	free(out);
}

/* Both syntaxes, any case. */
static void
test_subst_forms(void **state)
{
	(void)state;
	check_subst("$(circus.wid)", "3");
	check_subst("((circus.wid))", "3");
	check_subst("$(CIRCUS.WID)", "3");
	check_subst("$(Circus.Env.HOME)/x", "/home/me/x");
	check_subst("127.0.0.1:809$(circus.wid)", "127.0.0.1:8093");
	check_subst("--fd $(circus.sockets.web) ((circus.sockets.some-socket))",
	    "--fd 5 6");
	check_subst("", "");
	check_subst("no references", "no references");
}

/* Unknown keys and broken references stay verbatim. */
static void
test_subst_verbatim(void **state)
{
	(void)state;
	check_subst("$(circus.name)", "$(circus.name)");
	check_subst("$(circus.watcher.numprocesses)",
	    "$(circus.watcher.numprocesses)");
	check_subst("$(circus.wid", "$(circus.wid");
	check_subst("((circus.wid)", "((circus.wid)");
	check_subst("$(circus.)", "$(circus.)");
	check_subst("$(circus.w id)", "$(circus.w id)");
	check_subst("$WID ${HOME} %(wid)s ~", "$WID ${HOME} %(wid)s ~");
	check_subst("$(other.wid)", "$(other.wid)");
	check_subst("$$(circus.wid)", "$3");
}

/* Circus's prefix rule: a key starting with "circus" is not re-prefixed. */
static void
test_subst_circus_prefix(void **state)
{
	(void)state;
	check_subst("$(circus.circus.wid)", "3");
	check_subst("$(circus.circuswid)", "$(circus.circuswid)");
}

/* Split s and compare with the NULL-terminated want list. */
static void
check_split(const char *s, const char *const *want)
{
	char	**argv = NULL, *cause = NULL;
	size_t	  argc = 0, i;

	assert_int_equal(shlex_split(s, &argv, &argc, &cause), 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < argc);
		assert_string_equal(argv[i], want[i]);
	}
	assert_int_equal(argc, i);
	assert_null(argv[argc]);
	argv_free(argv);
}

/* POSIX quoting rules as Python's shlex.split. */
static void
test_split(void **state)
{
	(void)state;
	check_split("a b  c", (const char *[]){ "a", "b", "c", NULL });
	check_split("  ", (const char *[]){ NULL });
	check_split("'a b' \"c d\"", (const char *[]){ "a b", "c d", NULL });
	check_split("a'b'c", (const char *[]){ "abc", NULL });
	check_split("'' x", (const char *[]){ "", "x", NULL });
	check_split("a\\ b", (const char *[]){ "a b", NULL });
	check_split("'a\\b'", (const char *[]){ "a\\b", NULL });
	check_split("\"a\\\"b\\\\c\\d\"",
	    (const char *[]){ "a\"b\\c\\d", NULL });
	check_split("x # not a comment",
	    (const char *[]){ "x", "#", "not", "a", "comment", NULL });
	check_split("a\tb\nc", (const char *[]){ "a", "b", "c", NULL });
	check_split("/bin/bash -c 'exit 0'",
	    (const char *[]){ "/bin/bash", "-c", "exit 0", NULL });
}

/* Splitting appends to an existing argv. */
static void
test_split_append(void **state)
{
	char	**argv = NULL, *cause = NULL;
	size_t	  argc = 0;

	(void)state;
	assert_int_equal(shlex_split("cmd one", &argv, &argc, &cause), 0);
	assert_int_equal(shlex_split("two 'three four'", &argv, &argc,
	    &cause), 0);
	assert_int_equal(argc, 4);
	assert_string_equal(argv[0], "cmd");
	assert_string_equal(argv[3], "three four");
	assert_null(argv[4]);
	argv_free(argv);
}

/* Unbalanced quotes and trailing backslashes are errors. */
static void
test_split_errors(void **state)
{
	char	**argv = NULL, *cause = NULL;
	size_t	  argc = 0;

	(void)state;
	assert_int_equal(shlex_split("a 'b", &argv, &argc, &cause), -1);
	assert_string_equal(cause, "No closing quotation");
	free(cause);
	cause = NULL;
	assert_int_equal(shlex_split("a \"b\\\"", &argv, &argc, &cause), -1);
	assert_string_equal(cause, "No closing quotation");
	free(cause);
	cause = NULL;
	assert_int_equal(shlex_split("a\\", &argv, &argc, &cause), -1);
	assert_string_equal(cause, "No escaped character");
	free(cause);
	argv_free(argv);
}

/* Quote and compare. */
static void
check_quote(const char *s, const char *want)
{
	char	*q;

	q = shlex_quote(s);
	assert_string_equal(q, want);
	free(q);
}

/* Like Python's shlex.quote. */
static void
test_quote(void **state)
{
	(void)state;
	check_quote("", "''");
	check_quote("simple", "simple");
	check_quote("a/b.c-d_e@f%g+h=i:j,k", "a/b.c-d_e@f%g+h=i:j,k");
	check_quote("a b", "'a b'");
	check_quote("it's", "'it'\"'\"'s'");
	check_quote("$HOME", "'$HOME'");
	check_quote("caf\xc3\xa9", "'caf\xc3\xa9'");
}

/* Quoting then splitting gives the word back. */
static void
test_quote_roundtrip(void **state)
{
	const char	*words[] = { "", "a b", "it's", "\"q\"", "a\\b", "x*" };
	char		**argv = NULL, *q, *cause = NULL;
	size_t		  argc = 0, i;

	(void)state;
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		q = shlex_quote(words[i]);
		assert_int_equal(shlex_split(q, &argv, &argc, &cause), 0);
		assert_string_equal(argv[argc - 1], words[i]);
		free(q);
	}
	assert_int_equal(argc, sizeof words / sizeof words[0]);
	argv_free(argv);
	argv_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subst_forms),
		cmocka_unit_test(test_subst_verbatim),
		cmocka_unit_test(test_subst_circus_prefix),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_append),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_roundtrip),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
