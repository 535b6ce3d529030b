/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RedisObserver (doc/design.md §17.7): every loop_rate seconds Redis's INFO at
 * redis_url (redis://[:password@]host[:port][/db], hiredis) within
 * timeout seconds; each known key becomes the statsd gauge
 * redis_stats.<key> (keys this Redis does not report are skipped). A
 * failure counts redis_stats.error and, with restart_on_timeout, restarts
 * that watcher (counter redis_stats.restart_on_error).
 */
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "util.h"
#include "xmalloc.h"

static const char *const redis_keys[] = {
	"pubsub_channels", "connected_slaves", "lru_clock",
	"connected_clients", "keyspace_misses", "used_memory",
	"used_memory_peak", "total_commands_processed", "used_memory_rss",
	"total_connections_received", "pubsub_patterns", "used_cpu_sys",
	"used_cpu_sys_children", "blocked_clients", "used_cpu_user",
	"client_biggest_input_buf", "mem_fragmentation_ratio", "expired_keys",
	"evicted_keys", "client_longest_output_list", "uptime_in_seconds",
	"keyspace_hits",
};

struct robs {
	struct plugin	*plugin;
	char		*host, *password;
	int		 port, db;
	struct timeval	 timeout;
	const char	*restart;
};

/* redis://[:password@]host[:port][/db]. -1 if it is not one. */
static int
ro_parse_url(struct robs *r, const char *url)
{
	const char	*s, *at, *end, *colon, *slash;
	long long	 n;
	char		*num;

	if (strncmp(url, "redis://", 8) != 0)
		return (-1);
	s = url + 8;
	end = s + strcspn(s, "/");
	if ((at = memchr(s, '@', end - s)) != NULL) {
		colon = memchr(s, ':', at - s);
		r->password = colon != NULL ? xstrndup(colon + 1,
		    at - colon - 1) : NULL;
		s = at + 1;
	}
	colon = memchr(s, ':', end - s);
	r->host = xstrndup(s, (colon != NULL ? colon : end) - s);
	r->port = 6379;
	if (colon != NULL) {
		num = xstrndup(colon + 1, end - colon - 1);
		if (util_parse_int(num, &n) == -1 || n <= 0 || n > 65535) {
			free(num);
			return (-1);
		}
		free(num);
		r->port = (int)n;
	}
	slash = *end == '/' ? end + 1 : NULL;
	if (slash != NULL && *slash != '\0') {
		if (util_parse_int(slash, &n) == -1 || n < 0)
			return (-1);
		r->db = (int)n;
	}
	return (0);
}

/* Run one command; false (and *err set) unless it answered. */
static bool
ro_command(redisContext *c, redisReply **out, const char *fmt,
    const char *arg)
{
	redisReply *rep;

	rep = arg != NULL ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		log_errorx("redis_observer: %s: %s", fmt, rep != NULL ?
		    rep->str : c->errstr);
		if (rep != NULL)
			freeReplyObject(rep);
		return (false);
	}
	if (out != NULL)
		*out = rep;
	else
		freeReplyObject(rep);
	return (true);
}

/* INFO's "key:value" lines as gauges. */
static void
ro_gauges(struct robs *r, const char *info)
{
	const char	*line, *eol;
	char		*bucket, *value;
	size_t		 i, klen;

	for (i = 0; i < nitems(redis_keys); i++) {
		klen = strlen(redis_keys[i]);
		for (line = info; line != NULL && *line != '\0';
		    line = eol != NULL ? eol + 1 : NULL) {
			eol = strchr(line, '\n');
			if (strncmp(line, redis_keys[i], klen) != 0 ||
			    line[klen] != ':')
				continue;
			value = xstrndup(line + klen + 1, strcspn(line + klen +
			    1, "\r\n"));
			bucket = xprintf("redis_stats.%s", redis_keys[i]);
			plugin_statsd(r->plugin, bucket, value, "g");
			free(bucket);
			free(value);
			break;
		}
	}
}

static void
ro_tick(struct plugin *p)
{
	struct robs	*r = p->data;
	redisContext	*c;
	redisReply	*info = NULL;
	char		 db[16];
	bool		 ok;

	c = redisConnectWithTimeout(r->host, r->port, r->timeout);
	ok = c != NULL && c->err == 0;
	if (!ok)
		log_errorx("redis_observer: %s:%d: %s", r->host, r->port,
		    c != NULL ? c->errstr : "out of memory");
	if (ok)
		ok = redisSetTimeout(c, r->timeout) == REDIS_OK;
	if (ok && r->password != NULL)
		ok = ro_command(c, NULL, "AUTH %s", r->password);
	if (ok && r->db != 0) {
		snprintf(db, sizeof db, "%d", r->db);
		ok = ro_command(c, NULL, "SELECT %s", db);
	}
	if (ok)
		ok = ro_command(c, &info, "INFO", NULL) &&
		    info->type == REDIS_REPLY_STRING;
	if (ok)
		ro_gauges(r, info->str);
	if (info != NULL)
		freeReplyObject(info);
	if (c != NULL)
		redisFree(c);
	if (ok)
		return;
	plugin_statsd_incr(r->plugin, "redis_stats.error");
	if (r->restart != NULL) {
		plugin_cast(r->plugin, "restart", json_pack("{s:s}", "name",
		    r->restart));
		plugin_statsd_incr(r->plugin, "redis_stats.restart_on_error");
	}
}

static void
ro_free(struct robs *r)
{
	free(r->host);
	free(r->password);
	free(r);
}

static int
ro_init(struct plugin *p)
{
	struct robs	*r;
	const char	*url = plugin_conf_str(p, "redis_url",
			    "redis://localhost:6379/0");
	double		 to = plugin_conf_float(p, "timeout", 5);

	if (plugin_statsd_open(p, "redis_observer") == -1)
		return (-1);
	r = xcalloc(1, sizeof *r);
	if (ro_parse_url(r, url) == -1) {
		log_errorx("redis_observer: redis_url = '%s' is not "
		    "redis://[:password@]host[:port][/db]", url);
		ro_free(r);
		return (-1);
	}
	r->plugin = p;
	r->timeout.tv_sec = (time_t)to;
	r->timeout.tv_usec = (suseconds_t)((to - (double)(time_t)to) * 1e6);
	r->restart = plugin_conf_str(p, "restart_on_timeout", NULL);
	p->data = r;
	return (0);
}

static void
ro_stop(struct plugin *p)
{
	if (p->data != NULL)
		ro_free(p->data);
	p->data = NULL;
}

static const struct plugin_ops robs_ops = {
	.name = "redis_observer",
	.init = ro_init,
	.tick = ro_tick,
	.loop_rate = 60,
	.stop = ro_stop,
};

PLUGIN_MAIN(robs_ops)
