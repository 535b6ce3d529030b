/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bso.c — validation of what clients send to the storage API: collection
 * names, BSO ids and objects, POST bodies (JSON or newlines) and query
 * strings. Pure functions, no I/O: the fuzz harness drives them directly.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "server.h"
#include "xmalloc.h"

bool
bso_id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++)
		if ((unsigned char)id[n] < 0x20 || (unsigned char)id[n] > 0x7e)
			return false;
	return n >= 1 && n <= BSO_ID_MAX;
}

bool
coll_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++)
		if (!isalnum((unsigned char)name[n]) && name[n] != '.' &&
		    name[n] != '_' && name[n] != '-')
			return false;
	return n >= 1 && n <= COLL_NAME_MAX;
}

void
bso_clear(struct bso_in *b)
{
	free(b->id);
	free(b->payload);
	memset(b, 0, sizeof(*b));
}

/* A JSON integer within [lo, hi], or null (= not given). */
static int
bso_int_field(const json_t *v, long long lo, long long hi, bool *has,
    long long *out)
{
	*has = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*has = true;
	*out = json_integer_value(v);
	return 0;
}

static bool
bso_known_field(const char *key)
{
	static const char *const known[] = { "id", "payload", "sortindex",
	    "ttl", "modified", "collection" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(key, known[i]) == 0)
			return true;
	return false;
}

const char *
bso_from_json(const json_t *obj, bool want_id, long long max_payload,
    struct bso_in *out)
{
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return "invalid object";
	json_object_foreach((json_t *)obj, key, v)
		if (!bso_known_field(key))
			return "invalid field";
	v = json_object_get(obj, "id");
	if (want_id && (!json_is_string(v) || !bso_id_valid(json_string_value(v))))
		return "invalid id";
	if (bso_int_field(json_object_get(obj, "sortindex"), -SORTINDEX_MAX,
	    SORTINDEX_MAX, &out->has_sortindex, &out->sortindex) == -1)
		return "invalid sortindex";
	if (bso_int_field(json_object_get(obj, "ttl"), 0, TTL_MAX,
	    &out->has_ttl, &out->ttl) == -1)
		return "invalid ttl";
	v = json_object_get(obj, "payload");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			return "invalid payload";
		if ((long long)json_string_length(v) > max_payload)
			return "payload too large";
		out->payload = xstrndup(json_string_value(v),
		    json_string_length(v));
		out->payload_len = json_string_length(v);
	}
	if (want_id)
		out->id = xstrdup(json_string_value(json_object_get(obj, "id")));
	return NULL;
}

/* ---- query strings ---------------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
sync_url_decode(const char *s, size_t n, bool plus_space)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else
			*o++ = plus_space && s[i] == '+' ? ' ' : s[i];
	}
	*o = '\0';
	return out;
}

int
sync_parse_ts(const char *s, int64_t *cs)
{
	int64_t whole = 0, frac = 0;
	size_t i = 0, digits = 0;

	for (; isdigit((unsigned char)s[i]); i++, digits++) {
		if (digits >= 15)
			return -1;
		whole = whole * 10 + (s[i] - '0');
	}
	if (s[i] == '.') {
		size_t fd = 0;

		for (i++; isdigit((unsigned char)s[i]); i++, fd++)
			if (fd < 2)
				frac = frac * 10 + (s[i] - '0');
		if (fd == 0 && digits == 0)
			return -1;
		if (fd == 1)
			frac *= 10;
	} else if (digits == 0)
		return -1;
	if (s[i] != '\0')
		return -1;
	*cs = whole * 100 + frac;
	return 0;
}

/* The digits of n at p (no terminator); their count. */
static size_t
fmt_digits(uint64_t n, char *p)
{
	char tmp[20];
	size_t i = 0, len;

	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	for (len = 0; len < i; len++)
		p[len] = tmp[i - 1 - len];
	return len;
}

/* A '-' at *p for a negative n (advancing *p); n's magnitude. */
static uint64_t
fmt_sign(long long n, char **p)
{
	if (n >= 0)
		return (uint64_t)n;
	*(*p)++ = '-';
	return -(uint64_t)n;
}

/*
 * Both print by hand, not through snprintf: every answer carries one or
 * two timestamps and a record count, and vfprintf was 2% of a worker's
 * CPU on GET info/collections (tests/unit/test-sync-format.c holds them
 * to printf's output).
 */
const char *
sync_fmt_int(long long n, char *buf)
{
	char *p = buf;
	uint64_t u = fmt_sign(n, &p);

	p[fmt_digits(u, p)] = '\0';
	return buf;
}

