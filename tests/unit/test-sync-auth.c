/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the sync worker's authentication: syncserver/crypto.c
 * (RFC 5869 vectors, base64), token.c (tokens minted by the test-side
 * issuer tests/e2e/synclib.py, round trips, bad tokens), hawk.c (header
 * parsing, MAC and payload-hash vectors from synclib.py, auth_verify's
 * checks) and nonce.c (replays, purge).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "hawk.h"
#include "nonce.h"
#include "sync-unit.h"
#include "syncserver.h"
#include "token.h"
#include "xmalloc.h"

/*
 * Made by tests/e2e/synclib.py (an independent tokenlib v1 issuer):
 *   mint_token("s3cret", 42, "https://sync.example.com", 2000000000,
 *       salt="a1b2c3", fxa_uid="0123456789abcdef0123456789abcdef",
 *       hashed_fxa_uid="abcdef", tokenserver_origin="python")
 *   hawk_header(token, key, "POST", "https://sync.example.com/1.5/42/"
 *       "storage/bookmarks?batch=true&commit=true", b'[{"id":"a"}]',
 *       "application/json; charset=utf-8", ts=1700000000, nonce="n0nce",
 *       with_hash=True, ext='some "ext"')
 */
#define PY_SECRET "s3cret"
#define PY_NODE "https://sync.example.com"
#define PY_TOKEN \
	"eyJ1aWQiOiA0MiwgIm5vZGUiOiAiaHR0cHM6Ly9zeW5jLmV4YW1wbGUuY29tIiwgImV4" \
	"cGlyZXMiOiAyMDAwMDAwMDAwLCAic2FsdCI6ICJhMWIyYzMiLCAiZnhhX3VpZCI6ICIw" \
	"MTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZiIsICJoYXNoZWRfZnhhX3VpZCI6" \
	"ICJhYmNkZWYiLCAidG9rZW5zZXJ2ZXJfb3JpZ2luIjogInB5dGhvbiJ98XhyWGOCe_Qh" \
	"60kgQsbbBYqOUDOqQDWmAH1YNPfaLYE="
#define PY_KEY "CATz_EmQ_BGUUuaRuYKG25t_F-p-qC5rOfDC_r_iMlY="
#define PY_TARGET "/1.5/42/storage/bookmarks?batch=true&commit=true"
#define PY_BODY "[{\"id\":\"a\"}]"
#define PY_CTYPE "application/json; charset=utf-8"
#define PY_HASH "UuxD2loVkPcIbcl4b/hWeYpR3PfcQdBN6Vtb/QPP59Y="
#define PY_AUTHZ \
	"Hawk id=\"" PY_TOKEN "\", ts=\"1700000000\", nonce=\"n0nce\", " \
	"hash=\"" PY_HASH "\", ext=\"some \\\"ext\\\"\", " \
	"mac=\"6Q0dk6rBQITv+lD10kyir1l5c22fSRxrJUlPciyZbos=\""

/* Decode a hex string into buf; returns its length. */
static size_t
unhex(const char *hex, unsigned char *buf)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		buf[i] = (unsigned char)b;
	}
	return n;
}

/* Check one RFC 5869 (SHA-256) test case. */
static void
check_hkdf(const char *ikm, const char *salt, const char *info,
    const char *okm)
{
	unsigned char	i[128], s[128], f[128], out[128];
	char		hex[257];
	size_t		il = unhex(ikm, i), sl = unhex(salt, s),
			fl = unhex(info, f), ol = strlen(okm) / 2;

	assert_int_equal(crypto_hkdf_sha256(i, il, sl ? s : NULL, sl, f, fl,
	    out, ol), 0);
	crypto_hex(out, ol, hex);
	assert_string_equal(hex, okm);
}

/* RFC 5869 appendix A, cases 1-3 (case 3: no salt, no info). */
static void
test_hkdf_rfc5869(void **state)
{
	(void)state;
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	    "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865");
	check_hkdf(
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	    "404142434445464748494a4b4c4d4e4f",
	    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	    "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	    "cc30c58179ec3e87c14c01d5c1f3434f1d87");
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8");
}

/* HMAC-SHA256 (RFC 4231 case 2) and SHA-256 ("abc"). */
static void
test_hmac_sha256(void **state)
{
	unsigned char	mac[CRYPTO_SHA256_LEN];
	char		hex[65];

	(void)state;
	assert_int_equal(crypto_hmac_sha256("Jefe", 4,
	    "what do ya want for nothing?", 28, mac), 0);
	crypto_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d"
	    "2739839dec58b964ec3843");
	crypto_sha256("abc", 3, mac);
	crypto_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396"
	    "177a9cb410ff61f20015ad");
}

/* Decode text (url alphabet or not); expect want (NULL: failure). */
static void
check_b64(const char *text, bool url, const char *want)
{
	unsigned char	*out = NULL;
	size_t		 n = 0;
	int		 rc = crypto_b64_decode(text, strlen(text), url, &out, &n);

	if (want == NULL) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	free(out);
}

