/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for syncserver/postjson.c, the fast reader of POST bodies:
 * the bodies clients send are read by it (not handed to jansson), what it
 * builds equals json_loadb's tree, and whatever it is not sure of it
 * declines, jansson deciding. tests/fuzz/fuzz-sync-bso.c checks the same
 * two properties on arbitrary input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "server.h"
#include "xmalloc.h"

/* fast's tree equals jansson's; returns whether fast took it. */
static bool
same_as_jansson(const char *body, size_t len)
{
	json_t *fast = post_json_fast(body, len);
	json_t *ref = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	bool took = fast != NULL;

	if (fast != NULL) {
		if (ref == NULL || !json_equal(fast, ref))
			fail_msg("fast reader disagrees with jansson on %.*s",
			    (int)len, body);
	}
	json_decref(fast);
	json_decref(ref);
	return took;
}

static void
test_usual_bodies_are_read_fast(void **state)
{
	static const char *const bodies[] = {
		"[]",
		" [ ] \n",
		"[{\"id\": \"a\", \"payload\": \"x\"}]",
		"[{\"id\":\"b\",\"payload\":\"\",\"sortindex\":-5,\"ttl\":0}]",
		"[{\"id\": \"c\", \"payload\": \"{\\\"ciphertext\\\":\\\"q+/=\\\","
		    "\\\"IV\\\":\\\"AAAA\\\",\\\"hmac\\\":\\\"00ff\\\"}\"},\n"
		    " {\"id\": \"d\", \"sortindex\": null, \"ttl\": null}]",
		"[{\"id\": \"e\", \"payload\": \"\\u00e9\\u20ac\\n\\t\\/\\\\\"}]",
		"[{\"id\": \"f\", \"payload\": \"1\", \"payload\": \"2\"}]",
		"[{\"id\": \"g\", \"modified\": 123, \"collection\": true,"
		    " \"other\": false}]",
		"[{}, {\"id\": \"h\"}]",
		"\t[{\"id\":\"i\",\"sortindex\":999999999999999999}]\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		if (!same_as_jansson(bodies[i], strlen(bodies[i])))
			fail_msg("declined a usual body: %s", bodies[i]);
}

static void
test_anything_unsure_is_declined(void **state)
{
	static const char *const bodies[] = {
		"",
		"{}",
		"[1]",
		"[\"a\"]",
		"[{\"id\": \"a\", \"payload\": {\"x\": 1}}]",   /* nested */
		"[{\"id\": \"a\", \"sortindex\": [1]}]",
		"[{\"id\": \"a\", \"sortindex\": 1.5}]",        /* reals */
		"[{\"id\": \"a\", \"sortindex\": 1e3}]",
		"[{\"id\": \"a\", \"sortindex\": 0123}]",
		"[{\"id\": \"a\", \"sortindex\": 1234567890123456789}]",
		"[{\"id\": \"a\", \"sortindex\": -}]",
		"[{\"id\": \"a\", \"payload\": \"caf\xc3\xa9\"}]", /* raw UTF-8 */
		"[{\"id\": \"a\", \"payload\": \"\xff\"}]",
		"[{\"id\": \"a\", \"payload\": \"\\u0000\"}]",
		"[{\"id\": \"a\", \"payload\": \"\\ud83d\\ude00\"}]",
		"[{\"id\": \"a\", \"payload\": \"\\udc00\"}]",
		"[{\"id\": \"a\", \"payload\": \"\\x\"}]",
		"[{\"id\": \"a\", \"payload\": \"\\u12\"}]",
		"[{\"id\": \"a\", \"payload\": \"tab\there\"}]",
		"[{\"id\": \"a\", \"payload\": \"open}]",
		"[{\"id\": \"a\",}]",
		"[{\"id\": \"a\"},]",
		"[{\"id\": \"a\"}] x",
		"[{\"id\": \"a\"}][]",
		"[{\"id\": tru}]",
		"[{\"id\": truex}]",
		"[{\"id\" \"a\"}]",
		"[{\"id\": \"a\"}",
		"[{id: \"a\"}]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		if (same_as_jansson(bodies[i], strlen(bodies[i])))
			fail_msg("took a body it should leave to jansson: %s",
			    bodies[i]);
}

/* A body with a NUL byte inside: length-delimited, never read past. */
static void
test_embedded_nul_and_length(void **state)
{
	static const char body[] = "[{\"id\": \"a\"}]\0[{\"id\": \"b\"}]";
	json_t *v;

	(void)state;
	assert_false(same_as_jansson(body, sizeof body - 1));
	v = post_json_fast(body, 13);   /* the first array alone */
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(v, 0), "id")), "a");
	json_decref(v);
	assert_null(post_json_fast(body, 12));  /* cut short */
}

/* The benchmark's body: 100 records of 200 bytes, read fast and equal. */
static void
test_hundred_records(void **state)
{
	char *body = xmalloc(40000);
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(body + n, "[");
	for (int i = 0; i < 100; i++) {
		n += (size_t)sprintf(body + n, "%s{\"id\": \"record%04d\","
		    " \"payload\": \"", i > 0 ? ", " : "", i);
		memset(body + n, 'x', 200);
		n += 200;
		n += (size_t)sprintf(body + n, "\", \"sortindex\": %d}", i);
	}
	n += (size_t)sprintf(body + n, "]");
	assert_true(same_as_jansson(body, n));
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usual_bodies_are_read_fast),
		cmocka_unit_test(test_anything_unsure_is_declined),
		cmocka_unit_test(test_embedded_nul_and_length),
		cmocka_unit_test(test_hundred_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
