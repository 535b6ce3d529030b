/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.c — the SQLite store of the storage API: schema, one connection
 * (with its prepared statements) per HTTP thread, and every operation of
 * the storage endpoints. Writes run in BEGIN IMMEDIATE, which serialises
 * them across every worker process sharing the file (inside one process
 * they queue on a mutex first, and then share one connection, whose page
 * cache stays warm from one write to the next); the write timestamp T is
 * computed inside that transaction (T > every earlier timestamp of the
 * user). Reads run in one deferred transaction (a consistent snapshot).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "crypto.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "xmalloc.h"

#define BUSY_TIMEOUT_MS	5000
#define NO_SORTINDEX	(-SORTINDEX_MAX - 1)    /* sorts after all others */

/*
 * The info/collections cache (doc/sync-storage.md §6): every write bumps
 * its user's generation word, in a file every worker maps (DB-gen), after
 * its COMMIT and before its answer; a thread's cached answer stands while
 * the word is unchanged and it is younger than info_cache_ms (the bound
 * on a write that bumped nothing: a worker killed between COMMIT and the
 * bump, or a program other than syncserver writing the database).
 */
#define GEN_WORDS	4096            /* users share words by hash */
#define INFO_SLOTS	64              /* cached answers per thread */

struct info_cached {
	uint64_t	 uid;
	uint64_t	 gen;           /* the user's word when it was read */
	int64_t		 at_ms;         /* CLOCK_MONOTONIC when it was read */
	int64_t		 last_modified;
	long		 records;
	char		*body;          /* NULL: an empty slot */
	size_t		 len;
};

struct store {
	const struct sync_config *cfg;
	char		 *path;
	pthread_mutex_t	  mu;           /* guards conns */
	struct conn	**conns;        /* every connection opened */
	size_t		  nconns;
	pthread_mutex_t	  write_mu;     /* one writer per process at a time */
	struct conn	 *wconn;        /* the writers' connection (write_mu) */
	_Atomic uint64_t *gen;          /* GEN_WORDS shared words, or NULL */
};

/*
 * Each HTTP thread keeps its own connection and its prepared statements
 * (cached by SQL text: preparing costs more than most of our statements).
 */
#define STMT_CACHE	128     /* distinct SQL texts: about 50 */

struct conn {
	struct store	*st;
	sqlite3		*db;
	size_t		 nstmts;
	struct {
		char		*sql;
		sqlite3_stmt	*s;
	} stmts[STMT_CACHE];
	struct info_cached info[INFO_SLOTS];    /* this thread's answers */
};

static _Thread_local struct conn *tl_conn;     /* this thread's, reads */
static _Thread_local struct conn *tl_wconn;    /* st->wconn while writing */

static const char *const schema[] = {
	"PRAGMA auto_vacuum = INCREMENTAL",
	"CREATE TABLE IF NOT EXISTS user_ts (uid INTEGER PRIMARY KEY,"
	" modified INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS collections (uid INTEGER NOT NULL,"
	" name TEXT NOT NULL, modified INTEGER NOT NULL,"
	" PRIMARY KEY (uid, name)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS bso (uid INTEGER NOT NULL,"
	" coll TEXT NOT NULL, id TEXT NOT NULL, sortindex INTEGER,"
	" payload TEXT NOT NULL, payload_size INTEGER NOT NULL,"
	" modified INTEGER NOT NULL, expiry INTEGER,"
	" PRIMARY KEY (uid, coll, id)) WITHOUT ROWID",
	"CREATE INDEX IF NOT EXISTS bso_modified ON bso (uid, coll, modified)",
	"CREATE INDEX IF NOT EXISTS bso_expiry ON bso (expiry)"
	" WHERE expiry IS NOT NULL",
	"CREATE TABLE IF NOT EXISTS batches (uid INTEGER NOT NULL,"
	" id TEXT NOT NULL, coll TEXT NOT NULL, expires INTEGER NOT NULL,"
	" PRIMARY KEY (uid, id)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS batch_items (uid INTEGER NOT NULL,"
	" batch TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
	" payload TEXT, sortindex INTEGER, ttl INTEGER,"
	" PRIMARY KEY (uid, batch, seq)) WITHOUT ROWID",
	NULL,
};

/* ---- connections -------------------------------------------------------- */

static int
db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warnx("sqlite: %s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_free(msg);
	return rc;
}

/*
 * Another process holds the write lock: retry every half millisecond up to
 * BUSY_TIMEOUT_MS (SQLite's own handler sleeps up to 100 ms between tries,
 * which leaves the lock idle while writers sleep).
 */
static int
busy_cb(void *arg, int count)
{
	static _Thread_local struct timespec since;
	struct timespec now, tick = { 0, 500 * 1000 };

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		since = now;
	else if ((now.tv_sec - since.tv_sec) * 1000 +
	    (now.tv_nsec - since.tv_nsec) / 1000000 >= BUSY_TIMEOUT_MS)
		return 0;
	nanosleep(&tick, NULL);
	return 1;
}

