/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python-compatible JSON encoding (json.dumps defaults and indent=2 with
 * sorted keys) and Python str()/repr() of strings, bytes and JSON values.
 * Pure functions over jansson values: no I/O, no global state.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pyjson.h"
#include "xmalloc.h"

/* jansson's iterators take non-const objects; we only read. */
#define JSON_MUT(v) ((json_t *)(uintptr_t)(v))

/* Exact integers for float_shortest_exact (10^21 * 2^53, 10^17 * 2^69). */
__extension__ typedef unsigned __int128 pyjson_u128;

static void	 pybuf_grow(struct pyjson_buf *, size_t);
static inline void pybuf_add(struct pyjson_buf *, const char *, size_t);
static inline void pybuf_puts(struct pyjson_buf *, const char *);
static inline void pybuf_putc(struct pyjson_buf *, char);
static void	 pybuf_printf(struct pyjson_buf *, const char *, ...)
		     PRINTFLIKE(2, 3);
static void	 pybuf_int(struct pyjson_buf *, json_int_t);
static char	*pybuf_finish(struct pyjson_buf *);
static size_t	 utf8_decode(const unsigned char *, size_t, uint32_t *);
static bool	 json_plain(unsigned char);
static size_t	 json_plain_run(const unsigned char *, size_t);
static void	 json_string_escape(struct pyjson_buf *, const char *, size_t);
static bool	 float_try_e(double, int, char *, size_t);
static pyjson_u128 pow10_u128(int);
static bool	 float_ge_pow10(uint64_t, int, int);
static uint64_t float_round(uint64_t, int, int *, int, bool *);
static bool	 float_shortest_exact(double, uint64_t *, int *, int *);
static void	 float_layout(bool, const char *, int, int, char *, size_t);
static void	 float_shortest_e(double, char *, size_t);
static void	 json_float(struct pyjson_buf *, double);
static int	 dumps_scalar(struct pyjson_buf *, const json_t *);
static void	 pretty_newline(struct pyjson_buf *, int);
static void	 dumps_value(struct pyjson_buf *, const json_t *);
static void	 dumps_pretty(struct pyjson_buf *, const json_t *, int);
static int	 key_compare(const void *, const void *);
static bool	 unicode_printable(uint32_t);
static void	 str_repr_buf(struct pyjson_buf *, const char *, size_t);
static void	 repr_value(struct pyjson_buf *, const json_t *);

/* Make room for len more bytes and a NUL. */
static void
pybuf_grow(struct pyjson_buf *b, size_t len)
{
	size_t	size = b->size ? b->size : 256;

	while (b->len + len + 1 > size)
		size *= 2;
	b->data = xrealloc(b->data, size);
	b->size = size;
}

/* Append len bytes to a buffer, growing it as needed. */
static inline void
pybuf_add(struct pyjson_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->size)
		pybuf_grow(b, len);
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Append a NUL-terminated string to a buffer. */
static inline void
pybuf_puts(struct pyjson_buf *b, const char *s)
{
	pybuf_add(b, s, strlen(s));
}

/* Append one character to a buffer. */
static inline void
pybuf_putc(struct pyjson_buf *b, char c)
{
	pybuf_add(b, &c, 1);
}

/* Append a formatted string (short outputs only) to a buffer. */
static void
pybuf_printf(struct pyjson_buf *b, const char *fmt, ...)
{
	char	tmp[64];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		pybuf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n :
		    sizeof tmp - 1);
}

