/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c — the HTTP front of the sync worker on libmicrohttpd: routing,
 * the storage API's order of processing (route 404/405, auth 401, query
 * and headers 400, Accept 406, size 413 before the body, Content-Type 415,
 * body 400, then the store's 304/412 and operation), WEAVE error bodies and
 * the X-Weave-* / X-Last-Modified headers; health checks; the tokenserver.
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define SYNC_VERSION	"1.0"
#define RETRY_AFTER	"10"

enum route {
	R_NONE, R_LBHEARTBEAT, R_HEARTBEAT, R_TOKEN, R_TOKEN_OTHER, R_USER,
	R_INFO,
	R_STORAGE, R_COLL, R_BSO,
};

struct http_server {
	struct MHD_Daemon		*d;
	const struct sync_config	*cfg;
	struct store			*st;
	struct auth			*auth;
	struct tokenserver		*ts;
	size_t				 prefix_len;  /* public_url's path */
	const char			*prefix;
	atomic_bool			 draining;
	atomic_int			 in_flight;   /* requests begun, not done */
	atomic_int			 open_conns;  /* connections not closed */
};

/* A drain closes connections that stayed idle this long: a client that
 * is talking gets `Connection: close` on its next answer instead. */
#define DRAIN_IDLE_MS	500

/* One request; made by the URI log callback, freed when it completes. */
struct req {
	char		*target;        /* raw request-target */
	bool		 started;
	enum route	 route;
	enum info_kind	 info;
	uint64_t	 uid;
	char		*coll, *id;
	struct sbuf	 body;
	bool		 too_big;
};

struct answer {
	int		 status;
	char		*body;          /* NULL: "" */
	size_t		 len;
	const char	*ctype;
	bool		 weave;         /* a /1.5/ answer: X-Weave-Timestamp */
	int64_t		 ts, last_modified;
	bool		 has_last_modified;
	long		 records;
	const char	*next_offset;
	const char	*retry_after;
	const char	*www_auth;
	long long	 x_timestamp;
};

/* ---- answering ----------------------------------------------------------- */

static void
answer_init(struct answer *a, int status)
{
	memset(a, 0, sizeof(*a));
	a->status = status;
	a->ctype = "application/json";
	a->records = -1;
}

static enum MHD_Result
answer_send(struct http_server *hs, struct MHD_Connection *c,
    struct answer *a)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	char buf[32];

	r = MHD_create_response_from_buffer(a->len,
	    a->body != NULL ? a->body : (char *)"", a->body != NULL ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(a->body);
		return MHD_NO;
	}
	if (a->status != 304)
		MHD_add_response_header(r, "Content-Type", a->ctype);
	if (a->weave) {
		int64_t now = store_now_cs(), ts = a->ts;

		if (ts == 0)
			ts = now > a->last_modified ? now : a->last_modified;
		MHD_add_response_header(r, "X-Weave-Timestamp",
		    sync_fmt_ts(ts, buf));
	}
	if (a->has_last_modified)
		MHD_add_response_header(r, "X-Last-Modified",
		    sync_fmt_ts(a->last_modified, buf));
	if (a->records >= 0) {
		MHD_add_response_header(r, "X-Weave-Records",
		    sync_fmt_int(a->records, buf));
	}
	if (a->next_offset != NULL)
		MHD_add_response_header(r, "X-Weave-Next-Offset",
		    a->next_offset);
	if (a->retry_after != NULL)
		MHD_add_response_header(r, "Retry-After", a->retry_after);
	if (a->www_auth != NULL)
		MHD_add_response_header(r, "WWW-Authenticate", a->www_auth);
	if (a->x_timestamp > 0) {
		MHD_add_response_header(r, "X-Timestamp",
		    sync_fmt_int(a->x_timestamp, buf));
	}
	if (atomic_load(&hs->draining))
		MHD_add_response_header(r, "Connection", "close");
	rc = MHD_queue_response(c, (unsigned)a->status, r);
	MHD_destroy_response(r);
	return rc;
}

/* A storage API error: the status and a WEAVE code as the body. */
static enum MHD_Result
weave_error(struct http_server *hs, struct MHD_Connection *c, int status,
    enum weave_code code)
{
	struct answer a;