static sqlite3 *
db_connect(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_handler(db, busy_cb, NULL);
	if (db_exec(db, "PRAGMA journal_mode = WAL") != SQLITE_OK ||
	    db_exec(db, "PRAGMA synchronous = FULL") != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* A new connection, remembered for store_close; NULL on error. */
static struct conn *
conn_open(struct store *st)
{
	struct conn *c;
	sqlite3 *db;
	char err[512];

	if ((db = db_connect(st->path, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	c->db = db;
	pthread_mutex_lock(&st->mu);
	st->conns = xreallocarray(st->conns, st->nconns + 1,
	    sizeof(*st->conns));
	st->conns[st->nconns++] = c;
	pthread_mutex_unlock(&st->mu);
	return c;
}

/* This thread's connection to the store, opened on first use. */
static sqlite3 *
store_acquire(struct store *st)
{
	if (tl_conn == NULL || tl_conn->st != st)
		tl_conn = conn_open(st);
	return tl_conn != NULL ? tl_conn->db : NULL;
}

/* The end of one operation: a writer lets the next one in. */
static void
store_release(struct store *st, sqlite3 *db)
{
	(void)db;
	if (tl_wconn != NULL) {
		tl_wconn = NULL;
		pthread_mutex_unlock(&st->write_mu);
	}
}

static void
conn_close(struct conn *c)
{
	for (size_t i = 0; i < c->nstmts; i++) {
		sqlite3_finalize(c->stmts[i].s);
		free(c->stmts[i].sql);
	}
	for (size_t i = 0; i < INFO_SLOTS; i++)
		free(c->info[i].body);
	sqlite3_close(c->db);
	if (tl_conn == c)
		tl_conn = NULL;
	if (tl_wconn == c)
		tl_wconn = NULL;
	free(c);
}

/*
 * Map DB-gen, the generation words every worker shares (made, zeroed, by
 * the first). NULL, with a warning, when it cannot be: info/collections
 * is then read from the database every time, which is only slower.
 */
static _Atomic uint64_t *
gen_map(const char *db_path)
{
	char		*path = xprintf("%s-gen", db_path);
	size_t		 len = GEN_WORDS * sizeof(uint64_t);
	struct stat	 sb;
	void		*map = MAP_FAILED;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    fstat(fd, &sb) == -1)
		log_warnx("%s: %s; info/collections uncached", path,
		    strerror(errno));
	else if (sb.st_size != 0 && (size_t)sb.st_size != len)
		/* never truncate a file another worker may have mapped */
		log_warnx("%s: %lld bytes, not %zu; info/collections "
		    "uncached", path, (long long)sb.st_size, len);
	else if (sb.st_size == 0 && ftruncate(fd, (off_t)len) == -1)
		log_warnx("%s: %s; info/collections uncached", path,
		    strerror(errno));
	else if ((map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0)) == MAP_FAILED)
		log_warnx("%s: mmap: %s; info/collections uncached", path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
	free(path);
	return map == MAP_FAILED ? NULL : map;
}

static _Atomic uint64_t *
gen_word(struct store *st, uint64_t uid)
{
	return &st->gen[(uid * 0x9e3779b97f4a7c15ULL) >> 52];  /* 12 bits */
}

/* After a write's COMMIT (or ROLLBACK: no harm), before its answer. */
static void
gen_bump(struct store *st, uint64_t uid)
{
	if (st->gen != NULL)
		atomic_fetch_add(gen_word(st, uid), 1);
}

struct store *
store_open(const struct sync_config *cfg, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	sqlite3 *db;
	int rc = SQLITE_OK;

	/* no global mutex around each of SQLite's allocations (it would
	 * count them for sqlite3_status, which nothing here reads); refused,
	 * harmlessly, once the library is initialised */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	st->cfg = cfg;
	st->path = xstrdup(cfg->db_path);
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->write_mu, NULL);
	if ((db = db_connect(st->path, err, errlen)) == NULL) {
		store_close(st);
		return NULL;
	}
	for (size_t i = 0; schema[i] != NULL && rc == SQLITE_OK; i++)
		rc = db_exec(db, schema[i]);
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "%s: cannot create the schema: %s",
		    st->path, sqlite3_errmsg(db));
	sqlite3_close(db);
	if (rc != SQLITE_OK) {
		store_close(st);
		return NULL;
	}
	if (cfg->info_cache_ms > 0)
		st->gen = gen_map(st->path);
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nconns; i++)
		conn_close(st->conns[i]);
	free(st->conns);
	if (st->gen != NULL)
		munmap((void *)st->gen, GEN_WORDS * sizeof(uint64_t));
	free(st->path);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->write_mu);
	free(st);
}

int64_t
store_now_cs(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 100 + (now.tv_nsec + 9999999) / 10000000;
}

void
st_result_free(struct st_result *r)
{
	free(r->body.p);
	for (size_t i = 0; i < r->nitems; i++)
		free(r->items[i]);
	free(r->items);
	free(r->next_offset);
	memset(r, 0, sizeof(*r));
}

/* ---- statements ---------------------------------------------------------- */

/* The connection's prepared statement for sql, reset; NULL on error. */
static sqlite3_stmt *
stmt_get(sqlite3 *db, const char *sql)
{
	struct conn *c = tl_wconn != NULL && tl_wconn->db == db ? tl_wconn :
	    tl_conn;
	sqlite3_stmt *s = NULL;

	for (size_t i = 0; c != NULL && i < c->nstmts; i++)
		if (strcmp(c->stmts[i].sql, sql) == 0) {
			sqlite3_reset(c->stmts[i].s);
			sqlite3_clear_bindings(c->stmts[i].s);
			return c->stmts[i].s;
		}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
	    NULL) != SQLITE_OK) {
		log_warnx("sqlite: %s: %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	if (c == NULL || c->db != db || c->nstmts == STMT_CACHE) {
		log_warnx("sqlite: statement cache full");
		sqlite3_finalize(s);
		return NULL;
	}
	c->stmts[c->nstmts].sql = xstrdup(sql);
	c->stmts[c->nstmts++].s = s;
	return s;
}

/* Prepare sql and bind "i" (int64), "t" (text), "n" (null) arguments.
 * The statement is the thread's cached one: done() it, never finalize. */
static sqlite3_stmt *
stmt(sqlite3 *db, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s = stmt_get(db, sql);
	va_list ap;

	if (s == NULL)
		return NULL;
	va_start(ap, types);
	for (int i = 0; types[i] != '\0'; i++) {
		if (types[i] == 'i')
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		else if (types[i] == 't')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, i + 1);
	}
	va_end(ap);
	return s;
}

/* Finished with a statement: reset it (it stays prepared). */
static void
done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
}

static enum st_status
rc_status(sqlite3 *db, int rc)
{
	if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK)
		return ST_OK;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return ST_BUSY;
	log_warnx("sqlite: %s", sqlite3_errmsg(db));
	return ST_ERROR;
}

/* Run a statement that returns no rows. */
static enum st_status
run(sqlite3 *db, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return ST_ERROR;
	rc = sqlite3_step(s);
	done(s);
	return rc_status(db, rc);
}

/* One integer of the first row; *out = dflt when there is no row. */
static enum st_status
one_int(sqlite3 *db, sqlite3_stmt *s, int64_t dflt, int64_t *out)
{
	int rc;

	if (s == NULL)
		return ST_ERROR;
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL ?
	    sqlite3_column_int64(s, 0) : dflt;
	done(s);
	return rc_status(db, rc);
}