/* Append a decimal integer (what printf's %lld writes, without printf). */
static void
pybuf_int(struct pyjson_buf *b, json_int_t v)
{
	char		 tmp[24], *p = tmp + sizeof tmp;
	unsigned long long u;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	pybuf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Return the buffer's string, never NULL; the caller frees it. */
static char *
pybuf_finish(struct pyjson_buf *b)
{
	if (b->data == NULL)
		return xstrdup("");
	return b->data;
}

/*
 * Decode one UTF-8 sequence at s (len > 0 bytes available). Returns the
 * number of bytes used; an invalid sequence uses one byte and yields
 * U+FFFD.
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t	c = s[0], min;
	size_t		n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		goto bad;
	if (n > len)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return n;
bad:
	*cp = 0xfffd;
	return 1;
}

/* Printable ASCII that json.dumps writes as itself. */
static inline bool
json_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

/*
 * How many bytes at p (n of them) are plain (json_plain), eight at a
 * time: a word has none of the others when no byte is below 0x20, has
 * its top bit, or equals 0x7f, '"' or '\\' (a zero byte of x ^ c: the
 * classic (v - 0x01..) & ~v & 0x80.. test, exact for "any", and its
 * lowest flag is a real one).
 */
static size_t
json_plain_run(const unsigned char *p, size_t n)
{
	const uint64_t	ones = 0x0101010101010101ULL;
	const uint64_t	high = 0x8080808080808080ULL;
	uint64_t	x, q, bs, del, bad;
	size_t		i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, p + i, sizeof x);
		q = x ^ (ones * '"');
		bs = x ^ (ones * '\\');
		del = x ^ (ones * 0x7f);
		bad = ((x - ones * 0x20) & ~x) | x |
		    ((q - ones) & ~q) | ((bs - ones) & ~bs) |
		    ((del - ones) & ~del);
		if ((bad &= high) != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* a borrow only flags bytes above a real one */
			return i + (size_t)__builtin_ctzll(bad) / 8;
#else
			break;
#endif
		}
	}
	while (i < n && json_plain(p[i]))
		i++;
	return i;
}

