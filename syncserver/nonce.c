/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nonce.c — the Hawk nonce replay cache shared by all worker processes.
 *
 * The fast path is a table in a file every worker maps (MAP_SHARED):
 * 16-byte keys SHA-256(token hash, nonce) with their `until`, in buckets
 * of NONCE_SLOTS, each bucket behind a process-shared robust mutex (a
 * worker that dies holding one leaves it usable: the slot it was writing
 * has its `until` written last, so a torn slot reads as empty, and that
 * request was never answered). A bucket full of live entries spills new
 * keys to the SQLite file (WAL, synchronous=OFF) and remembers until when
 * it must look there too, so a replay is refused wherever its first use
 * was stored. A table file of the wrong size or without its header (torn,
 * or from another build) is made anew under an flock at open.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "nonce.h"
#include "token.h"
#include "xmalloc.h"

#define NONCE_MAX		256	/* longer nonces are refused */
#define NONCE_BUSY_MS		5000
#define NONCE_PURGE_EVERY	60.0	/* seconds between purges */
#define NONCE_PURGE_CHUNK	1000	/* rows per purge statement */
#define NONCE_KEY		16	/* bytes of SHA-256 kept as the key */
#define NONCE_SLOTS		14	/* entries per bucket */
#define NONCE_MAGIC		"circus-nonces-1"

struct nonce_slot {
	unsigned char	key[NONCE_KEY];
	double		until;		/* 0: empty */
};

struct nonce_bucket {
	pthread_mutex_t		lock;
	double			spilled_until;	/* look in SQLite before it */
	struct nonce_slot	slot[NONCE_SLOTS];
};

struct nonce_head {
	char		magic[16];
	uint32_t	buckets;
	uint32_t	bucket_size;
	unsigned char	pad[40];
};

_Static_assert(sizeof(struct nonce_head) == 64, "tests map the table");
_Static_assert(offsetof(struct nonce_bucket, lock) == 0, "tests lock it");

struct nonce_cache {
	pthread_mutex_t		 lock;	/* the SQLite side */
	pthread_mutex_t		 purge_lock; /* last_purge: taken before
					     * `lock` */
	sqlite3			*db;
	sqlite3_stmt		*insert;
	sqlite3_stmt		*purge;
	double			 last_purge;
	struct nonce_head	*head;	/* the mapped table */
	struct nonce_bucket	*bucket;
	size_t			 map_len;
	unsigned		 mask;
};

static const char NONCE_SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=OFF;"
    "CREATE TABLE IF NOT EXISTS nonces ("
    " tok BLOB NOT NULL, nonce TEXT NOT NULL, until REAL NOT NULL,"
    " PRIMARY KEY (tok, nonce)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS nonces_until ON nonces(until);";

/* Open the SQLite side, set it up, prepare the statements. */
static int
nonce_sql_open(struct nonce_cache *nc, const char *path, char *err,
    size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(path, &nc->db, flags, NULL) != SQLITE_OK)
		return sync_why(err, errlen, "nonce cache %s: %s", path,
		    nc->db ? sqlite3_errmsg(nc->db) : "no memory");
	sqlite3_busy_timeout(nc->db, NONCE_BUSY_MS);
	if (sqlite3_exec(nc->db, NONCE_SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(nc->db, "INSERT OR IGNORE INTO nonces "
	    "(tok, nonce, until) VALUES (?, ?, ?)", -1, &nc->insert, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(nc->db, "DELETE FROM nonces WHERE (tok, nonce) IN "
	    "(SELECT tok, nonce FROM nonces WHERE until < ? LIMIT ?)", -1,
	    &nc->purge, NULL) != SQLITE_OK)
		return sync_why(err, errlen, "nonce cache %s: %s", path,
		    sqlite3_errmsg(nc->db));
	return 0;
}

/* A fresh table: zeroed, every bucket lock process-shared and robust,
 * the header written last. */
static int
nonce_table_init(struct nonce_head *head, struct nonce_bucket *b,
    unsigned buckets, size_t len)
{
	pthread_mutexattr_t	attr;
	int			rc = 0;

	memset(head, 0, len);
	pthread_mutexattr_init(&attr);
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0)
		rc = -1;
	for (unsigned i = 0; rc == 0 && i < buckets; i++)
		if (pthread_mutex_init(&b[i].lock, &attr) != 0)
			rc = -1;
	pthread_mutexattr_destroy(&attr);
	if (rc != 0)
		return -1;
	head->buckets = buckets;
	head->bucket_size = (uint32_t)sizeof(struct nonce_bucket);
	atomic_signal_fence(memory_order_release);
	memcpy(head->magic, NONCE_MAGIC, sizeof NONCE_MAGIC);
	return 0;
}

