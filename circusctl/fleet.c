/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fleet (README "Running a fleet"): several daemons from one circusctl,
 * named by repeated --endpoint, a fleet file, or multicast discovery. A
 * command runs on every host at once (one thread and one client each,
 * bounded by --timeout), the output is grouped by host (--json: an object
 * keyed by host), and the exit status is the worst of the hosts.
 * restart/reload --rolling go host by host instead, the next host only
 * once the previous one is back to full strength.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "circusctl.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

#define FLEET_MULTICAST		"udp://237.219.251.97:12027"
#define FLEET_DISCOVER_MS	2000	/* how long answers are collected */
#define FLEET_POLL_MS		200	/* full-strength polling interval */

struct fleet_host {
	char			*name;
	char			*endpoint;
	char			*server_key;	/* Z85 or certificate, or NULL */
	/* one call */
	const struct ctl_globals *g;
	json_t			*message;	/* this host's copy */
	json_t			*reply;
	char			*cause;
	int			 rc;		/* CLIENT_* */
	pthread_t		 thread;
	bool			 started;
	struct client_curve	 keys;		/* loaded before the threads */
	int			 curve;		/* keys_load(): 1, 0 or -1 */
	char			*key_error;
};

struct fleet {
	struct fleet_host	*hosts;
	size_t			 n;
};

/* Append a host (copies the strings). */
static void
fleet_add(struct fleet *f, const char *name, const char *endpoint,
    const char *key)
{
	struct fleet_host	*h;

	f->hosts = xreallocarray(f->hosts, f->n + 1, sizeof *f->hosts);
	h = &f->hosts[f->n++];
	memset(h, 0, sizeof *h);
	h->name = xstrdup(name);
	h->endpoint = xstrdup(endpoint);
	h->server_key = key != NULL ? xstrdup(key) : NULL;
}

/* Free a fleet; NULL is a no-op. */
void
fleet_free(struct fleet *f)
{
	size_t	i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->hosts[i].name);
		free(f->hosts[i].endpoint);
		free(f->hosts[i].server_key);
		json_decref(f->hosts[i].reply);
		json_decref(f->hosts[i].message);
		free(f->hosts[i].cause);
		free(f->hosts[i].key_error);
	}
	free(f->hosts);
	free(f);
}

/*
 * Read a fleet file: one host a line, "NAME ENDPOINT [SERVER_KEY]"
 * (SERVER_KEY: the daemon's Z85 public key or its certificate file);
 * blank lines and lines starting with # are skipped.
 */
static int
fleet_file(struct fleet *f, const char *path, char **cause)
{
	FILE	*fp;
	char	*line = NULL, *w[4], *last, *tok;
	size_t	 cap = 0, nw;
	int	 lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		*cause = xprintf("--fleet %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, fp) != -1) {
		lineno++;
		nw = 0;
		for (tok = strtok_r(line, " \t\r\n", &last); tok != NULL &&
		    nw < nitems(w); tok = strtok_r(NULL, " \t\r\n", &last))
			w[nw++] = tok;
		if (nw == 0 || w[0][0] == '#')
			continue;
		if (nw < 2 || nw > 3 || strstr(w[1], "://") == NULL) {
			*cause = xprintf("%s:%d: expected NAME ENDPOINT "
			    "[SERVER_KEY]", path, lineno);
			rc = -1;
		} else
			fleet_add(f, w[0], w[1], nw == 3 ? w[2] : NULL);
	}
	free(line);
	fclose(fp);
	if (rc == 0 && f->n == 0) {
		*cause = xprintf("%s: no hosts", path);
		rc = -1;
	}
	return rc;
}

/* Parse udp://A.B.C.D:PORT. */
static int
fleet_udp(const char *url, struct sockaddr_in *sin, char **cause)
{
	char		 host[64];
	const char	*colon;
	int		 port;

	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	colon = strrchr(url, ':');
	if (strncmp(url, "udp://", 6) != 0 || colon == NULL ||
	    (size_t)(colon - url - 6) >= sizeof host)
		goto bad;
	snprintf(host, sizeof host, "%.*s", (int)(colon - url - 6), url + 6);
	port = atoi(colon + 1);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 || port <= 0 ||
	    port > 65535)
		goto bad;
	sin->sin_port = htons((uint16_t)port);
	return 0;
bad:
	*cause = xprintf("--multicast %s: expected udp://A.B.C.D:PORT", url);
	return -1;
}