/* Write a JSON string literal like json.dumps with ensure_ascii. */
static void
json_string_escape(struct pyjson_buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;
	uint32_t		 cp, hi, lo;

	if ((n = json_plain_run(p, len)) == len) {
		/* the usual case: "text" in one go */
		if (b->len + len + 3 > b->size)
			pybuf_grow(b, len + 2);
		b->data[b->len] = '"';
		memcpy(b->data + b->len + 1, s, len);
		b->len += len + 2;
		b->data[b->len - 1] = '"';
		b->data[b->len] = '\0';
		return;
	}
	pybuf_putc(b, '"');
	while (i < len) {
		/* runs of plain characters in one copy */
		n = i + json_plain_run(p + i, len - i);
		if (n > i) {
			pybuf_add(b, s + i, n - i);
			i = n;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		i += n;
		switch (cp) {
		case '"':
			pybuf_puts(b, "\\\"");
			continue;
		case '\\':
			pybuf_puts(b, "\\\\");
			continue;
		case '\n':
			pybuf_puts(b, "\\n");
			continue;
		case '\r':
			pybuf_puts(b, "\\r");
			continue;
		case '\t':
			pybuf_puts(b, "\\t");
			continue;
		case '\b':
			pybuf_puts(b, "\\b");
			continue;
		case '\f':
			pybuf_puts(b, "\\f");
			continue;
		}
		if (cp < 0x10000)
			pybuf_printf(b, "\\u%04x", (unsigned)cp);
		else {
			cp -= 0x10000;
			hi = 0xd800 | (cp >> 10);
			lo = 0xdc00 | (cp & 0x3ff);
			pybuf_printf(b, "\\u%04x\\u%04x", (unsigned)hi,
			    (unsigned)lo);
		}
	}
	pybuf_putc(b, '"');
}

/* Print d with %.*e at the given precision; true if it reads back as d. */
static bool
float_try_e(double d, int prec, char *tmp, size_t len)
{
	snprintf(tmp, len, "%.*e", prec, d);
	return strtod(tmp, NULL) == d;
}

/* 10^n, n <= 38, from a table (a loop of multiplications cost more than
 * the rest of a reply's "time"). */
static pyjson_u128
pow10_u128(int n)
{
	static const uint64_t	p[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
		100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};

	return n < 20 ? p[n] : (pyjson_u128)p[19] * p[n - 19];
}

/* m * 2^-k >= 10^e, exactly (m < 2^53, k <= 69, -5 <= e <= 15). */
static bool
float_ge_pow10(uint64_t m, int k, int e)
{
	if (e >= 0)
		return (pyjson_u128)m >= pow10_u128(e) << k;
	return (pyjson_u128)m * pow10_u128(-e) >= (pyjson_u128)1 << k;
}

/*
 * The p significant digits of a = m * 2^-k correctly rounded (to nearest,
 * ties to even, as printf rounds), a's decimal exponent being *e (bumped
 * when the rounding carries into a new digit). Returns the digits as an
 * integer; *rt tells whether they read back as a (strtod rounds to
 * nearest, ties to even): the distance to a is under half the gap to the
 * neighbouring double on that side.
 */
static uint64_t
float_round(uint64_t m, int k, int *e, int p, bool *rt)
{
	int		s = p - 1 - *e;
	pyjson_u128	ten_s = pow10_u128(s), n = m * ten_s, q, r, half, d;
	bool		below;

	q = n >> k;
	r = n - (q << k);
	half = (pyjson_u128)1 << (k - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	/* distance, in units where a's gap to the next double is 10^s */
	below = q << k < n;
	d = below ? n - (q << k) : (q << k) - n;
	if (below && m == (uint64_t)1 << 52)	/* the gap below is half */
		*rt = 4 * d <= ten_s;
	else
		*rt = 2 * d < ten_s || (2 * d == ten_s && (m & 1) == 0);
	if (q == pow10_u128(p)) {
		q /= 10;
		(*e)++;
	}
	return (uint64_t)q;
}

/*
 * The shortest digits of d that read back as d, without printf, for
 * 1e-5 <= |d| < 1e15 (times, sizes, durations), by exact integer
 * arithmetic: d = m * 2^-k with 1 <= k <= 69. The digits are *q, *p of
 * them (trailing zeros dropped), the first one's decimal exponent *e.
 * Returns false outside that range.
 */
static bool
float_shortest_exact(double d, uint64_t *digits, int *ndigits, int *exp10)
{
	double		a = fabs(d);
	uint64_t	bits, m, q;
	int		k, e, p, i;
	bool		rt;

	if (!(a >= 1e-5 && a < 1e15))
		return false;
	memcpy(&bits, &a, sizeof bits);
	m = (bits & (((uint64_t)1 << 52) - 1)) | (uint64_t)1 << 52;
	k = 1075 - (int)(bits >> 52);
	/* floor((52 - k) * log10(2)), give or take one: 2^52 <= m < 2^53 */
	e = (52 - k) * 78913 / 262144 - 1;
	while (!float_ge_pow10(m, k, e))
		e--;
	while (float_ge_pow10(m, k, e + 1))
		e++;
	/* 15 digits, then 16, then 17, as float_shortest_e explains */
	for (p = DBL_DIG; p < DBL_DECIMAL_DIG; p++) {
		i = e;
		q = float_round(m, k, &i, p, &rt);
		if (rt)
			break;
	}
	if (!rt) {
		i = e;
		q = float_round(m, k, &i, p, &rt);
	}
	while (p > 1 && q % 10 == 0) {
		q /= 10;
		p--;
	}
	*digits = q;
	*ndigits = p;
	*exp10 = i;
	return true;
}

/*
 * The shortest %.*e of d that reads back as d, the fewest digits first
 * (more digits are closer to d but need not read back: below a power of
 * two the gap to the next double is half the gap above). 17 significant
 * digits (DBL_DECIMAL_DIG) always read back. For a normal double a
 * shortest form of at most 15 digits (DBL_DIG) is also what 15 digits
 * print, zeros appended, since such a decimal survives decimal -> double
 * -> 15 digits; and when 15 do not read back, no fewer do. So 15, 16 and
 * 17 digits are tried, instead of every count from 1 (a reply's "time"
 * needs 16 or 17); float_shortest_exact does it without printf where it
 * can. Subnormals, with fewer bits, keep the plain search.
 */
static void
float_shortest_e(double d, char *tmp, size_t len)
{
	int	prec;

	prec = fpclassify(d) == FP_NORMAL ? DBL_DIG - 1 : 0;
	for (; prec < DBL_DECIMAL_DIG - 1; prec++) {
		if (float_try_e(d, prec, tmp, len))
			return;
	}
	snprintf(tmp, len, "%.*e", DBL_DECIMAL_DIG - 1, d);
}

/*
 * Python's layout of the significant digits (ndigits of them, no trailing
 * zero unless the only one) whose first has the decimal exponent exp10:
 * positional for -4 <= exp10 < 16 ("0.0001", "30.0"), else
 * "d[.ddd]e[+-]xx". Into buf, cut to len - 1 bytes as snprintf would.
 */
static void
float_layout(bool neg, const char *digits, int ndigits, int exp10,
    char *buf, size_t len)
{
	char	out[48];
	size_t	pos = 0;
	int	i, x;

	if (neg)
		out[pos++] = '-';
	if (exp10 < -4 || exp10 >= 16) {
		out[pos++] = digits[0];
		if (ndigits > 1) {
			out[pos++] = '.';
			for (i = 1; i < ndigits; i++)
				out[pos++] = digits[i];
		}
		out[pos++] = 'e';
		out[pos++] = exp10 < 0 ? '-' : '+';
		x = exp10 < 0 ? -exp10 : exp10;
		if (x >= 100)
			out[pos++] = (char)('0' + x / 100);
		out[pos++] = (char)('0' + x / 10 % 10);
		out[pos++] = (char)('0' + x % 10);
	} else if (exp10 < 0) {
		out[pos++] = '0';
		out[pos++] = '.';
		for (i = 0; i < -exp10 - 1; i++)
			out[pos++] = '0';
		for (i = 0; i < ndigits; i++)
			out[pos++] = digits[i];
	} else {
		for (i = 0; i <= exp10; i++)
			out[pos++] = i < ndigits ? digits[i] : '0';
		out[pos++] = '.';
		if (ndigits > exp10 + 1) {
			for (i = exp10 + 1; i < ndigits; i++)
				out[pos++] = digits[i];
		} else
			out[pos++] = '0';
	}
	if (pos > len - 1)
		pos = len - 1;
	memcpy(buf, out, pos);
	buf[pos] = '\0';
}

/* Python repr(float): shortest digits that round-trip, Python layout. */
void
pyjson_float_repr(double d, char *buf, size_t len)
{
	char		 tmp[40], digits[20], *e;
	uint64_t	 q;
	int		 exp10, ndigits, i;

	if (len == 0)
		return;
	if (isnan(d)) {
		snprintf(buf, len, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, "%s", d < 0 ? "-inf" : "inf");
		return;
	}
	if (d == 0) {
		snprintf(buf, len, "%s", signbit(d) ? "-0.0" : "0.0");
		return;
	}
	if (float_shortest_exact(d, &q, &ndigits, &exp10)) {
		for (i = ndigits - 1; i >= 0; i--) {
			digits[i] = (char)('0' + q % 10);
			q /= 10;
		}
		float_layout(d < 0, digits, ndigits, exp10, buf, len);
		return;
	}
	float_shortest_e(d, tmp, sizeof tmp);
	/* tmp is "[-]d[.ddd]e[+-]xx" */
	ndigits = 0;
	for (e = tmp + (tmp[0] == '-'); *e != 'e'; e++) {
		if (*e >= '0' && *e <= '9' && ndigits < (int)sizeof digits - 1)
			digits[ndigits++] = *e;
	}
	exp10 = atoi(e + 1);
	while (ndigits > 1 && digits[ndigits - 1] == '0')
		ndigits--;
	float_layout(tmp[0] == '-', digits, ndigits, exp10, buf, len);
}

/* Write a float as Python's json module does. */
static void
json_float(struct pyjson_buf *b, double d)
{
	char	tmp[40];

	if (isnan(d))
		pybuf_puts(b, "NaN");
	else if (isinf(d))
		pybuf_puts(b, d < 0 ? "-Infinity" : "Infinity");
	else {
		pyjson_float_repr(d, tmp, sizeof tmp);
		pybuf_puts(b, tmp);
	}
}

/* Write the scalar value v as JSON; returns 0, or -1 if v is a container. */
static int
dumps_scalar(struct pyjson_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		json_string_escape(b, json_string_value(v),
		    json_string_length(v));
		return 0;
	case JSON_INTEGER:
		pybuf_int(b, json_integer_value(v));
		return 0;
	case JSON_REAL:
		json_float(b, json_real_value(v));
		return 0;
	case JSON_TRUE:
		pybuf_puts(b, "true");
		return 0;
	case JSON_FALSE:
		pybuf_puts(b, "false");
		return 0;
	case JSON_NULL:
		pybuf_puts(b, "null");
		return 0;
	default:
		return -1;
	}
}

/* Write v compactly with Python's ", " and ": " separators. */
static void
dumps_value(struct pyjson_buf *b, const json_t *v)
{
	const char	*key;
	json_t		*item;
	size_t		 i, n;
	bool		 first = true;

	if (v == NULL) {
		pybuf_puts(b, "null");
		return;
	}
	if (dumps_scalar(b, v) == 0)
		return;
	if (json_is_array(v)) {
		pybuf_putc(b, '[');
		n = json_array_size(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				pybuf_puts(b, ", ");
			dumps_value(b, json_array_get(v, i));
		}
		pybuf_putc(b, ']');
		return;
	}
	pybuf_putc(b, '{');
	json_object_foreach(JSON_MUT(v), key, item) {
		if (!first)
			pybuf_puts(b, ", ");
		first = false;
		json_string_escape(b, key, strlen(key));
		pybuf_puts(b, ": ");
		dumps_value(b, item);
	}
	pybuf_putc(b, '}');
}

/* json.dumps(v). */
char *
pyjson_dumps(const json_t *v)
{
	struct pyjson_buf	b = { 0 };

	dumps_value(&b, v);
	return pybuf_finish(&b);
}

/* Append bytes as they are. */
void
pyjson_buf_raw(struct pyjson_buf *b, const char *s, size_t len)
{
	pybuf_add(b, s, len);
}

/* Append ", " unless the buffer is empty or ends an opening brace, then
 * the key as a JSON string and ": ". */
void
pyjson_buf_key(struct pyjson_buf *b, const char *key)
{
	if (b->len > 0 && b->data[b->len - 1] != '{')
		pybuf_add(b, ", ", 2);
	json_string_escape(b, key, strlen(key));
	pybuf_add(b, ": ", 2);
}

/* Append json.dumps(v). */
void
pyjson_buf_dumps(struct pyjson_buf *b, const json_t *v)
{
	dumps_value(b, v);
}

/* Append json.dumps(d) of a float. */
void
pyjson_buf_float(struct pyjson_buf *b, double d)
{
	json_float(b, d);
}

/* The text written (never NULL; the caller frees it), its length in *len
 * when len is not NULL. */
char *
pyjson_buf_finish(struct pyjson_buf *b, size_t *len)
{
	if (len != NULL)
		*len = b->len;
	return pybuf_finish(b);
}

/*
 * Decoding. jansson's lexer costs about 120 instructions a byte, most of a
 * control request's cost; requests are small and plain, so a strict subset
 * of JSON is read here directly into the same jansson values: objects,
 * arrays, strings of printable ASCII without escapes, integers of at most
 * 18 digits, true, false, null, nested at most LOAD_DEPTH deep. Anything
 * else (escapes, UTF-8, fractions, exponents, errors) returns NULL and the
 * caller hands the whole text to jansson, which decides and reports.
 */
#define LOAD_DEPTH	32

struct loader {
	const char	*p;
	const char	*end;
};

static json_t	*load_value(struct loader *, int);

/* Skip JSON whitespace. */
static void
load_ws(struct loader *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\n' ||
	    *l->p == '\r' || *l->p == '\t'))
		l->p++;
}