static enum st_status
storage_ts(sqlite3 *db, uint64_t uid, int64_t *out)
{
	return one_int(db, stmt(db, "SELECT modified FROM user_ts WHERE uid = ?",
	    "i", (int64_t)uid), 0, out);
}

/* The collection's timestamp, -1 when it does not exist. */
static enum st_status
coll_ts(sqlite3 *db, uint64_t uid, const char *coll, int64_t *out)
{
	return one_int(db, stmt(db, "SELECT modified FROM collections"
	    " WHERE uid = ? AND name = ?", "it", (int64_t)uid, coll), -1, out);
}

/* Collection and storage timestamps become T. */
static enum st_status
touch(sqlite3 *db, uint64_t uid, const char *coll, int64_t t)
{
	enum st_status ss = ST_OK;

	if (coll != NULL)
		ss = run(db, stmt(db, "INSERT INTO collections (uid, name,"
		    " modified) VALUES (?1, ?2, ?3) ON CONFLICT (uid, name)"
		    " DO UPDATE SET modified = ?3", "iti", (int64_t)uid, coll, t));
	if (ss == ST_OK)
		ss = run(db, stmt(db, "INSERT INTO user_ts (uid, modified)"
		    " VALUES (?1, ?2) ON CONFLICT (uid) DO UPDATE SET"
		    " modified = ?2", "ii", (int64_t)uid, t));
	return ss;
}

/* ---- transactions ------------------------------------------------------- */

static enum st_status
tx_read(sqlite3 *db)
{
	return run(db, stmt(db, "BEGIN DEFERRED", ""));
}

/*
 * A connection in BEGIN IMMEDIATE, and T = max(now, storage_ts + 0.01)
 * computed inside it; NULL with *ss set when the database is busy.
 */
static sqlite3 *
write_begin(struct store *st, uint64_t uid, int64_t *t, enum st_status *ss)
{
	sqlite3 *db;
	int64_t sts, now = store_now_cs();
	struct timespec until;

	*ss = ST_BUSY;
	/* the process's writers queue here, bounded like the database lock */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUSY_TIMEOUT_MS / 1000;
	if (pthread_mutex_timedlock(&st->write_mu, &until) != 0)
		return NULL;
	if (st->wconn == NULL && (st->wconn = conn_open(st)) == NULL) {
		pthread_mutex_unlock(&st->write_mu);
		*ss = ST_ERROR;
		return NULL;
	}
	tl_wconn = st->wconn;
	db = tl_wconn->db;
	if ((*ss = run(db, stmt(db, "BEGIN IMMEDIATE", ""))) != ST_OK) {
		store_release(st, db);
		return NULL;
	}
	if ((*ss = storage_ts(db, uid, &sts)) != ST_OK) {
		run(db, stmt(db, "ROLLBACK", ""));
		store_release(st, db);
		return NULL;
	}
	*t = now > sts ? now : sts + 1;
	return db;
}

/* COMMIT when ss is ST_OK, else ROLLBACK; returns the outcome. */
static enum st_status
tx_end(sqlite3 *db, enum st_status ss)
{
	if (ss == ST_OK) {
		ss = run(db, stmt(db, "COMMIT", ""));
		if (ss == ST_OK)
			return ST_OK;
	}
	if (!sqlite3_get_autocommit(db))
		run(db, stmt(db, "ROLLBACK", ""));
	return ss;
}

/* The end of a write: COMMIT or ROLLBACK as tx_end, and the next writer
 * is let in before the answer is written. */
static enum st_status
write_end(struct store *st, uint64_t uid, sqlite3 *db, enum st_status ss)
{
	ss = tx_end(db, ss);
	gen_bump(st, uid);
	store_release(st, db);
	return ss;
}

/* 304 / 412 against the target's last-modified (doc/sync-storage.md §3.4). */
static enum st_status
precond_check(const struct precond *pc, int64_t target, bool is_get)
{
	if (is_get && pc->has_ims && target <= pc->ims)
		return ST_NOT_MODIFIED;
	if (pc->has_ius && target > pc->ius)
		return ST_PRECONDITION;
	return ST_OK;
}

/* The collection's timestamp (*cts, -1: none) as X-Last-Modified, and
 * X-If-Unmodified-Since checked against it. */
static enum st_status
coll_precond(sqlite3 *db, uint64_t uid, const char *coll,
    const struct precond *pc, int64_t *cts, struct st_result *r)
{
	enum st_status ss = coll_ts(db, uid, coll, cts);

	r->last_modified = *cts < 0 ? 0 : *cts;
	return ss == ST_OK ? precond_check(pc, r->last_modified, false) : ss;
}

/* ---- info (every /info/ endpoint) ------------------------------------------------------------- */

static const char *const info_sql[] = {
	[INFO_COLLECTIONS] = NULL,	/* one statement: info_collections */
	[INFO_COUNTS] = "SELECT coll, COUNT(*) FROM bso WHERE uid = ?1 AND"
	    " (expiry IS NULL OR expiry > ?2) GROUP BY coll ORDER BY coll",
	[INFO_USAGE] = "SELECT coll, SUM(payload_size) FROM bso WHERE"
	    " uid = ?1 AND (expiry IS NULL OR expiry > ?2) GROUP BY coll"
	    " ORDER BY coll",
	[INFO_CONFIGURATION] = NULL,     /* the limits: configuration_body */
	[INFO_QUOTA] = "SELECT '', SUM(payload_size) FROM bso WHERE"
	    " uid = ?1 AND (expiry IS NULL OR expiry > ?2)",
};

static void
info_value(struct sbuf *b, enum info_kind kind, sqlite3_stmt *s)
{
	char kb[64];

	if (kind == INFO_COUNTS)
		sbuf_int(b, sqlite3_column_int64(s, 1));
	else {
		snprintf(kb, sizeof(kb), "%.17g",
		    (double)sqlite3_column_int64(s, 1) / 1024.0);
		if (strpbrk(kb, ".e") == NULL)
			strcat(kb, ".0");
		sbuf_cstr(b, kb);
	}
}

static enum st_status
info_body(sqlite3 *db, uint64_t uid, enum info_kind kind,
    struct st_result *r)
{
	sqlite3_stmt *s = stmt(db, info_sql[kind], "ii", (int64_t)uid,
	    store_now_cs());
	int rc, n = 0;

