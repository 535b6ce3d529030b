/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenserver.c — GET /1.0/sync/1.5 (doc/sync-auth.md §5): check the
 * request headers, verify the FxA OAuth bearer token with the configured
 * verifier (libcurl, POST <verifier>/v1/verify), apply the generation /
 * keys_changed_at / client-state rules to the user table in order,
 * allocate a storage node by capacity, mint a token.
 *
 * The user table lives in the storage database (cfg->db_path) as ts_users;
 * one connection per process behind a mutex, changes in BEGIN IMMEDIATE so
 * worker processes serialise. The verifier is called without the lock.
 *
 * libcurl is loaded with dlopen at the first verifier call, not linked
 * (doc/sync-auth.md §5, "Verifier"): it brings 18 shared libraries of its
 * own (krb5, ldap, ssh2, ...), and mapping them at every worker start was
 * a third of the CPU a worker spends before READY=1, which a rolling
 * bounce pays once per worker while the others serve.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CURL_DISABLE_TYPECHECK	/* calls go through ts_curl's pointers */
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "crypto.h"
#include "log.h"
#include "syncserver.h"
#include "token.h"
#include "xmalloc.h"

#define TS_VERIFY_TIMEOUT	10L	/* seconds for the verifier call */
#define TS_RETRY_AFTER		10	/* Retry-After of a 503 */
#define TS_BUSY_MS		5000
#define TS_VERIFY_MAX		65536	/* bytes of verifier answer kept */
#define TS_STATE_MAX		32	/* client-state bytes */
#define TS_OLDSYNC_SCOPE	"https://identity.mozilla.com/apps/oldsync"
#define TS_DEFAULT_VERIFIER	"https://oauth.accounts.firefox.com"
#define TS_METRICS_INFO		"services.mozilla.com/tokenserver/v1/metrics"
#define TS_CURL_SONAME		"libcurl.so.4"	/* libcurl's ABI since 7.16 */

