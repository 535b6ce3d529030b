/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/pyjson.c against outputs taken from CPython 3. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pyjson.h"

static void	check_float(double, const char *);
static void	float_digits(const char *, char *, size_t, int *);
static void	float_reference(double, char *, size_t);
static void	check_float_shortest(double);
static void	check_load(const char *, size_t);
static void	gen_doc(char *, size_t, size_t *, uint64_t *, int);
static void	check_json(const char *, const char *, const char *,
		    const char *, const char *);

/* Assert pyjson_float_repr(d) equals Python's repr(d). */
static void
check_float(double d, const char *want)
{
	char	buf[40];

	pyjson_float_repr(d, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/*
 * Significant digits (no leading or trailing zeros) and decimal exponent
 * of a number written as [-]d[.d][e[+-]d] (repr or %e alike).
 */
static void
float_digits(const char *s, char *digits, size_t size, int *exp10)
{
	size_t	n = 0;
	int	point = -1, seen = 0, lead = 0;

	if (*s == '-')
		s++;
	for (; *s != '\0' && *s != 'e'; s++) {
		if (*s == '.') {
			point = seen;
			continue;
		}
		seen++;
		if (n == 0 && *s == '0') {
			lead++;
			continue;
		}
		if (n + 1 < size)
			digits[n++] = *s;
	}
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	if (point < 0)
		point = seen;
	*exp10 = point - lead - 1 + (*s == 'e' ? atoi(s + 1) : 0);
}

/* The fewest %.*e digits that read back as d, by trying every precision:
 * the definition pyjson_float_repr must match. */
static void
float_reference(double d, char *buf, size_t size)
{
	int	prec;

	for (prec = 0; prec < 17; prec++) {
		snprintf(buf, size, "%.*e", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/*
 * Python's layout of those digits, by printf: %e with them for an
 * exponent below -4 or from 16 (C writes "1e+16", "5e-324" as Python
 * does), else %f with the digits after the point, at least one (the
 * digits are d's own there: a double from 2^53 to 1e16 is an even
 * integer, so the zeros Python appends are exact).
 */
static void
float_layout_reference(double d, const char *digits, int exp10, char *buf,
    size_t size)
{
	int	nd = (int)strlen(digits);

	if (exp10 < -4 || exp10 >= 16)
		snprintf(buf, size, "%.*e", nd - 1, d);
	else
		snprintf(buf, size, "%.*f", nd - 1 - exp10 > 1 ?
		    nd - 1 - exp10 : 1, d);
}

/* Assert repr(d) has the reference's digits and exponent, reads back, and
 * is laid out as Python's. */
static void
check_float_shortest(double d)
{
	char	got[40], want[40], layout[400], gd[24], wd[24];
	int	ge, we;

	if (d == 0)
		return;	/* "0.0" and "-0.0": test_float_repr */
	pyjson_float_repr(d, got, sizeof got);
	float_reference(d, want, sizeof want);
	float_digits(got, gd, sizeof gd, &ge);
	float_digits(want, wd, sizeof wd, &we);
	if (strcmp(gd, wd) != 0 || ge != we || strtod(got, NULL) != d)
		fail_msg("%.17g: repr %s, shortest %s", d, got, want);
	float_layout_reference(d, wd, we, layout, sizeof layout);
	if (strcmp(got, layout) != 0)
		fail_msg("%.17g: repr %s, Python's layout %s", d, got, layout);
}

/* Parse in, then check dumps, pretty dumps (newlines as '|'), repr, str. */
static void
check_json(const char *in, const char *dumps, const char *pretty,
    const char *repr, const char *str)
{
	json_error_t	 err;
	json_t		*v;
	char		*out, *p;

	v = json_loads(in, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	assert_non_null(v);
	out = pyjson_dumps(v);
	assert_string_equal(out, dumps);
	free(out);
	out = pyjson_dumps_pretty(v);
	for (p = out; *p != '\0'; p++) {
		if (*p == '\n')
			*p = '|';
	}
	assert_string_equal(out, pretty);
	free(out);
	out = pyjson_repr(v);
	assert_string_equal(out, repr);
	free(out);
	out = pyjson_str(v);
	assert_string_equal(out, str);
	free(out);
	json_decref(v);
}

/* Floats use Python's shortest round-trip repr. */
static void
test_float_repr(void **state)
{
	char	buf[40];

	(void)state;
	check_float(0.0, "0.0");
	check_float(-0.0, "-0.0");
	check_float(30.0, "30.0");
	check_float(0.007, "0.007");
	check_float(0.1, "0.1");
	check_float(1.0 / 3, "0.3333333333333333");
	check_float(1795437126.7098472, "1795437126.7098472");
	check_float(1e16, "1e+16");
	check_float(1e15, "1000000000000000.0");
	check_float(9999999999999998.0, "9999999999999998.0");
	check_float(1e-5, "1e-05");
	check_float(1e-4, "0.0001");
	check_float(-1.5e-7, "-1.5e-07");
	check_float(1.5e300, "1.5e+300");
	check_float(5e-324, "5e-324");
	check_float(1.7976931348623157e308, "1.7976931348623157e+308");
	check_float(123456789012345678.0, "1.2345678901234568e+17");
	check_float(2.5, "2.5");
	check_float(HUGE_VAL, "inf");
	check_float(-HUGE_VAL, "-inf");
	check_float(NAN, "nan");
	pyjson_float_repr(1.25, buf, 4);
	assert_string_equal(buf, "1.2");
}

/* The shortest digits equal the exhaustive search's, for timestamps (16
 * or 17 digits), short decimals (15 or fewer), random bit patterns (every
 * exponent, subnormals too), values spread over the exact path's range
 * and past it, and powers of two and ten with their neighbours. */
static void
test_float_repr_shortest(void **state)
{
	uint64_t	x = 0x9e3779b97f4a7c15ULL, bits;
	double		d;
	int		i;

	(void)state;
	for (i = 0; i < 80000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 4) {
		case 0:
			d = 1.7e9 + (double)(x % 400000000000000ULL) / 1e6;
			break;
		case 3:
			/* log-uniform over 1e-7 .. 1e17, either sign */
			d = pow(10, -7 + 24 * (double)(x >> 11) / 9007199254740992.0);
			if (x & 1)
				d = -d;
			break;
		case 1:
			d = (double)(int64_t)(x % 2000000000000000ULL) /
			    pow(10, (double)(x >> 58));
			break;
		default:
			bits = x;
			memcpy(&d, &bits, sizeof d);
			if (!isfinite(d) || d == 0)
				continue;
		}
		check_float_shortest(d);
	}
	/* powers of two (a smaller gap below) and of ten, and neighbours */
	for (i = -1074; i <= 1023; i++) {
		d = ldexp(1.0, i);
		check_float_shortest(d);
		if (d < HUGE_VAL) {
			check_float_shortest(nextafter(d, 0));
			check_float_shortest(nextafter(d, HUGE_VAL));
		}
	}
	for (i = -20; i <= 25; i++) {
		d = pow(10, i);
		check_float_shortest(d);
		check_float_shortest(nextafter(d, 0));
		check_float_shortest(nextafter(d, HUGE_VAL));
		check_float_shortest(-d);
	}
	check_float_shortest(2.2250738585072014e-308);
	check_float_shortest(2.225073858507201e-308);
	check_float_shortest(4.9406564584124654e-324);
	check_float_shortest(0.3);
	check_float_shortest(9007199254740993.0);
}

/* Both decoders give the same value (same dumps: types, order) or both
 * refuse; err is jansson's own. */
static void
check_load(const char *in, size_t len)
{
	json_error_t	 e1, e2;
	json_t		*a, *b;
	char		*da, *db;

	a = pyjson_loadb(in, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e1);
	b = json_loadb(in, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e2);
	if ((a == NULL) != (b == NULL))
		fail_msg("%.*s: fast %p, jansson %p", (int)len, in, (void *)a,
		    (void *)b);
	if (a == NULL) {
		assert_string_equal(e1.text, e2.text);
		assert_int_equal(e1.position, e2.position);
		return;
	}
	da = json_dumps(a, JSON_ENCODE_ANY);
	db = json_dumps(b, JSON_ENCODE_ANY);
	if (strcmp(da, db) != 0)
		fail_msg("%.*s: fast %s, jansson %s", (int)len, in, da, db);
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
}

/* Requests as clients send them are read without jansson's lexer (it
 * would fill err->source), to the same values. */
static void
test_loadb_fast_path(void **state)
{
	static const char *const plain[] = {
		"{\"command\": \"status\", \"properties\": {}, \"id\": "
		    "\"0000000000002f3a0000000000000001\"}",
		"{\"command\":\"list\",\"properties\":{\"name\":\"w\"},"
		    "\"id\":\"x\"}",
		" {\"id\": 42, \"command\": \"incr\", \"properties\": "
		    "{\"name\": \"w\", \"nb\": -3, \"waiting\": true, "
		    "\"x\": [1, [], {}, null, false]}} \n",
		"[]", "{}", "\"s\"", "-0", "0", "true", "null",
		"123456789012345678", "{\"a\": 1, \"a\": 2}",
	};
	json_error_t	 err;
	json_t		*v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		memset(&err, 0, sizeof err);
		strcpy(err.source, "untouched");
		v = pyjson_loadb(plain[i], strlen(plain[i]),
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		assert_non_null(v);
		assert_string_equal(err.source, "untouched");
		json_decref(v);
		check_load(plain[i], strlen(plain[i]));
	}
}

/* A random document inside the fast subset, with random whitespace. */
static void
gen_doc(char *buf, size_t size, size_t *len, uint64_t *x, int depth)
{
	static const char *const leaf[] = {
		"\"\"", "\"w\"", "\"status\"", "0", "-7", "42", "true", "false",
		"null", "123456789012345678", "-123456789012345678",
	};
	static const char *const ws[] = { "", "", " ", "\n", "\t ", "\r\n" };
	const char	*w;
	int		 n, i, kind;

#define RND()	(*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17, *x)
#define PUT(s)	do {							\
	w = (s);							\
	if (*len + strlen(w) < size) {					\
		memcpy(buf + *len, w, strlen(w));			\
		*len += strlen(w);					\
	}								\
} while (0)
	PUT(ws[RND() % 6]);
	kind = depth > 4 ? 2 : (int)(RND() % 3);
	n = (int)(RND() % 4);
	if (kind == 2)
		PUT(leaf[RND() % (sizeof leaf / sizeof leaf[0])]);
	else {
		PUT(kind == 0 ? "{" : "[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				PUT(",");
			if (kind == 0) {
				PUT(ws[RND() % 6]);
				PUT(RND() % 2 ? "\"name\"" : "\"k\"");
				PUT(ws[RND() % 6]);
				PUT(":");
			}
			gen_doc(buf, size, len, x, depth + 1);
		}
		PUT(ws[RND() % 6]);
		PUT(kind == 0 ? "}" : "]");
	}
	PUT(ws[RND() % 6]);
#undef PUT
#undef RND
}

/* Random token soups (mostly invalid or outside the fast subset), random
 * documents inside it, and the edges of each token: the same answer as
 * jansson every time. */
static void
test_loadb_same_as_jansson(void **state)
{
	static const char *const tok[] = {
		"{", "}", "[", "]", ",", ":", " ", "\n", "\t", "\"a\"",
		"\"\"", "\"k\"", "\"\\n\"", "\"\\u0000\"", "\"\xc3\xa9\"",
		"\"\x7f\"", "\"\x01\"", "\"", "1", "-", "-0", "-1", "0", "01",
		"1.5", "1e3", "2E1", "-01", "9223372036854775807",
		"123456789012345678", "1234567890123456789",
		"9999999999999999999", "-999999999999999999", "true", "false",
		"null", "nul", "truex", "True", "x", "\\", "\x00", "\xef\xbb\xbf",
	};
	static const char *const edge[] = {
		"", " ", "{", "[", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,",
		"{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{1:2}", "[-]",
		"[0x1]", "[1.]", "[.5]", "[+1]", "[tru]", "[true,false,null]",
		"{\"a\":{\"b\":{\"c\":[[[]]]}}}", "\"abc", "[\"a\"]]", "{}{}",
		"[1]x", "null null",
	};
	char		 buf[512], deep[200];
	uint64_t	 x = 0x2545f4914f6cdd1dULL;
	size_t		 len, t, n, i;
	int		 k;

	(void)state;
	for (i = 0; i < sizeof edge / sizeof edge[0]; i++)
		check_load(edge[i], strlen(edge[i]));
	/* deeper than the fast path goes */
	for (k = 0; k < 100; k++) {
		deep[k] = '[';
		deep[199 - k] = ']';
	}
	check_load(deep, sizeof deep);
	check_load(deep, 60);
	for (i = 0; i < 100000; i++) {
		len = 0;
		n = 1 + (size_t)(x % 14);
		for (t = 0; t < n; t++) {
			const char	*w;
			size_t		 wl;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w = tok[x % (sizeof tok / sizeof tok[0])];
			wl = w[0] == '\0' ? 1 : strlen(w);	/* the NUL byte */
			if (len + wl >= sizeof buf)
				break;
			memcpy(buf + len, w, wl);
			len += wl;
		}
		check_load(buf, len);
		len = 0;
		gen_doc(buf, sizeof buf, &len, &x, 0);
		check_load(buf, len);
	}
}

/* Compact dumps keeps insertion order and Python separators. */
static void
test_dumps_objects(void **state)
{
	(void)state;
	check_json("{\"status\": \"ok\", \"time\": 1795437126.7098472, "
	    "\"watchers\": [\"echo\", \"sleeper\"], \"id\": \"a1\"}",
	    "{\"status\": \"ok\", \"time\": 1795437126.7098472, "
	    "\"watchers\": [\"echo\", \"sleeper\"], \"id\": \"a1\"}",
	    "{|  \"id\": \"a1\",|  \"status\": \"ok\",|"
	    "  \"time\": 1795437126.7098472,|  \"watchers\": [|"
	    "    \"echo\",|    \"sleeper\"|  ]|}",
	    "{'status': 'ok', 'time': 1795437126.7098472, "
	    "'watchers': ['echo', 'sleeper'], 'id': 'a1'}",
	    "{'status': 'ok', 'time': 1795437126.7098472, "
	    "'watchers': ['echo', 'sleeper'], 'id': 'a1'}");
	check_json("{\"b\":1,\"a\":{\"d\":2,\"c\":[1,{\"y\":1,\"x\":2}]}}",
	    "{\"b\": 1, \"a\": {\"d\": 2, \"c\": [1, {\"y\": 1, \"x\": 2}]}}",
	    "{|  \"a\": {|    \"c\": [|      1,|      {|        \"x\": 2,|"
	    "        \"y\": 1|      }|    ],|    \"d\": 2|  },|  \"b\": 1|}",
	    "{'b': 1, 'a': {'d': 2, 'c': [1, {'y': 1, 'x': 2}]}}",
	    "{'b': 1, 'a': {'d': 2, 'c': [1, {'y': 1, 'x': 2}]}}");
	check_json("{\"z\":{},\"a\":[{}],\"e\":[]}",
	    "{\"z\": {}, \"a\": [{}], \"e\": []}",
	    "{|  \"a\": [|    {}|  ],|  \"e\": [],|  \"z\": {}|}",
	    "{'z': {}, 'a': [{}], 'e': []}",
	    "{'z': {}, 'a': [{}], 'e': []}");
	check_json("[1, 2.5, null, true, false, 30.0, -7]",
	    "[1, 2.5, null, true, false, 30.0, -7]",
	    "[|  1,|  2.5,|  null,|  true,|  false,|  30.0,|  -7|]",
	    "[1, 2.5, None, True, False, 30.0, -7]",
	    "[1, 2.5, None, True, False, 30.0, -7]");
	check_json("{}", "{}", "{}", "{}", "{}");
	check_json("[]", "[]", "[]", "[]", "[]");
	check_json("null", "null", "null", "None", "None");
	check_json("true", "true", "true", "True", "True");
	check_json("1e16", "1e+16", "1e+16", "1e+16", "1e+16");
}

/* Strings: ensure_ascii escapes, surrogate pairs, repr quoting. */
static void
test_dumps_strings(void **state)
{
	(void)state;
	check_json("\"caf\\u00e9\"", "\"caf\\u00e9\"", "\"caf\\u00e9\"",
	    "'caf\xc3\xa9'", "caf\xc3\xa9");
	check_json("\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"",
	    "\"\\ud83d\\ude00\"", "'\xf0\x9f\x98\x80'", "\xf0\x9f\x98\x80");
	check_json("\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u007f\"",
	    "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u007f\"",
	    "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u007f\"",
	    "'q\"b\\\\n\\nr\\rt\\tb\\x08f\\x0c\\x01\\x7f'",
	    "q\"b\\n\nr\rt\tb\bf\f\x01\x7f");
	check_json("\"it's\"", "\"it's\"", "\"it's\"", "\"it's\"", "it's");
	check_json("\"both ' and \\\"\"", "\"both ' and \\\"\"",
	    "\"both ' and \\\"\"", "'both \\' and \"'", "both ' and \"");
	check_json("\"\\u0080\\u00a0\\u00ad\\u200b\\u2028\\uffff\\udb40\\udc01\"",
	    "\"\\u0080\\u00a0\\u00ad\\u200b\\u2028\\uffff\\udb40\\udc01\"",
	    "\"\\u0080\\u00a0\\u00ad\\u200b\\u2028\\uffff\\udb40\\udc01\"",
	    "'\\x80\\xa0\\xad\\u200b\\u2028\\uffff\\U000e0001'",
	    "\xc2\x80\xc2\xa0\xc2\xad\xe2\x80\x8b\xe2\x80\xa8\xef\xbf\xbf"
	    "\xf3\xa0\x80\x81");
	check_json("{\"\\u00e9\": \"x\"}", "{\"\\u00e9\": \"x\"}",
	    "{|  \"\\u00e9\": \"x\"|}", "{'\xc3\xa9': 'x'}",
	    "{'\xc3\xa9': 'x'}");
}

/* A byte that is not plain, at every place of a run read eight at a
 * time (and its escape), written and read as one at a time would. */
static void
test_plain_runs(void **state)
{
	static const struct {
		const char	*in;	/* the byte, UTF-8 */
		const char	*out;	/* json.dumps's escape */
	} odd[] = {
		{ "\x01", "\\u0001" }, { "\x1f", "\\u001f" },
		{ "\"", "\\\"" }, { "\\", "\\\\" }, { "\x7f", "\\u007f" },
		{ "\xc3\xa9", "\\u00e9" }, { "\n", "\\n" },
	};
	char	 in[64], want[128], text[160];
	char	*got;
	size_t	 i, pos, len;
	json_t	*v;

	(void)state;
	for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		for (len = 1; len <= 26; len++) {
			for (pos = 0; pos < len; pos++) {
				memset(in, 'a' + (int)(pos % 26), pos);
				strcpy(in + pos, odd[i].in);
				memset(in + strlen(in), '~', len - pos - 1);
				in[pos + strlen(odd[i].in) + len - pos - 1] =
				    '\0';
				v = json_string(in);
				assert_non_null(v);
				snprintf(want, sizeof want, "\"%.*s%s%s\"",
				    (int)pos, in, odd[i].out,
				    in + pos + strlen(odd[i].in));
				got = pyjson_dumps(v);
				assert_string_equal(got, want);
				free(got);
				json_decref(v);
				/* and read back: plain, or jansson's */
				snprintf(text, sizeof text, "{\"k\": %s}", want);
				check_load(text, strlen(text));
				snprintf(text, sizeof text, "\"%s\"", in);
				check_load(text, strlen(text));
			}
		}
	}
}

/* Embedded NUL characters survive encoding. */
static void
test_dumps_nul(void **state)
{
	json_t	*v;
	char	*out;

	(void)state;
	v = json_stringn("a\0b", 3);
	out = pyjson_dumps(v);
	assert_string_equal(out, "\"a\\u0000b\"");
	free(out);
	out = pyjson_repr(v);
	assert_string_equal(out, "'a\\x00b'");
	free(out);
	json_decref(v);
	out = pyjson_dumps(NULL);
	assert_string_equal(out, "null");
	free(out);
}

/* repr(str) as doc/design.md §17.2 says. */
static void
test_str_repr(void **state)
{
	char	*out;

	(void)state;
	out = pyjson_str_repr("web");
	assert_string_equal(out, "'web'");
	free(out);
	out = pyjson_str_repr("");
	assert_string_equal(out, "''");
	free(out);
	out = pyjson_str_repr("a'b");
	assert_string_equal(out, "\"a'b\"");
	free(out);
	out = pyjson_str_repr("a'b\"c\\");
	assert_string_equal(out, "'a\\'b\"c\\\\'");
	free(out);
	out = pyjson_str_repr("x\ny\x1b");
	assert_string_equal(out, "'x\\ny\\x1b'");
	free(out);
	out = pyjson_str_repr("\xff" "a");
	assert_string_equal(out, "'\\xffa'");
	free(out);
}

/* repr(bytes) with Python's quote choice and escapes. */
static void
test_bytes_repr(void **state)
{
	char	*out;
	const char body[] = "{\"id\":\"2\",\"command\":\"add\"}";

	(void)state;
	out = pyjson_bytes_repr(body, strlen(body));
	assert_string_equal(out,
	    "b'{\"id\":\"2\",\"command\":\"add\"}'");
	free(out);
	out = pyjson_bytes_repr("it's", 4);
	assert_string_equal(out, "b\"it's\"");
	free(out);
	out = pyjson_bytes_repr("'\"", 2);
	assert_string_equal(out, "b'\\'\"'");
	free(out);
	out = pyjson_bytes_repr("\t\n\r\\\x00\x7f\xe9~ ", 9);
	assert_string_equal(out, "b'\\t\\n\\r\\\\\\x00\\x7f\\xe9~ '");
	free(out);
	out = pyjson_bytes_repr("", 0);
	assert_string_equal(out, "b''");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_repr),
		cmocka_unit_test(test_float_repr_shortest),
		cmocka_unit_test(test_loadb_fast_path),
		cmocka_unit_test(test_loadb_same_as_jansson),
		cmocka_unit_test(test_dumps_objects),
		cmocka_unit_test(test_dumps_strings),
		cmocka_unit_test(test_plain_runs),
		cmocka_unit_test(test_dumps_nul),
		cmocka_unit_test(test_str_repr),
		cmocka_unit_test(test_bytes_repr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
