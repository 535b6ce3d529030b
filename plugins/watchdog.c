/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WatchDog (doc/design.md §17.7): workers send UDP heartbeats ("<pid>;<time>"
 * by default, parsed with msg_regex and its named group pid); every loop_rate
 * seconds a monitored process silent for loop_rate * max_count seconds is
 * killed (`kill` cast; the watcher respawns it). Processes are monitored
 * from their `spawn` event (watchers matching watchers_regex, anchored at
 * the start as Python's re.match) and found with `list` on the first
 * check. Unlike Circus, every silent process of a round is killed, not
 * only the first.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "util.h"
#include "xmalloc.h"

struct wd_proc {
	TAILQ_ENTRY(wd_proc) entry;
	char		*watcher;
	char		 pid[24];
	ev_tstamp	 last;		/* last heartbeat (or spawn) */
};

struct watchdog {
	struct plugin	*plugin;
	TAILQ_HEAD(, wd_proc) procs;
	regex_t		 watchers_re;
	regex_t		 msg_re;
	int		 pid_group;	/* index of (?P<pid>...) in msg_re */
	double		 loop_rate;
	long		 max_count;
	const char	*stop_signal;	/* NULL = the watcher's */
	const char	*graceful_timeout;
	bool		 discovered;
	int		 fd;
	ev_io		 io;
};

/*
 * A Python regex as a POSIX extended one anchored at the start (re.match):
 * "(?P<name>" groups become plain groups; *group gets the number of the
 * one called want (0 if none). -1 + log if it does not compile.
 */
static int
wd_regex(regex_t *re, const char *py, const char *want, int *group)
{
	char		*out, *o, err[128];
	const char	*s, *gt;
	int		 n = 1, rc;

	out = xmalloc(strlen(py) + 4);
	o = out;
	*o++ = '^';
	*o++ = '(';
	if (group != NULL)
		*group = 0;
	for (s = py; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			*o++ = *s++;
			*o++ = *s;
			continue;
		}
		if (*s == '(' && strncmp(s, "(?P<", 4) == 0 &&
		    (gt = strchr(s + 4, '>')) != NULL) {
			n++;
			if (group != NULL && want != NULL &&
			    (size_t)(gt - s - 4) == strlen(want) &&
			    strncmp(s + 4, want, gt - s - 4) == 0)
				*group = n;
			*o++ = '(';
			s = gt;
			continue;
		}
		if (*s == '(')
			n++;
		*o++ = *s;
	}
	*o++ = ')';
	*o = '\0';
	if ((rc = regcomp(re, out, REG_EXTENDED)) != 0) {
		regerror(rc, re, err, sizeof err);
		log_errorx("watchdog: bad regex '%s': %s", py, err);
		free(out);
		return (-1);
	}
	free(out);
	return (0);
}

/* Plugins never send heartbeats: left out (Circus kills them too). */
static bool
wd_watched(struct watchdog *wd, const char *watcher)
{
	return (strncmp(watcher, "plugin:", 7) != 0 &&
	    regexec(&wd->watchers_re, watcher, 0, NULL, 0) == 0);
}

static struct wd_proc *
wd_find(struct watchdog *wd, const char *pid)
{
	struct wd_proc *pr;

	TAILQ_FOREACH(pr, &wd->procs, entry)
		if (strcmp(pr->pid, pid) == 0)
			return (pr);
	return (NULL);
}

static void
wd_forget(struct watchdog *wd, struct wd_proc *pr)
{
	TAILQ_REMOVE(&wd->procs, pr, entry);
	free(pr->watcher);
	free(pr);
}

static void
wd_monitor(struct watchdog *wd, const char *watcher, long long pid)
{
	struct wd_proc	*pr;
	char		 key[24];

	snprintf(key, sizeof key, "%lld", pid);
	if ((pr = wd_find(wd, key)) == NULL) {
		pr = xcalloc(1, sizeof *pr);
		pr->watcher = xstrdup(watcher);
		memcpy(pr->pid, key, sizeof key);
		TAILQ_INSERT_TAIL(&wd->procs, pr, entry);
	}
	pr->last = ev_now(wd->plugin->loop);
}

