/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for syncserver/tokenserver.c: GET /1.0/sync/1.5 against a fake
 * FxA OAuth verifier (a libmicrohttpd server on 127.0.0.1 started by the
 * test, answering POST /v1/verify from a table): request headers, the
 * verifier's answers, the generation / keys_changed_at / client-state rules
 * of doc/sync-auth.md §5, allow_new_users, node allocation by capacity,
 * the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>

#include "crypto.h"
#include "sync-unit.h"
#include "syncserver.h"
#include "token.h"
#include "xmalloc.h"

#define SECRET "tokenserver-test-secret"
#define NODE "http://127.0.0.1:8000"
#define OLDSYNC "https://identity.mozilla.com/apps/oldsync"
#define FXA1 "0123456789abcdef0123456789abcdef"
#define FXA2 "fedcba9876543210fedcba9876543210"

/* ---- the fake verifier ---------------------------------------------- */

#define VERIFIER_MAX 16

struct verifier_entry {
	char	bearer[64];
	int	status;
	char	body[512];
};

struct verifier {
	struct MHD_Daemon	*d;
	int			 port;
	struct verifier_entry	 table[VERIFIER_MAX];
	size_t			 n;
	int			 calls;
};

struct upload {
	char	*data;
	size_t	 len;
};

/* Reply status/body as JSON. */
static enum MHD_Result
verifier_reply(struct MHD_Connection *c, int status, const char *body)
{
	struct MHD_Response	*r = MHD_create_response_from_buffer(
				    strlen(body), (void *)body,
				    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result		 ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The answer to the request's {"token": ...}. */
static enum MHD_Result
verifier_answer(struct verifier *v, struct MHD_Connection *c,
    const char *url, const struct upload *u)
{
	json_t		*req = json_loadb(u->data ? u->data : "", u->len, 0, NULL);
	const char	*tok = json_string_value(json_object_get(req, "token"));
	enum MHD_Result	 ret = MHD_NO;

	v->calls++;
	if (strcmp(url, "/v1/verify") != 0 || tok == NULL)
		ret = verifier_reply(c, 404, "{}");
	for (size_t i = 0; ret == MHD_NO && i < v->n; i++)
		if (strcmp(v->table[i].bearer, tok) == 0)
			ret = verifier_reply(c, v->table[i].status,
			    v->table[i].body);
	if (ret == MHD_NO)
		ret = verifier_reply(c, 400, "{\"code\":400,\"errno\":108}");
	json_decref(req);
	return ret;
}

/* libmicrohttpd access handler: gather the body, then answer. */
static enum MHD_Result
verifier_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *len,
    void **con_cls)
{
	struct upload	*u = *con_cls;
	enum MHD_Result	 ret;

	(void)method;
	(void)version;
	if (u == NULL) {
		*con_cls = xcalloc(1, sizeof *u);
		return MHD_YES;
	}
	if (*len > 0) {
		u->data = xrealloc(u->data, u->len + *len + 1);
		memcpy(u->data + u->len, data, *len);
		u->len += *len;
		*len = 0;
		return MHD_YES;
	}
	ret = verifier_answer(cls, c, url, u);
	return ret;
}

/* Free a request's body when the request ends. */
static void
verifier_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (u != NULL) {
		free(u->data);
		free(u);
	}
	*con_cls = NULL;
}

/* Make bearer verify as (status, body). */
static void
verifier_set(struct verifier *v, const char *bearer, int status,
    const char *body)
{
	struct verifier_entry *e = NULL;

	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->table[i].bearer, bearer) == 0)
			e = &v->table[i];
	if (e == NULL) {
		assert_true(v->n < VERIFIER_MAX);
		e = &v->table[v->n++];
	}
	snprintf(e->bearer, sizeof e->bearer, "%s", bearer);
	e->status = status;
	snprintf(e->body, sizeof e->body, "%s", body);
}

/* Make bearer a valid token of user fxa with generation gen (0: none). */
static void
verifier_user(struct verifier *v, const char *bearer, const char *fxa,
    long long gen)
{
	char body[512];

	if (gen)
		snprintf(body, sizeof body, "{\"user\":\"%s\",\"client_id\":"
		    "\"x\",\"scope\":[\"profile\",\"%s\"],\"generation\":%lld}",
		    fxa, OLDSYNC, gen);
	else
		snprintf(body, sizeof body, "{\"user\":\"%s\",\"client_id\":"
		    "\"x\",\"scope\":[\"%s\"]}", fxa, OLDSYNC);
	verifier_set(v, bearer, 200, body);
}