	if (s == NULL)
		return ST_ERROR;
	sbuf_cstr(&r->body, kind == INFO_QUOTA ? "[" : "{");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (kind != INFO_QUOTA) {
			if (n > 0)
				sbuf_cstr(&r->body, ",");
			sbuf_json_str(&r->body,
			    (const char *)sqlite3_column_text(s, 0));
			sbuf_cstr(&r->body, ":");
		}
		info_value(&r->body, kind, s);
		n++;
	}
	sbuf_cstr(&r->body, kind == INFO_QUOTA ? ",null]" : "}");
	done(s);
	return rc_status(db, rc);
}

/*
 * info/collections, the request every sync begins with, in one statement:
 * one implicit read transaction instead of BEGIN, two statements and
 * ROLLBACK (together a quarter of a worker's CPU on this request, most of
 * it the transaction's begin and end). The storage timestamp comes first
 * (k = 0, absent for a new user), then the collections by name.
 */
static const char info_collections_sql[] =
    "SELECT 0, NULL, modified FROM user_ts WHERE uid = ?1"
    " UNION ALL SELECT 1, name, modified FROM collections WHERE uid = ?1"
    " ORDER BY 1, 2";

static enum st_status
info_collections(sqlite3 *db, uint64_t uid, const struct precond *pc,
    struct st_result *r)
{
	sqlite3_stmt *s = stmt(db, info_collections_sql, "i", (int64_t)uid);
	enum st_status ss;
	int rc, n = 0;

	if (s == NULL)
		return ST_ERROR;
	r->last_modified = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 0) {
		r->last_modified = sqlite3_column_int64(s, 2);
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ss = rc_status(db, rc);
	else
		ss = precond_check(pc, r->last_modified, true);
	if (ss != ST_OK) {
		done(s);
		return ss;
	}
	sbuf_cstr(&r->body, "{");
	for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
		if (n++ > 0)
			sbuf_cstr(&r->body, ",");
		sbuf_json_str(&r->body,
		    (const char *)sqlite3_column_text(s, 1));
		sbuf_cstr(&r->body, ":");
		sbuf_ts(&r->body, sqlite3_column_int64(s, 2));
	}
	sbuf_cstr(&r->body, "}");
	done(s);
	r->records = n;
	return rc_status(db, rc);
}

/*
 * info/collections from this thread's cache when the user's generation
 * word has not moved since it was read and it is younger than
 * info_cache_ms; else from the database, cached when no write ended
 * meanwhile (the word read before the statement equals the one after).
 */
static enum st_status
info_collections_cached(struct store *st, sqlite3 *db, uint64_t uid,
    const struct precond *pc, struct st_result *r)
{
	struct info_cached *e = &tl_conn->info[uid % INFO_SLOTS];
	_Atomic uint64_t *word = gen_word(st, uid);
	uint64_t gen = atomic_load(word);
	int64_t now = util_monotonic_ms();
	enum st_status ss;

	if (e->body != NULL && e->uid == uid && e->gen == gen &&
	    now - e->at_ms < st->cfg->info_cache_ms) {
		r->last_modified = e->last_modified;
		if ((ss = precond_check(pc, r->last_modified, true)) != ST_OK)
			return ss;
		sbuf_add(&r->body, e->body, e->len);
		r->records = e->records;
		return ST_OK;
	}
	if ((ss = info_collections(db, uid, pc, r)) != ST_OK ||
	    atomic_load(word) != gen)
		return ss;
	free(e->body);
	e->uid = uid;
	e->gen = gen;
	e->at_ms = now;
	e->last_modified = r->last_modified;
	e->records = r->records;
	e->len = r->body.len;
	e->body = xmalloc(e->len + 1);
	memcpy(e->body, r->body.p, e->len);
	return ST_OK;
}

/* info/configuration: the six limits clients obey. */
static void
configuration_body(const struct sync_config *cfg, struct st_result *r)
{
	char *text = xprintf("{\"max_request_bytes\": %lld,"
	    " \"max_post_records\": %lld, \"max_post_bytes\": %lld,"
	    " \"max_total_records\": %lld, \"max_total_bytes\": %lld,"
	    " \"max_record_payload_bytes\": %lld}", cfg->max_request_bytes,
	    cfg->max_post_records, cfg->max_post_bytes, cfg->max_total_records,
	    cfg->max_total_bytes, cfg->max_record_payload_bytes);

	sbuf_cstr(&r->body, text);
	free(text);
}

enum st_status
store_info(struct store *st, uint64_t uid, enum info_kind kind,
    const struct precond *pc, struct st_result *r)
{
	sqlite3 *db = store_acquire(st);
	enum st_status ss;

	if (db == NULL)
		return ST_BUSY;
	if (kind == INFO_COLLECTIONS) {
		ss = st->gen != NULL ? info_collections_cached(st, db, uid, pc,
		    r) : info_collections(db, uid, pc, r);
		store_release(st, db);
		return ss;
	}
	if ((ss = tx_read(db)) == ST_OK &&
	    (ss = storage_ts(db, uid, &r->last_modified)) == ST_OK &&
	    (ss = precond_check(pc, r->last_modified, true)) == ST_OK) {
		if (kind == INFO_CONFIGURATION)
			configuration_body(st->cfg, r);
		else
			ss = info_body(db, uid, kind, r);
	}
	tx_end(db, ST_ERROR);   /* a read: always roll back */
	store_release(st, db);
	return ss;
}

int
store_heartbeat(struct store *st)
{
	sqlite3 *db = store_acquire(st);
	int64_t n;
	enum st_status ss;

	if (db == NULL)
		return -1;
	/* one page of a table, whatever the number of users (a load
	 * balancer may ask many times a second) */
	ss = one_int(db, stmt(db, "SELECT uid FROM user_ts LIMIT 1", ""), 0,
	    &n);
	store_release(st, db);
	return ss == ST_OK ? 0 : -1;
}

/* ---- GET collection ---------------------------------------------------- */

/* The sort key column of each order, and whether it descends. */
static const char *
sort_key(enum sort_order o)
{
	return o == SORT_INDEX ? "COALESCE(sortindex, -1000000000)" :
	    "modified";
}

static char *
offset_make(int64_t key, const char *id)
{
	char *raw = xprintf("%lld:%s", (long long)key, id);
	char *tok = crypto_b64_encode(raw, strlen(raw), true);
	size_t n = strlen(tok);

	while (n > 0 && tok[n - 1] == '=')
		tok[--n] = '\0';
	free(raw);
	return tok;
}

