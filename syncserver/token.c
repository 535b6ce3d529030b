/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c — tokenlib v1 tokens: verify the signature over the raw payload
 * bytes, then read the JSON payload's fields; derive the Hawk key; mint.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "token.h"
#include "xmalloc.h"

static const char SIGNING_INFO[] = "services.mozilla.com/tokenlib/v1/signing";
static const char DERIVE_INFO[] = "services.mozilla.com/tokenlib/v1/derive/";

/* Format a reason into why; returns -1 for `return sync_why(...)`. */
int
sync_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* HKDF(secret, no salt, signing info). */
int
token_signing_key(const char *secret, unsigned char key[CRYPTO_SHA256_LEN])
{
	return crypto_hkdf_sha256(secret, strlen(secret), NULL, 0,
	    SIGNING_INFO, sizeof SIGNING_INFO - 1, key, CRYPTO_SHA256_LEN);
}

/* Whether s is 1-64 chars of [A-Za-z0-9=_-] (fxa_uid & co). */
static bool
token_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TOKEN_FIELD_MAX)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789=_-") == n;
}

/* Copy the optional string field `name` of obj into dst ("" if absent). */
static int
token_opt_field(json_t *obj, const char *name, char *dst, char *why,
    size_t whylen)
{
	json_t *v = json_object_get(obj, name);

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !token_id_ok(json_string_value(v)))
		return sync_why(why, whylen, "token field %s is invalid", name);
	strcpy(dst, json_string_value(v));
	return 0;
}

/* Read the payload's fields into *out. */
static int
token_fields(json_t *obj, struct sync_token *out, char *why, size_t whylen)
{
	json_t	*uid = json_object_get(obj, "uid");
	json_t	*node = json_object_get(obj, "node");
	json_t	*expires = json_object_get(obj, "expires");
	json_t	*salt = json_object_get(obj, "salt");

	if (!json_is_integer(uid) || json_integer_value(uid) < 0)
		return sync_why(why, whylen, "token uid missing or invalid");
	out->uid = (uint64_t)json_integer_value(uid);
	if (!json_is_string(node) || json_string_length(node) == 0 ||
	    json_string_length(node) >= TOKEN_NODE_MAX)
		return sync_why(why, whylen, "token node missing or invalid");
	strcpy(out->node, json_string_value(node));
	if (!json_is_number(expires) || !isfinite(json_number_value(expires)))
		return sync_why(why, whylen, "token expires missing or invalid");
	out->expires = json_number_value(expires);
	if (!json_is_string(salt) || json_string_length(salt) >=
	    TOKEN_FIELD_MAX || strlen(json_string_value(salt)) !=
	    json_string_length(salt))
		return sync_why(why, whylen, "token salt missing or invalid");
	strcpy(out->salt, json_string_value(salt));
	if (token_opt_field(obj, "fxa_uid", out->fxa_uid, why, whylen) ||
	    token_opt_field(obj, "fxa_kid", out->fxa_kid, why, whylen) ||
	    token_opt_field(obj, "hashed_fxa_uid", out->hashed_fxa_uid, why,
	    whylen) ||
	    token_opt_field(obj, "hashed_device_id", out->hashed_device_id,
	    why, whylen))
		return -1;
	return 0;
}

/* Signature first (constant time, raw bytes), then the JSON payload. */
int
token_parse(const unsigned char sig_key[CRYPTO_SHA256_LEN],
    const char *token, struct sync_token *out, char *why, size_t whylen)
{
	unsigned char	 mac[CRYPTO_SHA256_LEN], *raw = NULL;
	size_t		 len = strlen(token), rawlen = 0, plen;
	json_t		*obj;
	json_error_t	 jerr;
	int		 rc;

	memset(out, 0, sizeof *out);
	if (len > TOKEN_MAX_LEN)
		return sync_why(why, whylen, "token too long (%zu bytes)", len);
	if (crypto_b64_decode(token, len, true, &raw, &rawlen) != 0)
		return sync_why(why, whylen, "token is not urlsafe base64");
	if (rawlen <= CRYPTO_SHA256_LEN) {
		free(raw);
		return sync_why(why, whylen, "token too short (%zu bytes)", rawlen);
	}
	plen = rawlen - CRYPTO_SHA256_LEN;
	if (crypto_hmac_sha256(sig_key, CRYPTO_SHA256_LEN, raw, plen, mac) ||
	    !crypto_equal(mac, raw + plen, CRYPTO_SHA256_LEN)) {
		free(raw);
		return sync_why(why, whylen, "token signature invalid");
	}
	obj = json_loadb((const char *)raw, plen, JSON_REJECT_DUPLICATES,
	    &jerr);
	free(raw);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return sync_why(why, whylen, "token payload is not a JSON object");
	}
	rc = token_fields(obj, out, why, whylen);
	json_decref(obj);
	return rc;
}

