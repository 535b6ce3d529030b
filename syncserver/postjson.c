/* SPDX-License-Identifier: Apache-2.0 */
/*
 * postjson.c — a fast reader for the POST bodies clients actually send: a
 * JSON array of flat objects whose values are strings, integers, true,
 * false or null (doc/sync-storage.md §4). It builds the very json_t tree
 * json_loadb would, about eight times faster: jansson reads a byte at a
 * time through a callback and a string buffer, and for a body of 100
 * records of 200 bytes that cost more than the SQLite transaction storing
 * them (BENCHMARKS-sync.md, issue 9).
 *
 * It declines (NULL) anything outside that shape or anything it would have
 * to judge — nested values, reals, non-ASCII bytes, \u0000, surrogates,
 * integers of 19 digits or more, any syntax error — and the caller then
 * asks jansson, which decides as before. So it never accepts what jansson
 * refuses and never builds a different tree; tests/fuzz/fuzz-sync-bso.c
 * checks both against jansson.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server.h"
#include "xmalloc.h"

struct pj {
	const char	*p, *end;
	char		*scratch;       /* decoded strings; never longer */
};

static void
pj_ws(struct pj *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
	    *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int
pj_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* One escape after the backslash at r->p; appends to *o. */
static int
pj_escape(struct pj *r, char **o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned u;

	if (++r->p >= r->end)
		return -1;
	if (*r->p != 'u') {
		if (*r->p == '\0' || (e = strchr(from, *r->p)) == NULL)
			return -1;
		*(*o)++ = to[e - from];
		r->p++;
		return 0;
	}
	/* \uXXXX: NUL and surrogates are jansson's to judge */
	if (r->end - r->p < 5 || pj_hex4(r->p + 1, &u) == -1 || u == 0 ||
	    (u >= 0xd800 && u <= 0xdfff))
		return -1;
	r->p += 5;
	if (u < 0x80)
		*(*o)++ = (char)u;
	else if (u < 0x800) {
		*(*o)++ = (char)(0xc0 | (u >> 6));
		*(*o)++ = (char)(0x80 | (u & 0x3f));
	} else {
		*(*o)++ = (char)(0xe0 | (u >> 12));
		*(*o)++ = (char)(0x80 | ((u >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (u & 0x3f));
	}
	return 0;
}

/*
 * A string at r->p (its opening quote), decoded into r->scratch; the
 * length in *len. Plain ASCII only: a raw byte >= 0x80 is declined (its
 * UTF-8 is jansson's to check), a control byte is an error either way.
 */
static const char *
pj_string(struct pj *r, size_t *len)
{
	char *o = r->scratch;

	if (r->p >= r->end || *r->p++ != '"')
		return NULL;
	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p;

		if (c == '"') {
			r->p++;
			*len = (size_t)(o - r->scratch);
			*o = '\0';
			return r->scratch;
		}
		if (c < 0x20 || c >= 0x80)
			return NULL;
		if (c == '\\') {
			if (pj_escape(r, &o) == -1)
				return NULL;
		} else {
			*o++ = (char)c;
			r->p++;
		}
	}
	return NULL;
}

/* -?(0|[1-9][0-9]{0,17}) not followed by a fraction or an exponent. */
static json_t *
pj_integer(struct pj *r)
{
	long long v = 0;
	bool neg = false;
	int digits = 0;

	if (*r->p == '-') {
		neg = true;
		r->p++;
	}
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return NULL;
	if (*r->p == '0') {
		r->p++;
		digits = 1;
	} else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
			if (++digits > 18)
				return NULL;
			v = v * 10 + (*r->p++ - '0');
		}
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E' ||
	    (*r->p >= '0' && *r->p <= '9')))
		return NULL;
	return json_integer(neg ? -v : v);
}

static json_t *
pj_word(struct pj *r, const char *w, json_t *v)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0) {
		json_decref(v);
		return NULL;
	}
	r->p += n;
	return v;
}

/* A scalar member value; NULL: not one this reader takes. */
static json_t *
pj_scalar(struct pj *r)
{
	const char *s;
	size_t n;

	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '"':
		if ((s = pj_string(r, &n)) == NULL)
			return NULL;
		return json_stringn_nocheck(s, n);
	case 't':
		return pj_word(r, "true", json_true());
	case 'f':
		return pj_word(r, "false", json_false());
	case 'n':
		return pj_word(r, "null", json_null());
	default:
		return pj_integer(r);
	}
}

/* One flat object at r->p; duplicate keys: the last one wins, as in
 * jansson. */
static json_t *
pj_object(struct pj *r)
{
	json_t *obj, *v;
	char key[BSO_ID_MAX * 2 + 64];
	const char *k;
	size_t n;

	if (r->p >= r->end || *r->p++ != '{')
		return NULL;
	obj = json_object();
	pj_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return obj;
	}
	for (;;) {
		if ((k = pj_string(r, &n)) == NULL || n >= sizeof(key))
			break;
		memcpy(key, k, n + 1);
		pj_ws(r);
		if (r->p >= r->end || *r->p++ != ':')
			break;
		pj_ws(r);
		if ((v = pj_scalar(r)) == NULL)
			break;
		json_object_setn_new_nocheck(obj, key, n, v);
		pj_ws(r);
		if (r->p >= r->end)
			break;
		if (*r->p == '}') {
			r->p++;
			return obj;
		}
		if (*r->p++ != ',')
			break;
		pj_ws(r);
	}
	json_decref(obj);
	return NULL;
}

json_t *
post_json_fast(const char *body, size_t len)
{
	struct pj r = { body, body + len, NULL };
	json_t *arr = NULL, *obj;

	pj_ws(&r);
	if (r.p >= r.end || *r.p++ != '[')
		return NULL;
	r.scratch = xmalloc(len + 1);
	arr = json_array();
	pj_ws(&r);
	if (r.p < r.end && *r.p == ']')
		r.p++;
	else
		for (;;) {
			if ((obj = pj_object(&r)) == NULL)
				goto decline;
			json_array_append_new(arr, obj);
			pj_ws(&r);
			if (r.p >= r.end)
				goto decline;
			if (*r.p == ']') {
				r.p++;
				break;
			}
			if (*r.p++ != ',')
				goto decline;
			pj_ws(&r);
		}
	pj_ws(&r);
	if (r.p != r.end)
		goto decline;
	free(r.scratch);
	return arr;
decline:
	free(r.scratch);
	json_decref(arr);
	return NULL;
}
