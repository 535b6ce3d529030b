/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h — the storage side of the sync worker: configuration (config.c),
 * request parsing and validation (bso.c), the SQLite store (storage.c) and
 * the HTTP front (http.c). Doc: doc/sync-storage.md; running it: README
 * "Self-hosting Firefox Sync".
 * Timestamps are integers in centiseconds everywhere inside.
 */
#ifndef SYNC_SERVER_H
#define SYNC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syncserver.h"

/* ---- config.c --------------------------------------------------------- */

/* Load FILE into *cfg (defaults first). 0, or -1 with "file:line: why". */
int	 sync_config_load(const char *path, struct sync_config *cfg,
	    char *err, size_t errlen);
void	 sync_config_free(struct sync_config *cfg);

/* ---- bso.c: validation and parsing (no I/O) --------------------------- */

/* A growing text buffer for JSON answers (timestamps need 2 decimals,
 * which jansson's real printing cannot give). */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};
void	 sbuf_add(struct sbuf *, const char *s, size_t n);
void	 sbuf_cstr(struct sbuf *, const char *s);
/* s as a JSON string literal (quoted, escaped). */
void	 sbuf_json_str(struct sbuf *, const char *s);
/* centiseconds as a JSON number with exactly two decimals */
void	 sbuf_ts(struct sbuf *, int64_t cs);
void	 sbuf_int(struct sbuf *, long long);
/* Take the text out (NUL-terminated, never NULL); the buffer is reset. */
char	*sbuf_take(struct sbuf *, size_t *len);

#define BSO_ID_MAX	64
#define COLL_NAME_MAX	32
#define IDS_MAX		100
#define SORTINDEX_MAX	999999999LL
#define TTL_MAX		999999999LL

/* WEAVE error codes in 400 bodies. */
enum weave_code {
	WEAVE_UNKNOWN = 0,
	WEAVE_ILLEGAL = 1,
	WEAVE_JSON = 6,
	WEAVE_INVALID_BSO = 8,
	WEAVE_SIZE = 17,
};

struct bso_in {
	char		*id;
	char		*payload;       /* NULL: not given */
	size_t		 payload_len;
	bool		 has_sortindex;
	long long	 sortindex;
	bool		 has_ttl;
	long long	 ttl;
};

bool	 bso_id_valid(const char *id);
bool	 coll_name_valid(const char *name);
/*
 * Parse one BSO object (already decoded JSON text of one object) into *out.
 * want_id: the "id" field is required. Returns NULL, or a short reason
 * ("invalid id", "invalid ttl", ...) with *out left empty.
 */
struct json_t;
const char *bso_from_json(const struct json_t *obj, bool want_id,
	    long long max_payload, struct bso_in *out);
void	 bso_clear(struct bso_in *);

enum sort_order { SORT_NEWEST, SORT_OLDEST, SORT_INDEX };

/* The query parameters of the storage API, decoded. */
struct sync_query {
	char		**ids;          /* ids= (NULL: not given) */
	size_t		 nids;
	bool		 has_newer, has_older;
	int64_t		 newer, older;  /* centiseconds */
	bool		 full;
	enum sort_order	 sort;
	bool		 has_limit;
	long long	 limit;
	char		*offset;        /* raw token, NULL: none */
	char		*batch;         /* batch= value, NULL: none */
	bool		 commit;        /* commit=true */
	bool		 has_commit;
	char		*duration;      /* tokenserver ?duration= */
};

/* Percent-decode s[0..n) (plus_space: '+' is ' ', as in queries);
 * allocated, or NULL on a bad escape or an escaped NUL. */
char	*sync_url_decode(const char *s, size_t n, bool plus_space);
/* Parse the raw query string (after '?', may be NULL). 0, or -1 (400/1). */
int	 sync_query_parse(const char *raw, struct sync_query *q);
void	 sync_query_free(struct sync_query *q);
/* Non-negative decimal seconds -> centiseconds (rounded down). 0 / -1. */
int	 sync_parse_ts(const char *s, int64_t *cs);
/* Print centiseconds as seconds with two decimals ("12.05", "-0.50")
 * into buf (32 bytes); returns buf. */
const char *sync_fmt_ts(int64_t cs, char *buf);
/* Print n in decimal into buf (32 bytes); returns buf. */
const char *sync_fmt_int(long long n, char *buf);