/* base64 both ways, padding optional, strict about the rest. */
static void
test_base64(void **state)
{
	char *s;

	(void)state;
	s = crypto_b64_encode("\xfb\xff\xbf", 3, false);
	assert_string_equal(s, "+/+/");
	free(s);
	s = crypto_b64_encode("\xfb\xff\xbf" "a", 4, true);
	assert_string_equal(s, "-_-_YQ==");
	free(s);
	check_b64("-_-_YQ==", true, "\xfb\xff\xbf" "a");
	check_b64("-_-_YQ", true, "\xfb\xff\xbf" "a");
	check_b64("+/+/", false, "\xfb\xff\xbf");
	check_b64("", true, "");
	check_b64("YWI=", true, "ab");
	check_b64("YWI", true, "ab");
	check_b64("+/+/", true, NULL);		/* wrong alphabet */
	check_b64("-_-_", false, NULL);
	check_b64("YW I=", true, NULL);		/* whitespace */
	check_b64("YQ=", true, NULL);		/* half padding */
	check_b64("YQ===", true, NULL);
	check_b64("Y", true, NULL);		/* impossible length */
	check_b64("Y=Q=", true, NULL);
	assert_true(crypto_equal("abc", "abc", 3));
	assert_false(crypto_equal("abc", "abd", 3));
}

/* A token of synclib.py parses; its derived key is synclib.py's. */
static void
test_token_from_python(void **state)
{
	unsigned char		sk[CRYPTO_SHA256_LEN];
	struct sync_token	t;
	char			why[256] = "", key[TOKEN_KEY_LEN + 1];

	(void)state;
	assert_int_equal(token_signing_key(PY_SECRET, sk), 0);
	assert_int_equal(token_parse(sk, PY_TOKEN, &t, why, sizeof why), 0);
	assert_int_equal(t.uid, 42);
	assert_string_equal(t.node, PY_NODE);
	assert_true(t.expires == 2000000000.0);
	assert_string_equal(t.salt, "a1b2c3");
	assert_string_equal(t.fxa_uid, "0123456789abcdef0123456789abcdef");
	assert_string_equal(t.hashed_fxa_uid, "abcdef");
	assert_string_equal(t.fxa_kid, "");
	assert_int_equal(token_derive_key(PY_SECRET, PY_TOKEN, t.salt, key), 0);
	assert_string_equal(key, PY_KEY);
	/* another secret: the signature fails */
	assert_int_equal(token_signing_key("other", sk), 0);
	assert_int_equal(token_parse(sk, PY_TOKEN, &t, why, sizeof why), -1);
	assert_non_null(strstr(why, "signature"));
}

/* Mint, parse back, derive the same key. */
static void
test_token_round_trip(void **state)
{
	unsigned char		sk[CRYPTO_SHA256_LEN];
	struct sync_token	t = { .uid = 1234567890, .expires = 1.5e9 },
				back;
	char			key[TOKEN_KEY_LEN + 1], key2[TOKEN_KEY_LEN + 1];
	char			why[256], *tok;

	(void)state;
	snprintf(t.node, sizeof t.node, "http://127.0.0.1:5000");
	snprintf(t.fxa_uid, sizeof t.fxa_uid, "deadbeef");
	snprintf(t.fxa_kid, sizeof t.fxa_kid, "0001234567890-AAAA");
	assert_int_equal(token_signing_key("k", sk), 0);
	tok = token_mint("k", sk, &t, key);
	assert_non_null(tok);
	assert_int_equal(strlen(key), TOKEN_KEY_LEN);
	assert_int_equal(token_parse(sk, tok, &back, why, sizeof why), 0);
	assert_int_equal(back.uid, t.uid);
	assert_string_equal(back.node, t.node);
	assert_true(back.expires == t.expires);
	assert_int_equal(strlen(back.salt), 6);	/* 3 random bytes, hex */
	assert_string_equal(back.fxa_kid, t.fxa_kid);
	assert_int_equal(token_derive_key("k", tok, back.salt, key2), 0);
	assert_string_equal(key, key2);
	free(tok);
}

/* A token signed with "s3cret" over arbitrary payload text. */
static char *
sign_payload(const char *payload)
{
	unsigned char	sk[CRYPTO_SHA256_LEN], buf[1024];
	size_t		n = strlen(payload);

	assert_true(n + CRYPTO_SHA256_LEN <= sizeof buf);
	assert_int_equal(token_signing_key(PY_SECRET, sk), 0);
	memcpy(buf, payload, n);
	assert_int_equal(crypto_hmac_sha256(sk, sizeof sk, buf, n, buf + n), 0);
	return crypto_b64_encode(buf, n + CRYPTO_SHA256_LEN, true);
}