/* First check: every process of every watched watcher. */
static void
wd_discover(struct watchdog *wd)
{
	json_t		*reply, *names, *pids, *v;
	const char	*name;
	size_t		 i, j;

	reply = plugin_call(wd->plugin, "list", NULL);
	if (!plugin_reply_ok(reply)) {
		json_decref(reply);
		return;
	}
	wd->discovered = true;
	names = json_object_get(reply, "watchers");
	json_array_foreach(names, i, v) {
		if ((name = json_string_value(v)) == NULL ||
		    !wd_watched(wd, name))
			continue;
		pids = plugin_call(wd->plugin, "list",
		    json_pack("{s:s}", "name", name));
		json_array_foreach(json_object_get(pids, "pids"), j, v) {
			if (json_is_integer(v))
				wd_monitor(wd, name, json_integer_value(v));
		}
		json_decref(pids);
	}
	json_decref(reply);
}

/* Kill a silent process (its watcher respawns it). */
static void
wd_kill(struct watchdog *wd, struct wd_proc *pr)
{
	json_t		*props;
	long long	 pid;
	double		 t;
	int		 sig;

	log_warnx("watcher:%s, pid:%s is not responding. Kill it !",
	    pr->watcher, pr->pid);
	(void)util_parse_int(pr->pid, &pid);
	props = json_pack("{s:s, s:I}", "name", pr->watcher, "pid",
	    (json_int_t)pid);
	if (wd->stop_signal != NULL &&
	    (sig = util_parse_signal(wd->stop_signal)) > 0)
		json_object_set_new(props, "signum", json_integer(sig));
	if (wd->graceful_timeout != NULL &&
	    util_parse_float(wd->graceful_timeout, &t) == 0)
		json_object_set_new(props, "graceful_timeout", json_real(t));
	plugin_cast(wd->plugin, "kill", props);
}

static void
wd_tick(struct plugin *p)
{
	struct watchdog	*wd = p->data;
	struct wd_proc	*pr, *next;
	ev_tstamp	 now = ev_now(p->loop);

	if (!wd->discovered)
		wd_discover(wd);
	for (pr = TAILQ_FIRST(&wd->procs); pr != NULL; pr = next) {
		next = TAILQ_NEXT(pr, entry);
		if (now - pr->last > wd->loop_rate * wd->max_count) {
			wd_kill(wd, pr);
			wd_forget(wd, pr);
		}
	}
}

/* One heartbeat datagram. */
static void
wd_recv(struct ev_loop *loop, ev_io *io, int revents)
{
	struct watchdog	*wd = io->data;
	struct wd_proc	*pr;
	regmatch_t	 m[16];
	char		 buf[1025], *pid;
	ssize_t		 n;

	(void)revents;
	while ((n = recv(wd->fd, buf, sizeof buf - 1, 0)) > 0) {
		buf[n] = '\0';
		if (wd->pid_group >= 16 || regexec(&wd->msg_re, buf, 16, m,
		    0) != 0 || m[wd->pid_group].rm_so == -1) {
			log_warnx("watchdog: heartbeat '%s' does not match "
			    "msg_regex", buf);
			continue;
		}
		pid = xstrndup(buf + m[wd->pid_group].rm_so,
		    m[wd->pid_group].rm_eo - m[wd->pid_group].rm_so);
		if ((pr = wd_find(wd, pid)) != NULL)
			pr->last = ev_now(loop);
		else
			log_warnx("watchdog: heartbeat of pid %s, which is "
			    "not monitored", pid);
		free(pid);
	}
}