/*
 * Parse a POST body (JSON array, or newline-delimited objects when
 * newlines) into records. Whole-request failures return -1 with *code
 * (WEAVE_JSON / WEAVE_INVALID_BSO); otherwise 0 with *recs (valid records
 * in order) and *failed (a JSON object id -> reason, jansson) filled.
 */
struct post_body {
	struct bso_in	*recs;
	size_t		 nrecs;
	struct json_t	*failed;        /* {"id": "reason"} */
};
int	 post_body_parse(const char *body, size_t len, bool newlines,
	    const struct sync_config *cfg, bool crypto_guard,
	    struct post_body *out, enum weave_code *code);
void	 post_body_free(struct post_body *);
/* postjson.c: the usual POST body (an array of flat objects) read fast,
 * the same tree json_loadb builds; NULL: not that shape, ask jansson. */
struct json_t	*post_json_fast(const char *body, size_t len);

/* ---- storage.c: the SQLite store ------------------------------------- */

enum st_status {
	ST_OK = 0,
	ST_NOT_FOUND,       /* 404 */
	ST_NOT_MODIFIED,    /* 304 */
	ST_PRECONDITION,    /* 412 */
	ST_BAD_BATCH,       /* 400, body 1 */
	ST_BAD_OFFSET,      /* 400, body 1 */
	ST_BUSY,            /* 503 + Retry-After */
	ST_ERROR,           /* 500 */
};

/* Preconditions of one request (doc/sync-storage.md §3.4). */
struct precond {
	bool		has_ims, has_ius;
	int64_t		ims, ius;
};

/* What every answer carries back for its headers. */
struct st_result {
	int		status;         /* 200 unless 202 (batch open/append) */
	int64_t		last_modified;  /* X-Last-Modified (cs) */
	int64_t		ts;             /* X-Weave-Timestamp (cs); 0: now */
	struct sbuf	body;           /* the JSON answer text */
	bool		is_list;        /* body unused: items[] is the answer */
	char		**items;        /* one JSON text per listed record */
	size_t		nitems;
	long		records;        /* X-Weave-Records; -1: none */
	char		*next_offset;   /* X-Weave-Next-Offset, or NULL */
};
void		 st_result_free(struct st_result *);

struct store;
struct store	*store_open(const struct sync_config *, char *err, size_t errlen);
void		 store_close(struct store *);
int64_t		 store_now_cs(void);
/* 0 when the database answers a query. */
int		 store_heartbeat(struct store *);
/* Delete expired BSOs and batches, at most `chunk` rows per statement. */
int		 store_purge(struct store *, int chunk);

enum info_kind {
	INFO_COLLECTIONS, INFO_COUNTS, INFO_USAGE, INFO_QUOTA, INFO_CONFIGURATION,
};
enum st_status	 store_info(struct store *, uint64_t uid, enum info_kind,
		    const struct precond *, struct st_result *);
enum st_status	 store_get_collection(struct store *, uint64_t uid,
		    const char *coll, const struct sync_query *,
		    const struct precond *, struct st_result *);
enum st_status	 store_get_bso(struct store *, uint64_t uid, const char *coll,
		    const char *id, const struct precond *, struct st_result *);
enum st_status	 store_put_bso(struct store *, uint64_t uid, const char *coll,
		    const struct bso_in *, const struct precond *,
		    struct st_result *);
enum st_status	 store_delete_bso(struct store *, uint64_t uid,
		    const char *coll, const char *id, const struct precond *,
		    struct st_result *);
/* ids NULL: the whole collection. */
enum st_status	 store_delete_collection(struct store *, uint64_t uid,
		    const char *coll, char *const *ids, size_t nids,
		    const struct precond *, struct st_result *);
enum st_status	 store_delete_storage(struct store *, uint64_t uid,
		    const struct precond *, struct st_result *);
/*
 * POST: batch NULL = plain write; "true" = new batch; else append to that
 * batch id. commit: apply the batch. `failed` is moved into the answer.
 */
enum st_status	 store_post(struct store *, uint64_t uid, const char *coll,
		    const char *batch, bool commit, struct post_body *,
		    const struct precond *, struct st_result *);

/* ---- http.c ----------------------------------------------------------- */

struct http_server;
struct http_server *http_start(const struct sync_config *, struct store *,
		    struct auth *, struct tokenserver *, int listen_fd,
		    unsigned threads, char *err, size_t errlen);
/* Stop accepting, wait up to `grace_ms` for in-flight requests, stop. */
void		 http_stop(struct http_server *, int grace_ms);

#endif
