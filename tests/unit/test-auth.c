/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for circusd/auth.c: which tcp:// hosts count as loopback
 * (a plaintext endpoint elsewhere is refused unless plaintext_tcp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "circusd.h"

static void
test_loopback_hosts(void **state)
{
	(void)state;
	assert_true(auth_is_loopback("tcp://127.0.0.1:5555"));
	assert_true(auth_is_loopback("tcp://127.3.2.1:5555"));
	assert_true(auth_is_loopback("tcp://localhost:5555"));
	assert_true(auth_is_loopback("tcp://[::1]:5555"));
	assert_true(auth_is_loopback("tcp://lo:5555"));
	/* other transports are not network endpoints */
	assert_true(auth_is_loopback("ipc:///run/circus/ctl.sock"));
	assert_true(auth_is_loopback("inproc://x"));
}

static void
test_non_loopback_hosts(void **state)
{
	(void)state;
	assert_false(auth_is_loopback("tcp://0.0.0.0:5555"));
	assert_false(auth_is_loopback("tcp://*:5555"));
	assert_false(auth_is_loopback("tcp://10.0.0.1:5555"));
	assert_false(auth_is_loopback("tcp://[::]:5555"));
	assert_false(auth_is_loopback("tcp://eth0:5555"));
	assert_false(auth_is_loopback("tcp://localhost.example.com:5555"));
	assert_false(auth_is_loopback("tcp://127:5555"));
	assert_false(auth_is_loopback("tcp://lox:5555"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_hosts),
		cmocka_unit_test(test_non_loopback_hosts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