/* Expect token text to be refused with a reason containing needle. */
static void
check_bad_token(const char *token, const char *needle)
{
	unsigned char		sk[CRYPTO_SHA256_LEN];
	struct sync_token	t;
	char			why[256] = "";

	assert_int_equal(token_signing_key(PY_SECRET, sk), 0);
	assert_int_equal(token_parse(sk, token, &t, why, sizeof why), -1);
	if (strstr(why, needle) == NULL)
		fail_msg("token %.60s: reason \"%s\" lacks \"%s\"", token, why,
		    needle);
}

/* Expect a signed payload to be refused for a reason naming needle. */
static void
check_bad_payload(const char *payload, const char *needle)
{
	char *tok = sign_payload(payload);

	check_bad_token(tok, needle);
	free(tok);
}

/* Tampered, short, undecodable tokens and invalid payload fields. */
static void
test_token_bad(void **state)
{
	char	*tok = xstrdup(PY_TOKEN), *big;

	(void)state;
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	check_bad_token(tok, "signature");
	free(tok);
	check_bad_token("", "too short");
	check_bad_token("YWJj", "too short");
	check_bad_token("not base64!", "base64");
	big = xmalloc(TOKEN_MAX_LEN + 2);
	memset(big, 'A', TOKEN_MAX_LEN + 1);
	big[TOKEN_MAX_LEN + 1] = '\0';
	check_bad_token(big, "too long");
	free(big);
	check_bad_payload("not json", "not a JSON object");
	check_bad_payload("[1]", "not a JSON object");
	check_bad_payload("{\"node\":\"n\",\"expires\":1,\"salt\":\"a\"}", "uid");
	check_bad_payload("{\"uid\":-1,\"node\":\"n\",\"expires\":1,"
	    "\"salt\":\"a\"}", "uid");
	check_bad_payload("{\"uid\":\"1\",\"node\":\"n\",\"expires\":1,"
	    "\"salt\":\"a\"}", "uid");
	check_bad_payload("{\"uid\":1,\"expires\":1,\"salt\":\"a\"}", "node");
	check_bad_payload("{\"uid\":1,\"node\":\"n\",\"salt\":\"a\"}",
	    "expires");
	check_bad_payload("{\"uid\":1,\"node\":\"n\",\"expires\":\"1\","
	    "\"salt\":\"a\"}", "expires");
	check_bad_payload("{\"uid\":1,\"node\":\"n\",\"expires\":1}", "salt");
	check_bad_payload("{\"uid\":1,\"node\":\"n\",\"expires\":1,"
	    "\"salt\":\"a\",\"fxa_uid\":\"a b\"}", "fxa_uid");
	check_bad_payload("{\"uid\":1,\"node\":\"n\",\"expires\":1,"
	    "\"salt\":\"a\",\"hashed_device_id\":7}", "hashed_device_id");
	check_bad_payload("{\"uid\":1,\"uid\":2,\"node\":\"n\",\"expires\":1,"
	    "\"salt\":\"a\"}", "JSON");
}

/* Parse a header that must succeed. */
static void
parse_ok(const char *value, struct hawk_header *h)
{
	char why[256] = "";

	if (hawk_parse(value, h, why, sizeof why) != 0)
		fail_msg("%s: %s", value, why);
}

/* Parse a header that must fail with a reason containing needle. */
static void
parse_bad(const char *value, const char *needle)
{
	struct hawk_header	h;
	char			why[256] = "";

	assert_int_equal(hawk_parse(value, &h, why, sizeof why), -1);
	if (strstr(why, needle) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", value ? value :
		    "(null)", why, needle);
	assert_null(h.id);
}

/* Any order, spacing, escapes; optional hash/ext. */
static void
test_hawk_parse_good(void **state)
{
	struct hawk_header h;

	(void)state;
	parse_ok("Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m\"", &h);
	assert_string_equal(h.id, "a");
	assert_string_equal(h.ts, "1");
	assert_null(h.hash);
	assert_null(h.ext);
	hawk_header_free(&h);
	parse_ok("  hawk   mac = \"m\",nonce=\"n\" ,ts=\"123\",\tid=\"x\",", &h);
	assert_string_equal(h.mac, "m");
	assert_string_equal(h.id, "x");
	assert_string_equal(h.ts, "123");
	hawk_header_free(&h);
	parse_ok("Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m\", "
	    "ext=\"say \\\"hi\\\" \\\\o/, ok\", hash=\"h=\"", &h);
	assert_string_equal(h.ext, "say \"hi\" \\o/, ok");
	assert_string_equal(h.hash, "h=");
	hawk_header_free(&h);
}