/* A plain string after its opening quote: its bytes in *s, *len. */
static bool
load_string(struct loader *l, const char **s, size_t *len)
{
	const char	*start = l->p;

	l->p += json_plain_run((const unsigned char *)l->p,
	    (size_t)(l->end - l->p));
	if (l->p >= l->end || *l->p != '"')
		return false;	/* an escape, a control byte, UTF-8 or the end */
	*s = start;
	*len = (size_t)(l->p - start);
	l->p++;
	return true;
}

/* An integer of at most 18 digits, no fraction or exponent. */
static json_t *
load_integer(struct loader *l)
{
	const char	*start;
	json_int_t	 v = 0;
	bool		 neg = false;

	if (*l->p == '-') {
		neg = true;
		l->p++;
	}
	start = l->p;
	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		if (l->p - start == 18)
			return NULL;	/* a 19th digit might not fit */
		v = v * 10 + (*l->p++ - '0');
	}
	if (l->p == start || (*start == '0' && l->p - start > 1))
		return NULL;
	/* a fraction or exponent next is no delimiter: the caller refuses */
	return json_integer(neg ? -v : v);
}

/* true, false or null. */
static json_t *
load_literal(struct loader *l)
{
	static const struct {
		const char	*word;
		size_t		 len;
	} words[] = { { "true", 4 }, { "false", 5 }, { "null", 4 } };
	size_t	i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		if ((size_t)(l->end - l->p) < words[i].len ||
		    memcmp(l->p, words[i].word, words[i].len) != 0)
			continue;
		l->p += words[i].len;	/* "truex": the caller refuses the x */
		return i == 0 ? json_true() : i == 1 ? json_false() :
		    json_null();
	}
	return NULL;
}

