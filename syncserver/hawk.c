/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hawk.c — Hawk request authentication of the storage API: the
 * Authorization header parser, the normalised string and MAC, and
 * auth_verify, which applies the checks in the order of doc/sync-auth.md
 * §3: header, token, node, expiry, MAC, payload hash, skew, nonce, uid.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hawk.h"
#include "log.h"
#include "nonce.h"
#include "syncserver.h"
#include "token.h"
#include "xmalloc.h"

/* A skew this large is logged even when max_skew is off. */
#define HAWK_SKEW_LOG	600

/* Tokens seen lately, by SHA-256 of their text: the signature check, the
 * JSON payload and the HKDF key derivation are done once per token (a
 * client uses one token for many requests), not per request. */
#define AUTH_CACHE_SLOTS 256

struct auth_cached {
	bool			 used;
	unsigned char		 tokhash[CRYPTO_SHA256_LEN];
	struct sync_token	 t;
	char			 key[TOKEN_KEY_LEN + 1];
};

struct auth {
	const struct sync_config *cfg;
	unsigned char		  sig_key[CRYPTO_SHA256_LEN];
	struct nonce_cache	 *nonces;	/* NULL: nonce_cache = false */
	pthread_mutex_t		  cache_lock;
	struct auth_cached	  cache[AUTH_CACHE_SLOTS];
	unsigned long		  cache_hits;
};

/* Free the parameters of a parsed header. */
void
hawk_header_free(struct hawk_header *h)
{
	free(h->id);
	free(h->ts);
	free(h->nonce);
	free(h->mac);
	free(h->hash);
	free(h->ext);
	memset(h, 0, sizeof *h);
}

/* The slot of parameter name (len n) in *h, or NULL if unknown. */
static char **
hawk_slot(struct hawk_header *h, const char *name, size_t n)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} slots[] = {
		{ "id", offsetof(struct hawk_header, id) },
		{ "ts", offsetof(struct hawk_header, ts) },
		{ "nonce", offsetof(struct hawk_header, nonce) },
		{ "mac", offsetof(struct hawk_header, mac) },
		{ "hash", offsetof(struct hawk_header, hash) },
		{ "ext", offsetof(struct hawk_header, ext) },
	};

	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (strlen(slots[i].name) == n &&
		    memcmp(slots[i].name, name, n) == 0)
			return (char **)((char *)h + slots[i].off);
	return NULL;
}

/* Read a quoted value at *pp (after the opening quote) with backslash
 * escapes; allocated, *pp past the closing quote; NULL if unterminated. */
static char *
hawk_quoted(const char **pp)
{
	const char	*p = *pp;
	char		*out = xmalloc(strlen(p) + 1), *o = out;

	for (; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		*o++ = *p;
	}
	if (*p != '"') {
		free(out);
		return NULL;
	}
	*o = '\0';
	*pp = p + 1;
	return out;
}

/* Parse one `name="value"` at *pp into *h. */
static int
hawk_param(const char **pp, struct hawk_header *h, char *why, size_t whylen)
{
	const char	*p = *pp, *name = p;
	size_t		 n;
	char		**slot;

	while (isalnum((unsigned char)*p))
		p++;
	if ((n = (size_t)(p - name)) == 0)
		return sync_why(why, whylen, "Hawk header: parameter name "
		    "expected at \"%.20s\"", p);
	if ((slot = hawk_slot(h, name, n)) == NULL)
		return sync_why(why, whylen, "Hawk header: unknown parameter "
		    "\"%.*s\"", (int)(n > 20 ? 20 : n), name);
	if (*slot != NULL)
		return sync_why(why, whylen, "Hawk header: duplicate parameter "
		    "\"%.*s\"", (int)n, name);
	p += strspn(p, " \t");
	if (*p++ != '=')
		return sync_why(why, whylen, "Hawk header: '=' expected after "
		    "\"%.*s\"", (int)n, name);
	p += strspn(p, " \t");
	if (*p++ != '"')
		return sync_why(why, whylen, "Hawk header: value of \"%.*s\" is "
		    "not quoted", (int)n, name);
	if ((*slot = hawk_quoted(&p)) == NULL)
		return sync_why(why, whylen, "Hawk header: value of \"%.*s\" is "
		    "not terminated", (int)n, name);
	*pp = p;
	return 0;
}