/* Garbage and missing pieces fail with a reason. */
static void
test_hawk_parse_bad(void **state)
{
	char *big;

	(void)state;
	parse_bad(NULL, "no Authorization");
	parse_bad("", "not Hawk");
	parse_bad("Bearer abc", "not Hawk");
	parse_bad("Hawkid=\"a\"", "not Hawk");
	parse_bad("Hawk", "not Hawk");
	parse_bad("Hawk ", "required");
	parse_bad("Hawk id=\"a\", ts=\"1\", nonce=\"n\"", "required");
	parse_bad("Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m\", "
	    "id=\"b\"", "duplicate");
	parse_bad("Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m\", "
	    "app=\"b\"", "unknown parameter");
	parse_bad("Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m", "not "
	    "terminated");
	parse_bad("Hawk id=a, ts=\"1\"", "not quoted");
	parse_bad("Hawk id\"a\"", "'=' expected");
	parse_bad("Hawk id=\"a\" ts=\"1\"", "',' expected");
	parse_bad("Hawk =\"a\"", "name expected");
	parse_bad("Hawk id=\"a\", ts=\"1x\", nonce=\"n\", mac=\"m\"", "ts");
	parse_bad("Hawk id=\"a\", ts=\"\", nonce=\"n\", mac=\"m\"", "ts");
	parse_bad("Hawk id=\"\", ts=\"1\", nonce=\"n\", mac=\"m\"", "empty");
	big = xmalloc(HAWK_HEADER_MAX + 10);
	memcpy(big, "Hawk id=\"", 9);
	memset(big + 9, 'a', HAWK_HEADER_MAX);
	big[HAWK_HEADER_MAX + 9] = '\0';
	parse_bad(big, "too long");
	free(big);
}

/* synclib.py's MAC and payload hash verify here. */
static void
test_hawk_python_vector(void **state)
{
	struct hawk_header	 h;
	char			*hash;

	(void)state;
	parse_ok(PY_AUTHZ, &h);
	assert_true(hawk_mac_ok(&h, PY_KEY, "post", PY_TARGET,
	    "sync.example.com", 443));
	assert_false(hawk_mac_ok(&h, PY_KEY, "POST", PY_TARGET,
	    "sync.example.com", 80));
	assert_false(hawk_mac_ok(&h, PY_KEY, "PUT", PY_TARGET,
	    "sync.example.com", 443));
	assert_false(hawk_mac_ok(&h, PY_KEY, "POST", PY_TARGET "&x=1",
	    "sync.example.com", 443));
	hash = hawk_payload_hash(PY_CTYPE, (const unsigned char *)PY_BODY,
	    strlen(PY_BODY));
	assert_string_equal(hash, PY_HASH);
	free(hash);
	hash = hawk_payload_hash(" Application/JSON ;charset=x",
	    (const unsigned char *)PY_BODY, strlen(PY_BODY));
	assert_string_equal(hash, PY_HASH);
	free(hash);
	hawk_header_free(&h);
}

/* ---- auth_verify --------------------------------------------------- */

struct fixture {
	char			dir[64];
	char			nonce_path[96];
	struct sync_config	cfg;
	struct auth		*auth;
	unsigned char		sk[CRYPTO_SHA256_LEN];
};

/* A config for http://127.0.0.1:8000 with a nonce cache in a tmp dir. */
static int
setup_auth(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof *f);
	char		 err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/test-sync-auth.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->nonce_path, sizeof f->nonce_path, "%s/nonces", f->dir);
	f->cfg.node = (char *)"http://127.0.0.1:8000";
	f->cfg.public_host = (char *)"127.0.0.1";
	f->cfg.public_port = 8000;
	f->cfg.secret = (char *)PY_SECRET;
	f->cfg.expired_token_timeout = 7200;
	f->cfg.nonce_cache = true;
	f->cfg.nonce_db_path = f->nonce_path;
	if ((f->auth = auth_open(&f->cfg, err, sizeof err)) == NULL)
		return -1;
	token_signing_key(PY_SECRET, f->sk);
	*state = f;
	return 0;
}

