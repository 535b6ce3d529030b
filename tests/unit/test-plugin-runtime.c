/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin runtime's parsers: Circus's --config string, option values
 * and size syntax (doc/design.md §11, §17.7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "plugin.h"

static const char *
jget(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* Split on ":::", then at the first ':'; trimmed; no ':' -> dropped. */
static void
test_parse_config(void **state)
{
	json_t *c;

	(void)state;
	c = plugin_parse_config("__name__:plugin:flapping:::attempts: 2 :::"
	    "junk:::name:plugin:flapping:::url:http://x:80/a b:::empty:");
	assert_int_equal(json_object_size(c), 5);
	assert_string_equal(jget(c, "__name__"), "plugin:flapping");
	assert_string_equal(jget(c, "attempts"), "2");
	assert_string_equal(jget(c, "name"), "plugin:flapping");
	assert_string_equal(jget(c, "url"), "http://x:80/a b");
	assert_string_equal(jget(c, "empty"), "");
	assert_null(json_object_get(c, "junk"));
	json_decref(c);
	c = plugin_parse_config("");
	assert_int_equal(json_object_size(c), 0);
	json_decref(c);
}

/* Typed options: defaults when unset, and when the value is bad. */
static void
test_conf_values(void **state)
{
	struct plugin p;

	(void)state;
	memset(&p, 0, sizeof p);
	p.config = plugin_parse_config("window:0.5:::attempts:3:::active:"
	    "False:::bad:x");
	assert_true(plugin_conf_float(&p, "window", 1) == 0.5);
	assert_int_equal(plugin_conf_int(&p, "attempts", 2), 3);
	assert_false(plugin_conf_bool(&p, "active", true));
	assert_int_equal(plugin_conf_int(&p, "missing", 7), 7);
	assert_int_equal(plugin_conf_int(&p, "bad", 5), 5);
	assert_true(plugin_conf_float(&p, "bad", 1.5) == 1.5);
	assert_true(plugin_conf_bool(&p, "bad", true));
	assert_string_equal(plugin_conf_str(&p, "bad", "d"), "x");
	json_decref(p.config);
}

/* "1.70M" -> bytes, powers of 1024, K or k; plain numbers as they are. */
static void
test_to_bytes(void **state)
{
	double d;

	(void)state;
	assert_int_equal(plugin_to_bytes("1.70M", &d), 0);
	assert_int_equal((long long)d, 1782579);
	assert_int_equal(plugin_to_bytes("250k", &d), 0);
	assert_true(d == 256000);
	assert_int_equal(plugin_to_bytes("12B", &d), 0);
	assert_true(d == 12);
	assert_int_equal(plugin_to_bytes("2G", &d), 0);
	assert_true(d == 2147483648.0);
	assert_int_equal(plugin_to_bytes("300", &d), 0);
	assert_true(d == 300);
	assert_int_equal(plugin_to_bytes("M", &d), -1);
	assert_int_equal(plugin_to_bytes("lots", &d), -1);
	assert_int_equal(plugin_to_bytes("", &d), -1);
	assert_int_equal(plugin_to_bytes(NULL, &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_config),
		cmocka_unit_test(test_conf_values),
		cmocka_unit_test(test_to_bytes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
