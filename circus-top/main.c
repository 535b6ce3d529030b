/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circus-top [--endpoint E] [--ssh S] [--process-timeout N] [--version]
 * (doc/design.md §17.4): SUB to the stats endpoint, repaint every second, keys
 * c/m/a/p choose the sort, q (or Ctrl-C) quits with status 0.
 */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "circus-top.h"
#include "client.h"
#include "pubsub.h"
#include "util.h"
#include "compat.h"
#include "xmalloc.h"

#define REPAINT_MS 1000

static volatile sig_atomic_t quitting;

static void	 on_signal(int);
static void	 usage(FILE *, int) NORETURN;
static void	 drain(struct top *, void *);
static bool	 keys(struct top *);

/* Ctrl-C and friends. */
static void
on_signal(int sig UNUSED)
{
	quitting = 1;
}

/* Usage and exit. */
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: circus-top [--endpoint ENDPOINT] [--ssh SSH] "
	    "[--process-timeout SECONDS] [--version]\n");
	exit(status);
}

/* Apply every waiting message. */
static void
drain(struct top *t, void *sub)
{
	char	*topic, *body;
	size_t	 len;

	while (pubsub_recv(sub, &topic, &body, &len) == 0) {
		top_message(t, topic, body, len, util_monotonic_ms());
		free(topic);
		free(body);
	}
}

/* Read keys; true when the screen should be repainted now. */
static bool
keys(struct top *t)
{
	bool	changed = false;
	int	c;

	while ((c = getch()) != ERR) {
		switch (c) {
		case 'q':
		case 'Q':
			quitting = 1;
			break;
		case 'c': t->sort = TOP_SORT_CPU; changed = true; break;
		case 'm': t->sort = TOP_SORT_MEM; changed = true; break;
		case 'a': t->sort = TOP_SORT_AGE; changed = true; break;
		case 'p': t->sort = TOP_SORT_PID; changed = true; break;
		case KEY_RESIZE: changed = true; break;
		default: break;
		}
	}
	return changed;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "ssh", required_argument, NULL, 'S' },
		{ "process-timeout", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*endpoint = "tcp://127.0.0.1:5557", *ssh = NULL;
	struct top	 t;
	struct sigaction sa;
	zmq_pollitem_t	 items[2];
	void		*ctx, *sub;
	char		*local = NULL, *cause = NULL, *end;
	long		 next, now;
	pid_t		 tunnel = -1;
	int		 c, zero = 0;

	memset(&t, 0, sizeof t);
	t.timeout_ms = 3000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e': endpoint = optarg; break;
		case 'S': ssh = optarg; break;
		case 't':
			t.timeout_ms = (long)(strtod(optarg, &end) * 1000);
			if (*end != '\0' || end == optarg || t.timeout_ms <= 0) {
				fprintf(stderr, "circus-top: --process-timeout "
				    "'%s' is not a positive number\n", optarg);
				return 2;
			}
			break;
		case 'V':
			printf("%s\n", CIRCUS_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if (ssh != NULL) {
		if (client_tunnel_open(endpoint, ssh, NULL, &local, &tunnel,
		    &cause) == -1) {
			fprintf(stderr, "circus-top: %s\n", cause);
			free(cause);
			return 1;
		}
		endpoint = local;
	}
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "stat.", 5);
	if (zmq_connect(sub, endpoint) != 0) {
		fprintf(stderr, "circus-top: cannot connect to %s: %s\n",
		    endpoint, zmq_strerror(zmq_errno()));
		zmq_close(sub);
		zmq_ctx_term(ctx);
		return 1;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	setlocale(LC_ALL, "");
	initscr();
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);

	next = util_monotonic_ms();
	while (!quitting) {
		now = util_monotonic_ms();
		if (now >= next) {
			top_expire(&t, now);
			screen_draw(&t);
			next = now + REPAINT_MS;
		}
		memset(items, 0, sizeof items);
		items[0].socket = sub;
		items[0].events = ZMQ_POLLIN;
		items[1].fd = STDIN_FILENO;
		items[1].events = ZMQ_POLLIN;
		if (zmq_poll(items, 2, next - now) == -1 && zmq_errno() != EINTR)
			break;
		if (items[0].revents & ZMQ_POLLIN)
			drain(&t, sub);
		if (keys(&t) && !quitting)
			next = 0;
	}
	endwin();
	top_free(&t);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	if (tunnel != -1)
		client_tunnel_close(tunnel);
	free(local);
	return 0;
}