/* After an item: 1 past the closing character, 0 past a comma, -1 at
 * anything else. */
static int
load_next(struct loader *l, char close)
{
	load_ws(l);
	if (l->p < l->end && (*l->p == close || *l->p == ','))
		return *l->p++ == close;
	return -1;
}

/* The members of an object after its '{'. */
static json_t *
load_object(struct loader *l, int depth)
{
	json_t		*o = json_object(), *v;
	const char	*key;
	size_t		 klen;
	int		 rc = 0;

	load_ws(l);
	if (l->p < l->end && *l->p == '}') {
		l->p++;
		return o;
	}
	while (rc == 0) {
		load_ws(l);
		if (l->p >= l->end || *l->p++ != '"' ||
		    !load_string(l, &key, &klen))
			break;
		load_ws(l);
		if (l->p >= l->end || *l->p++ != ':' ||
		    (v = load_value(l, depth)) == NULL)
			break;
		json_object_setn_new_nocheck(o, key, klen, v);
		if ((rc = load_next(l, '}')) == 1)
			return o;
	}
	json_decref(o);
	return NULL;
}

/* The items of an array after its '['. */
static json_t *
load_array(struct loader *l, int depth)
{
	json_t	*a = json_array(), *v;
	int	 rc = 0;

	load_ws(l);
	if (l->p < l->end && *l->p == ']') {
		l->p++;
		return a;
	}
	while (rc == 0 && (v = load_value(l, depth)) != NULL) {
		json_array_append_new(a, v);
		if ((rc = load_next(l, ']')) == 1)
			return a;
	}
	json_decref(a);
	return NULL;
}

