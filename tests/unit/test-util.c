/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/util.c: booleans, signals, time, random ids and
 * loopback endpoints. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util.h"

/* Parse s as a boolean and return it, failing the test on error. */
static bool
parse_ok(const char *s)
{
	bool	 b = false;

	assert_int_equal(util_parse_bool(s, &b), 0);
	return (b);
}

/* True words in any case, with surrounding whitespace. */
static void
test_bool_true(void **state)
{
	(void)state;
	assert_true(parse_ok("yes"));
	assert_true(parse_ok("True"));
	assert_true(parse_ok("ON"));
	assert_true(parse_ok("1"));
	assert_true(parse_ok("  true \t"));
}

/* False words in any case. */
static void
test_bool_false(void **state)
{
	(void)state;
	assert_false(parse_ok("no"));
	assert_false(parse_ok("FALSE"));
	assert_false(parse_ok("Off"));
	assert_false(parse_ok(" 0 "));
}

/* Anything else is an error. */
static void
test_bool_invalid(void **state)
{
	bool	 b;

	(void)state;
	assert_int_equal(util_parse_bool("", &b), -1);
	assert_int_equal(util_parse_bool("2", &b), -1);
	assert_int_equal(util_parse_bool("y", &b), -1);
	assert_int_equal(util_parse_bool("truee", &b), -1);
	assert_int_equal(util_parse_bool(NULL, &b), -1);
}

/* Numbers are taken as they are. */
static void
test_signal_numbers(void **state)
{
	(void)state;
	assert_int_equal(util_parse_signal("3"), 3);
	assert_int_equal(util_parse_signal(" 15 "), 15);
	assert_int_equal(util_parse_signal("+9"), 9);
	assert_int_equal(util_parse_signal("-1"), -1);
}

/* Names with or without SIG, any case. */
static void
test_signal_names(void **state)
{
	(void)state;
	assert_int_equal(util_parse_signal("INT"), SIGINT);
	assert_int_equal(util_parse_signal("quit"), SIGQUIT);
	assert_int_equal(util_parse_signal("SIGTERM"), SIGTERM);
	assert_int_equal(util_parse_signal("sigterm"), SIGTERM);
	assert_int_equal(util_parse_signal("HUP"), SIGHUP);
	assert_int_equal(util_parse_signal("IOT"), SIGABRT);
	assert_int_equal(util_parse_signal("CLD"), SIGCHLD);
	assert_int_equal(util_parse_signal("POLL"), SIGIO);
	assert_int_equal(util_parse_signal("USR2"), SIGUSR2);
}

/* NAME+N and the real-time range. */
static void
test_signal_offsets(void **state)
{
	(void)state;
	assert_int_equal(util_parse_signal("RTMIN"), SIGRTMIN);
	assert_int_equal(util_parse_signal("SIGRTMIN+2"), SIGRTMIN + 2);
	assert_int_equal(util_parse_signal("rtmax"), SIGRTMAX);
	assert_int_equal(util_parse_signal("USR1+1"), SIGUSR1 + 1);
	/* Text after the name is ignored, as in Circus. */
	assert_int_equal(util_parse_signal("TERM please"), SIGTERM);
}

/* Unknown names fail. */
static void
test_signal_invalid(void **state)
{
	(void)state;
	assert_int_equal(util_parse_signal("FOO"), -1);
	assert_int_equal(util_parse_signal("SIG"), -1);
	assert_int_equal(util_parse_signal(""), -1);
	assert_int_equal(util_parse_signal(" INT"), -1);
	assert_int_equal(util_parse_signal("+INT"), -1);
	assert_int_equal(util_parse_signal(NULL), -1);
}

/* Canonical names back from numbers. */
static void
test_signal_name(void **state)
{
	(void)state;
	assert_string_equal(util_signal_name(SIGTERM), "TERM");
	assert_string_equal(util_signal_name(SIGABRT), "ABRT");
	assert_string_equal(util_signal_name(SIGCHLD), "CHLD");
	assert_string_equal(util_signal_name(SIGIO), "IO");
	assert_string_equal(util_signal_name(SIGRTMIN), "RTMIN");
	assert_string_equal(util_signal_name(SIGRTMIN + 3), "RTMIN+3");
	assert_string_equal(util_signal_name(SIGRTMAX), "RTMAX");
	assert_null(util_signal_name(0));
	assert_null(util_signal_name(1000));
}

/* Every name round-trips through the parser. */
static void
test_signal_roundtrip(void **state)
{
	const char	*name;
	int		 sig;

	(void)state;
	for (sig = 1; sig <= SIGRTMAX; sig++) {
		if ((name = util_signal_name(sig)) == NULL)
			continue;
		assert_int_equal(util_parse_signal(name), sig);
	}
}

/* The wall clock is close to time(). */
static void
test_wallclock(void **state)
{
	double	 now;

	(void)state;
	now = util_wallclock();
	assert_true(now > 1.6e9);
	assert_true(now - (double)time(NULL) < 2.0);
	assert_true((double)time(NULL) - now < 2.0);
}

/* 32 lowercase hex characters, different every time. */
static void
test_uuid_hex(void **state)
{
	char	 a[33], b[33];
	size_t	 i;

	(void)state;
	memset(a, 'x', sizeof a);
	util_uuid_hex(a);
	util_uuid_hex(b);
	assert_int_equal(strlen(a), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_not_equal(a, b);
}

/* Which tcp:// hosts are loopback: plaintext elsewhere is refused unless
 * plaintext_tcp = true (config.c). */
static void
test_loopback_hosts(void **state)
{
	(void)state;
	assert_true(util_endpoint_is_loopback("tcp://127.0.0.1:5555"));
	assert_true(util_endpoint_is_loopback("tcp://127.3.2.1:5555"));
	assert_true(util_endpoint_is_loopback("tcp://localhost:5555"));
	assert_true(util_endpoint_is_loopback("tcp://[::1]:5555"));
	assert_true(util_endpoint_is_loopback("tcp://lo:5555"));
	/* other transports are not network endpoints */
	assert_true(util_endpoint_is_loopback("ipc:///run/circus/ctl.sock"));
	assert_true(util_endpoint_is_loopback("inproc://x"));
}

static void
test_non_loopback_hosts(void **state)
{
	(void)state;
	assert_false(util_endpoint_is_loopback("tcp://0.0.0.0:5555"));
	assert_false(util_endpoint_is_loopback("tcp://*:5555"));
	assert_false(util_endpoint_is_loopback("tcp://10.0.0.1:5555"));
	assert_false(util_endpoint_is_loopback("tcp://[::]:5555"));
	assert_false(util_endpoint_is_loopback("tcp://eth0:5555"));
	assert_false(util_endpoint_is_loopback("tcp://localhost.example.com:5555"));
	assert_false(util_endpoint_is_loopback("tcp://127:5555"));
	assert_false(util_endpoint_is_loopback("tcp://lox:5555"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bool_true),
		cmocka_unit_test(test_bool_false),
		cmocka_unit_test(test_bool_invalid),
		cmocka_unit_test(test_signal_numbers),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_signal_offsets),
		cmocka_unit_test(test_signal_invalid),
		cmocka_unit_test(test_signal_name),
		cmocka_unit_test(test_signal_roundtrip),
		cmocka_unit_test(test_wallclock),
		cmocka_unit_test(test_uuid_hex),
		cmocka_unit_test(test_loopback_hosts),
		cmocka_unit_test(test_non_loopback_hosts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