/* ---- fixture -------------------------------------------------------- */

struct fixture {
	char			 dir[64];
	char			 db[96];
	char			 verifier_url[64];
	struct sync_config	 cfg;
	struct sync_node	 nodes[2];
	struct verifier		 v;
	struct tokenserver	*ts;
};

/* A verifier on a free port, a database in a private tmp dir. */
static int
setup(void **state)
{
	struct fixture		*f = xcalloc(1, sizeof *f);
	const union MHD_DaemonInfo *info;
	char			 err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/test-sync-ts.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof f->db, "%s/sync.db", f->dir);
	f->v.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, verifier_cb, &f->v,
	    MHD_OPTION_NOTIFY_COMPLETED, verifier_done, NULL,
	    MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
	if (f->v.d == NULL)
		return -1;
	info = MHD_get_daemon_info(f->v.d, MHD_DAEMON_INFO_BIND_PORT);
	f->v.port = info->port;
	snprintf(f->verifier_url, sizeof f->verifier_url,
	    "http://127.0.0.1:%d", f->v.port);
	f->cfg.node = (char *)NODE;
	f->cfg.secret = (char *)SECRET;
	f->cfg.db_path = f->db;
	f->cfg.allow_new_users = true;
	f->cfg.oauth_verifier = f->verifier_url;
	f->cfg.token_duration = 3600;
	f->cfg.node_type = (char *)"sqlite";
	if ((f->ts = tokenserver_open(&f->cfg, err, sizeof err)) == NULL)
		return -1;
	*state = f;
	return 0;
}

