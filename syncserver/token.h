/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h — tokenlib v1 tokens (doc/sync-auth.md §1): urlsafe-base64(
 * payload JSON || HMAC-SHA256(signing key, payload JSON)), and the
 * HKDF-derived Hawk key of a token.
 */
#ifndef SYNC_TOKEN_H
#define SYNC_TOKEN_H

#include <stdint.h>
#include <stddef.h>

#include "compat.h"
#include "crypto.h"

#define TOKEN_MAX_LEN	 4096	/* longer tokens are refused unparsed */
#define TOKEN_NODE_MAX	 512
#define TOKEN_FIELD_MAX	 65	/* fxa_uid & co: 1-64 chars + NUL */
#define TOKEN_KEY_LEN	 44	/* urlsafe base64 of 32 bytes */

/* The payload fields the server uses (others are ignored). */
struct sync_token {
	uint64_t uid;
	char	 node[TOKEN_NODE_MAX];
	double	 expires;
	char	 salt[TOKEN_FIELD_MAX];
	char	 fxa_uid[TOKEN_FIELD_MAX];	/* "" when absent */
	char	 fxa_kid[TOKEN_FIELD_MAX];
	char	 hashed_fxa_uid[TOKEN_FIELD_MAX];
	char	 hashed_device_id[TOKEN_FIELD_MAX];
};

/* Format a one-line failure reason into why (if whylen > 0); returns -1. */
int	sync_why(char *why, size_t whylen, const char *fmt, ...)
	    PRINTFLIKE(3, 4);
/* The signing key HKDF(secret, no salt, ".../signing") of a secret. */
int	token_signing_key(const char *secret,
	    unsigned char key[CRYPTO_SHA256_LEN]);
/*
 * Check `token` (as received) against the signing key, in constant time
 * and before any JSON parsing, then read and check its fields into *out.
 * 0, or -1 with a one-line reason in why.
 */
int	token_parse(const unsigned char sig_key[CRYPTO_SHA256_LEN],
	    const char *token, struct sync_token *out, char *why,
	    size_t whylen);
/* The Hawk key of a token: urlsafe base64 of HKDF(secret, salt,
 * ".../derive/" || token), TOKEN_KEY_LEN chars + NUL into key. 0, or -1. */
int	token_derive_key(const char *secret, const char *token,
	    const char *salt, char key[TOKEN_KEY_LEN + 1]);
/* Mint a token for *t (salt, if empty, is made of 3 random bytes in hex;
 * empty optional fields are left out). Allocated token, its derived key in
 * key; NULL on failure. */
char	*token_mint(const char *secret,
	    const unsigned char sig_key[CRYPTO_SHA256_LEN],
	    const struct sync_token *t, char key[TOKEN_KEY_LEN + 1]);

#endif
