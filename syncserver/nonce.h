/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nonce.h — the Hawk nonce replay cache shared by every worker process: a
 * SQLite file (WAL, synchronous=OFF) of (SHA-256(token), nonce, until),
 * each pair accepted once and remembered until its token is unusable.
 */
#ifndef SYNC_NONCE_H
#define SYNC_NONCE_H

#include <stddef.h>

#include "crypto.h"

struct nonce_cache;

/* Open (creating the schema of) the cache at path; NULL with err. */
struct nonce_cache *nonce_open(const char *path, char *err, size_t errlen);
void	nonce_close(struct nonce_cache *);
/*
 * Remember (token hash, nonce) until `until` (epoch seconds): 1 when it is
 * new, 0 when it was seen before (a replay), -1 on a database error (why).
 * Entries whose `until` has passed are purged once a minute, 1000 rows
 * per call until none is left. Thread-safe.
 */
int	nonce_remember(struct nonce_cache *,
	    const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
	    double until, double now, char *why, size_t whylen);
/* Number of entries held (tests, stats); -1 on error. */
long	nonce_count(struct nonce_cache *);

#endif