/* The parsed header has what check 1 of doc/sync-auth.md §3 needs. */
static int
hawk_required(const struct hawk_header *h, char *why, size_t whylen)
{
	size_t n;

	if (h->id == NULL || h->ts == NULL || h->nonce == NULL ||
	    h->mac == NULL)
		return sync_why(why, whylen, "Hawk header: id, ts, nonce and "
		    "mac are required");
	n = strlen(h->ts);
	if (n == 0 || n > 15 || strspn(h->ts, "0123456789") != n)
		return sync_why(why, whylen, "Hawk header: ts is not an "
		    "integer");
	if (h->id[0] == '\0' || h->nonce[0] == '\0' || h->mac[0] == '\0')
		return sync_why(why, whylen, "Hawk header: empty id, nonce or "
		    "mac");
	return 0;
}

/* Parse `Hawk k="v", k="v"` (any order, commas, spaces, escapes). */
int
hawk_parse(const char *value, struct hawk_header *h, char *why,
    size_t whylen)
{
	const char *p = value;

	memset(h, 0, sizeof *h);
	if (value == NULL)
		return sync_why(why, whylen, "no Authorization header");
	if (strlen(value) > HAWK_HEADER_MAX)
		return sync_why(why, whylen, "Authorization header too long");
	p += strspn(p, " \t");
	if (strncasecmp(p, "hawk", 4) != 0 || (p[4] != ' ' && p[4] != '\t'))
		return sync_why(why, whylen, "Authorization scheme is not Hawk");
	for (p += 4;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (hawk_param(&p, h, why, whylen) != 0)
			goto bad;
		p += strspn(p, " \t");
		if (*p == ',')
			p++;
		else if (*p != '\0') {
			sync_why(why, whylen, "Hawk header: ',' expected at "
			    "\"%.20s\"", p);
			goto bad;
		}
	}
	if (hawk_required(h, why, whylen) == 0)
		return 0;
bad:
	hawk_header_free(h);
	return -1;
}

/* ext with "\" and newlines escaped as Hawk normalises it (allocated). */
static char *
hawk_ext_escaped(const char *ext)
{
	char *out = xmalloc(2 * strlen(ext) + 1), *o = out;

	for (; *ext != '\0'; ext++) {
		if (*ext == '\\' || *ext == '\n')
			*o++ = '\\';
		*o++ = *ext == '\n' ? 'n' : *ext;
	}
	*o = '\0';
	return out;
}

/* The normalised string, every line ending in "\n". */
char *
hawk_normalized(const struct hawk_header *h, const char *method,
    const char *target, const char *host, int port)
{
	char	 portbuf[16], *ext, *s, *o;
	char	*p = portbuf + sizeof(portbuf);
	unsigned u = port < 0 ? 0 : (unsigned)port;
	const char *part[8];
	size_t	 len = 0, n;

	/* joined by hand: this runs on every request, and vfprintf over
	 * eight %s cost more than the HMAC of the result */
	*--p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0 && p > portbuf);
	ext = hawk_ext_escaped(h->ext ? h->ext : "");
	part[0] = "hawk.1.header";
	part[1] = h->ts;
	part[2] = h->nonce;
	part[3] = method;
	part[4] = target;
	part[5] = host;
	part[6] = p;
	part[7] = h->hash ? h->hash : "";
	for (int i = 0; i < 8; i++)
		len += strlen(part[i]) + 1;
	o = s = xmalloc(len + strlen(ext) + 2);
	for (int i = 0; i < 8; i++) {
		n = strlen(part[i]);
		memcpy(o, part[i], n);
		if (i == 3)     /* the method, upper case */
			for (size_t k = 0; k < n; k++)
				o[k] = (char)toupper((unsigned char)o[k]);
		o += n;
		*o++ = '\n';
	}
	n = strlen(ext);
	memcpy(o, ext, n);
	o += n;
	*o++ = '\n';
	*o = '\0';
	free(ext);
	return s;
}

/* Compare base64 text `given` with the base64 of digest, constant time. */
static bool
hawk_b64_equal(const char *given, const unsigned char *digest)
{
	char	*want = crypto_b64_encode(digest, CRYPTO_SHA256_LEN, false);
	bool	 ok = strlen(given) == strlen(want) &&
		    crypto_equal(given, want, strlen(want));

	free(want);
	return ok;
}

/* MAC check over the normalised string. */
bool
hawk_mac_ok(const struct hawk_header *h, const char *key, const char *method,
    const char *target, const char *host, int port)
{
	char		*norm = hawk_normalized(h, method, target, host, port);
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	int		 rc;

	rc = crypto_hmac_sha256(key, strlen(key), norm, strlen(norm), mac);
	free(norm);
	return rc == 0 && hawk_b64_equal(h->mac, mac);
}