/* One value, whitespace before it skipped. */
static json_t *
load_value(struct loader *l, int depth)
{
	const char	*s;
	size_t		 len;

	load_ws(l);
	if (l->p >= l->end || depth >= LOAD_DEPTH)
		return NULL;
	switch (*l->p) {
	case '{':
		l->p++;
		return load_object(l, depth + 1);
	case '[':
		l->p++;
		return load_array(l, depth + 1);
	case '"':
		l->p++;
		return load_string(l, &s, &len) ?
		    json_stringn_nocheck(s, len) : NULL;
	case 't':
	case 'f':
	case 'n':
		return load_literal(l);
	default:
		if (*l->p == '-' || (*l->p >= '0' && *l->p <= '9'))
			return load_integer(l);
		return NULL;
	}
}

/* json_loadb(buf, len, flags, err), plain documents read directly. */
json_t *
pyjson_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	struct loader	 l = { buf, buf + len };
	json_t		*v = NULL;

	if ((flags & ~(size_t)(JSON_DECODE_ANY | JSON_ALLOW_NUL)) == 0 &&
	    len > 0 && ((flags & JSON_DECODE_ANY) || *buf == '{' ||
	    *buf == '[') && (v = load_value(&l, 0)) != NULL) {
		load_ws(&l);
		if (l.p == l.end)
			return v;
		json_decref(v);
	}
	return json_loadb(buf, len, flags, err);
}

/*
 * The members named m[i].key of an object text, read as pyjson_loadb
 * would read it but without making the object: a plain string's bytes in
 * m[i].str (not NUL-terminated) and m[i].len, any other value in
 * m[i].value (the caller's to release), both NULL when the key is absent;
 * a repeated key counts last, as in the object. Returns 0, or -1 (nothing
 * held) when the text is not an object of the plain subset: the caller
 * hands it to pyjson_loadb then.
 */
int
pyjson_load_members(const char *buf, size_t len, struct pyjson_member *m,
    size_t n)
{
	struct loader	 l = { buf, buf + len };
	const char	*key, *s = NULL;
	size_t		 klen, slen = 0, i;
	json_t		*v;
	int		 rc = 0;

	for (i = 0; i < n; i++) {
		m[i].value = NULL;
		m[i].str = NULL;
		m[i].len = 0;
	}
	load_ws(&l);
	if (l.p >= l.end || *l.p++ != '{')
		return -1;
	load_ws(&l);
	if (l.p < l.end && *l.p == '}') {
		l.p++;
		rc = 1;
	}
	while (rc == 0) {
		load_ws(&l);
		if (l.p >= l.end || *l.p++ != '"' ||
		    !load_string(&l, &key, &klen))
			goto fail;
		load_ws(&l);
		if (l.p >= l.end || *l.p++ != ':')
			goto fail;
		load_ws(&l);
		v = NULL;
		if (l.p < l.end && *l.p == '"') {
			l.p++;
			if (!load_string(&l, &s, &slen))
				goto fail;
		} else if ((v = load_value(&l, 1)) == NULL)
			goto fail;
		for (i = 0; i < n; i++) {
			if (m[i].key[0] == key[0] &&
			    strncmp(m[i].key, key, klen) == 0 &&
			    m[i].key[klen] == '\0')
				break;
		}
		if (i < n) {
			json_decref(m[i].value);
			m[i].value = v;
			m[i].str = v == NULL ? s : NULL;
			m[i].len = v == NULL ? slen : 0;
		} else
			json_decref(v);
		if ((rc = load_next(&l, '}')) == -1)
			goto fail;
	}
	load_ws(&l);
	if (l.p == l.end)
		return 0;
fail:
	for (i = 0; i < n; i++) {
		json_decref(m[i].value);
		m[i].value = NULL;
		m[i].str = NULL;
	}
	return -1;
}