	answer_init(&a, status);
	a.weave = true;
	a.body = xprintf("%d", (int)code);
	a.len = strlen(a.body);
	if (status == 503)
		a.retry_after = RETRY_AFTER;
	if (status == 401)
		a.www_auth = "Hawk";
	return answer_send(hs, c, &a);
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ---- routing ------------------------------------------------------------ */

static bool
parse_uid(const char *s, size_t n, uint64_t *uid)
{
	uint64_t v = 0;

	if (n < 1 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*uid = v;
	return true;
}

static const struct {
	const char	*name;
	enum info_kind	 kind;
} infos[] = {
	{ "collections", INFO_COLLECTIONS },
	{ "collection_counts", INFO_COUNTS },
	{ "collection_usage", INFO_USAGE },
	{ "quota", INFO_QUOTA },
	{ "configuration", INFO_CONFIGURATION },
};

/* What follows /1.5/<uid>: info/x, storage, storage/c, storage/c/id. */
static enum route
route_user(struct req *q, char **seg, size_t nseg)
{
	if (nseg == 0)
		return R_USER;
	if (strcmp(seg[0], "info") == 0 && nseg == 2) {
		for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
			if (strcmp(seg[1], infos[i].name) == 0) {
				q->info = infos[i].kind;
				return R_INFO;
			}
		return R_NONE;
	}
	if (strcmp(seg[0], "storage") != 0 || nseg > 3)
		return R_NONE;
	if (nseg == 1)
		return R_STORAGE;
	if (!coll_name_valid(seg[1]))
		return R_NONE;
	q->coll = xstrdup(seg[1]);
	if (nseg == 2)
		return R_COLL;
	if (!bso_id_valid(seg[2]))
		return R_NONE;
	q->id = xstrdup(seg[2]);
	return R_BSO;
}

/* Split the decoded path into segments and route it. */
static enum route
route(struct http_server *hs, struct req *q)
{
	size_t n = strcspn(q->target, "?");
	const char *p = q->target;
	char *seg[8];
	size_t nseg = 0;
	enum route r = R_NONE;

	if (hs->prefix_len > 0 && n >= hs->prefix_len &&
	    strncmp(p, hs->prefix, hs->prefix_len) == 0 &&
	    (p[hs->prefix_len] == '/' || n == hs->prefix_len)) {
		p += hs->prefix_len;
		n -= hs->prefix_len;
	}
	if (n == 14 && strncmp(p, "/__heartbeat__", 14) == 0)
		return R_HEARTBEAT;
	if (n == 16 && strncmp(p, "/__lbheartbeat__", 16) == 0)
		return R_LBHEARTBEAT;
	if (n == 13 && strncmp(p, "/1.0/sync/1.5", 13) == 0)
		return R_TOKEN;
	if (n > 5 && strncmp(p, "/1.0/", 5) == 0)
		return R_TOKEN_OTHER;   /* another application/version: 404 */
	if (n < 6 || strncmp(p, "/1.5/", 5) != 0)
		return R_NONE;
	for (size_t i = 5; i <= n && nseg < 8;) {
		size_t len = strcspn(p + i, "/?");

		if (i + len > n)
			len = n - i;
		if ((seg[nseg] = sync_url_decode(p + i, len, false)) == NULL)
			goto out;
		nseg++;
		i += len + 1;
	}
	if (nseg == 8 || !parse_uid(seg[0], strlen(seg[0]), &q->uid))
		goto out;
	r = route_user(q, seg + 1, nseg - 1);
out:
	for (size_t i = 0; i < nseg; i++)
		free(seg[i]);
	return r;
}

static bool
method_allowed(enum route r, const char *m)
{
	bool get = strcmp(m, "GET") == 0, del = strcmp(m, "DELETE") == 0;

	switch (r) {
	case R_LBHEARTBEAT:
	case R_HEARTBEAT:
	case R_TOKEN:
	case R_TOKEN_OTHER:
	case R_INFO:
		return get;
	case R_USER:
	case R_STORAGE:
		return del;
	case R_COLL:
		return get || del || strcmp(m, "POST") == 0;
	case R_BSO:
		return get || del || strcmp(m, "PUT") == 0;
	case R_NONE:
		break;
	}
	return false;
}

/* ---- health and tokenserver ---------------------------------------------- */

static enum MHD_Result
serve_health(struct http_server *hs, struct MHD_Connection *c, enum route r)
{
	struct answer a;
	bool ok = r == R_LBHEARTBEAT || store_heartbeat(hs->st) == 0;

	answer_init(&a, ok ? 200 : 503);
	if (r == R_LBHEARTBEAT)
		a.body = xstrdup("{}");
	else
		a.body = xprintf("{\"status\": \"%s\", \"database\": \"%s\","
		    " \"version\": \"%s\"}", ok ? "Ok" : "Err",
		    ok ? "Ok" : "Err", SYNC_VERSION);
	a.len = strlen(a.body);
	if (!ok)
		a.retry_after = RETRY_AFTER;
	return answer_send(hs, c, &a);
}

/* A tokenserver reply: its JSON body, X-Timestamp, Retry-After. */
static enum MHD_Result
ts_reply_send(struct http_server *hs, struct MHD_Connection *c,
    struct ts_reply *rep)
{
	struct answer a;
	char ra[32];

	answer_init(&a, rep->status);
	a.body = rep->body;
	a.len = rep->body != NULL ? strlen(rep->body) : 0;
	a.x_timestamp = rep->x_timestamp;
	if (rep->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%ld", rep->retry_after);
		a.retry_after = ra;
	}
	return answer_send(hs, c, &a);
}

static enum MHD_Result
serve_token(struct http_server *hs, struct MHD_Connection *c,
    struct req *q)
{
	struct sync_query sq;
	struct ts_request tr;
	struct ts_reply rep = { 0 };
	const char *qs = strchr(q->target, '?');

	if (sync_query_parse(qs != NULL ? qs + 1 : NULL, &sq) == -1)
		memset(&sq, 0, sizeof(sq));
	tr.authorization = header(c, "Authorization");
	tr.key_id = header(c, "X-KeyID");
	tr.client_state = header(c, "X-Client-State");
	tr.duration = sq.duration;
	tokenserver_handle(hs->ts, &tr, &rep);
	sync_query_free(&sq);
	return ts_reply_send(hs, c, &rep);
}

/* ---- the storage API ------------------------------------------------------ */

/* X-If-(Un)Modified-Since (doc/sync-storage.md §3.4); -1: 400/1. */
static int
parse_preconds(struct MHD_Connection *c, bool is_get, struct precond *pc)
{
	const char *ims = header(c, "X-If-Modified-Since");
	const char *ius = header(c, "X-If-Unmodified-Since");

	memset(pc, 0, sizeof(*pc));
	if (ims != NULL && ius != NULL)
		return -1;
	if (ims != NULL && is_get) {
		if (sync_parse_ts(ims, &pc->ims) == -1)
			return -1;
		pc->has_ims = true;
	}
	if (ius != NULL) {
		if (sync_parse_ts(ius, &pc->ius) == -1)
			return -1;
		pc->has_ius = true;
	}
	return 0;
}

/* The X-Weave-* size headers of a POST (doc/sync-storage.md §5); 0, or a
 * WEAVE code. */
static enum weave_code
check_size_headers(struct http_server *hs, struct MHD_Connection *c)
{
	static const char *const names[] = { "X-Weave-Records",
	    "X-Weave-Bytes", "X-Weave-Total-Records", "X-Weave-Total-Bytes" };
	const long long limits[] = { hs->cfg->max_post_records,
	    hs->cfg->max_post_bytes, hs->cfg->max_total_records,
	    hs->cfg->max_total_bytes };

	for (size_t i = 0; i < 4; i++) {
		const char *v = header(c, names[i]);
		char *end;
		long long n;

		if (v == NULL)
			continue;
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0)
			return WEAVE_ILLEGAL;
		if (n > limits[i])
			return WEAVE_SIZE;
	}
	return WEAVE_UNKNOWN;
}

/* Accept of GET collection: 0 JSON, 1 newlines, -1 406. */
static int
accept_kind(const char *acc)
{
	char *copy, *save = NULL, *tok;
	int kind = -1, first = 1;

	if (acc == NULL || *acc == '\0')
		return 0;
	copy = xstrdup(acc);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save), first = 0) {
		size_t n;

		while (isspace((unsigned char)*tok))
			tok++;
		n = strcspn(tok, "; \t");
		if (first && n == 20 && strncasecmp(tok,
		    "application/newlines", 20) == 0) {
			kind = 1;
			break;
		}
		if ((n == 3 && strncmp(tok, "*/*", 3) == 0) ||
		    (n == 13 && strncasecmp(tok, "application/*", 13) == 0) ||
		    (n == 16 && strncasecmp(tok, "application/json", 16) == 0))
			kind = 0;
	}
	free(copy);
	return kind;
}