/* Close and remove the nonce cache files. */
static int
teardown_auth(void **state)
{
	struct fixture *f = *state;

	auth_close(f->auth);
	sync_unit_rm_db(f->nonce_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One signed request of the fixture's node. */
struct req {
	char			*token;
	char			 key[TOKEN_KEY_LEN + 1];
	char			 authz[4096];
	struct auth_request	 r;
};

/* Mint a token for uid/node expiring at `expires`. */
static void
req_token(struct fixture *f, struct req *q, uint64_t uid, const char *node,
    double expires)
{
	struct sync_token t = { .uid = uid, .expires = expires };

	snprintf(t.node, sizeof t.node, "%s", node);
	q->token = token_mint(PY_SECRET, f->sk, &t, q->key);
	assert_non_null(q->token);
}

/* Sign method target with ts/nonce (and a hash when hash != NULL). */
static void
req_sign(struct req *q, const char *method, const char *target, long ts,
    const char *nonce, const char *hash)
{
	struct hawk_header	 h = { .id = q->token, .nonce = (char *)nonce,
				    .hash = (char *)hash };
	char			 tsbuf[32], *norm, *mac;
	unsigned char		 digest[CRYPTO_SHA256_LEN];

	snprintf(tsbuf, sizeof tsbuf, "%ld", ts);
	h.ts = tsbuf;
	norm = hawk_normalized(&h, method, target, "127.0.0.1", 8000);
	crypto_hmac_sha256(q->key, strlen(q->key), norm, strlen(norm), digest);
	mac = crypto_b64_encode(digest, sizeof digest, false);
	snprintf(q->authz, sizeof q->authz, "Hawk id=\"%s\", ts=\"%s\", "
	    "nonce=\"%s\"%s%s%s, mac=\"%s\"", q->token, tsbuf, nonce,
	    hash ? ", hash=\"" : "", hash ? hash : "", hash ? "\"" : "", mac);
	free(mac);
	free(norm);
	q->r = (struct auth_request){ .method = method, .target = target,
	    .authorization = q->authz };
}

/* auth_verify; on failure, expect needle in the reason. */
static void
check_auth(struct fixture *f, struct req *q, uint64_t path_uid,
    const char *needle)
{
	struct auth_identity	id;
	char			why[512] = "";
	int			rc;

	q->r.path_uid = path_uid;
	rc = auth_verify(f->auth, &q->r, &id, why, sizeof why);
	if (needle == NULL) {
		if (rc != 0)
			fail_msg("expected success: %s", why);
		assert_int_equal(id.uid, path_uid);
		return;
	}
	assert_int_equal(rc, -1);
	if (strstr(why, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
}

/* A good request passes once; its replay fails; a new nonce passes. */
static void
test_auth_ok_and_replay(void **state)
{
	struct fixture	*f = *state;
	struct req	 q;
	long		 now = (long)time(NULL);

	req_token(f, &q, 7, f->cfg.node, (double)now + 60);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "n1", NULL);
	check_auth(f, &q, 7, NULL);
	check_auth(f, &q, 7, "replayed");
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "n2", NULL);
	check_auth(f, &q, 7, NULL);
	/* a MAC failure is not remembered: the good request still passes */
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "n3", NULL);
	q.r.target = "/1.5/7/info/quota";
	check_auth(f, &q, 7, "MAC invalid");
	q.r.target = "/1.5/7/info/collections";
	check_auth(f, &q, 7, NULL);
	free(q.token);
}

/* A token is checked once: later requests with it come from the cache,
 * which a token differing in one character never hits. */
static void
test_auth_token_cache(void **state)
{
	struct fixture	*f = *state;
	struct req	 q;
	long		 now = (long)time(NULL);
	char		*tampered;

	req_token(f, &q, 7, f->cfg.node, (double)now + 60);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "c1", NULL);
	check_auth(f, &q, 7, NULL);
	assert_int_equal(auth_cache_hits(f->auth), 0);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "c2", NULL);
	check_auth(f, &q, 7, NULL);
	assert_int_equal(auth_cache_hits(f->auth), 1);
	/* the cached token still gets the per-request checks */
	req_sign(&q, "GET", "/1.5/8/info/collections", now, "c3", NULL);
	check_auth(f, &q, 8, "uid 8 in the path");
	assert_int_equal(auth_cache_hits(f->auth), 2);
	tampered = xstrdup(q.token);
	tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
	free(q.token);
	q.token = tampered;
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "c4", NULL);
	check_auth(f, &q, 7, "signature");
	assert_int_equal(auth_cache_hits(f->auth), 2);
	free(q.token);
}

/* With nonce_cache = false a replay passes. */
static void
test_auth_nonce_cache_off(void **state)
{
	struct fixture	*f = *state;
	struct req	 q;
	long		 now = (long)time(NULL);
	char		 err[256];

	auth_close(f->auth);
	f->cfg.nonce_cache = false;
	f->auth = auth_open(&f->cfg, err, sizeof err);
	assert_non_null(f->auth);
	req_token(f, &q, 7, f->cfg.node, (double)now + 60);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "n1", NULL);
	check_auth(f, &q, 7, NULL);
	check_auth(f, &q, 7, NULL);
	free(q.token);
}

/* Node, expiry (and info/collections' grace), uid, header failures. */
static void
test_auth_token_checks(void **state)
{
	struct fixture	*f = *state;
	struct req	 q;
	long		 now = (long)time(NULL);

	req_token(f, &q, 7, "http://other:8000", (double)now + 60);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "a", NULL);
	check_auth(f, &q, 7, "node");
	free(q.token);

	req_token(f, &q, 7, f->cfg.node, (double)now - 10);
	req_sign(&q, "GET", "/1.5/7/storage/x", now, "b", NULL);
	check_auth(f, &q, 7, "expired");
	q.r.expired_ok = true;			/* within the grace */
	check_auth(f, &q, 7, NULL);
	free(q.token);
	req_token(f, &q, 7, f->cfg.node, (double)now - 7300);
	req_sign(&q, "GET", "/1.5/7/info/collections", now, "c", NULL);
	q.r.expired_ok = true;			/* beyond the grace */
	check_auth(f, &q, 7, "expired");
	free(q.token);

	req_token(f, &q, 7, f->cfg.node, (double)now + 60);
	req_sign(&q, "GET", "/1.5/8/info/collections", now, "d", NULL);
	check_auth(f, &q, 8, "uid 8 in the path");
	q.r.authorization = NULL;
	check_auth(f, &q, 7, "no Authorization");
	q.r.authorization = "Hawk id=\"garbage\", ts=\"1\", nonce=\"n\", "
	    "mac=\"m\"";
	check_auth(f, &q, 7, "token");
	free(q.token);
}