const char *
sync_fmt_ts(int64_t cs, char *buf)
{
	char *p = buf;
	uint64_t u = fmt_sign(cs, &p);

	p += fmt_digits(u / 100, p);
	*p++ = '.';
	*p++ = (char)('0' + u / 10 % 10);
	*p++ = (char)('0' + u % 10);
	*p = '\0';
	return buf;
}

/* ids=a,b,c: trimmed, each valid, at most IDS_MAX. */
static int
query_ids(char *v, struct sync_query *q)
{
	char *save = NULL, *tok;

	for (size_t i = 0; i < q->nids; i++)
		free(q->ids[i]);
	free(q->ids);
	q->ids = xcalloc(1, sizeof(char *));
	q->nids = 0;
	for (tok = strtok_r(v, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		size_t n;

		while (*tok == ' ')
			tok++;
		n = strlen(tok);
		while (n > 0 && tok[n - 1] == ' ')
			tok[--n] = '\0';
		if (n == 0)
			continue;
		if (q->nids == IDS_MAX || !bso_id_valid(tok))
			return -1;
		q->ids = xreallocarray(q->ids, q->nids + 1, sizeof(char *));
		q->ids[q->nids++] = xstrdup(tok);
	}
	return 0;
}

static bool
token_chars_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static int
query_limit(const char *v, long long *out)
{
	long long n = 0;

	if (*v == '\0' || strlen(v) > 12)
		return -1;
	for (; *v != '\0'; v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		n = n * 10 + (*v - '0');
	}
	*out = n;
	return 0;
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* One decoded key=value pair. */
static int
query_param(struct sync_query *q, const char *k, char *v)
{
	if (strcmp(k, "ids") == 0)
		return query_ids(v, q);
	if (strcmp(k, "newer") == 0) {
		q->has_newer = true;
		return sync_parse_ts(v, &q->newer);
	}
	if (strcmp(k, "older") == 0) {
		q->has_older = true;
		return sync_parse_ts(v, &q->older);
	}
	if (strcmp(k, "full") == 0) {
		q->full = true;
		return 0;
	}
	if (strcmp(k, "sort") == 0) {
		if (strcmp(v, "newest") == 0)
			q->sort = SORT_NEWEST;
		else if (strcmp(v, "oldest") == 0)
			q->sort = SORT_OLDEST;
		else if (strcmp(v, "index") == 0)
			q->sort = SORT_INDEX;
		else
			return -1;
		return 0;
	}
	if (strcmp(k, "limit") == 0) {
		q->has_limit = true;
		return query_limit(v, &q->limit);
	}
	if (strcmp(k, "offset") == 0) {
		if (!token_chars_valid(v))
			return -1;
		set_str(&q->offset, v);
		return 0;
	}
	if (strcmp(k, "batch") == 0) {
		if (strcasecmp(v, "true") != 0 && !token_chars_valid(v))
			return -1;
		set_str(&q->batch, v);
		return 0;
	}
	if (strcmp(k, "commit") == 0) {
		q->has_commit = true;
		q->commit = strcasecmp(v, "true") == 0;
		return q->commit ? 0 : -1;
	}
	if (strcmp(k, "duration") == 0)
		set_str(&q->duration, v);
	return 0;
}

int
sync_query_parse(const char *raw, struct sync_query *q)
{
	const char *p = raw;

	memset(q, 0, sizeof(*q));
	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		char *k, *v;
		int rc;

		eq = memchr(p, '=', n);
		k = sync_url_decode(p, eq != NULL ? (size_t)(eq - p) : n, true);
		v = eq != NULL ? sync_url_decode(eq + 1, n - (size_t)(eq + 1 - p),
		    true)
		    : xstrdup("");
		rc = k == NULL || v == NULL ? -1 : query_param(q, k, v);
		free(k);
		free(v);
		if (rc == -1)
			return -1;
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

void
sync_query_free(struct sync_query *q)
{
	for (size_t i = 0; i < q->nids; i++)
		free(q->ids[i]);
	free(q->ids);
	free(q->offset);
	free(q->batch);
	free(q->duration);
	memset(q, 0, sizeof(*q));
}

/* ---- POST bodies ------------------------------------------------------ */

/* The crypto collection guard: "IV": "AAAAAAAAAAAAAAAAAAAAAA=="
 * (doc/sync-storage.md §4.2). */
static bool
payload_has_zero_iv(const char *p)
{
	static const char iv[] = "\"IV\":";

	for (const char *s = strstr(p, iv); s != NULL;
	    s = strstr(s + 1, iv)) {
		const char *t = s + sizeof(iv) - 1;
		size_t a = 0;

		while (isspace((unsigned char)*t))
			t++;
		if (*t++ != '"')
			continue;
		while (t[a] == 'A')
			a++;
		if (a == 22 && strncmp(t + a, "==\"", 3) == 0)
			return true;
	}
	return false;
}

/* The body as one JSON array of values; -1 with *code on failure. */
static json_t *
post_body_array(const char *body, size_t len, bool newlines,
    enum weave_code *code)
{
	json_t *arr;

	*code = WEAVE_JSON;
	if (!newlines) {
		/* the usual body fast, anything else as jansson reads it */
		if ((arr = post_json_fast(body, len)) == NULL)
			arr = json_loadb(body, len, JSON_DECODE_ANY, NULL);
		if (arr == NULL)
			return NULL;
		if (!json_is_array(arr)) {
			json_decref(arr);
			*code = WEAVE_INVALID_BSO;
			return NULL;
		}
		return arr;
	}
	if (len == 1 && body[0] == '\n')
		return NULL;            /* a lone newline is not an empty body */
	arr = json_array();
	if (len > 0 && body[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - body) - i : len - i;
		json_t *v = json_loadb(body + i, n,
		    JSON_DECODE_ANY, NULL);

		if (v == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
		i += n + 1;
		if (nl != NULL && i == len + 1)
			break;
	}
	return arr;
}

/* Whole-request shape: objects with string ids, no duplicate. */
static int
post_body_shape(json_t *arr)
{
	json_t *seen = json_object(), *v;
	size_t i;
	int rc = 0;

	json_array_foreach(arr, i, v) {
		json_t *id = json_object_get(v, "id");

		if (!json_is_object(v) || !json_is_string(id) ||
		    json_object_get(seen, json_string_value(id)) != NULL) {
			rc = -1;
			break;
		}
		json_object_set_new(seen, json_string_value(id), json_true());
	}
	json_decref(seen);
	return rc;
}

int
post_body_parse(const char *body, size_t len, bool newlines,
    const struct sync_config *cfg, bool crypto_guard, struct post_body *out,
    enum weave_code *code)
{
	json_t *arr, *v;
	size_t i;
	long long bytes = 0;

	memset(out, 0, sizeof(*out));
	if ((arr = post_body_array(body, len, newlines, code)) == NULL)
		return -1;
	if (post_body_shape(arr) == -1) {
		json_decref(arr);
		*code = WEAVE_INVALID_BSO;
		return -1;
	}
	out->failed = json_object();
	out->recs = xcalloc(json_array_size(arr) + 1, sizeof(*out->recs));
	json_array_foreach(arr, i, v) {
		const char *id = json_string_value(json_object_get(v, "id"));
		struct bso_in b;
		const char *why = bso_from_json(v, true,
		    cfg->max_record_payload_bytes, &b);

		if (why == NULL && crypto_guard && b.payload != NULL &&
		    payload_has_zero_iv(b.payload)) {
			bso_clear(&b);
			post_body_free(out);
			json_decref(arr);
			*code = WEAVE_INVALID_BSO;
			return -1;
		}
		if (why == NULL && (long long)out->nrecs >= cfg->max_post_records)
			why = "retry bso";
		else if (why == NULL &&
		    bytes + (long long)b.payload_len > cfg->max_post_bytes)
			why = "retry bytes";
		if (why != NULL) {
			bso_clear(&b);
			json_object_set_new(out->failed, id, json_string(why));
			continue;
		}
		bytes += (long long)b.payload_len;
		out->recs[out->nrecs++] = b;
	}
	json_decref(arr);
	return 0;
}

void
post_body_free(struct post_body *pb)
{
	for (size_t i = 0; i < pb->nrecs; i++)
		bso_clear(&pb->recs[i]);
	free(pb->recs);
	json_decref(pb->failed);
	memset(pb, 0, sizeof(*pb));
}

/* ---- answer text -------------------------------------------------------- */

void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sbuf_cstr(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_json_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c != '\0' && c != '"' && c != '\\' && c >= 0x20)
			continue;
		sbuf_add(b, run, (size_t)(s - run));
		if (c == '\0')
			break;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sbuf_add(b, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sbuf_add(b, esc, 6);
		}
		run = s + 1;
	}
	sbuf_add(b, "\"", 1);
}

void
sbuf_ts(struct sbuf *b, int64_t cs)
{
	char buf[32];

	sbuf_cstr(b, sync_fmt_ts(cs, buf));
}

void
sbuf_int(struct sbuf *b, long long n)
{
	char buf[32];

	sbuf_cstr(b, sync_fmt_int(n, buf));
}

char *
sbuf_take(struct sbuf *b, size_t *len)
{
	char *p = b->p != NULL ? b->p : xstrdup("");

	if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}