/* An answer's endpoint with a wildcard host replaced by the sender's. */
static char *
fleet_reachable(const char *endpoint, const char *from)
{
	static const char *const wild[] = { "tcp://0.0.0.0:", "tcp://*:",
	    "tcp://[::]:" };
	size_t	i;

	for (i = 0; i < nitems(wild); i++) {
		if (strncmp(endpoint, wild[i], strlen(wild[i])) == 0)
			return xprintf("tcp://%s:%s", from,
			    endpoint + strlen(wild[i]));
	}
	return xstrdup(endpoint);
}

/* Ask the multicast group; add every daemon that answers in time. */
static int
fleet_discover(struct fleet *f, const char *url, char **cause)
{
	struct sockaddr_in	 group, from;
	struct pollfd		 pfd;
	socklen_t		 len;
	json_t			*o;
	const char		*ep, *key;
	char			 buf[2048], addr[INET_ADDRSTRLEN], *reach;
	long			 deadline, now;
	ssize_t			 n;
	size_t			 i;
	int			 fd, ttl = 255, dup;

	if (fleet_udp(url, &group, cause) != 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xprintf("--discover: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	if (sendto(fd, "{}", 2, 0, (struct sockaddr *)&group,
	    sizeof group) == -1) {
		*cause = xprintf("--discover: send to %s: %s", url,
		    strerror(errno));
		close(fd);
		return -1;
	}
	deadline = util_monotonic_ms() + FLEET_DISCOVER_MS;
	for (;;) {
		now = util_monotonic_ms();
		if (now >= deadline || ctl_interrupted)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		len = sizeof from;
		n = recvfrom(fd, buf, sizeof buf - 1, 0,
		    (struct sockaddr *)&from, &len);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		o = json_loads(buf, 0, NULL);
		ep = json_string_value(json_object_get(o, "endpoint"));
		key = json_string_value(json_object_get(o,
		    "curve_public_key"));
		if (ep != NULL) {
			inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
			reach = fleet_reachable(ep, addr);
			for (dup = 0, i = 0; i < f->n; i++)
				dup |= strcmp(f->hosts[i].endpoint, reach) == 0;
			if (!dup)
				fleet_add(f, reach, reach, key);
			free(reach);
		}
		json_decref(o);
	}
	close(fd);
	return 0;
}

/*
 * Build ctx->fleet from repeated --endpoint, --fleet and --discover. One
 * plain --endpoint keeps the single-daemon behaviour (no fleet).
 */
int
fleet_setup(struct ctl_ctx *ctx, char **cause)
{
	const struct ctl_globals	*g = &ctx->globals;
	struct fleet			*f;
	size_t				 i;

	if (g->nendpoints < 2 && g->fleet == NULL && !g->discover)
		return 0;
	f = xcalloc(1, sizeof *f);
	for (i = 0; i < g->nendpoints; i++)
		fleet_add(f, g->endpoints[i], g->endpoints[i], NULL);
	if ((g->fleet != NULL && fleet_file(f, g->fleet, cause) != 0) ||
	    (g->discover && fleet_discover(f, g->multicast != NULL ?
	    g->multicast : FLEET_MULTICAST, cause) != 0)) {
		fleet_free(f);
		return -1;
	}
	ctx->fleet = f;
	if (f->n > 0) {
		free(ctx->endpoint);	/* completion asks the first host */
		ctx->endpoint = xstrdup(f->hosts[0].endpoint);
	}
	return 0;
}