/* Stop the verifier, close and remove the database. */
static int
teardown(void **state)
{
	struct fixture *f = *state;

	tokenserver_close(f->ts);
	if (f->v.d)
		MHD_stop_daemon(f->v.d);
	sync_unit_rm_db(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- requests ------------------------------------------------------- */

/* X-KeyID for kca and a 16-byte state made of byte `s`. */
static void
key_id(char *buf, size_t len, long long kca, unsigned char s)
{
	unsigned char	 raw[16];
	char		*b64;

	memset(raw, s, sizeof raw);
	b64 = crypto_b64_encode(raw, sizeof raw, true);
	b64[strcspn(b64, "=")] = '\0';
	snprintf(buf, len, "%lld-%s", kca, b64);
	free(b64);
}

/* GET /1.0/sync/1.5 with Bearer bearer and X-KeyID kid; the reply's JSON
 * (caller decrefs) and status. */
static json_t *
ts_get(struct fixture *f, const char *authz, const char *kid,
    const char *client_state, const char *duration, int *status)
{
	struct ts_request	r = { .authorization = authz, .key_id = kid,
				    .client_state = client_state,
				    .duration = duration };
	struct ts_reply		out;
	json_t			*obj;

	tokenserver_handle(f->ts, &r, &out);
	*status = out.status;
	assert_non_null(out.body);
	assert_true(out.x_timestamp > 1600000000);
	if (out.status == 503)
		assert_true(out.retry_after > 0);
	obj = json_loads(out.body, 0, NULL);
	assert_non_null(obj);
	free(out.body);
	return obj;
}

/* Expect an error reply (status, status word, description part). */
static void
expect_error(struct fixture *f, const char *authz, const char *kid,
    const char *cs, int status, const char *word, const char *desc)
{
	int		 got;
	json_t		*obj = ts_get(f, authz, kid, cs, NULL, &got);
	json_t		*err = json_array_get(json_object_get(obj, "errors"), 0);
	const char	*d = json_string_value(json_object_get(err,
			    "description"));

	if (got != status || strcmp(json_string_value(json_object_get(obj,
	    "status")), word) != 0)
		fail_msg("want %d %s, got %d %s", status, word, got,
		    json_string_value(json_object_get(obj, "status")));
	assert_non_null(json_object_get(err, "location"));
	assert_non_null(json_object_get(err, "name"));
	if (desc != NULL && (d == NULL || strstr(d, desc) == NULL))
		fail_msg("description \"%s\" lacks \"%s\"", d ? d : "", desc);
	json_decref(obj);
}

/* A successful request; returns the uid and checks the token. */
static long long
expect_ok(struct fixture *f, const char *bearer, const char *kid,
    const char *want_node)
{
	char			 authz[128], key[TOKEN_KEY_LEN + 1], why[256];
	char			 ep[TOKEN_NODE_MAX + 32];
	unsigned char		 sk[CRYPTO_SHA256_LEN];
	struct sync_token	 t;
	int			 status;
	json_t			*obj;
	long long		 uid;

	snprintf(authz, sizeof authz, "Bearer %s", bearer);
	obj = ts_get(f, authz, kid, NULL, NULL, &status);
	if (status != 200)
		fail_msg("status %d: %s", status, json_dumps(obj, 0));
	uid = json_integer_value(json_object_get(obj, "uid"));
	assert_true(uid > 0);
	assert_int_equal(token_signing_key(SECRET, sk), 0);
	assert_int_equal(token_parse(sk, json_string_value(json_object_get(obj,
	    "id")), &t, why, sizeof why), 0);
	assert_int_equal(t.uid, uid);
	assert_string_equal(t.node, want_node);
	assert_int_equal(token_derive_key(SECRET, json_string_value(
	    json_object_get(obj, "id")), t.salt, key), 0);
	assert_string_equal(key, json_string_value(json_object_get(obj,
	    "key")));
	snprintf(ep, sizeof ep, "%s/1.5/%lld", want_node, uid);
	assert_string_equal(json_string_value(json_object_get(obj,
	    "api_endpoint")), ep);
	assert_string_equal(json_string_value(json_object_get(obj,
	    "hashalg")), "sha256");
	assert_string_equal(json_string_value(json_object_get(obj,
	    "node_type")), "sqlite");
	assert_int_equal(strlen(json_string_value(json_object_get(obj,
	    "hashed_fxa_uid"))), 32);
	assert_string_equal(json_string_value(json_object_get(obj,
	    "hashed_fxa_uid")), t.hashed_fxa_uid);
	assert_int_equal(strlen(t.hashed_device_id), 32);
	assert_true(strlen(t.fxa_kid) > 14 && t.fxa_kid[13] == '-');
	json_decref(obj);
	return uid;
}

/* ---- tests ---------------------------------------------------------- */

/* New user, then the same user again: one uid; token fields. */
static void
test_new_and_returning_user(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64], authz[64];
	long long	 uid;
	int		 status;
	json_t		*obj;

	verifier_user(&f->v, "tok1", FXA1, 0);
	verifier_user(&f->v, "tok2", FXA2, 0);
	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	uid = expect_ok(f, "tok1", kid, NODE);
	assert_int_equal(expect_ok(f, "tok1", kid, NODE), uid);
	assert_true(expect_ok(f, "tok2", kid, NODE) != uid);
	/* duration: honoured when 0 < n <= token_duration */
	obj = ts_get(f, "bearer tok1", kid, NULL, "60", &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_integer_value(json_object_get(obj, "duration")),
	    60);
	json_decref(obj);
	obj = ts_get(f, "BEARER  tok1", kid, NULL, "999999", &status);
	assert_int_equal(json_integer_value(json_object_get(obj, "duration")),
	    3600);
	json_decref(obj);
	snprintf(authz, sizeof authz, "Bearer tok1");
	obj = ts_get(f, authz, kid, NULL, "-5", &status);
	assert_int_equal(json_integer_value(json_object_get(obj, "duration")),
	    3600);
	json_decref(obj);
}

/* Bad Authorization, X-KeyID and X-Client-State headers. */
static void
test_request_headers(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64], kid2[64];

	verifier_user(&f->v, "tok1", FXA1, 0);
	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	key_id(kid2, sizeof kid2, 1500000000000LL, 0xbb);
	expect_error(f, NULL, kid, NULL, 401, "error", "Unauthorized");
	expect_error(f, "Bearer ", kid, NULL, 401, "error", "Unauthorized");
	expect_error(f, "Basic abc", kid, NULL, 401, "error", "Unsupported");
	expect_error(f, "Bearer tok1", NULL, NULL, 401, "invalid-key-id",
	    NULL);
	expect_error(f, "Bearer tok1", "1234", NULL, 401,
	    "invalid-credentials", NULL);
	expect_error(f, "Bearer tok1", "12a-qqqq", NULL, 401,
	    "invalid-credentials", NULL);
	expect_error(f, "Bearer tok1", "-qqqq", NULL, 401,
	    "invalid-credentials", NULL);
	expect_error(f, "Bearer tok1", "1234-q!q", NULL, 401,
	    "invalid-credentials", NULL);
	expect_error(f, "Bearer tok1", kid, "not hex!", 400, "error", NULL);
	expect_error(f, "Bearer tok1", kid, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    400, "error", NULL);
	expect_error(f, "Bearer tok1", kid2, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    401, "invalid-client-state", NULL);
	assert_int_equal(f->v.calls, 0);	/* refused before the verifier */
	expect_ok(f, "tok1", kid, NODE);
	/* an upper-case X-Client-State matches; the state change itself is
	 * then refused (same keys_changed_at) */
	expect_error(f, "Bearer tok1", kid2, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
	    401, "invalid-client-state", NULL);
}