/* hash is checked against the body; skew only when max_skew > 0. */
static void
test_auth_hash_and_skew(void **state)
{
	struct fixture	*f = *state;
	struct req	 q;
	long		 now = (long)time(NULL);
	char		*hash = hawk_payload_hash("application/json",
			    (const unsigned char *)"[]", 2);

	req_token(f, &q, 7, f->cfg.node, (double)now + 60);
	req_sign(&q, "POST", "/1.5/7/storage/x", now, "h1", hash);
	q.r.content_type = "application/json";
	q.r.body = (const unsigned char *)"[]";
	q.r.body_len = 2;
	check_auth(f, &q, 7, NULL);
	req_sign(&q, "POST", "/1.5/7/storage/x", now, "h2", hash);
	q.r.content_type = "application/json";
	q.r.body = (const unsigned char *)"[1]";
	q.r.body_len = 3;
	check_auth(f, &q, 7, "payload hash");

	req_sign(&q, "GET", "/1.5/7/storage/x", now - 3600, "s1", NULL);
	check_auth(f, &q, 7, NULL);		/* max_skew = 0: not enforced */
	f->cfg.max_skew = 60;
	req_sign(&q, "GET", "/1.5/7/storage/x", now - 3600, "s2", NULL);
	check_auth(f, &q, 7, "max_skew");
	req_sign(&q, "GET", "/1.5/7/storage/x", now + 3600, "s3", NULL);
	check_auth(f, &q, 7, "max_skew");
	req_sign(&q, "GET", "/1.5/7/storage/x", now, "s4", NULL);
	check_auth(f, &q, 7, NULL);
	f->cfg.max_skew = 0;
	free(hash);
	free(q.token);
}

