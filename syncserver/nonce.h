/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nonce.h — the Hawk nonce replay cache shared by every worker process:
 * a shared-memory table (a file mapped by every worker, "<path>-table")
 * of SHA-256(token, nonce) keys and their `until`, one robust
 * process-shared lock per bucket; a bucket full of live entries spills to
 * the SQLite file at <path> (WAL, synchronous=OFF). Each pair is accepted
 * once and remembered until its token is unusable. See doc/sync-auth.md.
 */
#ifndef SYNC_NONCE_H
#define SYNC_NONCE_H

#include <stddef.h>

#include "crypto.h"

#define NONCE_BUCKETS	65536	/* default table: 65536 x 14 entries */

struct nonce_cache;

/* Open (creating) the cache at path with the default table; NULL with
 * err. */
struct nonce_cache *nonce_open(const char *path, char *err, size_t errlen);
/* The same with a table of `buckets` buckets (a power of two; tests). A
 * table file of another size, or torn, is made anew. */
struct nonce_cache *nonce_open_sized(const char *path, unsigned buckets,
	    char *err, size_t errlen);
void	nonce_close(struct nonce_cache *);
/*
 * Remember (token hash, nonce) until `until` (epoch seconds): 1 when it is
 * new, 0 when it was seen before (a replay), -1 on a database error (why).
 * An entry whose `until` has passed is free at once in the table, and
 * purged from SQLite within the minute. Thread-safe
 * and safe across processes; a process that dies holding a bucket lock
 * leaves the bucket usable.
 */
int	nonce_remember(struct nonce_cache *,
	    const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
	    double until, double now, char *why, size_t whylen);
/* Number of entries held at `now`: the table's live ones and the spilled
 * rows (tests, stats); -1 on error. */
long	nonce_count(struct nonce_cache *, double now);
/* Number of entries that spilled to SQLite (tests, stats); -1 on error. */
long	nonce_spilled(struct nonce_cache *);

#endif
