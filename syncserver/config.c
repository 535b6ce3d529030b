/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c — sync.ini: [syncserver], [storage], [tokenserver], [hawk], read
 * with inih through ini_parse_stream. The reader counts lines and turns a
 * line longer than inih's buffer into a file:line error (inih would split
 * it silently); unknown sections and keys are file:line errors too.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "crypto.h"
#include "server.h"
#include "util.h"
#include "xmalloc.h"

struct cfg_load {
	FILE			*fp;
	const char		*path;
	int			 lineno;
	char			 err[512];
	struct sync_config	*cfg;
	char			*secret_file;
	char			*sqluri;
};

enum opt_type { OPT_STR, OPT_BOOL, OPT_LLONG, OPT_IGNORED, OPT_EMPTY };

struct opt {
	const char	*section, *name;
	enum opt_type	 type;
	size_t		 off;           /* into struct sync_config */
	long long	 min;           /* OPT_LLONG */
};

#define C(f) offsetof(struct sync_config, f)
static const struct opt opts[] = {
	{ "syncserver", "public_url", OPT_STR, C(public_url), 0 },
	{ "syncserver", "sqluri", OPT_STR, 0, 0 },
	{ "syncserver", "secret", OPT_STR, C(secret), 0 },
	{ "syncserver", "secret_file", OPT_STR, 0, 0 },
	{ "syncserver", "allow_new_users", OPT_BOOL, C(allow_new_users), 0 },
	{ "syncserver", "identity_provider", OPT_IGNORED, 0, 0 },
	{ "syncserver", "oauth_verifier", OPT_STR, C(oauth_verifier), 0 },
	{ "syncserver", "force_wsgi_environ", OPT_IGNORED, 0, 0 },
	{ "storage", "max_request_bytes", OPT_LLONG, C(max_request_bytes), 1 },
	{ "storage", "max_post_records", OPT_LLONG, C(max_post_records), 1 },
	{ "storage", "max_post_bytes", OPT_LLONG, C(max_post_bytes), 1 },
	{ "storage", "max_total_records", OPT_LLONG, C(max_total_records), 1 },
	{ "storage", "max_total_bytes", OPT_LLONG, C(max_total_bytes), 1 },
	{ "storage", "max_record_payload_bytes", OPT_LLONG,
	    C(max_record_payload_bytes), 1 },
	{ "storage", "batch_lifetime", OPT_LLONG, C(batch_lifetime), 1 },
	{ "storage", "expired_token_timeout", OPT_LLONG,
	    C(expired_token_timeout), 0 },
	{ "storage", "purge_interval", OPT_LLONG, C(purge_interval), 1 },
	{ "storage", "info_cache_ms", OPT_LLONG, C(info_cache_ms), 0 },
	{ "storage", "quota_size", OPT_EMPTY, 0, 0 },
	{ "tokenserver", "token_duration", OPT_LLONG, C(token_duration), 1 },
	{ "tokenserver", "metrics_hash_secret", OPT_STR,
	    C(metrics_hash_secret), 0 },
	{ "tokenserver", "node_type", OPT_STR, C(node_type), 0 },
	{ "tokenserver", "nodes", OPT_STR, 0, 0 },
	{ "hawk", "max_skew", OPT_LLONG, C(max_skew), 0 },
	{ "hawk", "nonce_cache", OPT_BOOL, C(nonce_cache), 0 },
};
#undef C

static void
cfg_defaults(struct sync_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->allow_new_users = true;
	cfg->oauth_verifier = xstrdup("https://oauth.accounts.firefox.com");
	cfg->max_request_bytes = 2101248;
	cfg->max_post_records = 100;
	cfg->max_post_bytes = 2097152;
	cfg->max_total_records = 10000;
	cfg->max_total_bytes = 209715200;
	cfg->max_record_payload_bytes = 2097152;
	cfg->batch_lifetime = 7200;
	cfg->expired_token_timeout = 7200;
	cfg->purge_interval = 3600;
	cfg->info_cache_ms = 1000;
	cfg->token_duration = 3600;
	cfg->metrics_hash_secret = xstrdup("");
	cfg->node_type = xstrdup("sqlite");
	cfg->nonce_cache = true;
}