/* qsort comparator for object keys (code point order = UTF-8 byte order). */
static int
key_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Write a newline and depth levels of two-space indentation. */
static void
pretty_newline(struct pyjson_buf *b, int depth)
{
	int	i;

	pybuf_putc(b, '\n');
	for (i = 0; i < depth; i++)
		pybuf_puts(b, "  ");
}

/* Write v like json.dumps(v, indent=2, sort_keys=True). */
static void
dumps_pretty(struct pyjson_buf *b, const json_t *v, int depth)
{
	const char	**keys;
	const char	 *key;
	json_t		 *item;
	size_t		  i, n;

	if (v == NULL) {
		pybuf_puts(b, "null");
		return;
	}
	if (dumps_scalar(b, v) == 0)
		return;
	if (json_is_array(v)) {
		n = json_array_size(v);
		if (n == 0) {
			pybuf_puts(b, "[]");
			return;
		}
		pybuf_putc(b, '[');
		for (i = 0; i < n; i++) {
			if (i > 0)
				pybuf_putc(b, ',');
			pretty_newline(b, depth + 1);
			dumps_pretty(b, json_array_get(v, i), depth + 1);
		}
		pretty_newline(b, depth);
		pybuf_putc(b, ']');
		return;
	}
	n = json_object_size(v);
	if (n == 0) {
		pybuf_puts(b, "{}");
		return;
	}
	keys = xreallocarray(NULL, n, sizeof *keys);
	i = 0;
	json_object_foreach(JSON_MUT(v), key, item) {
		if (i < n)
			keys[i++] = key;
	}
	n = i;
	qsort(keys, n, sizeof *keys, key_compare);
	pybuf_putc(b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			pybuf_putc(b, ',');
		pretty_newline(b, depth + 1);
		json_string_escape(b, keys[i], strlen(keys[i]));
		pybuf_puts(b, ": ");
		dumps_pretty(b, json_object_get(v, keys[i]), depth + 1);
	}
	free(keys);
	pretty_newline(b, depth);
	pybuf_putc(b, '}');
}

/* json.dumps(v, indent=2, sort_keys=True). */
char *
pyjson_dumps_pretty(const json_t *v)
{
	struct pyjson_buf	b = { 0 };

	dumps_pretty(&b, v, 0);
	return pybuf_finish(&b);
}

/*
 * Approximation of Python's str.isprintable() for non-ASCII code points:
 * C1 controls, separators other than space, format characters, surrogates,
 * private use and noncharacters are not printable.
 */
static bool
unicode_printable(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f)
		return false;
	if (cp < 0x7f)
		return true;
	if (cp < 0xa0 || cp == 0xa0 || cp == 0xad)
		return false;
	if (cp == 0x1680 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) ||
	    cp == 0x3000 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
		return false;
	if (cp >= 0xd800 && cp <= 0xf8ff)
		return false;
	if ((cp & 0xfffe) == 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef))
		return false;
	if (cp >= 0xe0000)
		return false;
	return true;
}

