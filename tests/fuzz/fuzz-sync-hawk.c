/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the sync worker's authentication input: the first
 * byte picks what the rest is.
 *   0: an Authorization header value, through auth_verify (Hawk parsing,
 *      token decoding and signature check);
 *   1: a token payload, signed here with the harness's secret so the JSON
 *      field checks of token_parse and the key derivation run;
 *   2: a payload line, then the Hawk parameters after id="<its token>",
 *      through auth_verify (expiry, node, MAC, hash and skew checks).
 * The nonce cache is off (no files); every reason string must be a C
 * string that fits its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hawk.h"
#include "syncserver.h"
#include "token.h"
#include "xmalloc.h"

#define SECRET "fuzz-secret"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sync_config	cfg;
static struct auth		*auth;
static unsigned char		 sig_key[CRYPTO_SHA256_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	cfg.node = (char *)"http://127.0.0.1:5000";
	cfg.public_host = (char *)"127.0.0.1";
	cfg.public_port = 5000;
	cfg.secret = (char *)SECRET;
	cfg.expired_token_timeout = 7200;
	cfg.max_skew = 60;
	cfg.nonce_cache = false;
	if ((auth = auth_open(&cfg, err, sizeof err)) == NULL ||
	    token_signing_key(SECRET, sig_key) != 0) {
		fprintf(stderr, "fuzz-sync-hawk: %s\n", err);
		exit(1);
	}
	return 0;
}

/* auth_verify of one request with this Authorization value. */
static void
verify(const char *authz, const char *body)
{
	struct auth_request	r = { .method = "POST",
				    .target = "/1.5/1/storage/c?batch=true",
				    .authorization = authz,
				    .content_type = "application/json",
				    .body = (const unsigned char *)body,
				    .body_len = strlen(body), .path_uid = 1,
				    .expired_ok = body[0] == '[' };
	struct auth_identity	id;
	char			why[128];

	memset(why, 'x', sizeof why);
	if (auth_verify(auth, &r, &id, why, sizeof why) != 0 &&
	    memchr(why, '\0', sizeof why) == NULL)
		abort();
}

/* Sign payload text into a token (allocated). */
static char *
sign(const char *payload)
{
	size_t		 n = strlen(payload);
	unsigned char	*buf = xmalloc(n + CRYPTO_SHA256_LEN);
	char		*tok;

	memcpy(buf, payload, n);
	if (crypto_hmac_sha256(sig_key, sizeof sig_key, buf, n, buf + n) != 0)
		abort();
	tok = crypto_b64_encode(buf, n + CRYPTO_SHA256_LEN, true);
	free(buf);
	return tok;
}

/* Mode 1: parse a signed payload, derive its key. */
static void
payload(const char *text)
{
	struct sync_token	 t;
	char			 why[128], key[TOKEN_KEY_LEN + 1];
	char			*tok = sign(text);

	if (token_parse(sig_key, tok, &t, why, sizeof why) == 0) {
		if (token_derive_key(SECRET, tok, t.salt, key) != 0 ||
		    strlen(key) != TOKEN_KEY_LEN)
			abort();
	}
	free(tok);
}

/* Mode 2: "payload\nparams": a header around a validly signed token. */
static void
signed_header(const char *text)
{
	const char	*nl = strchr(text, '\n');
	char		*pl, *tok, *authz;

	if (nl == NULL)
		return;
	pl = xstrndup(text, (size_t)(nl - text));
	tok = sign(pl);
	authz = xprintf("Hawk id=\"%s\", %s", tok, nl + 1);
	verify(authz, "{}");
	free(authz);
	free(tok);
	free(pl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 16384)
		return 0;
	text = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		verify(text, "[]");
		break;
	case 1:
		payload(text);
		break;
	default:
		signed_header(text);
		break;
	}
	free(text);
	return 0;
}