/* Content-Type of a PUT/POST: 0 JSON, 1 newlines, -1 415. */
static int
content_kind(const char *ct, bool post)
{
	size_t n;

	if (ct == NULL)
		return -1;
	while (isspace((unsigned char)*ct))
		ct++;
	n = strcspn(ct, "; \t");
	if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 10 && strncasecmp(ct, "text/plain", 10) == 0))
		return 0;
	if (post && n == 20 && strncasecmp(ct, "application/newlines", 20) == 0)
		return 1;
	return -1;
}

static enum MHD_Result
store_answer(struct http_server *hs, struct MHD_Connection *c,
    enum st_status ss, struct st_result *r, bool newlines)
{
	struct answer a;
	enum MHD_Result rc;

	switch (ss) {
	case ST_OK:
	case ST_NOT_MODIFIED:
	case ST_PRECONDITION:
		break;
	case ST_NOT_FOUND:
		st_result_free(r);
		return weave_error(hs, c, 404, WEAVE_UNKNOWN);
	case ST_BAD_BATCH:
	case ST_BAD_OFFSET:
		st_result_free(r);
		return weave_error(hs, c, 400, WEAVE_ILLEGAL);
	case ST_BUSY:
	case ST_ERROR:
		st_result_free(r);
		return weave_error(hs, c, 503, WEAVE_UNKNOWN);
	}
	answer_init(&a, ss == ST_NOT_MODIFIED ? 304 :
	    ss == ST_PRECONDITION ? 412 : r->status != 0 ? r->status : 200);
	a.weave = true;
	a.has_last_modified = true;
	a.last_modified = r->last_modified;
	a.ts = r->ts;
	if (ss == ST_PRECONDITION) {
		a.body = xstrdup("0");
		a.len = 1;
	} else if (ss == ST_OK && r->is_list) {
		struct sbuf b = { 0 };

		for (size_t i = 0; i < r->nitems; i++) {
			if (!newlines)
				sbuf_cstr(&b, i == 0 ? "[" : ",");
			sbuf_cstr(&b, r->items[i]);
			if (newlines)
				sbuf_cstr(&b, "\n");
		}
		if (!newlines)
			sbuf_cstr(&b, r->nitems == 0 ? "[]" : "]");
		a.body = sbuf_take(&b, &a.len);
		a.records = r->records;
		a.next_offset = r->next_offset;
		if (newlines)
			a.ctype = "application/newlines";
	} else if (ss == ST_OK) {
		a.body = sbuf_take(&r->body, &a.len);
		a.records = r->records;
	}
	rc = answer_send(hs, c, &a);
	st_result_free(r);
	return rc;
}

