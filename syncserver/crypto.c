/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.c — SHA-256, HMAC, HKDF, base64, constant-time compare and random
 * bytes for tokens and Hawk, on OpenSSL 3's EVP API (EVP_MAC, EVP_KDF).
 */
#include <pthread.h>
#include <string.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "xmalloc.h"

/* SHA-256, HMAC and HKDF are fetched once: a fetch per call (what
 * EVP_sha256() and an HMAC "digest" parameter do) costs more than the
 * hash itself and takes a lock every thread contends on. */
static pthread_once_t	 crypto_once = PTHREAD_ONCE_INIT;
static EVP_MD		*crypto_md;
static EVP_MAC		*crypto_hmac;
static EVP_KDF		*crypto_hkdf;
/* Each thread reuses one digest and one HMAC context (made on first use,
 * freed when the thread ends): no allocation per hash. */
static pthread_key_t	 crypto_key;

struct crypto_tls {
	EVP_MD_CTX	*md;
	EVP_MAC_CTX	*mac;
};

static void
crypto_tls_free(void *arg)
{
	struct crypto_tls *t = arg;

	EVP_MD_CTX_free(t->md);
	EVP_MAC_CTX_free(t->mac);
	free(t);
}

/* Fetch the algorithms (once per process). */
static void
crypto_fetch(void)
{
	crypto_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	crypto_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	crypto_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (pthread_key_create(&crypto_key, crypto_tls_free) != 0)
		crypto_md = NULL;
}

/* This thread's contexts; NULL when OpenSSL cannot make them. */
static struct crypto_tls *
crypto_tls(void)
{
	struct crypto_tls *t;
	OSSL_PARAM params[2];

	pthread_once(&crypto_once, crypto_fetch);
	if (crypto_md == NULL || crypto_hmac == NULL)
		return NULL;
	if ((t = pthread_getspecific(crypto_key)) != NULL)
		return t;
	t = xcalloc(1, sizeof *t);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((t->md = EVP_MD_CTX_new()) == NULL ||
	    (t->mac = EVP_MAC_CTX_new(crypto_hmac)) == NULL ||
	    EVP_MAC_CTX_set_params(t->mac, params) != 1 ||
	    pthread_setspecific(crypto_key, t) != 0) {
		crypto_tls_free(t);
		return NULL;
	}
	return t;
}

/* SHA-256 of data into out. */
void
crypto_sha256(const void *data, size_t len,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	struct crypto_tls *t = crypto_tls();
	unsigned int n = 0;

	if (t == NULL || EVP_DigestInit_ex2(t->md, crypto_md, NULL) != 1 ||
	    EVP_DigestUpdate(t->md, data, len) != 1 ||
	    EVP_DigestFinal_ex(t->md, out, &n) != 1)
		memset(out, 0, CRYPTO_SHA256_LEN);
}

/* HMAC-SHA256(key, data) into out. */
int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	struct crypto_tls *t = crypto_tls();
	size_t outlen = 0;
	static const unsigned char nokey[1];

	if (t == NULL ||
	    EVP_MAC_init(t->mac, keylen ? key : nokey, keylen, NULL) != 1 ||
	    EVP_MAC_update(t->mac, len ? data : nokey, len) != 1 ||
	    EVP_MAC_final(t->mac, out, &outlen, CRYPTO_SHA256_LEN) != 1 ||
	    outlen != CRYPTO_SHA256_LEN)
		return -1;
	return 0;
}

/* HKDF-SHA256 extract-and-expand of RFC 5869. */
int
crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
    size_t saltlen, const void *info, size_t infolen, unsigned char *out,
    size_t outlen)
{
	static const unsigned char zeros[CRYPTO_SHA256_LEN];
	EVP_KDF_CTX	*ctx = NULL;
	OSSL_PARAM	 params[5], *p = params;
	int		 rc = -1;

	if (salt == NULL || saltlen == 0) {
		salt = zeros;
		saltlen = sizeof zeros;
	}
	pthread_once(&crypto_once, crypto_fetch);
	if (crypto_hkdf == NULL)
		return -1;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(ikmlen ? ikm : zeros), ikmlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)(infolen ? info : zeros), infolen);
	*p = OSSL_PARAM_construct_end();
	if ((ctx = EVP_KDF_CTX_new(crypto_hkdf)) != NULL &&
	    EVP_KDF_derive(ctx, out, outlen, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(ctx);
	return rc;
}

/* Swap the standard alphabet's "+/" for the url one's "-_" (or back). */
static void
b64_translate(char *s, size_t len, bool to_url)
{
	for (size_t i = 0; i < len; i++) {
		if (to_url && s[i] == '+')
			s[i] = '-';
		else if (to_url && s[i] == '/')
			s[i] = '_';
		else if (!to_url && s[i] == '-')
			s[i] = '+';
		else if (!to_url && s[i] == '_')
			s[i] = '/';
	}
}

/* Base64 of data with padding, standard or url alphabet. */
char *
crypto_b64_encode(const void *data, size_t len, bool url)
{
	size_t	 n = 4 * ((len + 2) / 3);
	char	*s = xmalloc(n + 1);

	EVP_EncodeBlock((unsigned char *)s, data, (int)len);
	s[n] = '\0';
	if (url)
		b64_translate(s, n, true);
	return s;
}

/* Whether c belongs to the chosen base64 alphabet (padding excluded). */
static bool
b64_char_ok(char c, bool url)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

/* Strict base64 decode; padding optional. */
int
crypto_b64_decode(const char *text, size_t len, bool url,
    unsigned char **out, size_t *outlen)
{
	size_t	 body = len, pad, n;
	char	*buf;
	int	 got;

	while (body > 0 && len - body < 2 && text[body - 1] == '=')
		body--;
	if (body > 0 && text[body - 1] == '=')
		return -1;
	if (body % 4 == 1 || (len != body && len % 4 != 0))
		return -1;
	for (size_t i = 0; i < body; i++)
		if (!b64_char_ok(text[i], url))
			return -1;
	pad = (4 - body % 4) % 4;
	n = body + pad;
	buf = xmalloc(n + 1);
	memcpy(buf, text, body);
	memset(buf + body, '=', pad);
	buf[n] = '\0';
	if (url)
		b64_translate(buf, body, false);
	*out = xmalloc(n / 4 * 3 + 1);
	got = n ? EVP_DecodeBlock(*out, (unsigned char *)buf, (int)n) : 0;
	free(buf);
	if (got < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*outlen = (size_t)got - pad;
	(*out)[*outlen] = '\0';
	return 0;
}

/* Lower-case hex of data. */
void
crypto_hex(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Constant-time equality. */
bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Random bytes from OpenSSL's CSPRNG. */
int
crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}
