/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.h — the primitives of Sync authentication over OpenSSL 3: SHA-256,
 * HMAC-SHA256, HKDF-SHA256 (RFC 5869), base64 in both alphabets,
 * constant-time comparison and random bytes. All thread-safe.
 */
#ifndef SYNC_CRYPTO_H
#define SYNC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_SHA256_LEN 32

/* SHA-256 of data into out. */
void	crypto_sha256(const void *data, size_t len,
	    unsigned char out[CRYPTO_SHA256_LEN]);
/* HMAC-SHA256(key, data) into out; 0, or -1 when OpenSSL fails. */
int	crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
	    size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
/* HKDF-SHA256 (extract then expand); salt NULL/0 = HashLen zero bytes.
 * outlen <= 255 * 32. 0, or -1. */
int	crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
	    size_t saltlen, const void *info, size_t infolen, unsigned char *out,
	    size_t outlen);
/* Base64 of data with "=" padding; url: the "-_" alphabet. Allocated. */
char	*crypto_b64_encode(const void *data, size_t len, bool url);
/* Strict base64 decode of text[0..len) (padding optional, no whitespace);
 * url: the "-_" alphabet. *out allocated (NUL-terminated beyond *outlen).
 * 0, or -1 on any bad character or length. */
int	crypto_b64_decode(const char *text, size_t len, bool url,
	    unsigned char **out, size_t *outlen);
/* Lower-case hex of data into out (2 * len + 1 bytes). */
void	crypto_hex(const void *data, size_t len, char *out);
/* Equality of two n-byte buffers in time independent of their contents. */
bool	crypto_equal(const void *a, const void *b, size_t n);
/* n cryptographically strong random bytes; 0, or -1. */
int	crypto_random(void *buf, size_t n);

#endif