static enum MHD_Result
serve_post(struct http_server *hs, struct MHD_Connection *c, struct req *q,
    const struct sync_query *sq, const struct precond *pc, bool newlines)
{
	struct post_body pb;
	struct st_result r = { .records = -1 };
	enum weave_code code;
	enum st_status ss;

	if (sq->has_commit && sq->batch == NULL)
		return weave_error(hs, c, 400, WEAVE_ILLEGAL);
	if (post_body_parse(q->body.p, q->body.len, newlines, hs->cfg,
	    strcmp(q->coll, "crypto") == 0, &pb, &code) == -1)
		return weave_error(hs, c, 400, code);
	ss = store_post(hs->st, q->uid, q->coll, sq->batch, sq->commit, &pb,
	    pc, &r);
	post_body_free(&pb);
	return store_answer(hs, c, ss, &r, false);
}

static enum MHD_Result
serve_put(struct http_server *hs, struct MHD_Connection *c, struct req *q,
    const struct precond *pc)
{
	json_t *obj = json_loadb(q->body.p != NULL ? q->body.p : "",
	    q->body.len, JSON_DECODE_ANY, NULL);
	struct st_result r = { .records = -1 };
	struct bso_in b;
	enum st_status ss;

	if (obj == NULL)
		return weave_error(hs, c, 400, WEAVE_JSON);
	if (bso_from_json(obj, false, hs->cfg->max_record_payload_bytes,
	    &b) != NULL) {
		json_decref(obj);
		return weave_error(hs, c, 400, WEAVE_INVALID_BSO);
	}
	json_decref(obj);
	b.id = xstrdup(q->id);
	ss = store_put_bso(hs->st, q->uid, q->coll, &b, pc, &r);
	bso_clear(&b);
	return store_answer(hs, c, ss, &r, false);
}