static int
offset_parse(const char *tok, int64_t *key, char **id)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	char *colon, *end;
	long long k;

	if (crypto_b64_decode(tok, strlen(tok), true, &raw, &n) == -1)
		return -1;
	colon = memchr(raw, ':', n);
	if (colon == NULL || strlen((char *)raw) != n) {
		free(raw);
		return -1;
	}
	*colon = '\0';
	k = strtoll((char *)raw, &end, 10);
	if (end == (char *)raw || *end != '\0' || !bso_id_valid(colon + 1)) {
		free(raw);
		return -1;
	}
	*key = k;
	*id = xstrdup(colon + 1);
	free(raw);
	return 0;
}

/* The SELECT of a collection listing; binds are added in list_bind. */
static char *
list_sql(const struct sync_query *q, bool has_offset)
{
	struct sbuf b = { 0 };
	const char *key = sort_key(q->sort);
	bool desc = q->sort != SORT_OLDEST;

	sbuf_cstr(&b, "SELECT id, modified, payload, sortindex, ");
	sbuf_cstr(&b, key);
	sbuf_cstr(&b, " FROM bso WHERE uid = ?1 AND coll = ?2 AND"
	    " (expiry IS NULL OR expiry > ?3) AND modified > ?4 AND"
	    " modified < ?5");
	if (has_offset) {
		sbuf_cstr(&b, " AND (");
		sbuf_cstr(&b, key);
		sbuf_cstr(&b, desc ? " < ?6" : " > ?6");
		sbuf_cstr(&b, " OR (");
		sbuf_cstr(&b, key);
		sbuf_cstr(&b, " = ?6 AND id > ?7))");
	}
	if (q->ids != NULL) {
		sbuf_cstr(&b, " AND id IN (SELECT value FROM json_each(?8))");
	}
	sbuf_cstr(&b, " ORDER BY ");
	sbuf_cstr(&b, key);
	sbuf_cstr(&b, desc ? " DESC, id ASC LIMIT ?9" : " ASC, id ASC LIMIT ?9");
	return sbuf_take(&b, NULL);
}

static char *
ids_json(const struct sync_query *q)
{
	struct sbuf b = { 0 };

	sbuf_cstr(&b, "[");
	for (size_t i = 0; i < q->nids; i++) {
		if (i > 0)
			sbuf_cstr(&b, ",");
		sbuf_json_str(&b, q->ids[i]);
	}
	sbuf_cstr(&b, "]");
	return sbuf_take(&b, NULL);
}

/* One listed record: its id, or the full BSO. */
static char *
list_item(sqlite3_stmt *s, bool full)
{
	struct sbuf b = { 0 };

	if (!full) {
		sbuf_json_str(&b, (const char *)sqlite3_column_text(s, 0));
		return sbuf_take(&b, NULL);
	}
	sbuf_cstr(&b, "{\"id\":");
	sbuf_json_str(&b, (const char *)sqlite3_column_text(s, 0));
	sbuf_cstr(&b, ",\"modified\":");
	sbuf_ts(&b, sqlite3_column_int64(s, 1));
	sbuf_cstr(&b, ",\"payload\":");
	sbuf_json_str(&b, (const char *)sqlite3_column_text(s, 2));
	if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
		sbuf_cstr(&b, ",\"sortindex\":");
		sbuf_int(&b, sqlite3_column_int64(s, 3));
	}
	sbuf_cstr(&b, "}");
	return sbuf_take(&b, NULL);
}

static enum st_status
list_rows(sqlite3 *db, sqlite3_stmt *s, const struct sync_query *q,
    struct st_result *r)
{
	int rc;

	r->is_list = true;
	r->items = xcalloc(1, sizeof(char *));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (q->has_limit && (long long)r->nitems == q->limit)
			break;  /* one more than the limit: there is a next page */
		r->items = xreallocarray(r->items, r->nitems + 1,
		    sizeof(char *));
		r->items[r->nitems++] = list_item(s, q->full);
		/* remember the keyset position of the last record */
		free(r->next_offset);
		r->next_offset = offset_make(sqlite3_column_int64(s, 4),
		    (const char *)sqlite3_column_text(s, 0));
	}
	if (rc != SQLITE_ROW) {
		free(r->next_offset);
		r->next_offset = NULL;
	}
	r->records = (long)r->nitems;
	return rc == SQLITE_ROW ? ST_OK : rc_status(db, rc);
}