/* The UDP socket on ip:port (a failure is logged; no heartbeats then). */
static void
wd_bind(struct watchdog *wd)
{
	struct plugin	*p = wd->plugin;
	struct addrinfo	 hints, *res = NULL;
	const char	*ip = plugin_conf_str(p, "ip", "127.0.0.1");
	const char	*port = plugin_conf_str(p, "port", "1664");
	int		 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(ip, port, &hints, &res)) != 0) {
		log_errorx("watchdog: %s:%s: %s", ip, port, gai_strerror(rc));
		return;
	}
	wd->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (wd->fd == -1 || bind(wd->fd, res->ai_addr, res->ai_addrlen) ==
	    -1) {
		log_warn("watchdog: cannot bind UDP %s:%s", ip, port);
		if (wd->fd != -1)
			close(wd->fd);
		wd->fd = -1;
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	log_info("Watchdog listening UDP on %s:%s", ip, port);
	ev_io_init(&wd->io, wd_recv, wd->fd, EV_READ);
	wd->io.data = wd;
	ev_io_start(p->loop, &wd->io);
}

static int
wd_init(struct plugin *p)
{
	struct watchdog	*wd;

	wd = xcalloc(1, sizeof *wd);
	wd->plugin = p;
	wd->fd = -1;
	TAILQ_INIT(&wd->procs);
	if (wd_regex(&wd->watchers_re, plugin_conf_str(p, "watchers_regex",
	    ".*"), NULL, NULL) == -1) {
		free(wd);
		return (-1);
	}
	if (wd_regex(&wd->msg_re, plugin_conf_str(p, "msg_regex",
	    "^(?P<pid>.*);(?P<timestamp>.*)$"), "pid", &wd->pid_group) == -1 ||
	    wd->pid_group == 0) {
		if (wd->pid_group == 0)
			log_errorx("watchdog: msg_regex has no (?P<pid>...)");
		regfree(&wd->watchers_re);
		free(wd);
		return (-1);
	}
	wd->loop_rate = plugin_conf_float(p, "loop_rate", 60);
	if (wd->loop_rate <= 0)
		wd->loop_rate = 60;
	wd->max_count = plugin_conf_int(p, "max_count", 3);
	wd->stop_signal = plugin_conf_str(p, "watchers_stop_signal", NULL);
	wd->graceful_timeout = plugin_conf_str(p,
	    "watchers_graceful_timeout", NULL);
	p->data = wd;
	wd_bind(wd);
	return (0);
}

static void
wd_event(struct plugin *p, const char *watcher, const char *action,
    json_t *body)
{
	struct watchdog	*wd = p->data;
	struct wd_proc	*pr;
	json_t		*pid = json_object_get(body, "process_pid");
	char		 key[24];

	if (!json_is_integer(pid) || !wd_watched(wd, watcher))
		return;
	if (strcmp(action, "spawn") == 0)
		wd_monitor(wd, watcher, json_integer_value(pid));
	else if (strcmp(action, "reap") == 0) {
		snprintf(key, sizeof key, "%lld",
		    (long long)json_integer_value(pid));
		if ((pr = wd_find(wd, key)) != NULL)
			wd_forget(wd, pr);
	}
}

static void
wd_stop(struct plugin *p)
{
	struct watchdog	*wd = p->data;
	struct wd_proc	*pr;

	if (wd == NULL)
		return;
	if (wd->fd != -1) {
		ev_io_stop(p->loop, &wd->io);
		close(wd->fd);
	}
	while ((pr = TAILQ_FIRST(&wd->procs)) != NULL)
		wd_forget(wd, pr);
	regfree(&wd->watchers_re);
	regfree(&wd->msg_re);
	free(wd);
	p->data = NULL;
}

static const struct plugin_ops watchdog_ops = {
	.name = "watchdog",
	.init = wd_init,
	.event = wd_event,
	.tick = wd_tick,
	.loop_rate = 60,
	.stop = wd_stop,
};

PLUGIN_MAIN(watchdog_ops)