/* Steps 3-7 of doc/sync-storage.md §3.1 once authenticated. */
static enum MHD_Result
serve_storage(struct http_server *hs, struct MHD_Connection *c,
    struct req *q, const char *method)
{
	bool get = strcmp(method, "GET") == 0;
	const char *qs = strchr(q->target, '?');
	struct sync_query sq;
	struct precond pc;
	struct st_result r = { .records = -1 };
	enum st_status ss;
	enum MHD_Result rc;
	enum weave_code code;
	int kind = 0;

	if (sync_query_parse(qs != NULL ? qs + 1 : NULL, &sq) == -1 ||
	    parse_preconds(c, get, &pc) == -1) {
		sync_query_free(&sq);
		return weave_error(hs, c, 400, WEAVE_ILLEGAL);
	}
	if (strcmp(method, "POST") == 0 &&
	    (code = check_size_headers(hs, c)) != WEAVE_UNKNOWN) {
		sync_query_free(&sq);
		return weave_error(hs, c, 400, code);
	}
	if (q->route == R_COLL && get && (kind = accept_kind(header(c,
	    "Accept"))) == -1) {
		sync_query_free(&sq);
		return weave_error(hs, c, 406, WEAVE_UNKNOWN);
	}
	if ((strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) &&
	    (kind = content_kind(header(c, "Content-Type"),
	    strcmp(method, "POST") == 0)) == -1) {
		sync_query_free(&sq);
		return weave_error(hs, c, 415, WEAVE_UNKNOWN);
	}
	if (q->route == R_INFO)
		rc = store_answer(hs, c, store_info(hs->st, q->uid, q->info,
		    &pc, &r), &r, false);
	else if (q->route == R_USER || q->route == R_STORAGE)
		rc = store_answer(hs, c, store_delete_storage(hs->st, q->uid,
		    &pc, &r), &r, false);
	else if (q->route == R_COLL && get)
		rc = store_answer(hs, c, store_get_collection(hs->st, q->uid,
		    q->coll, &sq, &pc, &r), &r, kind == 1);
	else if (q->route == R_COLL && strcmp(method, "POST") == 0)
		rc = serve_post(hs, c, q, &sq, &pc, kind == 1);
	else if (q->route == R_COLL)
		rc = store_answer(hs, c, store_delete_collection(hs->st, q->uid,
		    q->coll, sq.ids, sq.nids, &pc, &r), &r, false);
	else if (get)
		rc = store_answer(hs, c, store_get_bso(hs->st, q->uid, q->coll,
		    q->id, &pc, &r), &r, false);
	else if (strcmp(method, "PUT") == 0)
		rc = serve_put(hs, c, q, &pc);
	else {
		ss = store_delete_bso(hs->st, q->uid, q->coll, q->id, &pc, &r);
		rc = store_answer(hs, c, ss, &r, false);
	}
	sync_query_free(&sq);
	return rc;
}

static enum MHD_Result
serve_authenticated(struct http_server *hs, struct MHD_Connection *c,
    struct req *q, const char *method)
{
	struct auth_request ar = {
		.method = method,
		.target = q->target,
		.authorization = header(c, "Authorization"),
		.content_type = header(c, "Content-Type"),
		.body = (const unsigned char *)q->body.p,
		.body_len = q->body.len,
		.path_uid = q->uid,
		.expired_ok = q->route == R_INFO &&
		    q->info == INFO_COLLECTIONS && strcmp(method, "GET") == 0,
	};
	struct auth_identity id;
	char why[256] = "";

	if (auth_verify(hs->auth, &ar, &id, why, sizeof(why)) == -1) {
		log_info("401 %s %s: %s", method, q->target, why);
		return weave_error(hs, c, 401, WEAVE_UNKNOWN);
	}
	return serve_storage(hs, c, q, method);
}

/* ---- libmicrohttpd callbacks ---------------------------------------------- */

static void *
uri_log_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *hs = cls;
	struct req *q = xcalloc(1, sizeof(*q));

	(void)c;
	atomic_fetch_add(&hs->in_flight, 1);
	q->target = xstrdup(uri != NULL ? uri : "");
	return q;
}

static void
connection_cb(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *hs = cls;

	(void)c;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&hs->open_conns, 1);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		atomic_fetch_sub(&hs->open_conns, 1);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *hs = cls;
	struct req *q = *con_cls;

	(void)c;
	(void)toe;
	if (q == NULL)
		return;
	atomic_fetch_sub(&hs->in_flight, 1);
	free(q->target);
	free(q->coll);
	free(q->id);
	free(q->body.p);
	free(q);
	*con_cls = NULL;
}

