/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /metrics in the Prometheus text exposition format (libmicrohttpd,
 * driven from circusd-stats's own poll loop through its epoll fd). CPU
 * and memory come from the last one-second sample, so a scrape reads no
 * /proc file; state and back-off come from one `status` call per scrape.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>
#include <zmq.h>

#include "circusd-stats.h"
#include "client.h"
#include "log.h"
#include "xmalloc.h"

#define METRICS_STATUS_TIMEOUT_MS 1000

struct metrics {
	struct stats		*st;
	struct MHD_Daemon	*d;
};

/* A growing text buffer. */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void	 mbuf_printf(struct mbuf *, const char *, ...) PRINTFLIKE(2, 3);
static char	*metrics_label(const char *);
static json_t	*metrics_status(struct stats *);
static void	 metrics_processes(struct mbuf *, struct stats *, const char *,
		     const char *, const char *, bool);
static void	 metrics_family(struct mbuf *, const char *, const char *,
		     const char *);
static enum MHD_Result metrics_handler(void *, struct MHD_Connection *,
		     const char *, const char *, const char *, const char *,
		     size_t *, void **);

/* Append formatted text. */
static void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
		b->p = xrealloc(b->p, b->cap);
	}
}

/* A label value with \, " and newline escaped. */
static char *
metrics_label(const char *s)
{
	char	*out, *o;

	o = out = xmalloc(strlen(s) * 2 + 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			*o++ = '\\';
		if (*s == '\n') {
			*o++ = '\\';
			*o++ = 'n';
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* HELP and TYPE lines of one metric family. */
static void
metrics_family(struct mbuf *b, const char *name, const char *type,
    const char *help)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One per-process family: CPU seconds, or resident bytes when rss. */
static void
metrics_processes(struct mbuf *b, struct stats *st, const char *name,
    const char *type, const char *help, bool rss)
{
	const struct procinfo_sample	*s;
	struct swatcher			*w;
	char				*l;
	size_t				 i, j;

	metrics_family(b, name, type, help);
	for (i = 0; i < st->nwatchers; i++) {
		w = st->watchers[i];
		l = metrics_label(w->name);
		for (j = 0; j < w->npids; j++) {
			s = &w->pids[j].sample;
			if (!s->alive)
				continue;
			mbuf_printf(b, "%s{watcher=\"%s\",pid=\"%d\"} ", name, l,
			    (int)w->pids[j].pid);
			if (rss)
				mbuf_printf(b, "%llu\n",
				    (unsigned long long)s->rss_bytes);
			else
				mbuf_printf(b, "%.2f\n", s->cpu_seconds);
		}
		free(l);
	}
}

/* circusd's status of every watcher, keyed by lower-cased name. */
static json_t *
metrics_status(struct stats *st)
{
	json_t		*req, *reply = NULL, *out, *v, *backoff;
	const char	*name;
	char		*cause = NULL, *lower, *p;

	out = json_object();
	req = json_pack("{s:s, s:{}}", "command", "status", "properties");
	if (client_call(st->ctl, req, METRICS_STATUS_TIMEOUT_MS, &reply,
	    &cause) != CLIENT_OK) {
		log_warnx("status: %s", cause);
		free(cause);
		json_decref(req);
		return out;
	}
	json_decref(req);
	backoff = json_object_get(reply, "backoff");
	json_object_foreach(json_object_get(reply, "statuses"), name, v) {
		lower = xstrdup(name);
		for (p = lower; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		json_object_set_new(out, lower, json_pack("{s:O, s:O?}",
		    "status", v, "backoff", json_object_get(backoff, name)));
		free(lower);
	}
	json_decref(reply);
	return out;
}

/* The per-watcher families, in exposition order. */
enum wmetric {
	WM_UP, WM_PROCESSES, WM_CPU, WM_RSS, WM_RESTARTS, WM_CRASHES,
	WM_BACKOFF, WM_FLAPPING,
};
static const struct {
	enum wmetric	 m;
	const char	*name;
	const char	*type;
	const char	*help;
} wfamilies[] = {
	{ WM_UP, "circus_watcher_up", "gauge",
	  "1 while the watcher is active, 0 otherwise." },
	{ WM_PROCESSES, "circus_watcher_processes", "gauge",
	  "Processes of the watcher." },
	{ WM_CPU, "circus_watcher_cpu_seconds_total", "counter",
	  "CPU time of the watcher's current processes." },
	{ WM_RSS, "circus_watcher_resident_memory_bytes", "gauge",
	  "Resident set size of the watcher's processes." },
	{ WM_RESTARTS, "circus_watcher_restarts_total", "counter",
	  "Processes respawned after a crash." },
	{ WM_CRASHES, "circus_watcher_crashes_total", "counter",
	  "Processes that exited without being stopped by circusd." },
	{ WM_BACKOFF, "circus_watcher_backoff_delay_seconds", "gauge",
	  "Current crash back-off delay before the next respawn." },
	{ WM_FLAPPING, "circus_watcher_flapping", "gauge",
	  "1 while the watcher is backing off after quick crashes." },
};

/* One watcher figure; ws is its status entry (may be NULL). */
static double
metrics_watcher_value(const struct swatcher *w, json_t *ws, enum wmetric m)
{
	const char	*state;
	double		 sum = 0, delay;
	size_t		 j;

	state = json_string_value(json_object_get(ws, "status"));
	delay = json_number_value(json_object_get(json_object_get(ws,
	    "backoff"), "delay"));
	switch (m) {
	case WM_UP:
		return state != NULL && strcmp(state, "active") == 0;
	case WM_PROCESSES:
		return (double)w->npids;
	case WM_CPU:
	case WM_RSS:
		for (j = 0; j < w->npids; j++) {
			if (w->pids[j].sample.alive)
				sum += m == WM_CPU ?
				    w->pids[j].sample.cpu_seconds :
				    (double)w->pids[j].sample.rss_bytes;
		}
		return sum;
	case WM_RESTARTS:
		return (double)w->restarts;
	case WM_CRASHES:
		return (double)w->crashes;
	case WM_BACKOFF:
		return delay;
	case WM_FLAPPING:
		return delay > 0;
	}
	return 0;
}

/* The exposition text of the current figures. */
char *
metrics_text(struct stats *st)
{
	struct mbuf	 b = { NULL, 0, 0 };
	json_t		*status, *ws;
	const char	*name;
	char		*l;
	size_t		 f, i;

	status = metrics_status(st);
	json_object_foreach(status, name, ws) {
		if (strcmp(name, "circusd-stats") != 0)
			streamer_watcher(st, name, true);
	}
	metrics_processes(&b, st, "circus_process_cpu_seconds_total",
	    "counter", "User and system CPU time of a process.", false);
	metrics_processes(&b, st, "circus_process_resident_memory_bytes",
	    "gauge", "Resident set size of a process.", true);
	for (f = 0; f < nitems(wfamilies); f++) {
		metrics_family(&b, wfamilies[f].name, wfamilies[f].type,
		    wfamilies[f].help);
		for (i = 0; i < st->nwatchers; i++) {
			l = metrics_label(st->watchers[i]->name);
			mbuf_printf(&b, "%s{watcher=\"%s\"} %.15g\n",
			    wfamilies[f].name, l, metrics_watcher_value(
			    st->watchers[i], json_object_get(status,
			    st->watchers[i]->name), wfamilies[f].m));
			free(l);
		}
	}
	json_decref(status);
	return b.p;
}

/* Answer one request: GET /metrics, 404 elsewhere, 405 for other verbs. */
static enum MHD_Result
metrics_handler(void *arg, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version UNUSED,
    const char *upload UNUSED, size_t *upload_size UNUSED, void **state)
{
	struct metrics		*m = arg;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	unsigned		 code = MHD_HTTP_OK;
	char			*text;
	static int		 seen;

	if (*state == NULL) {	/* headers only: wait for the whole request */
		*state = &seen;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		text = xstrdup("only GET\n");
	} else if (strcmp(url, "/metrics") != 0) {
		code = MHD_HTTP_NOT_FOUND;
		text = xstrdup("not found: try /metrics\n");
	} else
		text = metrics_text(m->st);
	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", code == MHD_HTTP_OK ?
	    "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Listen on HOST:PORT ([v6]:PORT too). */
struct metrics *
metrics_new(struct stats *st, const char *hostport, char **cause)
{
	struct metrics	*m;
	struct addrinfo	 hints, *res = NULL;
	const char	*colon;
	char		*host;
	int		 rc;

	if ((colon = strrchr(hostport, ':')) == NULL || colon[1] == '\0') {
		*cause = xprintf("metrics endpoint '%s' is not HOST:PORT",
		    hostport);
		return NULL;
	}
	host = xstrndup(hostport, (size_t)(colon - hostport));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints,
	    &res);
	free(host);
	if (rc != 0) {
		*cause = xprintf("metrics endpoint '%s': %s", hostport,
		    gai_strerror(rc));
		return NULL;
	}
	m = xcalloc(1, sizeof *m);
	m->st = st;
	m->d = MHD_start_daemon(MHD_USE_EPOLL |
	    (res->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
	    metrics_handler, m, MHD_OPTION_SOCK_ADDR, res->ai_addr,
	    MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	freeaddrinfo(res);
	if (m->d == NULL) {
		*cause = xprintf("cannot serve metrics on %s", hostport);
		free(m);
		return NULL;
	}
	return m;
}

/* The epoll descriptor to wait on. */
size_t
metrics_pollfds(struct metrics *m, void *items, size_t max)
{
	const union MHD_DaemonInfo	*info;
	zmq_pollitem_t			*it = items;

	if (m == NULL || max == 0)
		return 0;
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		return 0;
	memset(it, 0, sizeof *it);
	it->fd = info->epoll_fd;
	it->events = ZMQ_POLLIN;
	return 1;
}

/* Serve what is ready. */
void
metrics_run(struct metrics *m)
{
	if (m != NULL)
		MHD_run(m->d);
}

/* How long MHD may wait, ms; -1 when it has no deadline. */
long
metrics_timeout_ms(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG	t;

	if (m == NULL || MHD_get_timeout(m->d, &t) != MHD_YES)
		return -1;
	return (long)t;
}

/* Stop serving. */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
