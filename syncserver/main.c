/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c — syncserver: the Firefox Sync 1.5 storage node and tokenserver,
 * one worker process of many sharing a listening socket and a database.
 *
 *   syncserver --config sync.ini [--fd N | --socket NAME |
 *       --listen HOST:PORT] [--threads N]
 *
 * The socket: --fd N (circusd's $(circus.sockets.NAME)), else socket
 * activation (LISTEN_FDS from fd 3, the one named NAME in LISTEN_FDNAMES or
 * the first; ignored when LISTEN_PID names another process), else --listen.
 * sd_notify datagrams to NOTIFY_SOCKET (doc/workers.md): READY=1 once the
 * database is open and the socket served, WATCHDOG=1 from the main loop
 * every WATCHDOG_USEC / 2, STOPPING=1 on the stop signal. SIGTERM/SIGINT:
 * stop accepting, finish in-flight requests (bounded), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "util.h"
#include "xmalloc.h"

#define DRAIN_MS	10000
#define PURGE_CHUNK	1000

static void
usage(void)
{
	fprintf(stderr, "usage: syncserver --config FILE [--fd N | --socket "
	    "NAME | --listen HOST:PORT] [--threads N]\n");
	exit(2);
}

/* Bind and listen on HOST:PORT ([v6]:port allowed); -1 on error. */
static int
listen_on(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *ai;
	char *host = xstrdup(spec), *port = strrchr(host, ':');
	int fd = -1, one = 1;

	if (port == NULL) {
		free(host);
		return -1;
	}
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		free(host);
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 511) == -1) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	free(host);
	return fd;
}

/* Environment variable name as an integer in [min, max]: 1 and *out, 0
 * when unset or empty, -1 with err naming the variable. */
static int
env_int(const char *name, long long min, long long max, long long *out,
    char *err, size_t errlen)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0')
		return 0;
	if (util_parse_int(v, out) == -1 || *out < min || *out > max) {
		snprintf(err, errlen, "%s: not an integer in [%lld, %lld]: '%s'",
		    name, min, max, v);
		return -1;
	}
	return 1;
}

/* The socket from socket activation (LISTEN_FDS from fd 3): the one named
 * name in LISTEN_FDNAMES, or the first when name is NULL. -1 when there is
 * none for this process (LISTEN_FDS unset or 0, or LISTEN_PID another
 * pid; unset LISTEN_PID is Circus's fd passing: taken); -2 with err. */
static int
listen_fds(const char *name, char *err, size_t errlen)
{
	const char *names = getenv("LISTEN_FDNAMES"), *p;
	long long n, pid;
	size_t len;
	int i, r;

	if ((r = env_int("LISTEN_PID", 1, INT32_MAX, &pid, err, errlen)) == -1)
		return -2;
	if (r == 1 && pid != (long long)getpid()) {
		log_info("LISTEN_PID %lld is not this process: LISTEN_FDS "
		    "ignored", pid);
		return -1;
	}
	if ((r = env_int("LISTEN_FDS", 0, 4096, &n, err, errlen)) == -1)
		return -2;
	if (r == 0 || n == 0) {
		if (name != NULL)
			snprintf(err, errlen, "--socket %s: no LISTEN_FDS",
			    name);
		return name != NULL ? -2 : -1;
	}
	if (name == NULL)
		return 3;
	if (names == NULL) {
		snprintf(err, errlen, "--socket %s: no LISTEN_FDNAMES", name);
		return -2;
	}
	len = strlen(name);
	for (p = names, i = 0; i < n; i++) {
		if (strncmp(p, name, len) == 0 && (p[len] == ':' ||
		    p[len] == '\0'))
			return 3 + i;
		if ((p = strchr(p, ':')) == NULL)
			break;
		p++;
	}
	snprintf(err, errlen, "--socket %s: not among the %lld socket(s) of "
	    "LISTEN_FDNAMES '%s'", name, n, names);
	return -2;
}

/* One sd_notify datagram to $NOTIFY_SOCKET (abstract "@..." or a path),
 * when set. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
	    len) == -1)
		log_warn("NOTIFY_SOCKET %s: %s", path, msg);
	close(fd);
}

/* The main loop: wait for a stop signal; purge expired data every
 * purge_interval; WATCHDOG=1 every watchdog_ms (0 = off) from here, so
 * that a wedged loop stops the pings. */