/* The first call: route, 404/405, and 413 before any body is read. */
static enum MHD_Result
first_call(struct http_server *hs, struct MHD_Connection *c, struct req *q,
    const char *method, bool *answered)
{
	const char *cl = header(c, "Content-Length");

	*answered = true;
	q->started = true;
	q->route = route(hs, q);
	if (q->route == R_TOKEN_OTHER || (q->route == R_TOKEN &&
	    !method_allowed(q->route, method))) {
		struct ts_reply rep;

		tokenserver_error(q->route == R_TOKEN ? 405 : 404,
		    q->route == R_TOKEN ? "Method not allowed" :
		    "Unsupported application or version", &rep);
		return ts_reply_send(hs, c, &rep);
	}
	if (q->route == R_NONE)
		return weave_error(hs, c, 404, WEAVE_UNKNOWN);
	if (!method_allowed(q->route, method))
		return weave_error(hs, c, 405, WEAVE_UNKNOWN);
	if (cl != NULL && strtoull(cl, NULL, 10) >
	    (unsigned long long)hs->cfg->max_request_bytes)
		return weave_error(hs, c, 413, WEAVE_SIZE);
	*answered = false;
	return MHD_YES;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_server *hs = cls;
	struct req *q = *con_cls;
	bool answered;
	enum MHD_Result rc;

	(void)url;
	(void)version;
	if (q == NULL)
		return MHD_NO;
	if (!q->started) {
		rc = first_call(hs, c, q, method, &answered);
		if (answered)
			return rc;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (q->body.len + *upload_data_size >
		    (size_t)hs->cfg->max_request_bytes)
			q->too_big = true;
		else
			sbuf_add(&q->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		return weave_error(hs, c, 413, WEAVE_SIZE);
	switch (q->route) {
	case R_LBHEARTBEAT:
	case R_HEARTBEAT:
		return serve_health(hs, c, q->route);
	case R_TOKEN:
		return serve_token(hs, c, q);
	default:
		return serve_authenticated(hs, c, q, method);
	}
}

static void
mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_warnx("http: %s", buf);
}

struct http_server *
http_start(const struct sync_config *cfg, struct store *st,
    struct auth *auth, struct tokenserver *ts, int listen_fd,
    unsigned threads, char *err, size_t errlen)
{
	struct http_server *hs = xcalloc(1, sizeof(*hs));
	const char *path = strstr(cfg->node, "://");

	hs->cfg = cfg;
	hs->st = st;
	hs->auth = auth;
	hs->ts = ts;
	path = path != NULL ? strchr(path + 3, '/') : NULL;
	hs->prefix = path;
	hs->prefix_len = path != NULL ? strlen(path) : 0;
	atomic_init(&hs->draining, false);
	atomic_init(&hs->in_flight, 0);
	atomic_init(&hs->open_conns, 0);
	hs->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb, hs,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, hs,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, hs,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, hs,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_cb, hs,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
	    MHD_OPTION_END);
	if (hs->d == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server on fd %d",
		    listen_fd);
		free(hs);
		return NULL;
	}
	return hs;
}

void
http_stop(struct http_server *hs, int grace_ms)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int fd;

	if (hs == NULL)
		return;
	atomic_store(&hs->draining, true);
	fd = MHD_quiesce_daemon(hs->d);
	if (fd != -1)
		close(fd);
	/*
	 * No new connection comes to us (the listening socket is shared:
	 * others accept). Every answer from now on says `Connection: close`,
	 * so a keep-alive client that sends another request gets it answered
	 * and then reconnects elsewhere: closing its connection under it
	 * instead would fail the request already on the wire. Wait until
	 * every connection is closed, bounded by grace_ms, and close those
	 * that stayed idle for DRAIN_IDLE_MS (nobody is talking on them).
	 */
	for (int waited = 0, idle = 0; waited < grace_ms &&
	    atomic_load(&hs->open_conns) > 0; waited += 20) {
		if (atomic_load(&hs->in_flight) > 0)
			idle = 0;
		else if ((idle += 20) >= DRAIN_IDLE_MS)
			break;
		nanosleep(&tick, NULL);
	}
	MHD_stop_daemon(hs->d);
	free(hs);
}