static enum st_status
list_query(sqlite3 *db, uint64_t uid, const char *coll,
    const struct sync_query *q, struct st_result *r)
{
	int64_t okey = 0;
	char *oid = NULL, *sql, *ids = NULL;
	sqlite3_stmt *s;
	enum st_status ss;

	if (q->offset != NULL && offset_parse(q->offset, &okey, &oid) == -1)
		return ST_BAD_OFFSET;
	sql = list_sql(q, oid != NULL);
	s = stmt(db, sql, "itiii", (int64_t)uid, coll, store_now_cs(),
	    q->has_newer ? q->newer : (int64_t)-1,
	    q->has_older ? q->older : INT64_MAX);
	free(sql);
	if (s == NULL) {
		free(oid);
		return ST_ERROR;
	}
	if (oid != NULL) {
		sqlite3_bind_int64(s, 6, okey);
		sqlite3_bind_text(s, 7, oid, -1, SQLITE_TRANSIENT);
	}
	if (q->ids != NULL) {
		ids = ids_json(q);
		sqlite3_bind_text(s, 8, ids, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(s, 9, q->has_limit ? q->limit + 1 : -1);
	ss = list_rows(db, s, q, r);
	done(s);
	free(oid);
	free(ids);
	return ss;
}

enum st_status
store_get_collection(struct store *st, uint64_t uid, const char *coll,
    const struct sync_query *q, const struct precond *pc,
    struct st_result *r)
{
	sqlite3 *db = store_acquire(st);
	enum st_status ss;
	int64_t cts;

	if (db == NULL)
		return ST_BUSY;
	if ((ss = tx_read(db)) == ST_OK &&
	    (ss = coll_ts(db, uid, coll, &cts)) == ST_OK) {
		r->last_modified = cts < 0 ? 0 : cts;
		ss = precond_check(pc, r->last_modified, true);
		if (ss == ST_OK)
			ss = list_query(db, uid, coll, q, r);
	}
	tx_end(db, ST_ERROR);
	store_release(st, db);
	return ss;
}

/* ---- one BSO ------------------------------------------------------------ */

/* The live BSO's modified, -1 when absent or expired. */
static enum st_status
bso_ts(sqlite3 *db, uint64_t uid, const char *coll, const char *id,
    int64_t *out)
{
	return one_int(db, stmt(db, "SELECT modified FROM bso WHERE uid = ?"
	    " AND coll = ? AND id = ? AND (expiry IS NULL OR expiry > ?)",
	    "itti", (int64_t)uid, coll, id, store_now_cs()), -1, out);
}

enum st_status
store_get_bso(struct store *st, uint64_t uid, const char *coll,
    const char *id, const struct precond *pc, struct st_result *r)
{
	sqlite3 *db = store_acquire(st);
	sqlite3_stmt *s;
	enum st_status ss;
	int rc;

	if (db == NULL)
		return ST_BUSY;
	s = stmt(db, "SELECT id, modified, payload, sortindex FROM bso WHERE"
	    " uid = ? AND coll = ? AND id = ? AND (expiry IS NULL OR"
	    " expiry > ?)", "itti", (int64_t)uid, coll, id, store_now_cs());
	if (s == NULL) {
		store_release(st, db);
		return ST_ERROR;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->last_modified = sqlite3_column_int64(s, 1);
		ss = precond_check(pc, r->last_modified, true);
		if (ss == ST_OK) {
			char *item = list_item(s, true);

			sbuf_cstr(&r->body, item);
			free(item);
		}
	} else
		ss = rc == SQLITE_DONE ? ST_NOT_FOUND : rc_status(db, rc);
	done(s);
	store_release(st, db);
	return ss;
}

/*
 * Partial update of one BSO at T (doc/sync-storage.md §2): the fields
 * given change; an expired BSO (expiry <= T) counts as absent, so writing
 * to it starts a new one.
 */
static enum st_status
bso_apply(sqlite3 *db, uint64_t uid, const char *coll, const char *id,
    const char *payload, const int64_t *sortindex, const int64_t *ttl,
    int64_t t)
{
	sqlite3_stmt *s;

#define EXPIRED "(expiry IS NOT NULL AND expiry <= ?6)"
	s = stmt(db, "INSERT INTO bso (uid, coll, id, sortindex, payload,"
	    " payload_size, modified, expiry) VALUES (?1, ?2, ?3, ?4,"
	    " COALESCE(?5, ''), COALESCE(?8, 0), ?6,"
	    " CASE WHEN ?7 IS NULL THEN NULL ELSE ?6 + ?7 * 100 END)"
	    " ON CONFLICT (uid, coll, id) DO UPDATE SET"
	    " sortindex = CASE WHEN ?4 IS NOT NULL THEN ?4"
	    "  WHEN " EXPIRED " THEN NULL ELSE sortindex END,"
	    " payload = COALESCE(?5, CASE WHEN " EXPIRED " THEN ''"
	    "  ELSE payload END),"
	    " payload_size = CASE WHEN ?5 IS NOT NULL THEN ?8"
	    "  WHEN " EXPIRED " THEN 0"
	    "  ELSE payload_size END,"
	    " modified = CASE WHEN ?4 IS NULL AND ?5 IS NULL AND NOT " EXPIRED
	    "  THEN modified ELSE ?6 END,"
	    " expiry = CASE WHEN ?7 IS NOT NULL THEN ?6 + ?7 * 100"
	    "  WHEN " EXPIRED " THEN NULL ELSE expiry END",
	    "itt", (int64_t)uid, coll, id);
#undef EXPIRED
	if (s == NULL)
		return ST_ERROR;
	if (sortindex != NULL)
		sqlite3_bind_int64(s, 4, *sortindex);
	if (payload != NULL) {
		/* its size in bytes (JSON strings hold no NUL) */
		size_t n = strlen(payload);

		sqlite3_bind_text(s, 5, payload, (int)n, SQLITE_STATIC);
		sqlite3_bind_int64(s, 8, (int64_t)n);
	}
	sqlite3_bind_int64(s, 6, t);
	if (ttl != NULL)
		sqlite3_bind_int64(s, 7, *ttl);
	return run(db, s);
}

static enum st_status
bso_in_apply(sqlite3 *db, uint64_t uid, const char *coll, const char *id,
    const struct bso_in *b, int64_t t)
{
	int64_t si = b->sortindex, ttl = b->ttl;

	return bso_apply(db, uid, coll, id, b->payload,
	    b->has_sortindex ? &si : NULL, b->has_ttl ? &ttl : NULL, t);
}

enum st_status
store_put_bso(struct store *st, uint64_t uid, const char *coll,
    const struct bso_in *b, const struct precond *pc, struct st_result *r)
{
	sqlite3 *db;
	enum st_status ss;
	int64_t t, cur;

	if ((db = write_begin(st, uid, &t, &ss)) == NULL)
		return ss;
	ss = bso_ts(db, uid, coll, b->id, &cur);
	r->last_modified = cur < 0 ? 0 : cur;
	if (ss == ST_OK)
		ss = precond_check(pc, r->last_modified, false);
	if (ss == ST_OK)
		ss = bso_in_apply(db, uid, coll, b->id, b, t);
	if (ss == ST_OK)
		ss = touch(db, uid, coll, t);
	if ((ss = write_end(st, uid, db, ss)) == ST_OK) {
		r->last_modified = r->ts = t;
		sbuf_ts(&r->body, t);
	}
	return ss;
}

static void
modified_body(struct st_result *r, int64_t t)
{
	r->last_modified = r->ts = t;
	sbuf_cstr(&r->body, "{\"modified\":");
	sbuf_ts(&r->body, t);
	sbuf_cstr(&r->body, "}");
}

enum st_status
store_delete_bso(struct store *st, uint64_t uid, const char *coll,
    const char *id, const struct precond *pc, struct st_result *r)
{
	sqlite3 *db;
	enum st_status ss;
	int64_t t, cur;

	if ((db = write_begin(st, uid, &t, &ss)) == NULL)
		return ss;
	ss = bso_ts(db, uid, coll, id, &cur);
	if (ss == ST_OK && cur < 0)
		ss = ST_NOT_FOUND;
	r->last_modified = cur < 0 ? 0 : cur;
	if (ss == ST_OK)
		ss = precond_check(pc, cur, false);
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM bso WHERE uid = ? AND"
		    " coll = ? AND id = ?", "itt", (int64_t)uid, coll, id));
	if (ss == ST_OK)
		ss = touch(db, uid, coll, t);
	if ((ss = write_end(st, uid, db, ss)) == ST_OK)
		modified_body(r, t);
	return ss;
}