/* fgets for inih that refuses over-long lines instead of splitting them. */
static char *
cfg_reader(char *str, int num, void *arg)
{
	struct cfg_load *ld = arg;
	int c;
	size_t n = 0;

	if (ld->err[0] != '\0')
		return NULL;
	while ((c = getc(ld->fp)) != EOF) {
		if (n + 1 >= (size_t)num - 1 && c != '\n') {
			snprintf(ld->err, sizeof(ld->err), "%s:%d: line longer "
			    "than %d bytes", ld->path, ld->lineno + 1, num - 2);
			return NULL;
		}
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	ld->lineno++;
	return str;
}

static int cfg_fail(struct cfg_load *ld, const char *fmt, ...)
    PRINTFLIKE(2, 3);

static int
cfg_fail(struct cfg_load *ld, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(ld->err, sizeof(ld->err), "%s:%d: %s", ld->path, ld->lineno,
	    why);
	return 0;
}

static int
cfg_llong(const char *v, long long *out)
{
	char *end;

	errno = 0;
	if (*v == '\0')
		return -1;
	*out = strtoll(v, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* nodes = URL CAPACITY, URL CAPACITY ... (doc/sync-auth.md §5) */
static int
cfg_nodes(struct cfg_load *ld, const char *v)
{
	struct sync_config *c = ld->cfg;
	char *copy = xstrdup(v), *save = NULL, *item;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		char url[512], cap[32], extra;
		long long n;

		if (sscanf(item, " %511s %31s %c", url, cap, &extra) != 2 ||
		    cfg_llong(cap, &n) == -1 || n < 1 ||
		    (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0)) {
			free(copy);
			return cfg_fail(ld, "nodes: expected \"URL CAPACITY, "
			    "...\", got \"%s\"", item);
		}
		for (size_t n2 = strlen(url); n2 > 0 && url[n2 - 1] == '/';)
			url[--n2] = '\0';
		c->nodes = xreallocarray(c->nodes, c->nnodes + 1,
		    sizeof(*c->nodes));
		c->nodes[c->nnodes].url = xstrdup(url);
		c->nodes[c->nnodes++].capacity = (long)n;
	}
	free(copy);
	return 1;
}

static int
cfg_set(struct cfg_load *ld, const struct opt *o, const char *v)
{
	char *base = (char *)ld->cfg;
	long long n;

	switch (o->type) {
	case OPT_IGNORED:
		return 1;
	case OPT_EMPTY:
		if (*v != '\0')
			return cfg_fail(ld, "%s: not supported yet (leave it "
			    "empty)", o->name);
		return 1;
	case OPT_BOOL:
		if (util_parse_bool(v, (bool *)(base + o->off)) == -1)
			return cfg_fail(ld, "%s: not a boolean: %s", o->name, v);
		return 1;
	case OPT_LLONG:
		if (cfg_llong(v, &n) == -1 || n < o->min)
			return cfg_fail(ld, "%s: not a valid number: %s",
			    o->name, v);
		*(long long *)(base + o->off) = n;
		return 1;
	case OPT_STR:
		break;
	}
	if (strcmp(o->name, "sqluri") == 0) {
		free(ld->sqluri);
		ld->sqluri = xstrdup(v);
	} else if (strcmp(o->name, "secret_file") == 0) {
		free(ld->secret_file);
		ld->secret_file = xstrdup(v);
	} else if (strcmp(o->name, "nodes") == 0) {
		return cfg_nodes(ld, v);
	} else {
		free(*(char **)(base + o->off));
		*(char **)(base + o->off) = xstrdup(v);
	}
	return 1;
}

static int
cfg_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct cfg_load *ld = arg;
	bool section_known = false;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (strcmp(section, opts[i].section) != 0)
			continue;
		section_known = true;
		if (strcmp(name, opts[i].name) == 0)
			return cfg_set(ld, &opts[i], value);
	}
	if (!section_known)
		return cfg_fail(ld, "unknown section [%s]", section);
	return cfg_fail(ld, "unknown key %s in [%s]", name, section);
}

