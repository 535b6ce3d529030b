/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pid set of each watcher (doc/design.md §17.4): one bootstrap over the
 * control channel, then only events — spawn adds a pid, reap and kill
 * remove it, stop clears the watcher, remove (rm) forgets it. A reap of a pid that circusd did not
 * kill first is a crash; the next spawn of that watcher is its restart.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "circusd-stats.h"
#include "client.h"
#include "log.h"
#include "xmalloc.h"

#define STREAMER_TIMEOUT_MS 5000

static json_t	*streamer_call(struct stats *, const char *, const char *,
		     char **);
static bool	 streamer_ignored(const char *);
static void	 streamer_watcher_free(struct swatcher *);
static void	 streamer_remove(struct stats *, const char *);
static void	 streamer_add_pid(struct swatcher *, pid_t);
static bool	 streamer_del_pid(struct swatcher *, pid_t);
static void	 streamer_sockets(struct stats *, json_t *);

/* One command to circusd; the reply on success (caller decrefs). */
static json_t *
streamer_call(struct stats *st, const char *command, const char *name,
    char **cause)
{
	json_t		*req, *reply = NULL;
	const char	*status, *reason;
	int		 rc;

	req = json_pack("{s:s, s:{}}", "command", command, "properties");
	if (name != NULL)
		json_object_set_new(json_object_get(req, "properties"),
		    "name", json_string(name));
	rc = client_call(st->ctl, req, STREAMER_TIMEOUT_MS, &reply, cause);
	json_decref(req);
	if (rc != CLIENT_OK)
		return NULL;
	status = json_string_value(json_object_get(reply, "status"));
	if (status == NULL || strcmp(status, "ok") != 0) {
		reason = json_string_value(json_object_get(reply, "reason"));
		*cause = xprintf("%s: %s", command, reason != NULL ? reason :
		    "error");
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* Watchers that are not sampled as a group of their own. */
static bool
streamer_ignored(const char *name)
{
	return strcmp(name, "circusd") == 0 ||
	    strcmp(name, "circushttpd") == 0 ||
	    strcmp(name, "circusd-stats") == 0;
}

/* Order watchers by name. */
static int
streamer_cmp(const void *a, const void *b)
{
	const struct swatcher *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* The watcher called name (created on demand, kept sorted). */
struct swatcher *
streamer_watcher(struct stats *st, const char *name, bool create)
{
	struct swatcher	 key, *kp = &key, **found, *w;

	key.name = (char *)(uintptr_t)name;
	found = st->nwatchers == 0 ? NULL : bsearch(&kp, st->watchers,
	    st->nwatchers, sizeof *st->watchers, streamer_cmp);
	if (found != NULL)
		return *found;
	if (!create)
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(name);
	st->watchers = xreallocarray(st->watchers, st->nwatchers + 1,
	    sizeof *st->watchers);
	st->watchers[st->nwatchers++] = w;
	qsort(st->watchers, st->nwatchers, sizeof *st->watchers,
	    streamer_cmp);
	return w;
}

/* Free one watcher. */
static void
streamer_watcher_free(struct swatcher *w)
{
	free(w->name);
	free(w->pids);
	free(w);
}

/* Forget a watcher removed with `rm` (its stop events follow). */
static void
streamer_remove(struct stats *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nwatchers; i++) {
		if (strcmp(st->watchers[i]->name, name) != 0)
			continue;
		streamer_watcher_free(st->watchers[i]);
		memmove(&st->watchers[i], &st->watchers[i + 1],
		    (st->nwatchers - i - 1) * sizeof *st->watchers);
		st->nwatchers--;
		return;
	}
}

/* Add pid to a watcher's set (once). */
static void
streamer_add_pid(struct swatcher *w, pid_t pid)
{
	size_t	i;

	for (i = 0; i < w->npids; i++) {
		if (w->pids[i].pid == pid)
			return;
	}
	w->pids = xreallocarray(w->pids, w->npids + 1, sizeof *w->pids);
	memset(&w->pids[w->npids], 0, sizeof *w->pids);
	w->pids[w->npids++].pid = pid;
}

/* Remove pid from a watcher's set; false if it was not there. */
static bool
streamer_del_pid(struct swatcher *w, pid_t pid)
{
	size_t	i;

	for (i = 0; i < w->npids; i++) {
		if (w->pids[i].pid == pid) {
			memmove(&w->pids[i], &w->pids[i + 1],
			    (w->npids - i - 1) * sizeof *w->pids);
			w->npids--;
			return true;
		}
	}
	return false;
}

/* Keep the sockets of a listsockets reply that this process holds. */
static void
streamer_sockets(struct stats *st, json_t *reply)
{
	json_t		*s;
	const char	*host, *path;
	size_t		 i;
	int		 fd;

	json_array_foreach(json_object_get(reply, "sockets"), i, s) {
		fd = (int)json_integer_value(json_object_get(s, "fd"));
		host = json_string_value(json_object_get(s, "host"));
		path = json_string_value(json_object_get(s, "path"));
		if (fd <= 2 || (host == NULL && path == NULL))
			continue;
		st->socks = xreallocarray(st->socks, st->nsocks + 1,
		    sizeof *st->socks);
		st->socks[st->nsocks].fd = fd;
		st->socks[st->nsocks].address = path != NULL ? xstrdup(path) :
		    xprintf("%s:%lld", host,
		    (long long)json_integer_value(json_object_get(s, "port")));
		st->socks[st->nsocks].reads = 0;
		st->socks[st->nsocks].last_reads = 0;
		st->nsocks++;
	}
}

/* list, list <name> for each watcher, dstats, listsockets. */
int
streamer_bootstrap(struct stats *st, char **cause)
{
	json_t		*reply, *names, *n, *pids, *p;
	struct swatcher	*w;
	const char	*name;
	size_t		 i, j;

	if ((reply = streamer_call(st, "list", NULL, cause)) == NULL)
		return -1;
	names = json_incref(json_object_get(reply, "watchers"));
	json_decref(reply);
	json_array_foreach(names, i, n) {
		if ((name = json_string_value(n)) == NULL ||
		    streamer_ignored(name))
			continue;
		if ((reply = streamer_call(st, "list", name, cause)) == NULL) {
			log_warnx("list %s: %s", name, *cause);
			free(*cause);
			*cause = NULL;
			continue;
		}
		w = streamer_watcher(st, name, true);
		pids = json_object_get(reply, "pids");
		json_array_foreach(pids, j, p)
			streamer_add_pid(w, (pid_t)json_integer_value(p));
		json_decref(reply);
	}
	json_decref(names);
	if ((reply = streamer_call(st, "dstats", NULL, cause)) != NULL) {
		st->circusd_pid = (pid_t)json_integer_value(json_object_get(
		    json_object_get(reply, "info"), "pid"));
		json_decref(reply);
	} else {
		log_warnx("dstats: %s", *cause);
		free(*cause);
		*cause = NULL;
	}
	if ((reply = streamer_call(st, "listsockets", NULL, cause)) != NULL) {
		streamer_sockets(st, reply);
		json_decref(reply);
	} else {
		log_warnx("listsockets: %s", *cause);
		free(*cause);
		*cause = NULL;
	}
	return 0;
}

/* Apply one event: topic "watcher.<name>.<action>". */
void
streamer_event(struct stats *st, const char *topic, const char *body,
    size_t len)
{
	struct swatcher	*w;
	const char	*first, *last;
	char		*name;
	json_t		*obj;
	json_error_t	 err;
	pid_t		 pid;

	if (strncmp(topic, "watcher.", 8) != 0)
		return;
	first = topic + 8;
	if ((last = strrchr(first, '.')) == NULL || last == first)
		return;
	name = xstrndup(first, (size_t)(last - first));
	last++;
	if (streamer_ignored(name)) {
		free(name);
		return;
	}
	obj = json_loadb(body, len, 0, &err);
	pid = (pid_t)json_integer_value(json_object_get(obj, "process_pid"));
	if (strcmp(last, "spawn") == 0 && pid > 0) {
		w = streamer_watcher(st, name, true);
		streamer_add_pid(w, pid);
		w->spawns++;
		if (w->owed > 0) {
			w->owed--;
			w->restarts++;
		}
	} else if (strcmp(last, "kill") == 0 && pid > 0) {
		if ((w = streamer_watcher(st, name, false)) != NULL)
			streamer_del_pid(w, pid);
	} else if (strcmp(last, "reap") == 0 && pid > 0) {
		if ((w = streamer_watcher(st, name, false)) != NULL &&
		    streamer_del_pid(w, pid)) {
			w->crashes++;
			w->owed++;
		}
	} else if (strcmp(last, "remove") == 0) {
		streamer_remove(st, name);
	} else if (strcmp(last, "stop") == 0) {
		if ((w = streamer_watcher(st, name, false)) != NULL) {
			w->npids = 0;
			w->owed = 0;
		}
	}
	log_debug("event %s pid %d", topic, (int)pid);
	json_decref(obj);
	free(name);
}

/* Free every set. */
void
streamer_free(struct stats *st)
{
	size_t	i;

	for (i = 0; i < st->nwatchers; i++)
		streamer_watcher_free(st->watchers[i]);
	free(st->watchers);
	for (i = 0; i < st->nsocks; i++)
		free(st->socks[i].address);
	free(st->socks);
}
