/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hawk.h — Hawk request signatures (doc/sync-auth.md §2): the
 * Authorization header's parameters, the normalised string, MAC and
 * payload hash. auth_verify (syncserver.h) puts
 * them together with token.h and nonce.h.
 */
#ifndef SYNC_HAWK_H
#define SYNC_HAWK_H

#include <stddef.h>

#include "crypto.h"

#define HAWK_HEADER_MAX 8192	/* longer Authorization values are refused */

/* The parameters of `Authorization: Hawk k="v", ...` (unescaped,
 * allocated; hash and ext NULL when absent). */
struct hawk_header {
	char	*id;
	char	*ts;
	char	*nonce;
	char	*mac;
	char	*hash;
	char	*ext;
};

/* Parse an Authorization value; 0, or -1 with the reason in why (*h is
 * then already freed). */
int	hawk_parse(const char *value, struct hawk_header *h, char *why,
	    size_t whylen);
void	hawk_header_free(struct hawk_header *);
/* The normalised "hawk.1.header" string of a request (allocated). */
char	*hawk_normalized(const struct hawk_header *, const char *method,
	    const char *target, const char *host, int port);
/* Whether mac (base64) is HMAC-SHA256(key, normalised), in constant time. */
bool	hawk_mac_ok(const struct hawk_header *, const char *key,
	    const char *method, const char *target, const char *host,
	    int port);
/* Base64 of SHA-256("hawk.1.payload\n" mime "\n" body "\n"), mime being
 * content_type lower-cased without parameters (allocated). */
char	*hawk_payload_hash(const char *content_type,
	    const unsigned char *body, size_t len);

struct auth;
/* How many auth_verify calls found their token in the token cache. */
unsigned long	auth_cache_hits(struct auth *);

#endif