/* Verifier answers: 4xx, wrong scope, bad user -> 401; 5xx, down -> 503. */
static void
test_verifier_answers(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64];

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	expect_error(f, "Bearer unknown", kid, NULL, 401,
	    "invalid-credentials", NULL);
	verifier_set(&f->v, "scope", 200, "{\"user\":\"" FXA1 "\","
	    "\"scope\":[\"profile\",\"" OLDSYNC "x\"]}");
	expect_error(f, "Bearer scope", kid, NULL, 401, "invalid-credentials",
	    "scope");
	verifier_set(&f->v, "noscope", 200, "{\"user\":\"" FXA1 "\"}");
	expect_error(f, "Bearer noscope", kid, NULL, 401,
	    "invalid-credentials", "scope");
	verifier_set(&f->v, "baduser", 200, "{\"user\":\"a/b\",\"scope\":[\""
	    OLDSYNC "\"]}");
	expect_error(f, "Bearer baduser", kid, NULL, 401,
	    "invalid-credentials", "user");
	verifier_set(&f->v, "badgen", 200, "{\"user\":\"" FXA1 "\",\"scope\":"
	    "[\"" OLDSYNC "\"],\"generation\":\"12\"}");
	expect_error(f, "Bearer badgen", kid, NULL, 401,
	    "invalid-credentials", "generation");
	verifier_set(&f->v, "e403", 403, "{}");
	expect_error(f, "Bearer e403", kid, NULL, 401, "invalid-credentials",
	    NULL);
	verifier_set(&f->v, "notjson", 200, "<html>");
	expect_error(f, "Bearer notjson", kid, NULL, 503, "error", NULL);
	MHD_stop_daemon(f->v.d);		/* verifier down */
	f->v.d = NULL;
	expect_error(f, "Bearer e500", kid, NULL, 503, "error",
	    "unavailable");
}

/* After a 5xx (or no answer) the verifier rests: requests get a 503 at
 * once without calling it. A 4xx does not count as a failure. */
static void
test_verifier_rests_after_failure(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64];
	int		 calls;

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	verifier_user(&f->v, "good", FXA1, 0);
	verifier_set(&f->v, "e401", 401, "{}");
	expect_error(f, "Bearer e401", kid, NULL, 401, "invalid-credentials",
	    NULL);
	expect_ok(f, "good", kid, NODE);
	verifier_set(&f->v, "e502", 502, "{}");
	expect_error(f, "Bearer e502", kid, NULL, 503, "error", NULL);
	calls = f->v.calls;
	expect_error(f, "Bearer good", kid, NULL, 503, "error",
	    "unavailable");
	assert_int_equal(f->v.calls, calls);
}

/* Generation rules: older generation refused; newer accepted. */
static void
test_generation(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64];
	long long	 uid;

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	verifier_user(&f->v, "g2", FXA1, 1500000000002LL);
	uid = expect_ok(f, "g2", kid, NODE);
	verifier_user(&f->v, "g1", FXA1, 1500000000001LL);
	expect_error(f, "Bearer g1", kid, NULL, 401, "invalid-generation",
	    NULL);
	verifier_user(&f->v, "g3", FXA1, 1500000000003LL);
	assert_int_equal(expect_ok(f, "g3", kid, NODE), uid);
	expect_error(f, "Bearer g2", kid, NULL, 401, "invalid-generation",
	    NULL);
	verifier_user(&f->v, "g0", FXA1, 0);	/* no generation: accepted */
	assert_int_equal(expect_ok(f, "g0", kid, NODE), uid);
}

/* keys_changed_at rules: lower kca, generation below a new kca. */
static void
test_keys_changed_at(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64], lower[64], higher[64];
	long long	 uid;

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	key_id(lower, sizeof lower, 1400000000000LL, 0xaa);
	key_id(higher, sizeof higher, 1600000000000LL, 0xaa);
	verifier_user(&f->v, "t", FXA1, 0);
	uid = expect_ok(f, "t", kid, NODE);
	expect_error(f, "Bearer t", lower, NULL, 401, "invalid-keysChangedAt",
	    NULL);
	verifier_user(&f->v, "old-gen", FXA1, 1550000000000LL);
	expect_error(f, "Bearer old-gen", higher, NULL, 401,
	    "invalid-keysChangedAt", NULL);
	assert_int_equal(expect_ok(f, "t", higher, NODE), uid);
	expect_error(f, "Bearer t", kid, NULL, 401, "invalid-keysChangedAt",
	    NULL);
}