/* The libcurl functions the verifier call uses, resolved by ts_curl_load. */
struct ts_curl {
	void		 *dl;
	CURLcode	(*global_init)(long);
	void		(*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_perform)(CURL *);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	void		(*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
};

struct tokenserver {
	const struct sync_config *cfg;
	unsigned char		  sig_key[CRYPTO_SHA256_LEN];
	char			 *hash_secret;	/* metrics_hash_secret */
	pthread_mutex_t		  lock;		/* db, verifier_down_until */
	sqlite3			 *db;
	time_t			  verifier_down_until;
	pthread_mutex_t		  curl_lock;	/* curl */
	struct ts_curl		 *curl;		/* NULL until the first call */
};

/* What the request and the verifier say about the user. */
struct ts_login {
	char		 fxa_uid[TOKEN_FIELD_MAX];
	long long	 generation;		/* 0: none */
	long long	 kca;			/* keys_changed_at, 0: none */
	char		 state[2 * TS_STATE_MAX + 1];	/* lower-case hex */
	long long	 duration;
};

/* A user record of ts_users. */
struct ts_user {
	long long	 uid;
	char		 node[TOKEN_NODE_MAX];
	long long	 generation;
	long long	 kca;
	char		 state[2 * TS_STATE_MAX + 1];
};

/* An error answer being built: status, JSON status word, description. */
struct ts_error {
	int		 status;
	const char	*word;
	const char	*location;
	char		 desc[160];
};

static const char TS_SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS ts_users ("
    " uid INTEGER PRIMARY KEY AUTOINCREMENT,"
    " fxa_uid TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " generation INTEGER NOT NULL DEFAULT 0,"
    " keys_changed_at INTEGER NOT NULL DEFAULT 0,"
    " client_state TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " replaced_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS ts_users_fxa ON ts_users(fxa_uid);"
    "CREATE INDEX IF NOT EXISTS ts_users_node ON ts_users(node)"
    " WHERE replaced_at IS NULL;";

/* ---- errors ----------------------------------------------------------- */

/* Fill *e with a failure and return -1. */
static int PRINTFLIKE(5, 6)
ts_fail(struct ts_error *e, int status, const char *word,
    const char *location, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->word = word;
	e->location = location;
	va_start(ap, fmt);
	vsnprintf(e->desc, sizeof e->desc, fmt, ap);
	va_end(ap);
	return -1;
}

/* The JSON error body of the tokenserver (allocated). */
static char *
ts_error_body(const struct ts_error *e)
{
	json_t	*err = json_pack("{s:s, s:s, s:s}", "location", e->location,
		    "name", "", "description", e->desc);
	json_t	*obj = json_pack("{s:s, s:[o]}", "status", e->word, "errors",
		    err);
	char	*s = json_dumps(obj, JSON_COMPACT);

	json_decref(obj);
	return s;
}

/* ---- open / close ----------------------------------------------------- */

/* The metrics hash secret: configured, or derived from the secret. */
static char *
ts_hash_secret(const struct sync_config *cfg)
{
	unsigned char	k[CRYPTO_SHA256_LEN];
	char		hex[2 * CRYPTO_SHA256_LEN + 1];

	if (cfg->metrics_hash_secret && cfg->metrics_hash_secret[0] != '\0')
		return xstrdup(cfg->metrics_hash_secret);
	if (crypto_hkdf_sha256(cfg->secret, strlen(cfg->secret), NULL, 0,
	    TS_METRICS_INFO, sizeof TS_METRICS_INFO - 1, k, sizeof k) != 0)
		return NULL;
	crypto_hex(k, sizeof k, hex);
	return xstrdup(hex);
}

/* Open the user table in cfg->db_path; libcurl waits for ts_curl_get. */
struct tokenserver *
tokenserver_open(const struct sync_config *cfg, char *err, size_t errlen)
{
	struct tokenserver *ts = xcalloc(1, sizeof *ts);

	ts->cfg = cfg;
	pthread_mutex_init(&ts->lock, NULL);
	pthread_mutex_init(&ts->curl_lock, NULL);
	if (cfg->secret == NULL || cfg->secret[0] == '\0' ||
	    token_signing_key(cfg->secret, ts->sig_key) != 0 ||
	    (ts->hash_secret = ts_hash_secret(cfg)) == NULL) {
		sync_why(err, errlen, "tokenserver: no usable secret");
		goto fail;
	}
	if (sqlite3_open_v2(cfg->db_path ? cfg->db_path : "", &ts->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		sync_why(err, errlen, "tokenserver: %s: %s", cfg->db_path,
		    ts->db ? sqlite3_errmsg(ts->db) : "no memory");
		goto fail;
	}
	sqlite3_busy_timeout(ts->db, TS_BUSY_MS);
	if (sqlite3_exec(ts->db, TS_SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
		sync_why(err, errlen, "tokenserver: %s: %s", cfg->db_path,
		    sqlite3_errmsg(ts->db));
		goto fail;
	}
	return ts;
fail:
	tokenserver_close(ts);
	return NULL;
}

/* Close the database and libcurl if it was loaded. */
void
tokenserver_close(struct tokenserver *ts)
{
	if (ts == NULL)
		return;
	sqlite3_close(ts->db);
	free(ts->hash_secret);
	pthread_mutex_destroy(&ts->lock);
	if (ts->curl != NULL) {
		ts->curl->global_cleanup();
		dlclose(ts->curl->dl);
		free(ts->curl);
	}
	pthread_mutex_destroy(&ts->curl_lock);
	free(ts);
}

/* ---- request headers -------------------------------------------------- */

/* The token of "Bearer <token>" (scheme case-insensitive). */
static int
ts_bearer(const char *authz, const char **token, struct ts_error *e)
{
	const char *p;

	if (authz == NULL || authz[strspn(authz, " \t")] == '\0')
		return ts_fail(e, 401, "error", "header", "Unauthorized");
	p = authz + strspn(authz, " \t");
	if (strncasecmp(p, "bearer", 6) != 0 || (p[6] != '\0' &&
	    p[6] != ' ' && p[6] != '\t'))
		return ts_fail(e, 401, "error", "header", "Unsupported");
	p += 6;
	p += strspn(p, " \t");
	if (*p == '\0')
		return ts_fail(e, 401, "error", "header", "Unauthorized");
	*token = p;
	return 0;
}

/* X-KeyID "<kca ms>-<base64url client state>". */
static int
ts_key_id(const char *kid, struct ts_login *l, struct ts_error *e)
{
	const char	*dash;
	unsigned char	*raw = NULL;
	size_t		 n, rawlen;

	if (kid == NULL)
		return ts_fail(e, 401, "invalid-key-id", "header",
		    "X-KeyID header is missing");
	dash = strchr(kid, '-');
	n = dash ? (size_t)(dash - kid) : 0;
	if (dash == NULL || n == 0 || n > 15 || strspn(kid, "0123456789") != n)
		return ts_fail(e, 401, "invalid-credentials", "header",
		    "X-KeyID is not <keys_changed_at>-<client state>");
	l->kca = strtoll(kid, NULL, 10);
	if (crypto_b64_decode(dash + 1, strlen(dash + 1), true, &raw,
	    &rawlen) != 0 || rawlen > TS_STATE_MAX) {
		free(raw);
		return ts_fail(e, 401, "invalid-credentials", "header",
		    "X-KeyID client state is not base64url");
	}
	crypto_hex(raw, rawlen, l->state);
	free(raw);
	return 0;
}

/* X-Client-State: well-formed and equal to the X-KeyID state. */
static int
ts_client_state(const char *cs, const struct ts_login *l, struct ts_error *e)
{
	size_t n;

	if (cs == NULL)
		return 0;
	n = strlen(cs);
	if (n == 0 || n > 32 || strspn(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return ts_fail(e, 400, "error", "header",
		    "X-Client-State is invalid");
	if (strcasecmp(cs, l->state) != 0)
		return ts_fail(e, 401, "invalid-client-state", "header",
		    "X-Client-State does not match X-KeyID");
	return 0;
}

/* ?duration=n, used when 0 < n <= token_duration. */
static long long
ts_duration(const struct sync_config *cfg, const char *d)
{
	char		*end;
	long long	 n;

	if (d == NULL || *d == '\0' || !isdigit((unsigned char)*d))
		return cfg->token_duration;
	n = strtoll(d, &end, 10);
	if (*end != '\0' || n <= 0 || n > cfg->token_duration)
		return cfg->token_duration;
	return n;
}

/* ---- the verifier ----------------------------------------------------- */

struct ts_buf {
	char	*data;
	size_t	 len;
};

/* Resolve one symbol of lib into *fn (POSIX: dlsym's result converts to
 * a function pointer; the memcpy keeps -Wpedantic quiet). */
static int
ts_curl_sym(void *lib, const char *name, void *fn, size_t len)
{
	void	*p = dlsym(lib, name);

	if (p == NULL)
		return -1;
	memcpy(fn, &p, len);
	return 0;
}

#define TS_CURL_SYM(c, field, name) \
	ts_curl_sym((c)->dl, (name), &(c)->field, sizeof (c)->field)

/* dlopen libcurl and curl_global_init it; NULL with why in err. */
static struct ts_curl *
ts_curl_load(char *err, size_t errlen)
{
	struct ts_curl	*c = xcalloc(1, sizeof *c);
	const char	*e;

	if ((c->dl = dlopen(TS_CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(err, errlen, "%s", e ? e : TS_CURL_SONAME);
		free(c);
		return NULL;
	}
	if (TS_CURL_SYM(c, global_init, "curl_global_init") ||
	    TS_CURL_SYM(c, global_cleanup, "curl_global_cleanup") ||
	    TS_CURL_SYM(c, easy_init, "curl_easy_init") ||
	    TS_CURL_SYM(c, easy_setopt, "curl_easy_setopt") ||
	    TS_CURL_SYM(c, easy_perform, "curl_easy_perform") ||
	    TS_CURL_SYM(c, easy_getinfo, "curl_easy_getinfo") ||
	    TS_CURL_SYM(c, easy_cleanup, "curl_easy_cleanup") ||
	    TS_CURL_SYM(c, slist_append, "curl_slist_append") ||
	    TS_CURL_SYM(c, slist_free_all, "curl_slist_free_all")) {
		e = dlerror();
		snprintf(err, errlen, "%s", e ? e : TS_CURL_SONAME);
	} else if (c->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(err, errlen, "%s: curl_global_init failed",
		    TS_CURL_SONAME);
	else
		return c;
	dlclose(c->dl);
	free(c);
	return NULL;
}

/* ts->curl, loaded on first use; NULL (with why in err) if it cannot be. */
static struct ts_curl *
ts_curl_get(struct tokenserver *ts, char *err, size_t errlen)
{
	struct ts_curl	*c;

	pthread_mutex_lock(&ts->curl_lock);
	if (ts->curl == NULL)
		ts->curl = ts_curl_load(err, errlen);
	c = ts->curl;
	pthread_mutex_unlock(&ts->curl_lock);
	return c;
}

/* libcurl write callback: keep up to TS_VERIFY_MAX bytes. */
static size_t
ts_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct ts_buf	*b = arg;
	size_t		 n = size * nmemb;

	if (b->len + n > TS_VERIFY_MAX)
		return 0;
	b->data = xrealloc(b->data, b->len + n + 1);
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* POST {"token": bearer} to <oauth_verifier>/v1/verify; the HTTP status
 * (0: no answer) and the body into *b. */
static long
ts_verify_call(struct tokenserver *ts, const char *bearer, struct ts_buf *b,
    char *cerr)
{
	const struct sync_config *cfg = ts->cfg;
	struct ts_curl		*lib;
	CURL			*c;
	struct curl_slist	*hdrs = NULL;
	json_t			*req = json_pack("{s:s}", "token", bearer);
	char			*body = json_dumps(req, JSON_COMPACT);
	char			*url = xprintf("%s/v1/verify",
				    cfg->oauth_verifier ? cfg->oauth_verifier :
				    TS_DEFAULT_VERIFIER);
	long			 status = 0;

	json_decref(req);
	cerr[0] = '\0';
	if ((lib = ts_curl_get(ts, cerr, CURL_ERROR_SIZE)) == NULL)
		goto out;
	if ((c = lib->easy_init()) != NULL) {
		hdrs = lib->slist_append(hdrs, "Content-Type: application/json");
		lib->easy_setopt(c, CURLOPT_URL, url);
		lib->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		lib->easy_setopt(c, CURLOPT_POSTFIELDS, body);
		lib->easy_setopt(c, CURLOPT_TIMEOUT, TS_VERIFY_TIMEOUT);
		lib->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		lib->easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		lib->easy_setopt(c, CURLOPT_WRITEFUNCTION, ts_write_cb);
		lib->easy_setopt(c, CURLOPT_WRITEDATA, b);
		if (lib->easy_perform(c) == CURLE_OK)
			lib->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		lib->slist_free_all(hdrs);
		lib->easy_cleanup(c);
	}
out:
	free(body);
	free(url);
	return status;
}

/* Whether the verifier's scope list holds the oldsync scope. */
static bool
ts_scope_ok(json_t *scope)
{
	size_t	 i;
	json_t	*v;

	json_array_foreach(scope, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), TS_OLDSYNC_SCOPE) == 0)
			return true;
	return false;
}

/* Read a 200 answer of the verifier into l. */
static int
ts_verify_answer(const struct ts_buf *b, struct ts_login *l,
    struct ts_error *e)
{
	json_t		*obj = json_loadb(b->data ? b->data : "", b->len, 0,
			    NULL);
	json_t		*user = json_object_get(obj, "user");
	json_t		*gen = json_object_get(obj, "generation");
	const char	*u = json_string_value(user);
	int		 rc = 0;

	if (!json_is_object(obj))
		rc = ts_fail(e, 503, "error", "body",
		    "OAuth verifier answered no JSON object");
	else if (!ts_scope_ok(json_object_get(obj, "scope")))
		rc = ts_fail(e, 401, "invalid-credentials", "body",
		    "OAuth token lacks the oldsync scope");
	else if (u == NULL || *u == '\0' || strlen(u) >= TOKEN_FIELD_MAX ||
	    strspn(u, "0123456789abcdefABCDEF") != strlen(u))
		rc = ts_fail(e, 401, "invalid-credentials", "body",
		    "OAuth verifier answered no valid user");
	else if (gen != NULL && !json_is_null(gen) &&
	    (!json_is_integer(gen) || json_integer_value(gen) < 0))
		rc = ts_fail(e, 401, "invalid-credentials", "body",
		    "OAuth verifier answered an invalid generation");
	else {
		snprintf(l->fxa_uid, sizeof l->fxa_uid, "%s", u);
		for (char *c = l->fxa_uid; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		l->generation = json_is_integer(gen) ?
		    json_integer_value(gen) : 0;
	}
	json_decref(obj);
	return rc;
}

/* Whether the verifier failed less than TS_RETRY_AFTER seconds ago; if
 * so it is not called (a hung verifier would hold an HTTP thread for
 * TS_VERIFY_TIMEOUT per request). */
static bool
ts_verifier_resting(struct tokenserver *ts)
{
	bool resting;

	pthread_mutex_lock(&ts->lock);
	resting = time(NULL) < ts->verifier_down_until;
	pthread_mutex_unlock(&ts->lock);
	return resting;
}

/* Remember that the verifier did not answer or answered 5xx. */
static void
ts_verifier_down(struct tokenserver *ts)
{
	pthread_mutex_lock(&ts->lock);
	ts->verifier_down_until = time(NULL) + TS_RETRY_AFTER;
	pthread_mutex_unlock(&ts->lock);
}

/* Verify the bearer token: 4xx -> 401, no answer or 5xx -> 503. */
static int
ts_verify(struct tokenserver *ts, const char *bearer, struct ts_login *l,
    struct ts_error *e)
{
	const struct sync_config *cfg = ts->cfg;
	struct ts_buf	b = { NULL, 0 };
	char		cerr[CURL_ERROR_SIZE];
	long		status;
	int		rc;

	if (ts_verifier_resting(ts))
		return ts_fail(e, 503, "error", "body",
		    "OAuth verifier unavailable");
	status = ts_verify_call(ts, bearer, &b, cerr);
	if (status == 200)
		rc = ts_verify_answer(&b, l, e);
	else if (status >= 400 && status < 500)
		rc = ts_fail(e, 401, "invalid-credentials", "body",
		    "Unauthorized");
	else {
		log_warnx("tokenserver: OAuth verifier %s: %s",
		    cfg->oauth_verifier ? cfg->oauth_verifier :
		    TS_DEFAULT_VERIFIER, status ? "server error" :
		    cerr[0] ? cerr : "no answer");
		ts_verifier_down(ts);
		rc = ts_fail(e, 503, "error", "body",
		    "OAuth verifier unavailable");
	}
	free(b.data);
	return rc;
}

/* ---- the user table and nodes ---------------------------------------- */

/* Milliseconds since the epoch. */
static long long
ts_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Prepare sql or fail with a 503; the caller finalises *st. */
static int
ts_prepare(struct tokenserver *ts, const char *sql, sqlite3_stmt **st,
    struct ts_error *e)
{
	if (sqlite3_prepare_v2(ts->db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	log_warnx("tokenserver: %s", sqlite3_errmsg(ts->db));
	return ts_fail(e, 503, "error", "body", "database unavailable");
}

/* Run one statement without results; 0, or -1 (503). */
static int
ts_exec(struct tokenserver *ts, const char *sql, struct ts_error *e)
{
	if (sqlite3_exec(ts->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	log_warnx("tokenserver: %s: %s", sql, sqlite3_errmsg(ts->db));
	return ts_fail(e, 503, "error", "body", "database unavailable");
}

/* The current record of fxa_uid: 1 found, 0 none, -1 error. */
static int
ts_user_current(struct tokenserver *ts, const char *fxa_uid,
    struct ts_user *u, struct ts_error *e)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (ts_prepare(ts, "SELECT uid, node, generation, keys_changed_at, "
	    "client_state FROM ts_users WHERE fxa_uid = ? AND replaced_at IS "
	    "NULL ORDER BY created_at DESC, uid DESC LIMIT 1", &st, e) != 0)
		return -1;
	sqlite3_bind_text(st, 1, fxa_uid, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		u->uid = sqlite3_column_int64(st, 0);
		snprintf(u->node, sizeof u->node, "%s",
		    (const char *)sqlite3_column_text(st, 1));
		u->generation = sqlite3_column_int64(st, 2);
		u->kca = sqlite3_column_int64(st, 3);
		snprintf(u->state, sizeof u->state, "%s",
		    (const char *)sqlite3_column_text(st, 4));
		rc = 1;
	} else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = ts_fail(e, 503, "error", "body", "database unavailable");
	sqlite3_finalize(st);
	return rc;
}

/* Whether state was the client state of a replaced record of fxa_uid. */
static int
ts_state_replaced(struct tokenserver *ts, const char *fxa_uid,
    const char *state, struct ts_error *e)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (ts_prepare(ts, "SELECT 1 FROM ts_users WHERE fxa_uid = ? AND "
	    "client_state = ? AND replaced_at IS NOT NULL LIMIT 1", &st,
	    e) != 0)
		return -1;
	sqlite3_bind_text(st, 1, fxa_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return ts_fail(e, 503, "error", "body", "database unavailable");
}

/* The user checks 2-5 against an existing record. */
static int
ts_rules(struct tokenserver *ts, const struct ts_login *l,
    const struct ts_user *u, struct ts_error *e)
{
	int stale;

	if (l->kca > u->kca && l->generation && l->generation < l->kca)
		return ts_fail(e, 401, "invalid-keysChangedAt", "body",
		    "Unauthorized");
	if (strcmp(l->state, u->state) != 0) {
		if (l->state[0] == '\0')
			return ts_fail(e, 401, "invalid-client-state",
			    "header", "Unacceptable client-state value empty "
			    "string");
		if ((stale = ts_state_replaced(ts, l->fxa_uid, l->state,
		    e)) != 0)
			return stale < 0 ? -1 : ts_fail(e, 401,
			    "invalid-client-state", "header", "Unacceptable "
			    "client-state value stale value");
		if ((l->generation && l->generation <= u->generation) ||
		    (u->kca && l->kca <= u->kca))
			return ts_fail(e, 401, "invalid-client-state",
			    "header", "Unacceptable client-state value new "
			    "value with no generation change");
	}
	if (l->generation && l->generation < u->generation)
		return ts_fail(e, 401, "invalid-generation", "body",
		    "Unauthorized");
	if (u->kca && l->kca < u->kca)
		return ts_fail(e, 401, "invalid-keysChangedAt", "body",
		    "Unauthorized");
	return 0;
}

/* Whether node is one of the configured nodes (or the only one). */
static bool
ts_node_listed(const struct sync_config *cfg, const char *node)
{
	if (cfg->nnodes == 0)
		return strcmp(node, cfg->node) == 0;
	for (size_t i = 0; i < cfg->nnodes; i++)
		if (strcmp(cfg->nodes[i].url, node) == 0)
			return true;
	return false;
}

/* Users currently assigned to node. */
static long long
ts_node_load(struct tokenserver *ts, const char *node, struct ts_error *e)
{
	sqlite3_stmt	*st = NULL;
	long long	 n = -1;

	if (ts_prepare(ts, "SELECT count(*) FROM ts_users WHERE node = ? AND "
	    "replaced_at IS NULL", &st, e) != 0)
		return -1;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		ts_fail(e, 503, "error", "body", "database unavailable");
	sqlite3_finalize(st);
	return n;
}

/* The node with room and the lowest load/capacity into out. */
static int
ts_node_pick(struct tokenserver *ts, char *out, size_t outlen,
    struct ts_error *e)
{
	const struct sync_config	*cfg = ts->cfg;
	double				 best = INFINITY;
	const char			*pick = NULL;

	if (cfg->nnodes == 0) {
		snprintf(out, outlen, "%s", cfg->node);
		return 0;
	}
	for (size_t i = 0; i < cfg->nnodes; i++) {
		long long load = ts_node_load(ts, cfg->nodes[i].url, e);

		if (load < 0)
			return -1;
		if (load >= cfg->nodes[i].capacity)
			continue;
		if ((double)load / (double)cfg->nodes[i].capacity < best) {
			best = (double)load / (double)cfg->nodes[i].capacity;
			pick = cfg->nodes[i].url;
		}
	}
	if (pick == NULL) {
		log_warnx("tokenserver: every storage node is at capacity");
		return ts_fail(e, 503, "error", "body",
		    "no storage node has room");
	}
	snprintf(out, outlen, "%s", pick);
	return 0;
}

/* Step 6: the record's new generation and keys_changed_at. */
static void
ts_merge(const struct ts_login *l, struct ts_user *u)
{
	if (l->generation > u->generation)
		u->generation = l->generation;
	else if (l->generation == 0 && l->kca > u->kca &&
	    l->kca > u->generation)
		u->generation = l->kca;
	if (l->kca > u->kca)
		u->kca = l->kca;
}

/* Insert a new current record for l with *u's node/generation/kca. */
static int
ts_insert(struct tokenserver *ts, const struct ts_login *l, struct ts_user *u,
    long long now, struct ts_error *e)
{
	sqlite3_stmt *st = NULL;

	if (ts_prepare(ts, "INSERT INTO ts_users (fxa_uid, node, generation, "
	    "keys_changed_at, client_state, created_at) VALUES "
	    "(?, ?, ?, ?, ?, ?)", &st, e) != 0)
		return -1;
	sqlite3_bind_text(st, 1, l->fxa_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, u->generation);
	sqlite3_bind_int64(st, 4, u->kca);
	sqlite3_bind_text(st, 5, l->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return ts_fail(e, 503, "error", "body", "database unavailable");
	}
	sqlite3_finalize(st);
	u->uid = sqlite3_last_insert_rowid(ts->db);
	snprintf(u->state, sizeof u->state, "%s", l->state);
	return 0;
}

/* Update record uid: node, generation, kca, or mark it replaced. */
static int
ts_update(struct tokenserver *ts, const struct ts_user *u, long long replaced,
    struct ts_error *e)
{
	sqlite3_stmt *st = NULL;

	if (ts_prepare(ts, "UPDATE ts_users SET node = ?, generation = ?, "
	    "keys_changed_at = ?, replaced_at = ? WHERE uid = ?", &st, e) != 0)
		return -1;
	sqlite3_bind_text(st, 1, u->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, u->generation);
	sqlite3_bind_int64(st, 3, u->kca);
	if (replaced)
		sqlite3_bind_int64(st, 4, replaced);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, u->uid);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return ts_fail(e, 503, "error", "body", "database unavailable");
	}
	sqlite3_finalize(st);
	return 0;
}

/* A known user: rules, node, update or replace. */
static int
ts_user_known(struct tokenserver *ts, const struct ts_login *l,
    struct ts_user *u, long long now, struct ts_error *e)
{
	if (ts_rules(ts, l, u, e) != 0)
		return -1;
	ts_merge(l, u);
	if (!ts_node_listed(ts->cfg, u->node) &&
	    ts_node_pick(ts, u->node, sizeof u->node, e) != 0)
		return -1;
	if (strcmp(l->state, u->state) == 0)
		return ts_update(ts, u, 0, e);
	if (ts_update(ts, u, now, e) != 0)
		return -1;
	log_info("tokenserver: %s changed client state: uid %lld replaced",
	    l->fxa_uid, u->uid);
	return ts_insert(ts, l, u, now, e);
}

/* The user rules in one write transaction: find or create the record. */
static int
ts_user_txn(struct tokenserver *ts, const struct ts_login *l,
    struct ts_user *u, struct ts_error *e)
{
	long long	now = ts_now_ms();
	int		found;

	if ((found = ts_user_current(ts, l->fxa_uid, u, e)) < 0)
		return -1;
	if (found)
		return ts_user_known(ts, l, u, now, e);
	if (!ts->cfg->allow_new_users)
		return ts_fail(e, 401, "new-users-disabled", "body",
		    "User is not allowed");
	memset(u, 0, sizeof *u);
	ts_merge(l, u);
	if (ts_node_pick(ts, u->node, sizeof u->node, e) != 0 ||
	    ts_insert(ts, l, u, now, e) != 0)
		return -1;
	log_info("tokenserver: new user %s: uid %lld on %s", l->fxa_uid,
	    u->uid, u->node);
	return 0;
}

/* Run ts_user_txn in BEGIN IMMEDIATE ... COMMIT under the lock. */
static int
ts_user(struct tokenserver *ts, const struct ts_login *l, struct ts_user *u,
    struct ts_error *e)
{
	int rc;

	pthread_mutex_lock(&ts->lock);
	if ((rc = ts_exec(ts, "BEGIN IMMEDIATE", e)) == 0) {
		rc = ts_user_txn(ts, l, u, e);
		if (rc == 0)
			rc = ts_exec(ts, "COMMIT", e);
		if (rc != 0)
			sqlite3_exec(ts->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&ts->lock);
	return rc;
}

/* ---- the answer ------------------------------------------------------- */

/* First 32 hex chars of HMAC-SHA256(metrics secret, a || b). */
static void
ts_metrics_hash(const struct tokenserver *ts, const char *a, const char *b,
    char out[TOKEN_FIELD_MAX])
{
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	char		*data = xprintf("%s%s", a, b), hex[65];

	crypto_hmac_sha256(ts->hash_secret, strlen(ts->hash_secret), data,
	    strlen(data), mac);
	free(data);
	crypto_hex(mac, sizeof mac, hex);
	snprintf(out, TOKEN_FIELD_MAX, "%.32s", hex);
}

/* fxa_kid = "%013lld-" base64url-nopad(client state bytes). */
static void
ts_fxa_kid(const struct ts_user *u, char out[TOKEN_FIELD_MAX])
{
	unsigned char	 raw[TS_STATE_MAX];
	size_t		 n = strlen(u->state) / 2, len;
	char		*b64;

	for (size_t i = 0; i < n; i++) {
		unsigned int c;

		sscanf(u->state + 2 * i, "%2x", &c);
		raw[i] = (unsigned char)c;
	}
	b64 = crypto_b64_encode(raw, n, true);
	len = strcspn(b64, "=");
	snprintf(out, TOKEN_FIELD_MAX, "%013lld-%.*s",
	    u->kca ? u->kca : u->generation, (int)len, b64);
	free(b64);
}

/* Mint the token of user u and build the 200 body. */
static int
ts_answer(struct tokenserver *ts, const struct ts_login *l,
    const struct ts_user *u, long long now, struct ts_reply *out,
    struct ts_error *e)
{
	struct sync_token	 t = { .uid = (uint64_t)u->uid };
	char			 key[TOKEN_KEY_LEN + 1], *tok, *ep;
	json_t			*obj;

	t.expires = (double)(now + l->duration);
	snprintf(t.node, sizeof t.node, "%s", u->node);
	snprintf(t.fxa_uid, sizeof t.fxa_uid, "%s", l->fxa_uid);
	ts_fxa_kid(u, t.fxa_kid);
	ts_metrics_hash(ts, l->fxa_uid, "", t.hashed_fxa_uid);
	ts_metrics_hash(ts, t.hashed_fxa_uid, "none", t.hashed_device_id);
	if ((tok = token_mint(ts->cfg->secret, ts->sig_key, &t, key)) == NULL)
		return ts_fail(e, 503, "error", "body", "token minting failed");
	ep = xprintf("%s/1.5/%lld", u->node, u->uid);
	obj = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "id", tok,
	    "key", key, "uid", (json_int_t)u->uid, "api_endpoint", ep,
	    "duration", (json_int_t)l->duration, "hashalg", "sha256",
	    "hashed_fxa_uid", t.hashed_fxa_uid, "node_type",
	    ts->cfg->node_type ? ts->cfg->node_type : "sqlite");
	out->status = 200;
	out->body = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	free(ep);
	free(tok);
	return 0;
}

/* Headers, verifier, user table, answer; *e set on failure. */
static int
ts_handle(struct tokenserver *ts, const struct ts_request *r,
    struct ts_reply *out, struct ts_error *e)
{
	struct ts_login	 l;
	struct ts_user	 u;
	const char	*bearer = NULL;

	memset(&l, 0, sizeof l);
	if (ts_bearer(r->authorization, &bearer, e) != 0 ||
	    ts_key_id(r->key_id, &l, e) != 0 ||
	    ts_client_state(r->client_state, &l, e) != 0)
		return -1;
	l.duration = ts_duration(ts->cfg, r->duration);
	if (ts_verify(ts, bearer, &l, e) != 0 ||
	    ts_user(ts, &l, &u, e) != 0)
		return -1;
	return ts_answer(ts, &l, &u, out->x_timestamp, out, e);
}

/* Turn *e into the reply. */
static void
ts_reply_error(const struct ts_error *e, struct ts_reply *out)
{
	out->status = e->status;
	out->body = ts_error_body(e);
	if (e->status == 503)
		out->retry_after = TS_RETRY_AFTER;
}

/* GET /1.0/sync/1.5. */
void
tokenserver_handle(struct tokenserver *ts, const struct ts_request *r,
    struct ts_reply *out)
{
	struct ts_error e = { 0 };

	memset(out, 0, sizeof *out);
	out->x_timestamp = (long long)time(NULL);
	if (ts_handle(ts, r, out, &e) == 0)
		return;
	if (e.status == 401)
		log_info("tokenserver: 401 %s: %s", e.word, e.desc);
	ts_reply_error(&e, out);
}

/* 404/405 of the tokenserver's routes. */
void
tokenserver_error(int status, const char *description, struct ts_reply *out)
{
	struct ts_error e = { 0 };

	memset(out, 0, sizeof *out);
	out->x_timestamp = (long long)time(NULL);
	ts_fail(&e, status, "error", "url", "%s", description);
	ts_reply_error(&e, out);
}
