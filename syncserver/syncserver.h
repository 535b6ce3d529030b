/*
 * syncserver.h — the contract between the parts of the sync worker
 * (Sync 1.5 storage node + tokenserver, doc: README "Self-hosting Firefox
 * Sync" and /work/shared/spec/sync.md, to be summarised in doc/sync.md).
 *
 * Owners: config.c, http.c, storage*.c, main.c — the storage side;
 *         crypto.c, token.c, hawk.c, nonce.c, tokenserver.c — the auth side.
 * Every function here may be called from several HTTP threads at once.
 */
#ifndef SYNCSERVER_H
#define SYNCSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration (config.c; one option table per section) ---------- */

struct sync_node {            /* [tokenserver] nodes = URL CAPACITY, ... */
	char	*url;             /* normalised node name */
	long	 capacity;
};

struct sync_config {
	/* [syncserver] */
	char	*public_url;      /* as configured */
	char	*node;            /* public_url normalised (sync.md §1) */
	char	*public_host;     /* lower-case host of public_url (Hawk) */
	int	 public_port;     /* port of public_url, scheme default if none */
	char	*sqluri;          /* "sqlite:///path" */
	char	*db_path;         /* path taken from sqluri */
	char	*secret;          /* the master secret (from secret or secret_file) */
	bool	 allow_new_users;
	char	*oauth_verifier;  /* base URL, trailing "/" and "/v1" stripped */
	/* [storage] */
	long long max_request_bytes, max_post_records, max_post_bytes;
	long long max_total_records, max_total_bytes, max_record_payload_bytes;
	long long batch_lifetime, expired_token_timeout, purge_interval;
	long long info_cache_ms;    /* 0: info/collections never cached */
	/* [tokenserver] */
	long long token_duration;
	char	*metrics_hash_secret;  /* derived from secret when empty */
	char	*node_type;            /* "sqlite" */
	struct sync_node *nodes;       /* NULL/0: one node, cfg->node */
	size_t	 nnodes;
	/* [hawk] */
	long long max_skew;            /* 0 = off */
	bool	 nonce_cache;
	char	*nonce_db_path;        /* beside db_path: "<db_path>-nonces" */
};

/* ---- authentication of storage requests (hawk.c, token.c, nonce.c) --- */

struct auth_request {
	const char	*method;        /* "GET", "PUT", ... */
	const char	*target;        /* raw request-target: path?query as sent */
	const char	*authorization; /* Authorization header value, or NULL */
	const char	*content_type;  /* Content-Type header, or NULL */
	const unsigned char *body;      /* request body (for Hawk hash), or NULL */
	size_t		 body_len;
	uint64_t	 path_uid;      /* <uid> of /1.5/<uid>/... */
	bool		 expired_ok;    /* GET info/collections: accept tokens
	                                   expired < expired_token_timeout ago */
};

struct auth_identity {
	uint64_t	uid;            /* the token's uid (== path_uid on success) */
	char		fxa_uid[72];    /* may be empty */
	double		expires;
};

struct auth;    /* opaque; owns the nonce cache */

struct auth	*auth_open(const struct sync_config *, char *err, size_t errlen);
void		 auth_close(struct auth *);
/*
 * 0: authenticated, *out filled. -1: 401; `why` says why in one line for the
 * log (never sent to the client). Hawk: `hash` (when present) is checked
 * against body/content_type. Thread-safe.
 */
int		 auth_verify(struct auth *, const struct auth_request *,
		    struct auth_identity *out, char *why, size_t whylen);

/* ---- tokenserver (tokenserver.c): GET /1.0/sync/1.5 ------------------ */

struct ts_request {
	const char	*authorization;  /* "Bearer ..." or NULL */
	const char	*key_id;         /* X-KeyID or NULL */
	const char	*client_state;   /* X-Client-State or NULL */
	const char	*duration;       /* ?duration= value or NULL */
};

struct ts_reply {
	int		 status;         /* 200, 401, 400, 404, 503 ... */
	char		*body;           /* malloc'd JSON text; caller frees */
	long		 retry_after;    /* > 0: send Retry-After (503) */
	long long	 x_timestamp;    /* X-Timestamp header value */
};

struct tokenserver;
struct tokenserver *tokenserver_open(const struct sync_config *, char *err,
		    size_t errlen);
void		 tokenserver_close(struct tokenserver *);
void		 tokenserver_handle(struct tokenserver *, const struct ts_request *,
		    struct ts_reply *out);
/* An error reply in the tokenserver's JSON shape, status word "error"
 * (404 for another application/version, 405 for another method). */
void		 tokenserver_error(int status, const char *description,
		    struct ts_reply *out);

#endif
