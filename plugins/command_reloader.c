/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CommandReloader (doc/design.md §17.7): restarts a watcher when its executable
 * changes on disk. Every loop_rate seconds (and 0.2 s after inotify
 * reports a change in the directory of a watched executable) each
 * watcher's program is resolved and stat'ed; a new modification time or a
 * new resolved path calls `restart`. Unlike Circus, the program is the
 * first word of `cmd` looked up in PATH (arguments allowed), and one
 * watcher that cannot be resolved does not stop the round.
 */
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "xmalloc.h"

struct cr_prog {
	TAILQ_ENTRY(cr_prog) entry;
	char		*watcher;
	char		*path;		/* resolved */
	struct timespec	 mtime;
	int		 wd;		/* inotify watch of its directory */
	bool		 seen;		/* listed in this round */
};

struct reloader {
	struct plugin	*plugin;
	TAILQ_HEAD(, cr_prog) progs;
	ev_timer	 settle;	/* after an inotify event */
	int		 ifd;
	ev_io		 iio;
};

/* The first word of cmd, through PATH when it has no '/'. */
static char *
cr_resolve(const char *cmd)
{
	char		*word, *path, *dirs, *dir, *save, *cand, real[PATH_MAX];
	size_t		 len;

	cmd += strspn(cmd, " \t");
	len = strcspn(cmd, " \t");
	if (len == 0)
		return (NULL);
	word = xstrndup(cmd, len);
	path = NULL;
	if (strchr(word, '/') != NULL) {
		if (realpath(word, real) != NULL)
			path = xstrdup(real);
		free(word);
		return (path);
	}
	dirs = xstrdup(getenv("PATH") != NULL ? getenv("PATH") :
	    "/usr/bin:/bin");
	for (dir = strtok_r(dirs, ":", &save); dir != NULL && path == NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		cand = xprintf("%s/%s", dir, word);
		if (access(cand, X_OK) == 0 && realpath(cand, real) != NULL)
			path = xstrdup(real);
		free(cand);
	}
	free(dirs);
	free(word);
	return (path);
}

static struct cr_prog *
cr_find(struct reloader *r, const char *watcher)
{
	struct cr_prog *pr;

	TAILQ_FOREACH(pr, &r->progs, entry)
		if (strcmp(pr->watcher, watcher) == 0)
			return (pr);
	return (NULL);
}

static void
cr_forget(struct reloader *r, struct cr_prog *pr)
{
	TAILQ_REMOVE(&r->progs, pr, entry);
	free(pr->watcher);
	free(pr->path);
	free(pr);
}

/* Watch the directory holding path (replacing a file is seen there). */
static int
cr_inotify(struct reloader *r, const char *path)
{
	char	*dir, *slash;
	int	 wd;

	if (r->ifd == -1)
		return (-1);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	wd = inotify_add_watch(r->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_CREATE | IN_ATTRIB | IN_DELETE);
	free(dir);
	return (wd);
}

/* Check one watcher's program; restart it when it changed. */
static void
cr_check(struct reloader *r, const char *watcher)
{
	struct cr_prog	*pr;
	struct stat	 sb;
	json_t		*reply;
	const char	*cmd;
	char		*path;

	reply = plugin_call(r->plugin, "get", json_pack("{s:s, s:[s]}",
	    "name", watcher, "keys", "cmd"));
	cmd = json_string_value(json_object_get(json_object_get(reply,
	    "options"), "cmd"));
	path = cmd != NULL ? cr_resolve(cmd) : NULL;
	json_decref(reply);
	if (path == NULL || stat(path, &sb) == -1) {
		log_debug("%s: program of '%s' not found", watcher,
		    cmd != NULL ? cmd : "?");
		free(path);
		if ((pr = cr_find(r, watcher)) != NULL)
			pr->seen = true;
		return;
	}
	if ((pr = cr_find(r, watcher)) == NULL) {
		pr = xcalloc(1, sizeof *pr);
		pr->watcher = xstrdup(watcher);
		pr->path = path;
		pr->mtime = sb.st_mtim;
		pr->wd = cr_inotify(r, path);
		pr->seen = true;
		TAILQ_INSERT_TAIL(&r->progs, pr, entry);
		return;
	}
	pr->seen = true;
	if (strcmp(pr->path, path) == 0 &&
	    pr->mtime.tv_sec == sb.st_mtim.tv_sec &&
	    pr->mtime.tv_nsec == sb.st_mtim.tv_nsec) {
		free(path);
		return;
	}
	log_info("%s modified. Restarting.", path);
	free(pr->path);
	pr->path = path;
	pr->mtime = sb.st_mtim;
	pr->wd = cr_inotify(r, path);
	json_decref(plugin_call(r->plugin, "restart",
	    json_pack("{s:s}", "name", watcher)));
}

/* One round over every (non-plugin) watcher. */
static void
cr_round(struct reloader *r)
{
	struct cr_prog	*pr, *next;
	json_t		*reply, *v;
	const char	*name;
	size_t		 i;

	reply = plugin_call(r->plugin, "list", NULL);
	if (!plugin_reply_ok(reply)) {
		json_decref(reply);
		return;
	}
	TAILQ_FOREACH(pr, &r->progs, entry)
		pr->seen = false;
	json_array_foreach(json_object_get(reply, "watchers"), i, v) {
		if ((name = json_string_value(v)) != NULL &&
		    strncmp(name, "plugin:", 7) != 0)
			cr_check(r, name);
	}
	json_decref(reply);
	for (pr = TAILQ_FIRST(&r->progs); pr != NULL; pr = next) {
		next = TAILQ_NEXT(pr, entry);
		if (!pr->seen)
			cr_forget(r, pr);
	}
}

static void
cr_tick(struct plugin *p)
{
	cr_round(p->data);
}

static void
cr_settle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	cr_round(t->data);
}

/* inotify: let a copy finish writing, then check at once. */
static void
cr_inotify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct reloader	*r = io->data;
	char		 buf[4096];

	(void)revents;
	while (read(r->ifd, buf, sizeof buf) > 0)
		;
	ev_timer_stop(loop, &r->settle);
	ev_timer_set(&r->settle, 0.2, 0);
	ev_timer_start(loop, &r->settle);
}

static int
cr_init(struct plugin *p)
{
	struct reloader	*r;

	r = xcalloc(1, sizeof *r);
	r->plugin = p;
	TAILQ_INIT(&r->progs);
	p->data = r;
	ev_timer_init(&r->settle, cr_settle_cb, 0.2, 0);
	r->settle.data = r;
	if ((r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		log_warn("inotify unavailable; polling only");
	else {
		ev_io_init(&r->iio, cr_inotify_cb, r->ifd, EV_READ);
		r->iio.data = r;
		ev_io_start(p->loop, &r->iio);
	}
	return (0);
}

static void
cr_stop(struct plugin *p)
{
	struct reloader	*r = p->data;
	struct cr_prog	*pr;

	if (r == NULL)
		return;
	ev_timer_stop(p->loop, &r->settle);
	if (r->ifd != -1) {
		ev_io_stop(p->loop, &r->iio);
		close(r->ifd);
	}
	while ((pr = TAILQ_FIRST(&r->progs)) != NULL)
		cr_forget(r, pr);
	free(r);
	p->data = NULL;
}

static const struct plugin_ops reloader_ops = {
	.name = "command_reloader",
	.init = cr_init,
	.tick = cr_tick,
	.loop_rate = 1,
	.stop = cr_stop,
};

PLUGIN_MAIN(reloader_ops)