/* --discover without a command: one daemon a line (or a JSON array). */
int
fleet_list_discovered(struct ctl_ctx *ctx)
{
	struct fleet	*f = ctx->fleet;
	json_t		*arr = json_array(), *o;
	char		*out;
	size_t		 i;

	for (i = 0; f != NULL && i < f->n; i++) {
		if (ctx->globals.json) {
			o = json_pack("{s:s}", "endpoint", f->hosts[i].endpoint);
			if (f->hosts[i].server_key != NULL)
				json_object_set_new(o, "curve_public_key",
				    json_string(f->hosts[i].server_key));
			json_array_append_new(arr, o);
		} else
			printf("%s%s%s\n", f->hosts[i].endpoint,
			    f->hosts[i].server_key != NULL ? " " : "",
			    f->hosts[i].server_key != NULL ?
			    f->hosts[i].server_key : "");
	}
	if (ctx->globals.json) {
		out = pyjson_dumps(arr);
		printf("%s\n", out);
		free(out);
	}
	json_decref(arr);
	return f != NULL && f->n > 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

/* One call to one host, with its own client (thread body, and direct). */
static int
fleet_call(struct fleet_host *h, json_t *message, json_t **reply,
    char **cause)
{
	struct client	*c;
	int		 rc;

	*reply = NULL;
	if (h->curve == -1) {
		*cause = xstrdup(h->key_error);
		return CLIENT_ERROR;
	}
	if ((c = client_new_curve(h->endpoint, h->curve ? &h->keys : NULL,
	    cause)) == NULL)
		return CLIENT_ERROR;
	client_set_interrupt(c, &ctl_interrupted);
	rc = client_call(c, message, h->g->timeout_s * 1000, reply, cause);
	client_free(c);
	return rc;
}

static void *
fleet_thread(void *arg)
{
	struct fleet_host	*h = arg;

	h->rc = fleet_call(h, h->message, &h->reply, &h->cause);
	return NULL;
}

/*
 * The CURVE keys of a host: its server key (fleet file, discovery) or
 * --server_key, and --client_cert. The daemon secures tcp:// only, so an
 * ipc host, or in a fleet a host with no server key, stays plaintext.
 */
static int
fleet_keys(struct fleet_host *h, const struct ctl_globals *g)
{
	const char	*server = h->server_key != NULL ? h->server_key :
			    g->server_key;

	if (strncmp(h->endpoint, "tcp://", 6) != 0 || server == NULL)
		return 0;
	return keys_load(g->client_cert, server, &h->keys, &h->key_error);
}

/* Forget the result of the previous command; each host gets a copy of
 * message. */
static void
fleet_reset(struct fleet *f, const struct ctl_globals *g, json_t *message)
{
	size_t	i;

	for (i = 0; i < f->n; i++) {
		json_decref(f->hosts[i].reply);
		json_decref(f->hosts[i].message);
		free(f->hosts[i].cause);
		f->hosts[i].reply = NULL;
		f->hosts[i].cause = NULL;
		f->hosts[i].rc = CLIENT_ERROR;
		f->hosts[i].g = g;
		/* client_call sets the id: one copy per thread */
		f->hosts[i].message = json_deep_copy(message);
		free(f->hosts[i].key_error);
		f->hosts[i].key_error = NULL;
		f->hosts[i].curve = fleet_keys(&f->hosts[i], g);
	}
}

/* A watcher property from a call that must succeed, or NULL. */
static json_t *
fleet_get(struct fleet_host *h, const char *command, const char *watcher,
    const char *key)
{
	json_t	*msg, *reply, *v = NULL;
	char	*cause = NULL;

	msg = json_pack("{s:s,s:{}}", "command", command, "properties");
	if (watcher != NULL)
		json_object_set_new(json_object_get(msg, "properties"), "name",
		    json_string(watcher));
	if (strcmp(command, "get") == 0)
		json_object_set_new(json_object_get(msg, "properties"), "keys",
		    json_pack("[s]", "numprocesses"));
	if (fleet_call(h, msg, &reply, &cause) == CLIENT_OK &&
	    !print_is_error(reply)) {
		v = json_incref(json_object_get(reply, key));
	}
	json_decref(reply);
	json_decref(msg);
	free(cause);
	return v;
}

/*
 * Is every watcher matching pattern (all when NULL) back to full
 * strength: status active and as many processes as numprocesses? This is
 * where readiness plugs in (issue 11): once watchers report "ready", it
 * is required here too.
 */
static bool
fleet_full_strength(struct fleet_host *h, const char *pattern)
{
	json_t	*names, *st, *pids, *opts;
	size_t	 i;
	bool	 full = true;
	const char *w;

	if ((names = fleet_get(h, "list", NULL, "watchers")) == NULL)
		return false;
	for (i = 0; full && i < json_array_size(names); i++) {
		w = json_string_value(json_array_get(names, i));
		if (w == NULL || (pattern != NULL &&
		    fnmatch(pattern, w, FNM_CASEFOLD) != 0))
			continue;
		st = fleet_get(h, "status", w, "status");
		pids = fleet_get(h, "list", w, "pids");
		opts = fleet_get(h, "get", w, "options");
		full = json_is_string(st) &&
		    strcmp(json_string_value(st), "active") == 0 &&
		    json_is_object(opts) && json_array_size(pids) ==
		    (size_t)json_integer_value(json_object_get(opts,
		    "numprocesses"));
		json_decref(st);
		json_decref(pids);
		json_decref(opts);
	}
	json_decref(names);
	return full;
}

/* Poll a host until full strength or its --timeout passes. */
static bool
fleet_wait_full(struct fleet_host *h, const char *pattern)
{
	long	deadline = util_monotonic_ms() + h->g->timeout_s * 1000L;

	for (;;) {
		if (fleet_full_strength(h, pattern))
			return true;
		if (util_monotonic_ms() >= deadline || ctl_interrupted)
			return false;
		poll(NULL, 0, FLEET_POLL_MS);
	}
}

/* restart/reload --rolling: host by host; stop at the first failure. */
static void
fleet_rolling(struct fleet *f, json_t *message)
{
	json_t		*props = json_object_get(message, "properties");
	const char	*pattern = json_string_value(json_object_get(props,
			    "name"));
	size_t		 i, j;

	for (i = 0; i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];

		json_object_set_new(json_object_get(h->message, "properties"),
		    "waiting", json_true());
		h->rc = fleet_call(h, h->message, &h->reply, &h->cause);
		if (h->rc == CLIENT_OK && print_is_error(h->reply))
			break;
		if (h->rc != CLIENT_OK)
			break;
		if (!fleet_wait_full(h, pattern)) {
			json_decref(h->reply);
			h->reply = NULL;
			h->rc = CLIENT_TIMEOUT;
			h->cause = xprintf("not back to full strength within "
			    "%d s", h->g->timeout_s);
			break;
		}
	}
	for (j = i + 1; j < f->n; j++) {
		free(f->hosts[j].cause);
		f->hosts[j].rc = CLIENT_ERROR;
		f->hosts[j].cause = xprintf("not run: the rolling %s stopped "
		    "at %s", json_string_value(json_object_get(message,
		    "command")), f->hosts[i].name);
	}
}