static void
serve_until_signal(const struct sync_config *cfg, struct store *st,
    const sigset_t *set, long long watchdog_ms)
{
	long long now = util_monotonic_ms(), next_purge, next_ping, wait;
	struct timespec tmo;
	int sig;

	next_purge = now + (long long)cfg->purge_interval * 1000;
	next_ping = now;
	for (;;) {
		now = util_monotonic_ms();
		if (watchdog_ms > 0 && now >= next_ping) {
			notify("WATCHDOG=1");
			next_ping = now + watchdog_ms;
		}
		if (now >= next_purge) {
			int n = store_purge(st, PURGE_CHUNK);

			if (n > 0)
				log_info("purged %d expired rows", n);
			next_purge = util_monotonic_ms() +
			    (long long)cfg->purge_interval * 1000;
		}
		wait = next_purge;
		if (watchdog_ms > 0 && next_ping < wait)
			wait = next_ping;
		wait -= util_monotonic_ms();
		if (wait < 0)
			wait = 0;
		tmo.tv_sec = (time_t)(wait / 1000);
		tmo.tv_nsec = (long)(wait % 1000) * 1000000;
		sig = sigtimedwait(set, NULL, &tmo);

		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			log_info("signal %d: draining", sig);
			notify("STOPPING=1");
			return;
		}
	}
}

struct opts {
	const char	*config, *listen, *socket;
	int		 fd;
	unsigned	 threads;
};

/* A numeric option in [min, max], or usage with the option named. */
static long long
opt_int(const char *opt, const char *v, long long min, long long max)
{
	long long n;

	if (util_parse_int(v, &n) == -1 || n < min || n > max) {
		fprintf(stderr, "syncserver: %s: not an integer in [%lld, "
		    "%lld]: '%s'\n", opt, min, max, v);
		usage();
	}
	return n;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "fd", required_argument, NULL, 'f' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){ .fd = -1, .threads = 4 };
	while ((ch = getopt_long(argc, argv, "c:f:l:s:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->fd = (int)opt_int("--fd", optarg, 0, INT32_MAX);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 't':
			o->threads = (unsigned)opt_int("--threads", optarg, 1,
			    64);
			break;
		default:
			usage();
		}
	}
	if (o->config == NULL || optind != argc)
		usage();
}

/* The listening socket: --fd, else socket activation, else --listen;
 * -1 with err. */
static int
open_socket(const struct opts *o, char *err, size_t errlen)
{
	int fd;

	if (o->fd >= 0)
		return o->fd;
	if ((fd = listen_fds(o->socket, err, errlen)) >= 0)
		return fd;
	if (fd == -2)
		return -1;	/* err names the variable */
	if (o->listen == NULL) {
		snprintf(err, errlen, "no socket: give --fd, LISTEN_FDS or "
		    "--listen");
		return -1;
	}
	if ((fd = listen_on(o->listen)) == -1)
		snprintf(err, errlen, "cannot listen on %s: %s", o->listen,
		    strerror(errno));
	return fd;
}

int
main(int argc, char **argv)
{
	struct sync_config cfg;
	struct opts o;
	struct store *st = NULL;
	struct auth *auth = NULL;
	struct tokenserver *ts = NULL;
	struct http_server *hs = NULL;
	char err[1024] = "";
	sigset_t set;
	long long watchdog_us = 0;
	int fd, rc = 1;

	parse_args(argc, argv, &o);
	/* The database, its WAL and the nonce table hold users' data and
	 * the tokens in use: owner-only, whatever umask circusd passed on. */
	umask(umask(0) | 077);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);    /* every thread inherits */
	if (sync_config_load(o.config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "syncserver: %s\n", err);
		sync_config_free(&cfg);
		return 2;
	}
	fd = open_socket(&o, err, sizeof(err));
	if (fd != -1 && env_int("WATCHDOG_USEC", 1, INT64_MAX / 1000,
	    &watchdog_us, err, sizeof(err)) != -1 &&
	    (st = store_open(&cfg, err, sizeof(err))) != NULL &&
	    (auth = auth_open(&cfg, err, sizeof(err))) != NULL &&
	    (ts = tokenserver_open(&cfg, err, sizeof(err))) != NULL &&
	    (hs = http_start(&cfg, st, auth, ts, fd, o.threads, err,
	    sizeof(err))) != NULL) {
		log_info("syncserver %d: node %s, database %s", (int)getpid(),
		    cfg.node, cfg.db_path);
		log_info("Firefox: identity.sync.tokenserver.uri = "
		    "%s/1.0/sync/1.5", cfg.node);
		notify("READY=1");
		serve_until_signal(&cfg, st, &set, watchdog_us > 0 ?
		    (watchdog_us / 2000 > 0 ? watchdog_us / 2000 : 1) : 0);
		http_stop(hs, DRAIN_MS);
		rc = 0;
	}
	if (rc != 0)
		fprintf(stderr, "syncserver: %s\n", err);
	tokenserver_close(ts);
	auth_close(auth);
	store_close(st);
	sync_config_free(&cfg);
	return rc;
}