/* A client-state change with a newer kca gives a new uid; going back to
 * a replaced state or changing without a kca change is refused. */
static void
test_client_state_change(void **state)
{
	struct fixture	*f = *state;
	char		 a[64], b[64], b_same[64], a_later[64], empty[64];
	long long	 uid_a, uid_b;

	key_id(a, sizeof a, 1500000000000LL, 0xaa);
	key_id(b_same, sizeof b_same, 1500000000000LL, 0xbb);
	key_id(b, sizeof b, 1600000000000LL, 0xbb);
	key_id(a_later, sizeof a_later, 1700000000000LL, 0xaa);
	snprintf(empty, sizeof empty, "1700000000000-");
	verifier_user(&f->v, "t", FXA1, 0);
	uid_a = expect_ok(f, "t", a, NODE);
	expect_error(f, "Bearer t", b_same, NULL, 401, "invalid-client-state",
	    NULL);
	uid_b = expect_ok(f, "t", b, NODE);
	assert_true(uid_b != uid_a);
	assert_int_equal(expect_ok(f, "t", b, NODE), uid_b);
	expect_error(f, "Bearer t", a_later, NULL, 401, "invalid-client-state",
	    "stale");
	expect_error(f, "Bearer t", empty, NULL, 401, "invalid-client-state",
	    "empty");
}

/* allow_new_users = false: known users still get tokens. */
static void
test_new_users_disabled(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64];
	long long	 uid;

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	verifier_user(&f->v, "t1", FXA1, 0);
	verifier_user(&f->v, "t2", FXA2, 0);
	uid = expect_ok(f, "t1", kid, NODE);
	f->cfg.allow_new_users = false;
	expect_error(f, "Bearer t2", kid, NULL, 401, "new-users-disabled",
	    NULL);
	assert_int_equal(expect_ok(f, "t1", kid, NODE), uid);
}

/* Users spread over the nodes by load/capacity; 503 when all are full;
 * a user whose node left the list is moved. */
static void
test_nodes_by_capacity(void **state)
{
	struct fixture	*f = *state;
	char		 kid[64], bearer[16], fxa[40];
	const char	*want[] = { "http://a", "http://b", "http://b" };

	key_id(kid, sizeof kid, 1500000000000LL, 0xaa);
	f->nodes[0] = (struct sync_node){ (char *)"http://a", 1 };
	f->nodes[1] = (struct sync_node){ (char *)"http://b", 2 };
	f->cfg.nodes = f->nodes;
	f->cfg.nnodes = 2;
	for (int i = 0; i < 3; i++) {
		snprintf(bearer, sizeof bearer, "u%d", i);
		snprintf(fxa, sizeof fxa, "%032d", i);
		verifier_user(&f->v, bearer, fxa, 0);
		expect_ok(f, bearer, kid, want[i]);
	}
	verifier_user(&f->v, "u3", "00000000000000000000000000000003", 0);
	expect_error(f, "Bearer u3", kid, NULL, 503, "error", "room");
	/* node b leaves, a gets room: u1 moves to a */
	f->nodes[0].capacity = 3;
	f->cfg.nnodes = 1;
	expect_ok(f, "u1", kid, "http://a");
}

/* The error shape for the routes' 404/405. */
static void
test_error_reply(void **state)
{
	struct ts_reply	 out;
	json_t		*obj, *err;

	(void)state;
	tokenserver_error(404, "Unsupported application", &out);
	assert_int_equal(out.status, 404);
	assert_true(out.x_timestamp > 1600000000);
	assert_int_equal(out.retry_after, 0);
	obj = json_loads(out.body, 0, NULL);
	err = json_array_get(json_object_get(obj, "errors"), 0);
	assert_string_equal(json_string_value(json_object_get(obj, "status")),
	    "error");
	assert_string_equal(json_string_value(json_object_get(err,
	    "location")), "url");
	assert_string_equal(json_string_value(json_object_get(err,
	    "description")), "Unsupported application");
	json_decref(obj);
	free(out.body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_and_returning_user,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_headers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verifier_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verifier_rests_after_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keys_changed_at, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_state_change,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_users_disabled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nodes_by_capacity, setup,
		    teardown),
		cmocka_unit_test(test_error_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