/* ---- derived values ------------------------------------------------------ */

/* A path relative to the config file's directory. */
static char *
cfg_path(const char *cfgpath, const char *p)
{
	const char *slash = strrchr(cfgpath, '/');

	if (p[0] == '/' || slash == NULL)
		return xstrdup(p);
	return xprintf("%.*s/%s", (int)(slash - cfgpath), cfgpath, p);
}

/* scheme://host[:port][/path] -> node name, host, port
 * (doc/sync-storage.md §1). */
static int
cfg_public_url(struct sync_config *cfg)
{
	const char *u = cfg->public_url, *host, *end, *colon;
	bool https;
	int defport;
	size_t plen;

	if (strncasecmp(u, "http://", 7) == 0)
		https = false;
	else if (strncasecmp(u, "https://", 8) == 0)
		https = true;
	else
		return -1;
	defport = https ? 443 : 80;
	host = u + (https ? 8 : 7);
	end = host + strcspn(host, "/?#");
	colon = memchr(host, ':', (size_t)(end - host));
	if ((colon != NULL ? colon : end) == host)
		return -1;
	cfg->public_port = defport;
	if (colon != NULL) {
		long long p;
		char *ps = xstrndup(colon + 1, (size_t)(end - colon - 1));

		if (cfg_llong(ps, &p) == -1 || p < 1 || p > 65535) {
			free(ps);
			return -1;
		}
		free(ps);
		cfg->public_port = (int)p;
	}
	cfg->public_host = xstrndup(host,
	    (size_t)((colon != NULL ? colon : end) - host));
	for (char *c = cfg->public_host; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	plen = strcspn(end, "?#");
	while (plen > 0 && end[plen - 1] == '/')
		plen--;
	if (cfg->public_port == defport)
		cfg->node = xprintf("%s://%s%.*s", https ? "https" : "http",
		    cfg->public_host, (int)plen, end);
	else
		cfg->node = xprintf("%s://%s:%d%.*s", https ? "https" : "http",
		    cfg->public_host, cfg->public_port, (int)plen, end);
	return 0;
}

/* Write a new random secret to a temporary file, then link it into
 * place: a worker starting at the same time sees no file or a whole one. */
static int
cfg_secret_create(const char *path)
{
	unsigned char raw[32];
	char hex[65], *tmp = xprintf("%s.%d.tmp", path, (int)getpid());
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		free(tmp);
		return -1;
	}
	if (crypto_random(raw, sizeof(raw)) == 0) {
		crypto_hex(raw, sizeof(raw), hex);
		hex[64] = '\n';
		if (write(fd, hex, 65) == 65 && fsync(fd) == 0 &&
		    (link(tmp, path) == 0 || errno == EEXIST))
			rc = 0;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* Read secret_file, or create it once (0600, random) when it is absent. */
static int
cfg_secret_file(struct cfg_load *ld, const char *path)
{
	char buf[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 && errno == ENOENT) {
		if (cfg_secret_create(path) == -1)
			goto fail;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd == -1)
		goto fail;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		goto fail;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		snprintf(ld->err, sizeof(ld->err), "%s: secret_file %s is empty",
		    ld->path, path);
		return -1;
	}
	free(ld->cfg->secret);
	ld->cfg->secret = xstrdup(buf);
	return 0;
fail:
	snprintf(ld->err, sizeof(ld->err), "%s: secret_file %s: %s", ld->path,
	    path, strerror(errno));
	return -1;
}

/* After parsing: required keys, derived values, limits' invariants. */
static int
cfg_finish(struct cfg_load *ld)
{
	struct sync_config *c = ld->cfg;
	char *v;

	if (c->public_url == NULL || cfg_public_url(c) == -1) {
		snprintf(ld->err, sizeof(ld->err), "%s: [syncserver] public_url "
		    "%s", ld->path, c->public_url == NULL ? "is required" :
		    "must be http(s)://host[:port][/path]");
		return -1;
	}
	if (ld->sqluri == NULL)
		ld->sqluri = xstrdup("sqlite:///sync.db");
	if (strncmp(ld->sqluri, "sqlite:///", 10) != 0 ||
	    ld->sqluri[10] == '\0') {
		snprintf(ld->err, sizeof(ld->err), "%s: [syncserver] sqluri: "
		    "only sqlite:///path is supported: %s", ld->path, ld->sqluri);
		return -1;
	}
	c->sqluri = ld->sqluri;
	ld->sqluri = NULL;
	c->db_path = cfg_path(ld->path, c->sqluri + 10);
	c->nonce_db_path = xprintf("%s-nonces", c->db_path);
	if (c->secret == NULL || c->secret[0] == '\0') {
		if (ld->secret_file == NULL) {
			snprintf(ld->err, sizeof(ld->err), "%s: [syncserver] "
			    "needs secret or secret_file", ld->path);
			return -1;
		}
		v = cfg_path(ld->path, ld->secret_file);
		if (cfg_secret_file(ld, v) == -1) {
			free(v);
			return -1;
		}
		free(v);
	}
	/* the verifier's base: no trailing "/" nor "/v1" */
	v = c->oauth_verifier;
	for (size_t n = strlen(v); n > 0;) {
		if (v[n - 1] == '/')
			v[--n] = '\0';
		else if (n >= 3 && strcmp(v + n - 3, "/v1") == 0)
			v[n -= 3] = '\0';
		else
			break;
	}
	if (!(c->max_request_bytes > c->max_post_bytes &&
	    c->max_post_bytes >= c->max_record_payload_bytes &&
	    c->max_total_records >= c->max_post_records &&
	    c->max_total_bytes >= c->max_post_bytes)) {
		snprintf(ld->err, sizeof(ld->err), "%s: [storage] limits must "
		    "satisfy max_request_bytes > max_post_bytes >= "
		    "max_record_payload_bytes, max_total_records >= "
		    "max_post_records, max_total_bytes >= max_post_bytes",
		    ld->path);
		return -1;
	}
	return 0;
}

int
sync_config_load(const char *path, struct sync_config *cfg, char *err,
    size_t errlen)
{
	struct cfg_load ld = { .path = path, .cfg = cfg };
	int rc;

	cfg_defaults(cfg);
	if ((ld.fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(cfg_reader, &ld, cfg_handler, &ld);
	fclose(ld.fp);
	if (rc != 0 && ld.err[0] == '\0')
		snprintf(ld.err, sizeof(ld.err), "%s:%d: syntax error", path,
		    rc > 0 ? rc : ld.lineno);
	if (ld.err[0] == '\0')
		cfg_finish(&ld);
	free(ld.secret_file);
	free(ld.sqluri);
	if (ld.err[0] != '\0') {
		snprintf(err, errlen, "%s", ld.err);
		return -1;
	}
	return 0;
}

void
sync_config_free(struct sync_config *cfg)
{
	free(cfg->public_url);
	free(cfg->node);
	free(cfg->public_host);
	free(cfg->sqluri);
	free(cfg->db_path);
	free(cfg->secret);
	free(cfg->oauth_verifier);
	free(cfg->metrics_hash_secret);
	free(cfg->node_type);
	for (size_t i = 0; i < cfg->nnodes; i++)
		free(cfg->nodes[i].url);
	free(cfg->nodes);
	free(cfg->nonce_db_path);
	memset(cfg, 0, sizeof(*cfg));
}