/* Write Python repr() of a UTF-8 string of len bytes. */
static void
str_repr_buf(struct pyjson_buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 quote = '\'';
	size_t			 i, n;
	uint32_t		 cp;

	if (memchr(s, '\'', len) != NULL && memchr(s, '"', len) == NULL)
		quote = '"';
	pybuf_putc(b, quote);
	for (i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &cp);
		if (cp == (uint32_t)quote || cp == '\\') {
			pybuf_putc(b, '\\');
			pybuf_putc(b, (char)cp);
		} else if (cp == '\n')
			pybuf_puts(b, "\\n");
		else if (cp == '\r')
			pybuf_puts(b, "\\r");
		else if (cp == '\t')
			pybuf_puts(b, "\\t");
		else if (n == 1 && p[i] >= 0x80)
			pybuf_printf(b, "\\x%02x", p[i]);
		else if (unicode_printable(cp))
			pybuf_add(b, s + i, n);
		else if (cp < 0x100)
			pybuf_printf(b, "\\x%02x", (unsigned)cp);
		else if (cp < 0x10000)
			pybuf_printf(b, "\\u%04x", (unsigned)cp);
		else
			pybuf_printf(b, "\\U%08x", (unsigned)cp);
	}
	pybuf_putc(b, quote);
}

/* Python repr(str). */
char *
pyjson_str_repr(const char *s)
{
	struct pyjson_buf	b = { 0 };

	str_repr_buf(&b, s, strlen(s));
	return pybuf_finish(&b);
}

/* Python repr(bytes): b'...' with \xNN for non-printable bytes. */
char *
pyjson_bytes_repr(const char *s, size_t len)
{
	struct pyjson_buf	 b = { 0 };
	const unsigned char *p = (const unsigned char *)s;
	char		 quote = '\'';
	size_t		 i;

	if (len > 0 && memchr(s, '\'', len) != NULL &&
	    memchr(s, '"', len) == NULL)
		quote = '"';
	pybuf_putc(&b, 'b');
	pybuf_putc(&b, quote);
	for (i = 0; i < len; i++) {
		if (p[i] == (unsigned char)quote || p[i] == '\\') {
			pybuf_putc(&b, '\\');
			pybuf_putc(&b, (char)p[i]);
		} else if (p[i] == '\n')
			pybuf_puts(&b, "\\n");
		else if (p[i] == '\r')
			pybuf_puts(&b, "\\r");
		else if (p[i] == '\t')
			pybuf_puts(&b, "\\t");
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			pybuf_printf(&b, "\\x%02x", p[i]);
		else
			pybuf_putc(&b, (char)p[i]);
	}
	pybuf_putc(&b, quote);
	return pybuf_finish(&b);
}

/* Write Python repr() of a JSON value. */
static void
repr_value(struct pyjson_buf *b, const json_t *v)
{
	const char	*key;
	json_t		*item;
	char		 tmp[40];
	size_t		 i, n;
	bool		 first = true;

	if (v == NULL) {
		pybuf_puts(b, "None");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		str_repr_buf(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		pybuf_int(b, json_integer_value(v));
		break;
	case JSON_REAL:
		pyjson_float_repr(json_real_value(v), tmp, sizeof tmp);
		pybuf_puts(b, tmp);
		break;
	case JSON_TRUE:
		pybuf_puts(b, "True");
		break;
	case JSON_FALSE:
		pybuf_puts(b, "False");
		break;
	case JSON_NULL:
		pybuf_puts(b, "None");
		break;
	case JSON_ARRAY:
		pybuf_putc(b, '[');
		n = json_array_size(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				pybuf_puts(b, ", ");
			repr_value(b, json_array_get(v, i));
		}
		pybuf_putc(b, ']');
		break;
	case JSON_OBJECT:
		pybuf_putc(b, '{');
		json_object_foreach(JSON_MUT(v), key, item) {
			if (!first)
				pybuf_puts(b, ", ");
			first = false;
			str_repr_buf(b, key, strlen(key));
			pybuf_puts(b, ": ");
			repr_value(b, item);
		}
		pybuf_putc(b, '}');
		break;
	}
}

/* Python str() of a JSON value: strings unquoted, the rest as repr(). */
char *
pyjson_str(const json_t *v)
{
	struct pyjson_buf	b = { 0 };

	if (v != NULL && json_is_string(v))
		pybuf_add(&b, json_string_value(v), json_string_length(v));
	else
		repr_value(&b, v);
	return pybuf_finish(&b);
}

/* Python repr() of a JSON value. */
char *
pyjson_repr(const json_t *v)
{
	struct pyjson_buf	b = { 0 };

	repr_value(&b, v);
	return pybuf_finish(&b);
}

/* Python type name of a JSON value. */
const char *
pyjson_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "dict";
	case JSON_ARRAY:
		return "list";
	case JSON_STRING:
		return "str";
	case JSON_INTEGER:
		return "int";
	case JSON_REAL:
		return "float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "NoneType";
}