/* HKDF(secret, salt, derive info || token), urlsafe base64. */
int
token_derive_key(const char *secret, const char *token, const char *salt,
    char key[TOKEN_KEY_LEN + 1])
{
	size_t		 tlen = strlen(token), ilen = sizeof DERIVE_INFO - 1;
	char		*info = xmalloc(ilen + tlen), *b64;
	unsigned char	 out[CRYPTO_SHA256_LEN];
	int		 rc;

	memcpy(info, DERIVE_INFO, ilen);
	memcpy(info + ilen, token, tlen);
	rc = crypto_hkdf_sha256(secret, strlen(secret), salt, strlen(salt),
	    info, ilen + tlen, out, sizeof out);
	free(info);
	if (rc != 0)
		return -1;
	b64 = crypto_b64_encode(out, sizeof out, true);
	memcpy(key, b64, TOKEN_KEY_LEN + 1);
	free(b64);
	return 0;
}

/* Add the optional string field name=value when value is not empty. */
static void
token_put_opt(json_t *obj, const char *name, const char *value)
{
	if (value[0] != '\0')
		json_object_set_new(obj, name, json_string(value));
}

/* The payload JSON of *t with the given salt (allocated text). */
static char *
token_payload_json(const struct sync_token *t, const char *salt)
{
	json_t	*obj = json_object();
	char	*text;

	json_object_set_new(obj, "uid", json_integer((json_int_t)t->uid));
	json_object_set_new(obj, "node", json_string(t->node));
	if (t->expires == floor(t->expires) && fabs(t->expires) < 1e15)
		json_object_set_new(obj, "expires",
		    json_integer((json_int_t)t->expires));
	else
		json_object_set_new(obj, "expires", json_real(t->expires));
	json_object_set_new(obj, "salt", json_string(salt));
	token_put_opt(obj, "fxa_uid", t->fxa_uid);
	token_put_opt(obj, "fxa_kid", t->fxa_kid);
	token_put_opt(obj, "hashed_fxa_uid", t->hashed_fxa_uid);
	token_put_opt(obj, "hashed_device_id", t->hashed_device_id);
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return text;
}

/* Sign a payload for *t and derive its key. */
char *
token_mint(const char *secret, const unsigned char sig_key[CRYPTO_SHA256_LEN],
    const struct sync_token *t, char key[TOKEN_KEY_LEN + 1])
{
	char		 salt[TOKEN_FIELD_MAX], *payload, *token;
	unsigned char	 rnd[3], *buf;
	size_t		 plen;

	if (t->salt[0] != '\0')
		snprintf(salt, sizeof salt, "%s", t->salt);
	else if (crypto_random(rnd, sizeof rnd) == 0)
		crypto_hex(rnd, sizeof rnd, salt);
	else
		return NULL;
	if ((payload = token_payload_json(t, salt)) == NULL)
		return NULL;
	plen = strlen(payload);
	buf = xmalloc(plen + CRYPTO_SHA256_LEN);
	memcpy(buf, payload, plen);
	free(payload);
	if (crypto_hmac_sha256(sig_key, CRYPTO_SHA256_LEN, buf, plen,
	    buf + plen) != 0) {
		free(buf);
		return NULL;
	}
	token = crypto_b64_encode(buf, plen + CRYPTO_SHA256_LEN, true);
	free(buf);
	if (token_derive_key(secret, token, salt, key) != 0) {
		free(token);
		return NULL;
	}
	return token;
}