/* The failure text of a host that gave no reply. */
static char *
fleet_failure(const struct fleet_host *h)
{
	switch (h->rc) {
	case CLIENT_UNREACHABLE:
		if (h->cause != NULL && strcmp(h->cause,
		    CLIENT_KEY_REFUSED) == 0)
			return xprintf("unreachable: %s at %s", h->cause,
			    h->endpoint);
		return xprintf("unreachable: no connection to %s within %d "
		    "s%s", h->endpoint, h->g->timeout_s, h->curve == 1 ?
		    " (or it refused this client's CURVE key)" : "");
	case CLIENT_TIMEOUT:
		return xprintf("timed out: %s", h->cause != NULL ? h->cause :
		    "no reply");
	default:
		return xstrdup(h->cause != NULL ? h->cause : "failed");
	}
}

/* Print the results grouped by host; returns the exit status. */
static int
fleet_print(struct ctl_ctx *ctx, const struct ctl_entry *e)
{
	struct fleet	*f = ctx->fleet;
	json_t		*all = json_object(), *v;
	char		*out, *why;
	size_t		 i;
	int		 rc = CTL_EXIT_OK;

	for (i = 0; i < f->n; i++) {
		struct fleet_host *h = &f->hosts[i];

		if (h->rc != CLIENT_OK) {
			why = fleet_failure(h);
			v = json_pack("{s:s,s:s}", "status", "error", "reason",
			    why);
			rc = CTL_EXIT_FAILURE;
		} else {
			why = NULL;
			v = json_incref(h->reply);
			if (print_is_error(h->reply) && rc == CTL_EXIT_OK)
				rc = CTL_EXIT_REPLY;
		}
		if (ctx->globals.json)
			json_object_set_new(all, h->name, v);
		else {
			out = why != NULL ? xprintf("error: %s", why) :
			    e->print(e, h->reply);
			if (strcmp(h->name, h->endpoint) == 0)
				printf("== %s\n%s\n", h->name, out);
			else
				printf("== %s (%s)\n%s\n", h->name,
				    h->endpoint, out);
			free(out);
			json_decref(v);
		}
		free(why);
	}
	if (ctx->globals.json) {
		out = ctx->globals.prettify ? pyjson_dumps_pretty(all) :
		    pyjson_dumps(all);
		printf("%s\n", out);
		free(out);
	}
	json_decref(all);
	fflush(stdout);
	return rc;
}

/* Run a parsed command on every host of the fleet. */
int
fleet_run(struct ctl_ctx *ctx, const struct ctl_request *req)
{
	struct fleet	*f = ctx->fleet;
	size_t		 i;

	if (req->entry->flags & CTL_SUB) {
		fprintf(stderr, "circusctl: listen follows one daemon: give "
		    "one --endpoint\n");
		return CTL_EXIT_FAILURE;
	}
	if (f->n == 0) {
		fprintf(stderr, "circusctl: no daemon answered discovery\n");
		return CTL_EXIT_FAILURE;
	}
	fleet_reset(f, &ctx->globals, req->message);
	if (req->rolling)
		fleet_rolling(f, req->message);
	else {
		for (i = 0; i < f->n; i++) {
			f->hosts[i].started = pthread_create(
			    &f->hosts[i].thread, NULL, fleet_thread,
			    &f->hosts[i]) == 0;
			if (!f->hosts[i].started)
				fleet_thread(&f->hosts[i]);
		}
		for (i = 0; i < f->n; i++) {
			if (f->hosts[i].started)
				pthread_join(f->hosts[i].thread, NULL);
		}
	}
	return fleet_print(ctx, req->entry);
}
