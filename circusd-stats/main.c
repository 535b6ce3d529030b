/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusd-stats [--endpoint E] [--pubsub P] [--statspoint S] [--metrics
 * HOST:PORT] [--log-level L] [--log-output O] [--ssh S] [--version]
 * (doc/design.md §17.4). One thread, one zmq_poll loop: circusd's events, the
 * /metrics server, a 1 s sampling tick and, with sockets, a 10 ms socket
 * poll. SIGHUP, SIGQUIT, SIGINT, SIGTERM and SIGWINCH end it (exit 0).
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "circusd-stats.h"
#include "client.h"
#include "pubsub.h"
#include "util.h"
#include "log.h"
#include "xmalloc.h"

#define TICK_MS		1000
#define SOCKET_POLL_MS	10

struct args {
	const char	*endpoint;
	const char	*pubsub;
	const char	*statspoint;
	const char	*metrics;
	const char	*log_level;
	const char	*log_output;
	const char	*ssh;
};

static volatile sig_atomic_t stopping;

static void	 on_signal(int);
static void	 usage(FILE *, int) NORETURN;
static void	 parse_args(int, char **, struct args *);
static void	 drain_events(struct stats *);
static void	 run(struct stats *, struct metrics *);

/* A stop signal. */
static void
on_signal(int sig UNUSED)
{
	stopping = 1;
}

/* Usage and exit. */
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: circusd-stats [--endpoint ENDPOINT] "
	    "[--pubsub PUBSUB] [--statspoint STATSPOINT]\n"
	    "                     [--metrics HOST:PORT] [--log-level LEVEL] "
	    "[--log-output OUTPUT]\n"
	    "                     [--ssh SSH] [--version]\n");
	exit(status);
}

/* Circus's flags (doc/design.md §17.4) and ours (--metrics). */
static void
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "pubsub", required_argument, NULL, 'p' },
		{ "statspoint", required_argument, NULL, 's' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-output", required_argument, NULL, 'o' },
		{ "ssh", required_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->endpoint = "tcp://127.0.0.1:5555";
	a->pubsub = "tcp://127.0.0.1:5556";
	a->statspoint = "tcp://127.0.0.1:5557";
	a->log_level = "info";
	a->log_output = "-";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e': a->endpoint = optarg; break;
		case 'p': a->pubsub = optarg; break;
		case 's': a->statspoint = optarg; break;
		case 'm': a->metrics = optarg; break;
		case 'l': a->log_level = optarg; break;
		case 'o': a->log_output = optarg; break;
		case 'S': a->ssh = optarg; break;
		case 'V':
			printf("%s\n", CIRCUS_VERSION);
			exit(0);
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
}

/* Apply every event waiting on the SUB socket. */
static void
drain_events(struct stats *st)
{
	char	*topic, *body;
	size_t	 len;

	while (pubsub_recv(st->sub, &topic, &body, &len) == 0) {
		streamer_event(st, topic, body, len);
		free(topic);
		free(body);
	}
}

/* The loop: events, metrics, ticks. */
static void
run(struct stats *st, struct metrics *m)
{
	zmq_pollitem_t	 items[2];
	long		 now, next_tick, next_sock, wait, mt;
	size_t		 n;

	now = util_monotonic_ms();
	next_tick = now + TICK_MS;
	next_sock = now + SOCKET_POLL_MS;
	while (!stopping) {
		memset(items, 0, sizeof items);
		items[0].socket = st->sub;
		items[0].events = ZMQ_POLLIN;
		n = 1 + metrics_pollfds(m, &items[1], 1);
		now = util_monotonic_ms();
		wait = next_tick - now;
		if (st->nsocks > 0 && next_sock - now < wait)
			wait = next_sock - now;
		if ((mt = metrics_timeout_ms(m)) >= 0 && mt < wait)
			wait = mt;
		if (wait < 0)
			wait = 0;
		if (zmq_poll(items, (int)n, wait) == -1) {
			if (zmq_errno() == EINTR)
				continue;
			log_warnx("poll: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN)
			drain_events(st);
		metrics_run(m);
		now = util_monotonic_ms();
		if (st->nsocks > 0 && now >= next_sock) {
			publish_poll_sockets(st);
			next_sock += SOCKET_POLL_MS;
			if (next_sock <= now)
				next_sock = now + SOCKET_POLL_MS;
		}
		if (now >= next_tick) {
			publish_sockets_window(st);
			publish_tick(st);
			next_tick += TICK_MS;
			if (next_tick <= now)
				next_tick = now + TICK_MS;
		}
	}
}

int
main(int argc, char **argv)
{
	struct args		 a;
	struct stats		 st;
	struct metrics		*m = NULL;
	struct sigaction	 sa;
	void			*ctx;
	char			*cause = NULL, *local = NULL, *fail;
	pid_t			 tunnel = -1;
	int			 zero = 0, status = 1;
	static const int	 sigs[] = { SIGHUP, SIGQUIT, SIGINT, SIGTERM,
				     SIGWINCH };
	size_t			 i;

	memset(&a, 0, sizeof a);
	parse_args(argc, argv, &a);
	log_level_current = log_level_parse(a.log_level);
	if (log_open("circusd-stats", a.log_output, &cause) == -1) {
		fprintf(stderr, "circusd-stats: %s\n", cause);
		free(cause);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < nitems(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&st, 0, sizeof st);
	ctx = zmq_ctx_new();
	st.pub = zmq_socket(ctx, ZMQ_PUB);
	st.sub = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(st.pub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(st.sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(st.sub, ZMQ_SUBSCRIBE, "watcher.", 8);
	if (zmq_bind(st.pub, a.statspoint) != 0) {
		log_errorx("cannot bind %s: %s", a.statspoint,
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	if (zmq_connect(st.sub, a.pubsub) != 0) {
		log_errorx("cannot connect to %s: %s", a.pubsub,
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	if (a.ssh != NULL) {
		if (client_tunnel_open(a.endpoint, a.ssh, NULL, &local,
		    &tunnel, &cause) == -1)
			goto fail;
		a.endpoint = local;
	}
	if (a.metrics != NULL && (m = metrics_new(&st, a.metrics, &cause)) ==
	    NULL)
		goto fail;
	if ((st.ctl = client_new(a.endpoint, &cause)) == NULL)
		goto fail;
	if (streamer_bootstrap(&st, &cause) == -1) {
		fail = cause;
		cause = xprintf("circusd at %s: %s", a.endpoint, fail);
		free(fail);
		goto fail;
	}
	log_info("circusd-stats publishing on %s%s%s", a.statspoint,
	    m != NULL ? ", metrics on " : "", m != NULL ? a.metrics : "");
	run(&st, m);
	status = 0;
	goto out;
fail:
	log_errorx("%s", cause);
	free(cause);
out:
	metrics_free(m);
	client_free(st.ctl);
	if (tunnel != -1)
		client_tunnel_close(tunnel);
	free(local);
	streamer_free(&st);
	zmq_close(st.pub);
	zmq_close(st.sub);
	zmq_ctx_term(ctx);
	procinfo_cache_free();
	log_close();
	return status;
}