/* Delete the listed ids, or the whole collection with its batches. */
static enum st_status
collection_wipe(sqlite3 *db, uint64_t uid, const char *coll,
    char *const *ids, size_t nids, int64_t t)
{
	enum st_status ss = ST_OK;

	if (ids != NULL) {
		for (size_t i = 0; i < nids && ss == ST_OK; i++)
			ss = run(db, stmt(db, "DELETE FROM bso WHERE uid = ? AND"
			    " coll = ? AND id = ?", "itt", (int64_t)uid, coll,
			    ids[i]));
		return ss == ST_OK ? touch(db, uid, coll, t) : ss;
	}
	ss = run(db, stmt(db, "DELETE FROM bso WHERE uid = ? AND coll = ?",
	    "it", (int64_t)uid, coll));
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM batch_items WHERE uid = ?1 AND"
		    " batch IN (SELECT id FROM batches WHERE uid = ?1 AND"
		    " coll = ?2)", "it", (int64_t)uid, coll));
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM batches WHERE uid = ? AND"
		    " coll = ?", "it", (int64_t)uid, coll));
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM collections WHERE uid = ? AND"
		    " name = ?", "it", (int64_t)uid, coll));
	return ss == ST_OK ? touch(db, uid, NULL, t) : ss;
}

enum st_status
store_delete_collection(struct store *st, uint64_t uid, const char *coll,
    char *const *ids, size_t nids, const struct precond *pc,
    struct st_result *r)
{
	sqlite3 *db;
	enum st_status ss;
	int64_t t, cts, sts = 0;

	if ((db = write_begin(st, uid, &t, &ss)) == NULL)
		return ss;
	ss = coll_precond(db, uid, coll, pc, &cts, r);
	if (ss == ST_OK && cts < 0) {
		/* never existed: nothing changes, T is the storage's */
		ss = storage_ts(db, uid, &sts);
		tx_end(db, ST_ERROR);
		if (ss == ST_OK)
			modified_body(r, sts);
		store_release(st, db);
		return ss;
	}
	if (ss == ST_OK)
		ss = collection_wipe(db, uid, coll, ids, nids, t);
	if ((ss = write_end(st, uid, db, ss)) == ST_OK)
		modified_body(r, t);
	return ss;
}

enum st_status
store_delete_storage(struct store *st, uint64_t uid,
    const struct precond *pc, struct st_result *r)
{
	static const char *const wipe[] = {
		"DELETE FROM bso WHERE uid = ?",
		"DELETE FROM batch_items WHERE uid = ?",
		"DELETE FROM batches WHERE uid = ?",
		"DELETE FROM collections WHERE uid = ?",
		"DELETE FROM user_ts WHERE uid = ?",
	};
	sqlite3 *db;
	enum st_status ss;
	int64_t t, sts = 0;

	if ((db = write_begin(st, uid, &t, &ss)) == NULL)
		return ss;
	ss = storage_ts(db, uid, &sts);
	r->last_modified = sts;
	if (ss == ST_OK)
		ss = precond_check(pc, sts, false);
	for (size_t i = 0; i < sizeof(wipe) / sizeof(wipe[0]) && ss == ST_OK;
	    i++)
		ss = run(db, stmt(db, wipe[i], "i", (int64_t)uid));
	if ((ss = write_end(st, uid, db, ss)) == ST_OK) {
		r->last_modified = 0;
		sbuf_cstr(&r->body, "{}");
	}
	return ss;
}

/* ---- POST and batches (doc/sync-storage.md §4.2, §5) ----------------- */

static void
post_answer(struct st_result *r, const char *batch, int64_t t,
    const struct post_body *pb)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	sbuf_cstr(&r->body, "{");
	if (batch != NULL) {
		sbuf_cstr(&r->body, "\"batch\":");
		sbuf_json_str(&r->body, batch);
	} else {
		sbuf_cstr(&r->body, "\"modified\":");
		sbuf_ts(&r->body, t);
	}
	sbuf_cstr(&r->body, ",\"success\":[");
	for (size_t i = 0; i < pb->nrecs; i++) {
		if (i > 0)
			sbuf_cstr(&r->body, ",");
		sbuf_json_str(&r->body, pb->recs[i].id);
	}
	sbuf_cstr(&r->body, "],\"failed\":{");
	json_object_foreach(pb->failed, key, v) {
		if (n++ > 0)
			sbuf_cstr(&r->body, ",");
		sbuf_json_str(&r->body, key);
		sbuf_cstr(&r->body, ":");
		sbuf_json_str(&r->body, json_string_value(v));
	}
	sbuf_cstr(&r->body, "}}");
}

static enum st_status
batch_new(sqlite3 *db, struct store *st, uint64_t uid, const char *coll,
    char **id)
{
	unsigned char raw[16];
	char *tok;
	size_t n;

	if (crypto_random(raw, sizeof(raw)) == -1)
		return ST_ERROR;
	tok = crypto_b64_encode(raw, sizeof(raw), true);
	n = strlen(tok);
	while (n > 0 && tok[n - 1] == '=')
		tok[--n] = '\0';
	*id = tok;
	return run(db, stmt(db, "INSERT INTO batches (uid, id, coll, expires)"
	    " VALUES (?, ?, ?, ?)", "itti", (int64_t)uid, tok, coll,
	    store_now_cs() + st->cfg->batch_lifetime * 100));
}

static enum st_status
batch_find(sqlite3 *db, uint64_t uid, const char *coll, const char *id)
{
	int64_t n;
	enum st_status ss = one_int(db, stmt(db, "SELECT COUNT(*) FROM batches"
	    " WHERE uid = ? AND id = ? AND coll = ? AND expires > ?", "itti",
	    (int64_t)uid, id, coll, store_now_cs()), 0, &n);

	return ss == ST_OK && n == 0 ? ST_BAD_BATCH : ss;
}

