/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nonce.c — the Hawk nonce replay cache: one SQLite file shared by all
 * worker processes (WAL, synchronous=OFF: losing the last entries in a
 * power cut is acceptable, a torn file is not), one connection per process
 * behind a mutex; an INSERT OR IGNORE tells a new nonce from a replay.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "nonce.h"
#include "token.h"
#include "xmalloc.h"

#define NONCE_MAX		256	/* longer nonces are refused */
#define NONCE_BUSY_MS		5000
#define NONCE_PURGE_EVERY	60.0	/* seconds between purges */
#define NONCE_PURGE_CHUNK	1000	/* rows per purge statement */

struct nonce_cache {
	pthread_mutex_t	 lock;
	sqlite3		*db;
	sqlite3_stmt	*insert;
	sqlite3_stmt	*purge;
	double		 last_purge;
};

static const char NONCE_SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=OFF;"
    "CREATE TABLE IF NOT EXISTS nonces ("
    " tok BLOB NOT NULL, nonce TEXT NOT NULL, until REAL NOT NULL,"
    " PRIMARY KEY (tok, nonce)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS nonces_until ON nonces(until);";

/* Open the cache file, set it up, prepare the statements. */
struct nonce_cache *
nonce_open(const char *path, char *err, size_t errlen)
{
	struct nonce_cache	*nc = xcalloc(1, sizeof *nc);
	int			 flags = SQLITE_OPEN_READWRITE |
				    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	pthread_mutex_init(&nc->lock, NULL);
	if (path == NULL || sqlite3_open_v2(path, &nc->db, flags, NULL) !=
	    SQLITE_OK) {
		sync_why(err, errlen, "nonce cache %s: %s", path ? path :
		    "(no path)", nc->db ? sqlite3_errmsg(nc->db) : "no memory");
		goto fail;
	}
	sqlite3_busy_timeout(nc->db, NONCE_BUSY_MS);
	if (sqlite3_exec(nc->db, NONCE_SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(nc->db, "INSERT OR IGNORE INTO nonces "
	    "(tok, nonce, until) VALUES (?, ?, ?)", -1, &nc->insert, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(nc->db, "DELETE FROM nonces WHERE (tok, nonce) IN "
	    "(SELECT tok, nonce FROM nonces WHERE until < ? LIMIT ?)", -1,
	    &nc->purge, NULL) != SQLITE_OK) {
		sync_why(err, errlen, "nonce cache %s: %s", path,
		    sqlite3_errmsg(nc->db));
		goto fail;
	}
	return nc;
fail:
	nonce_close(nc);
	return NULL;
}

/* Close the connection and free the cache. */
void
nonce_close(struct nonce_cache *nc)
{
	if (nc == NULL)
		return;
	sqlite3_finalize(nc->insert);
	sqlite3_finalize(nc->purge);
	sqlite3_close(nc->db);
	pthread_mutex_destroy(&nc->lock);
	free(nc);
}

/* Delete one chunk of entries past their `until` (lock held); after a
 * full chunk the next call deletes the next one, so the purge keeps up
 * with any request rate without one long delete. */
static void
nonce_purge(struct nonce_cache *nc, double now)
{
	int rc;

	sqlite3_bind_double(nc->purge, 1, now);
	sqlite3_bind_int(nc->purge, 2, NONCE_PURGE_CHUNK);
	if ((rc = sqlite3_step(nc->purge)) != SQLITE_DONE)
		log_warnx("nonce cache purge: %s", sqlite3_errmsg(nc->db));
	sqlite3_reset(nc->purge);
	if (rc != SQLITE_DONE || sqlite3_changes(nc->db) < NONCE_PURGE_CHUNK)
		nc->last_purge = now;
}

/* INSERT OR IGNORE: a row added means the nonce is new. */
int
nonce_remember(struct nonce_cache *nc,
    const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
    double until, double now, char *why, size_t whylen)
{
	int rc;

	if (strlen(nonce) > NONCE_MAX)
		return sync_why(why, whylen, "Hawk nonce too long");
	pthread_mutex_lock(&nc->lock);
	if (now - nc->last_purge >= NONCE_PURGE_EVERY)
		nonce_purge(nc, now);
	sqlite3_bind_blob(nc->insert, 1, tokhash, CRYPTO_SHA256_LEN,
	    SQLITE_STATIC);
	sqlite3_bind_text(nc->insert, 2, nonce, -1, SQLITE_STATIC);
	sqlite3_bind_double(nc->insert, 3, until);
	if (sqlite3_step(nc->insert) == SQLITE_DONE)
		rc = sqlite3_changes(nc->db) > 0 ? 1 : 0;
	else
		rc = sync_why(why, whylen, "nonce cache: %s",
		    sqlite3_errmsg(nc->db));
	sqlite3_reset(nc->insert);
	sqlite3_clear_bindings(nc->insert);
	pthread_mutex_unlock(&nc->lock);
	return rc;
}

/* Count the entries. */
long
nonce_count(struct nonce_cache *nc)
{
	sqlite3_stmt	*st;
	long		 n = -1;

	pthread_mutex_lock(&nc->lock);
	if (sqlite3_prepare_v2(nc->db, "SELECT count(*) FROM nonces", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&nc->lock);
	return n;
}