/* Hawk's payload hash. */
char *
hawk_payload_hash(const char *content_type, const unsigned char *body,
    size_t len)
{
	const char	*ct = content_type ? content_type : "";
	size_t		 n, hl = sizeof "hawk.1.payload\n" - 1;
	unsigned char	 digest[CRYPTO_SHA256_LEN];
	char		*buf, *mime, *s;

	ct += strspn(ct, " \t");
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	mime = xstrndup(ct, n);
	for (char *c = mime; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	buf = xmalloc(hl + n + len + 2);
	memcpy(buf, "hawk.1.payload\n", hl);
	memcpy(buf + hl, mime, n);
	buf[hl + n] = '\n';
	if (len > 0)
		memcpy(buf + hl + n + 1, body, len);
	buf[hl + n + 1 + len] = '\n';
	crypto_sha256(buf, hl + n + len + 2, digest);
	free(buf);
	free(mime);
	s = crypto_b64_encode(digest, sizeof digest, false);
	return s;
}

/* Build the authenticator of a configuration (signing key, nonce cache). */
struct auth *
auth_open(const struct sync_config *cfg, char *err, size_t errlen)
{
	struct auth *a = xcalloc(1, sizeof *a);

	a->cfg = cfg;
	pthread_mutex_init(&a->cache_lock, NULL);
	if (cfg->secret == NULL || cfg->secret[0] == '\0') {
		sync_why(err, errlen, "no secret configured");
		goto fail;
	}
	if (token_signing_key(cfg->secret, a->sig_key) != 0) {
		sync_why(err, errlen, "HKDF of the secret failed");
		goto fail;
	}
	if (cfg->nonce_cache && (a->nonces = nonce_open(cfg->nonce_db_path,
	    err, errlen)) == NULL)
		goto fail;
	return a;
fail:
	pthread_mutex_destroy(&a->cache_lock);
	free(a);
	return NULL;
}

/* Free the authenticator. */
void
auth_close(struct auth *a)
{
	if (a == NULL)
		return;
	nonce_close(a->nonces);
	pthread_mutex_destroy(&a->cache_lock);
	free(a);
}

/* Wall clock in seconds. */
static double
auth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Checks 3-4: the token names this node and is still usable. */
static int
auth_token_usable(const struct auth *a, const struct auth_request *r,
    const struct sync_token *t, double now, char *why, size_t whylen)
{
	double grace = r->expired_ok ? (double)a->cfg->expired_token_timeout
	    : 0;

	if (strcmp(t->node, a->cfg->node) != 0)
		return sync_why(why, whylen, "uid %llu: token is for node "
		    "\"%.100s\", not \"%.100s\"", (unsigned long long)t->uid,
		    t->node, a->cfg->node);
	if (!(t->expires + grace > now))
		return sync_why(why, whylen, "uid %llu: token expired %.0f s "
		    "ago", (unsigned long long)t->uid, now - t->expires);
	return 0;
}

/* Check 5 after the MAC: payload hash and skew. */
static int
auth_hash_skew(const struct auth *a, const struct auth_request *r,
    const struct hawk_header *h, uint64_t uid, double now, char *why,
    size_t whylen)
{
	double skew = fabs(strtod(h->ts, NULL) - now);

	if (h->hash != NULL) {
		char *want = hawk_payload_hash(r->content_type, r->body,
		    r->body_len);
		bool ok = strlen(want) == strlen(h->hash) &&
		    crypto_equal(want, h->hash, strlen(want));

		free(want);
		if (!ok)
			return sync_why(why, whylen, "uid %llu: payload hash "
			    "does not match the body", (unsigned long long)uid);
	}
	if (a->cfg->max_skew > 0 && skew > (double)a->cfg->max_skew)
		return sync_why(why, whylen, "uid %llu: Hawk ts is %.0f s off "
		    "(max_skew %lld)", (unsigned long long)uid, skew,
		    a->cfg->max_skew);
	if (a->cfg->max_skew <= 0 && skew > HAWK_SKEW_LOG)
		log_info("uid %llu: Hawk ts is %.0f s off the server clock "
		    "(not enforced: max_skew = 0)", (unsigned long long)uid,
		    skew);
	return 0;
}

/* Check 5, last: the nonce was not seen with this token before. */
static int
auth_nonce(const struct auth *a, const struct hawk_header *h,
    const unsigned char hash[CRYPTO_SHA256_LEN], const struct sync_token *t,
    double now, char *why, size_t whylen)
{
	double	until = t->expires + (double)a->cfg->expired_token_timeout;
	int	rc;

	if (a->nonces == NULL)
		return 0;
	rc = nonce_remember(a->nonces, hash, h->nonce, until, now, why,
	    whylen);
	if (rc == 0)
		return sync_why(why, whylen, "uid %llu: nonce replayed",
		    (unsigned long long)t->uid);
	return rc == 1 ? 0 : -1;
}

/* Check 2 and the token's key: from the cache, or checked and derived
 * now and remembered. */
static int
auth_token(struct auth *a, const char *token,
    const unsigned char hash[CRYPTO_SHA256_LEN], struct sync_token *t,
    char key[TOKEN_KEY_LEN + 1], char *why, size_t whylen)
{
	struct auth_cached	*c = &a->cache[hash[0] % AUTH_CACHE_SLOTS];
	bool			 hit;

	pthread_mutex_lock(&a->cache_lock);
	if ((hit = c->used && memcmp(c->tokhash, hash, sizeof c->tokhash) ==
	    0)) {
		*t = c->t;
		memcpy(key, c->key, TOKEN_KEY_LEN + 1);
		a->cache_hits++;
	}
	pthread_mutex_unlock(&a->cache_lock);
	if (hit)
		return 0;
	if (token_parse(a->sig_key, token, t, why, whylen) != 0)
		return -1;
	if (token_derive_key(a->cfg->secret, token, t->salt, key) != 0)
		return sync_why(why, whylen, "uid %llu: key derivation failed",
		    (unsigned long long)t->uid);
	pthread_mutex_lock(&a->cache_lock);
	c->used = true;
	memcpy(c->tokhash, hash, sizeof c->tokhash);
	c->t = *t;
	memcpy(c->key, key, TOKEN_KEY_LEN + 1);
	pthread_mutex_unlock(&a->cache_lock);
	return 0;
}

/* Requests whose token came from the cache (tests). */
unsigned long
auth_cache_hits(struct auth *a)
{
	unsigned long n;

	pthread_mutex_lock(&a->cache_lock);
	n = a->cache_hits;
	pthread_mutex_unlock(&a->cache_lock);
	return n;
}

/* The checks of doc/sync-auth.md §3 in order, after the header parsed. */
static int
auth_check(struct auth *a, const struct auth_request *r,
    const struct hawk_header *h, struct auth_identity *out, char *why,
    size_t whylen)
{
	struct sync_token	t;
	char			key[TOKEN_KEY_LEN + 1];
	unsigned char		hash[CRYPTO_SHA256_LEN];
	double			now = auth_now();

	crypto_sha256(h->id, strlen(h->id), hash);
	if (auth_token(a, h->id, hash, &t, key, why, whylen) != 0 ||
	    auth_token_usable(a, r, &t, now, why, whylen) != 0)
		return -1;
	if (!hawk_mac_ok(h, key, r->method, r->target, a->cfg->public_host,
	    a->cfg->public_port))
		return sync_why(why, whylen, "uid %llu: Hawk MAC invalid (for "
		    "%s %s signed for %s:%d)", (unsigned long long)t.uid,
		    r->method, r->target, a->cfg->public_host,
		    a->cfg->public_port);
	if (auth_hash_skew(a, r, h, t.uid, now, why, whylen) != 0 ||
	    auth_nonce(a, h, hash, &t, now, why, whylen) != 0)
		return -1;
	if (t.uid != r->path_uid)
		return sync_why(why, whylen, "uid %llu: token used for uid "
		    "%llu in the path", (unsigned long long)t.uid,
		    (unsigned long long)r->path_uid);
	out->uid = t.uid;
	snprintf(out->fxa_uid, sizeof out->fxa_uid, "%s", t.fxa_uid);
	out->expires = t.expires;
	return 0;
}

/* Authenticate a storage request. */
int
auth_verify(struct auth *a, const struct auth_request *r,
    struct auth_identity *out, char *why, size_t whylen)
{
	struct hawk_header	h;
	int			rc;

	if (hawk_parse(r->authorization, &h, why, whylen) != 0)
		return -1;
	rc = auth_check(a, r, &h, out, why, whylen);
	hawk_header_free(&h);
	return rc;
}
