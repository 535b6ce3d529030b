/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c — syncserver: the Firefox Sync 1.5 storage node and tokenserver,
 * one worker process of many sharing a listening socket and a database.
 *
 *   syncserver --config sync.ini [--fd N | --listen HOST:PORT] [--threads N]
 *
 * The socket: --fd N (circusd's $(circus.sockets.NAME)), else LISTEN_FDS /
 * LISTEN_PID (fd 3), else --listen. READY=1 goes to NOTIFY_SOCKET once the
 * database is open and the socket served. SIGTERM/SIGINT: stop accepting,
 * finish in-flight requests (bounded), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
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
#include "xmalloc.h"

#define DRAIN_MS	10000
#define PURGE_CHUNK	1000

static void
usage(void)
{
	fprintf(stderr, "usage: syncserver --config FILE [--fd N | --listen "
	    "HOST:PORT] [--threads N]\n");
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

/* The socket from LISTEN_FDS/LISTEN_PID (socket activation), or -1. */
static int
listen_fds(void)
{
	const char *n = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

	if (n == NULL || atoi(n) < 1)
		return -1;
	if (pid != NULL && atol(pid) != (long)getpid())
		return -1;
	return 3;
}

/* READY=1 to $NOTIFY_SOCKET (sd_notify's datagram), when set. */
static void
notify_ready(void)
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
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, len) == -1)
		log_warn("NOTIFY_SOCKET %s", path);
	close(fd);
}

/* Wait for a stop signal; purge expired data every purge_interval. */
static void
serve_until_signal(const struct sync_config *cfg, struct store *st,
    const sigset_t *set)
{
	struct timespec tmo = { .tv_sec = cfg->purge_interval };

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tmo);

		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			log_info("signal %d: draining", sig);
			return;
		}
		if (sig == -1 && errno == EAGAIN) {
			int n = store_purge(st, PURGE_CHUNK);

			if (n > 0)
				log_info("purged %d expired rows", n);
		}
	}
}

struct opts {
	const char	*config, *listen;
	int		 fd;
	unsigned	 threads;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "fd", required_argument, NULL, 'f' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){ .fd = -1, .threads = 4 };
	while ((ch = getopt_long(argc, argv, "c:f:l:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->fd = atoi(optarg);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			o->threads = (unsigned)atoi(optarg);
			if (o->threads < 1 || o->threads > 64)
				usage();
			break;
		default:
			usage();
		}
	}
	if (o->config == NULL || optind != argc)
		usage();
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
	fd = o.fd >= 0 ? o.fd : listen_fds();
	if (fd < 0 && o.listen != NULL && (fd = listen_on(o.listen)) == -1)
		snprintf(err, sizeof(err), "cannot listen on %s: %s", o.listen,
		    strerror(errno));
	else if (fd < 0)
		snprintf(err, sizeof(err), "no socket: give --fd, LISTEN_FDS "
		    "or --listen");
	else if ((st = store_open(&cfg, err, sizeof(err))) != NULL &&
	    (auth = auth_open(&cfg, err, sizeof(err))) != NULL &&
	    (ts = tokenserver_open(&cfg, err, sizeof(err))) != NULL &&
	    (hs = http_start(&cfg, st, auth, ts, fd, o.threads, err,
	    sizeof(err))) != NULL) {
		log_info("syncserver %d: node %s, database %s", (int)getpid(),
		    cfg.node, cfg.db_path);
		log_info("Firefox: identity.sync.tokenserver.uri = "
		    "%s/1.0/sync/1.5", cfg.node);
		notify_ready();
		serve_until_signal(&cfg, st, &set);
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