/* Entries are per token; expired ones no longer count, nor refuse. */
static void
test_nonce_cache(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t1[CRYPTO_SHA256_LEN] = { 1 },
				 t2[CRYPTO_SHA256_LEN] = { 2 };
	char			 err[256], path[128], why[256], big[300];

	snprintf(path, sizeof path, "%s/n2", f->dir);
	nc = nonce_open(path, err, sizeof err);
	assert_non_null(nc);
	assert_int_equal(nonce_remember(nc, t1, "a", 100, 10, why, 256), 1);
	assert_int_equal(nonce_remember(nc, t1, "a", 100, 10, why, 256), 0);
	assert_int_equal(nonce_remember(nc, t2, "a", 100, 10, why, 256), 1);
	assert_int_equal(nonce_remember(nc, t1, "b", 50, 10, why, 256), 1);
	assert_int_equal(nonce_count(nc, 10), 3);
	/* at 75 "b" (until 50) has expired: its token is refused anyway, so
	 * it is neither counted nor a replay */
	assert_int_equal(nonce_remember(nc, t2, "c", 200, 75, why, 256), 1);
	assert_int_equal(nonce_count(nc, 75), 3);
	assert_int_equal(nonce_remember(nc, t1, "b", 300, 76, why, 256), 1);
	assert_int_equal(nonce_remember(nc, t1, "b", 300, 77, why, 256), 0);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(nonce_remember(nc, t1, big, 200, 75, why, 256), -1);
	nonce_close(nc);
	/* what one process remembered, another sees */
	nc = nonce_open(path, err, sizeof err);
	assert_int_equal(nonce_remember(nc, t2, "c", 200, 80, why, 256), 0);
	nonce_close(nc);
	assert_null(nonce_open("/nonexistent-dir/x", err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent-dir/x"));
	sync_unit_rm_db(path);
}

/* A backlog of expired spilled entries is purged from SQLite chunk by
 * chunk, one chunk per call, within the minute. */
static void
test_nonce_purge_backlog(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t[CRYPTO_SHA256_LEN] = { 3 };
	char			 err[256], path[128], why[256], nonce[16];

	snprintf(path, sizeof path, "%s/n3", f->dir);
	nc = nonce_open_sized(path, 1, err, sizeof err);  /* 14 in the table */
	assert_non_null(nc);
	for (int i = 0; i < 2500; i++) {
		snprintf(nonce, sizeof nonce, "n%d", i);
		assert_int_equal(nonce_remember(nc, t, nonce, 50, 10, why,
		    sizeof why), 1);
	}
	assert_int_equal(nonce_count(nc, 10), 2500);
	assert_int_equal(nonce_spilled(nc), 2486);
	/* the new entries take the table's expired slots */
	assert_int_equal(nonce_remember(nc, t, "a", 500, 75, why, 256), 1);
	assert_int_equal(nonce_spilled(nc), 1486);
	assert_int_equal(nonce_remember(nc, t, "b", 500, 76, why, 256), 1);
	assert_int_equal(nonce_spilled(nc), 486);
	assert_int_equal(nonce_remember(nc, t, "c", 500, 77, why, 256), 1);
	assert_int_equal(nonce_spilled(nc), 0);
	assert_int_equal(nonce_count(nc, 77), 3);
	nonce_close(nc);
	sync_unit_rm_db(path);
}

/* A bucket full of live entries spills to SQLite; a spilled key is still
 * a replay after its bucket has room again. */
static void
test_nonce_table_full(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t[CRYPTO_SHA256_LEN] = { 4 };
	char			 err[256], path[128], why[256], nonce[16];

	snprintf(path, sizeof path, "%s/n4", f->dir);
	nc = nonce_open_sized(path, 1, err, sizeof err);	/* 1 bucket */
	assert_non_null(nc);
	for (int i = 0; i < 30; i++) {
		snprintf(nonce, sizeof nonce, "n%d", i);
		assert_int_equal(nonce_remember(nc, t, nonce, 100, 10, why,
		    sizeof why), 1);
	}
	assert_in_range(nonce_spilled(nc), 1, 29);
	assert_int_equal(nonce_count(nc, 10), 30);
	for (int i = 0; i < 30; i++) {
		snprintf(nonce, sizeof nonce, "n%d", i);
		assert_int_equal(nonce_remember(nc, t, nonce, 100, 11, why,
		    sizeof why), 0);
	}
	assert_int_equal(nonce_remember(nc, t, "late", 1000, 12, why, 256), 1);
	/* at 150 the entries until 100 have expired: purged from SQLite,
	 * and free in the table */
	assert_int_equal(nonce_remember(nc, t, "fresh", 1000, 150, why, 256),
	    1);
	assert_int_equal(nonce_remember(nc, t, "late", 1000, 151, why, 256), 0);
	assert_int_equal(nonce_remember(nc, t, "fresh", 1000, 152, why, 256),
	    0);
	assert_int_equal(nonce_count(nc, 152), 2);
	nonce_close(nc);
	assert_null(nonce_open_sized(path, 3, err, sizeof err));
	sync_unit_rm_db(path);
}

/* Bucket 0's lock in the table file at tpath, mapped here; NULL if it
 * cannot be (it sits after the 64-byte header). */
static pthread_mutex_t *
table_lock0(const char *tpath)
{
	int	 fd = open(tpath, O_RDWR);
	void	*map;

	if (fd == -1)
		return NULL;
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return map == MAP_FAILED ? NULL : (pthread_mutex_t *)((char *)map + 64);
}

/* Another process's nonce is a replay here; a process that dies holding
 * a bucket lock leaves the table usable. */
static void
test_nonce_table_processes(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t[CRYPTO_SHA256_LEN] = { 5 };
	char			 err[256], path[128], tpath[140], why[256];
	int			 st;
	pid_t			 pid;

	snprintf(path, sizeof path, "%s/n5", f->dir);
	snprintf(tpath, sizeof tpath, "%s-table", path);
	nc = nonce_open_sized(path, 1, err, sizeof err);
	assert_non_null(nc);
	if ((pid = fork()) == 0) {
		struct nonce_cache *c = nonce_open_sized(path, 1, err,
		    sizeof err);
		pthread_mutex_t *lock0;

		if (c == NULL || nonce_remember(c, t, "child", 100, 10, why,
		    sizeof why) != 1)
			_exit(1);
		if ((lock0 = table_lock0(tpath)) == NULL ||
		    pthread_mutex_lock(lock0) != 0)
			_exit(2);
		_exit(0);	/* dies holding it */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(nonce_remember(nc, t, "child", 100, 11, why, 256), 0);
	assert_int_equal(nonce_remember(nc, t, "parent", 100, 11, why, 256), 1);
	assert_int_equal(nonce_remember(nc, t, "parent", 100, 11, why, 256), 0);
	nonce_close(nc);
	sync_unit_rm_db(path);
}

/* The bucket a nonce's key falls in, in a table of `buckets` (as
 * nonce.c: the first 4 bytes of SHA-256(token hash, nonce)). */
static unsigned
nonce_bucket_of(const unsigned char t[CRYPTO_SHA256_LEN], const char *nonce,
    unsigned buckets)
{
	unsigned char	buf[CRYPTO_SHA256_LEN + 32], d[CRYPTO_SHA256_LEN];
	size_t		n = strlen(nonce);

	memcpy(buf, t, CRYPTO_SHA256_LEN);
	memcpy(buf + CRYPTO_SHA256_LEN, nonce, n);
	crypto_sha256(buf, CRYPTO_SHA256_LEN + n, d);
	return ((unsigned)d[0] << 24 | (unsigned)d[1] << 16 |
	    (unsigned)d[2] << 8 | d[3]) & (buckets - 1);
}

/*
 * The minute's purge touches no other bucket: a process that holds bucket
 * 0's lock (alive) does not stop a new process's first signed request,
 * which purges, from remembering a nonce of bucket 1. It used to sweep the
 * whole table, bucket lock by bucket lock: here it waited forever, and on
 * the default 24 MiB table it slowed every new worker's first signed
 * request (doc/sync-auth.md §4).
 */
static void
test_nonce_purge_skips_the_table(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t[CRYPTO_SHA256_LEN] = { 7 };
	char			 err[256], path[128], tpath[140], why[256];
	char			 nonce[16] = "";
	int			 st, ready[2];
	pid_t			 holder, user, done = 0;
	struct timespec		 tick = { 0, 10 * 1000 * 1000 };

	snprintf(path, sizeof path, "%s/n7", f->dir);
	snprintf(tpath, sizeof tpath, "%s-table", path);
	nc = nonce_open_sized(path, 2, err, sizeof err);
	assert_non_null(nc);
	nonce_close(nc);
	for (int i = 0; nonce[0] == '\0'; i++) {
		snprintf(nonce, sizeof nonce, "n%d", i);
		if (nonce_bucket_of(t, nonce, 2) != 1)
			nonce[0] = '\0';
	}
	assert_int_equal(pipe(ready), 0);
	if ((holder = fork()) == 0) {
		pthread_mutex_t *lock0 = table_lock0(tpath);

		if (lock0 == NULL || pthread_mutex_lock(lock0) != 0)
			_exit(2);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();	/* holds it until killed */
	}
	assert_int_equal(read(ready[0], err, 1), 1);
	if ((user = fork()) == 0) {
		struct nonce_cache *c = nonce_open_sized(path, 2, err,
		    sizeof err);

		_exit(c != NULL && nonce_remember(c, t, nonce, 1000, 100, why,
		    sizeof why) == 1 ? 0 : 1);
	}
	for (int waited = 0; done == 0 && waited < 20000; waited += 10) {
		done = waitpid(user, &st, WNOHANG);
		if (done == 0)
			nanosleep(&tick, NULL);
	}
	if (done == 0) {
		kill(user, SIGKILL);
		waitpid(user, &st, 0);
	}
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(done, user);	/* not stuck behind bucket 0 */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sync_unit_rm_db(path);
}

/* A torn table file (its header overwritten) is made anew at open. */
static void
test_nonce_table_torn(void **state)
{
	struct fixture		*f = *state;
	struct nonce_cache	*nc;
	unsigned char		 t[CRYPTO_SHA256_LEN] = { 6 };
	char			 err[256], path[128], tpath[140], why[256];
	int			 fd;

	snprintf(path, sizeof path, "%s/n6", f->dir);
	snprintf(tpath, sizeof tpath, "%s-table", path);
	nc = nonce_open_sized(path, 2, err, sizeof err);
	assert_non_null(nc);
	assert_int_equal(nonce_remember(nc, t, "a", 100, 10, why, 256), 1);
	nonce_close(nc);
	fd = open(tpath, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "torn-torn-torn!!", 16, 0), 16);
	close(fd);
	nc = nonce_open_sized(path, 2, err, sizeof err);
	assert_non_null(nc);
	assert_int_equal(nonce_count(nc, 10), 0);
	assert_int_equal(nonce_remember(nc, t, "a", 100, 10, why, 256), 1);
	assert_int_equal(nonce_remember(nc, t, "a", 100, 10, why, 256), 0);
	nonce_close(nc);
	/* a file cut short is made anew too */
	assert_int_equal(truncate(tpath, 10), 0);
	nc = nonce_open_sized(path, 2, err, sizeof err);
	assert_non_null(nc);
	assert_int_equal(nonce_remember(nc, t, "b", 100, 10, why, 256), 1);
	nonce_close(nc);
	sync_unit_rm_db(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_hmac_sha256),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_token_from_python),
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_token_bad),
		cmocka_unit_test(test_hawk_parse_good),
		cmocka_unit_test(test_hawk_parse_bad),
		cmocka_unit_test(test_hawk_python_vector),
		cmocka_unit_test_setup_teardown(test_auth_ok_and_replay,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_auth_token_cache,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_auth_nonce_cache_off,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_auth_token_checks,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_auth_hash_and_skew,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_cache, setup_auth,
		    teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_purge_backlog,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_table_full,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_table_processes,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_purge_skips_the_table,
		    setup_auth, teardown_auth),
		cmocka_unit_test_setup_teardown(test_nonce_table_torn,
		    setup_auth, teardown_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