/* Whether a mapped table's header is whole and of this layout. */
static bool
nonce_table_valid(const struct nonce_head *h, unsigned buckets)
{
	return memcmp(h->magic, NONCE_MAGIC, sizeof NONCE_MAGIC) == 0 &&
	    h->buckets == buckets &&
	    h->bucket_size == (uint32_t)sizeof(struct nonce_bucket);
}

/* Map "<path>-table", making it anew (under flock) when it is not a
 * whole table of `buckets` buckets. */
static int
nonce_table_open(struct nonce_cache *nc, const char *path, unsigned buckets,
    char *err, size_t errlen)
{
	char		*tpath = xprintf("%s-table", path);
	size_t		 len = sizeof(struct nonce_head) +
			    (size_t)buckets * sizeof(struct nonce_bucket);
	struct stat	 st;
	void		*map = MAP_FAILED;
	int		 fd, rc = -1;

	if ((fd = open(tpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		sync_why(err, errlen, "nonce table %s: %s", tpath,
		    strerror(errno));
		goto out;
	}
	if ((size_t)st.st_size != len && (ftruncate(fd, 0) != 0 ||
	    ftruncate(fd, (off_t)len) != 0)) {
		sync_why(err, errlen, "nonce table %s: %s", tpath,
		    strerror(errno));
		goto out;
	}
	if ((map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
	    == MAP_FAILED) {
		sync_why(err, errlen, "nonce table %s: mmap: %s", tpath,
		    strerror(errno));
		goto out;
	}
	nc->head = map;
	nc->bucket = (struct nonce_bucket *)(nc->head + 1);
	nc->map_len = len;
	nc->mask = buckets - 1;
	if (!nonce_table_valid(nc->head, buckets)) {
		if ((size_t)st.st_size != 0)
			log_warnx("nonce table %s: not a whole table; made "
			    "anew", tpath);
		if (nonce_table_init(nc->head, nc->bucket, buckets, len)
		    != 0) {
			sync_why(err, errlen, "nonce table %s: no robust "
			    "shared locks", tpath);
			goto out;
		}
	}
	rc = 0;
out:
	if (fd >= 0) {
		flock(fd, LOCK_UN);	/* the mapping keeps the file open */
		close(fd);
	}
	free(tpath);
	return rc;
}

/* Open the table and the SQLite side. */
struct nonce_cache *
nonce_open_sized(const char *path, unsigned buckets, char *err,
    size_t errlen)
{
	struct nonce_cache *nc = xcalloc(1, sizeof *nc);

	pthread_mutex_init(&nc->lock, NULL);
	pthread_mutex_init(&nc->purge_lock, NULL);
	if (path == NULL || buckets == 0 || (buckets & (buckets - 1)) != 0) {
		sync_why(err, errlen, "nonce cache %s: no path or a bucket "
		    "count that is not a power of two", path ? path : "(none)");
		goto fail;
	}
	if (nonce_sql_open(nc, path, err, errlen) != 0 ||
	    nonce_table_open(nc, path, buckets, err, errlen) != 0)
		goto fail;
	return nc;
fail:
	nonce_close(nc);
	return NULL;
}

/* Open with the default table. */
struct nonce_cache *
nonce_open(const char *path, char *err, size_t errlen)
{
	return nonce_open_sized(path, NONCE_BUCKETS, err, errlen);
}

/* Unmap, close the connection and free the cache. */
void
nonce_close(struct nonce_cache *nc)
{
	if (nc == NULL)
		return;
	if (nc->head != NULL)
		munmap(nc->head, nc->map_len);
	sqlite3_finalize(nc->insert);
	sqlite3_finalize(nc->purge);
	sqlite3_close(nc->db);
	pthread_mutex_destroy(&nc->lock);
	pthread_mutex_destroy(&nc->purge_lock);
	free(nc);
}

/* A slot that still refuses its key at `now`; any other is free (an
 * expired one's token is refused anyway, so nothing sweeps it). */
static bool
slot_live(const struct nonce_slot *sl, double now)
{
	return sl->until != 0 && sl->until >= now;
}

/* Lock one bucket; a lock whose holder died is taken over (its bucket
 * stays valid: see the top of this file). -1 when it cannot be had. */
static int
nonce_lock(struct nonce_cache *nc, struct nonce_bucket *b)
{
	int rc = pthread_mutex_lock(&b->lock);

	if (rc == EOWNERDEAD) {
		log_warnx("nonce table: a worker died holding bucket %ld; "
		    "taken over", (long)(b - nc->bucket));
		rc = pthread_mutex_consistent(&b->lock);
	}
	return rc == 0 ? 0 : -1;
}

/* Delete up to `budget` SQLite entries past their `until`; the number
 * deleted. */
static int
nonce_purge(struct nonce_cache *nc, double now, int budget)
{
	int rc, n;

	pthread_mutex_lock(&nc->lock);
	sqlite3_bind_double(nc->purge, 1, now);
	sqlite3_bind_int(nc->purge, 2, budget);
	if ((rc = sqlite3_step(nc->purge)) != SQLITE_DONE)
		log_warnx("nonce cache purge: %s", sqlite3_errmsg(nc->db));
	n = rc == SQLITE_DONE ? sqlite3_changes(nc->db) : 0;
	sqlite3_reset(nc->purge);
	pthread_mutex_unlock(&nc->lock);
	return n;
}

/*
 * Once a minute per process, NONCE_PURGE_CHUNK SQLite rows per call until
 * none is left, so the purge keeps up with any request rate without one
 * long pause. The table needs no purge: a slot past its `until` is free
 * (nonce_remember reuses it and never matches it). Sweeping it instead
 * meant walking all 24 MiB of it, bucket lock by bucket lock, in the
 * request that found the minute over, and every new worker's first
 * signed request did it (doc/sync-auth.md §4).
 */
static void
nonce_maybe_purge(struct nonce_cache *nc, double now)
{
	pthread_mutex_lock(&nc->purge_lock);
	if (now - nc->last_purge >= NONCE_PURGE_EVERY &&
	    nonce_purge(nc, now, NONCE_PURGE_CHUNK) < NONCE_PURGE_CHUNK)
		nc->last_purge = now;
	pthread_mutex_unlock(&nc->purge_lock);
}

/* INSERT OR IGNORE on the SQLite side: a row added means new. */
static int
nonce_sql_remember(struct nonce_cache *nc,
    const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
    double until, char *why, size_t whylen)
{
	int rc;

	pthread_mutex_lock(&nc->lock);
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

/* The key of (token hash, nonce): the first NONCE_KEY bytes of their
 * SHA-256. */
static void
nonce_key(const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
    unsigned char key[NONCE_KEY])
{
	unsigned char	buf[CRYPTO_SHA256_LEN + NONCE_MAX], d[CRYPTO_SHA256_LEN];
	size_t		n = strlen(nonce);

	memcpy(buf, tokhash, CRYPTO_SHA256_LEN);
	memcpy(buf + CRYPTO_SHA256_LEN, nonce, n);
	crypto_sha256(buf, CRYPTO_SHA256_LEN + n, d);
	memcpy(key, d, NONCE_KEY);
}

/* Look the key up in its bucket (locked); new keys go into a free slot,
 * or to SQLite while the bucket has no room or has spilled live keys. */
int
nonce_remember(struct nonce_cache *nc,
    const unsigned char tokhash[CRYPTO_SHA256_LEN], const char *nonce,
    double until, double now, char *why, size_t whylen)
{
	unsigned char		 key[NONCE_KEY];
	struct nonce_bucket	*b;
	struct nonce_slot	*free_slot = NULL;
	int			 rc;

	if (strlen(nonce) > NONCE_MAX)
		return sync_why(why, whylen, "Hawk nonce too long");
	nonce_maybe_purge(nc, now);
	nonce_key(tokhash, nonce, key);
	b = &nc->bucket[(((unsigned)key[0] << 24 | (unsigned)key[1] << 16 |
	    (unsigned)key[2] << 8 | key[3])) & nc->mask];
	if (nonce_lock(nc, b) != 0)
		return sync_why(why, whylen, "nonce table: bucket lock lost");
	for (int s = 0; s < NONCE_SLOTS; s++) {
		struct nonce_slot *sl = &b->slot[s];

		if (slot_live(sl, now) && memcmp(sl->key, key, NONCE_KEY) == 0) {
			pthread_mutex_unlock(&b->lock);
			return 0;
		}
		if (free_slot == NULL && !slot_live(sl, now))
			free_slot = sl;
	}
	if (b->spilled_until >= now || free_slot == NULL) {
		rc = nonce_sql_remember(nc, tokhash, nonce, until, why, whylen);
		if (rc == 1 && until > b->spilled_until)
			b->spilled_until = until;
	} else {
		free_slot->until = 0;
		memcpy(free_slot->key, key, NONCE_KEY);
		atomic_signal_fence(memory_order_release);
		free_slot->until = until > 0 ? until : 1;
		rc = 1;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* Count the rows of the SQLite side. */
long
nonce_spilled(struct nonce_cache *nc)
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

/* Count the entries: the table's live slots (`until` not passed at
 * `now`) and the spilled rows. */
long
nonce_count(struct nonce_cache *nc, double now)
{
	long n = nonce_spilled(nc);

	for (unsigned i = 0; n >= 0 && i <= nc->mask; i++) {
		struct nonce_bucket *b = &nc->bucket[i];

		if (nonce_lock(nc, b) != 0)
			return -1;
		for (int s = 0; s < NONCE_SLOTS; s++)
			n += slot_live(&b->slot[s], now);
		pthread_mutex_unlock(&b->lock);
	}
	return n;
}