static enum st_status
batch_append(sqlite3 *db, uint64_t uid, const char *batch,
    const struct post_body *pb)
{
	int64_t seq;
	enum st_status ss = one_int(db, stmt(db, "SELECT MAX(seq) FROM"
	    " batch_items WHERE uid = ? AND batch = ?", "it", (int64_t)uid,
	    batch), -1, &seq);

	for (size_t i = 0; i < pb->nrecs && ss == ST_OK; i++) {
		const struct bso_in *b = &pb->recs[i];
		sqlite3_stmt *s = stmt(db, "INSERT INTO batch_items (uid, batch,"
		    " seq, id, payload, sortindex, ttl) VALUES (?, ?, ?, ?, ?,"
		    " ?, ?)", "itit", (int64_t)uid, batch, ++seq, b->id);

		if (s == NULL)
			return ST_ERROR;
		if (b->payload != NULL)
			sqlite3_bind_text(s, 5, b->payload, -1, SQLITE_STATIC);
		if (b->has_sortindex)
			sqlite3_bind_int64(s, 6, b->sortindex);
		if (b->has_ttl)
			sqlite3_bind_int64(s, 7, b->ttl);
		ss = run(db, s);
	}
	return ss;
}

/* Apply a batch's items in upload order at T, then forget the batch. */
static enum st_status
batch_commit(sqlite3 *db, uint64_t uid, const char *coll, const char *batch,
    int64_t t)
{
	sqlite3_stmt *s = stmt(db, "SELECT id, payload, sortindex, ttl FROM"
	    " batch_items WHERE uid = ? AND batch = ? ORDER BY seq", "it",
	    (int64_t)uid, batch);
	enum st_status ss = ST_OK;
	int rc;

	if (s == NULL)
		return ST_ERROR;
	while (ss == ST_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t si = sqlite3_column_int64(s, 2);
		int64_t ttl = sqlite3_column_int64(s, 3);

		ss = bso_apply(db, uid, coll,
		    (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL : &si,
		    sqlite3_column_type(s, 3) == SQLITE_NULL ? NULL : &ttl, t);
	}
	if (ss == ST_OK && rc != SQLITE_DONE)
		ss = rc_status(db, rc);
	done(s);
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM batch_items WHERE uid = ? AND"
		    " batch = ?", "it", (int64_t)uid, batch));
	if (ss == ST_OK)
		ss = run(db, stmt(db, "DELETE FROM batches WHERE uid = ? AND"
		    " id = ?", "it", (int64_t)uid, batch));
	return ss;
}

static enum st_status
post_plain(sqlite3 *db, uint64_t uid, const char *coll,
    const struct post_body *pb, int64_t t)
{
	enum st_status ss = ST_OK;

	for (size_t i = 0; i < pb->nrecs && ss == ST_OK; i++)
		ss = bso_in_apply(db, uid, coll, pb->recs[i].id, &pb->recs[i], t);
	return ss == ST_OK ? touch(db, uid, coll, t) : ss;
}

/* The operation of a POST inside its transaction; *opened: new batch id. */
static enum st_status
post_op(struct store *st, sqlite3 *db, uint64_t uid, const char *coll,
    const char *batch, bool commit, const struct post_body *pb, int64_t t,
    char **opened)
{
	enum st_status ss;

	if (batch == NULL || (strcasecmp(batch, "true") == 0 && commit))
		return post_plain(db, uid, coll, pb, t);
	if (strcasecmp(batch, "true") == 0) {
		if ((ss = batch_new(db, st, uid, coll, opened)) != ST_OK)
			return ss;
		return batch_append(db, uid, *opened, pb);
	}
	if ((ss = batch_find(db, uid, coll, batch)) != ST_OK ||
	    (ss = batch_append(db, uid, batch, pb)) != ST_OK || !commit)
		return ss;
	if ((ss = batch_commit(db, uid, coll, batch, t)) != ST_OK)
		return ss;
	return touch(db, uid, coll, t);
}

enum st_status
store_post(struct store *st, uint64_t uid, const char *coll,
    const char *batch, bool commit, struct post_body *pb,
    const struct precond *pc, struct st_result *r)
{
	sqlite3 *db;
	enum st_status ss;
	int64_t t, cts;
	char *opened = NULL;
	bool applies = batch == NULL || commit;

	if ((db = write_begin(st, uid, &t, &ss)) == NULL)
		return ss;
	ss = coll_precond(db, uid, coll, pc, &cts, r);
	if (ss == ST_OK)
		ss = post_op(st, db, uid, coll, batch, commit, pb, t, &opened);
	if ((ss = write_end(st, uid, db, ss)) == ST_OK) {
		if (applies)
			r->last_modified = r->ts = t;
		else
			r->status = 202;
		post_answer(r, applies ? NULL :
		    opened != NULL ? opened : batch, t, pb);
	}
	free(opened);
	return ss;
}

/* ---- purge (doc/sync-storage.md §10) ---------------------------------- */

int
store_purge(struct store *st, int chunk)
{
	static const char *const purge[] = {
		"DELETE FROM bso WHERE (uid, coll, id) IN (SELECT uid, coll, id"
		" FROM bso WHERE expiry <= ?1 LIMIT ?2)",
		"DELETE FROM batch_items WHERE (uid, batch) IN (SELECT uid, id"
		" FROM batches WHERE expires <= ?1 LIMIT ?2)",
		"DELETE FROM batches WHERE (uid, id) IN (SELECT uid, id FROM"
		" batches WHERE expires <= ?1 AND NOT EXISTS (SELECT 1 FROM"
		" batch_items i WHERE i.uid = batches.uid AND"
		" i.batch = batches.id) LIMIT ?2)",
	};
	sqlite3 *db = store_acquire(st);
	int total = 0;

	if (db == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(purge) / sizeof(purge[0]); i++) {
		int n;

		do {
			if (run(db, stmt(db, purge[i], "ii", store_now_cs(),
			    (int64_t)chunk)) != ST_OK) {
				store_release(st, db);
				return -1;
			}
			n = sqlite3_changes(db);
			total += n;
		} while (n >= chunk);
	}
	db_exec(db, "PRAGMA incremental_vacuum(1000)");
	store_release(st, db);
	return total;
}
