/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zmq_echo: the transport's raw round trip, the floor for circusd's control
 * channel. A ROUTER bound like circusd's (linger 0) that sends every message
 * straight back, frames unchanged: [identity, body] in, [identity, body] out.
 *
 *   zmq_echo ENDPOINT [MAX_SECONDS]
 *
 * Prints one "ready" line once bound, and a summary line when it stops:
 * on SIGTERM/SIGINT or after MAX_SECONDS (default 900, at most 86400),
 * whichever is first.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_FRAMES 16

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Receive one whole message; returns its frame count, 0 if none, -1 on error. */
static int
recv_message(void *sock, zmq_msg_t *frames)
{
	int n = 0, more;
	size_t len;

	for (;;) {
		zmq_msg_init(&frames[n]);
		if (zmq_msg_recv(&frames[n], sock, n == 0 ? ZMQ_DONTWAIT : 0) <
		    0) {
			zmq_msg_close(&frames[n]);
			if (n == 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			return -1;
		}
		len = sizeof(more);
		more = 0;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
		if (n + 1 < MAX_FRAMES)
			n++;
		else
			zmq_msg_close(&frames[n]); /* absurd frame count: drop */
		if (!more)
			return n;
	}
}

static void
send_message(void *sock, zmq_msg_t *frames, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (zmq_msg_send(&frames[i], sock, i + 1 < n ? ZMQ_SNDMORE : 0) <
		    0)
			zmq_msg_close(&frames[i]);
	}
}

int
main(int argc, char **argv)
{
	zmq_msg_t frames[MAX_FRAMES];
	struct sigaction sa;
	zmq_pollitem_t item;
	double deadline, left, max_seconds = 900;
	long messages = 0;
	void *ctx, *sock;
	int linger = 0, n, rc;
	char *end;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: zmq_echo ENDPOINT [MAX_SECONDS]\n");
		return 2;
	}
	if (argc == 3) {
		max_seconds = strtod(argv[2], &end);
		if (*end != '\0' || max_seconds <= 0 || max_seconds > 86400) {
			fprintf(stderr, "zmq_echo: bad MAX_SECONDS\n");
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_ROUTER);
	if (ctx == NULL || sock == NULL) {
		fprintf(stderr, "zmq_echo: %s\n", zmq_strerror(errno));
		return 1;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(sock, argv[1]) != 0) {
		fprintf(stderr, "zmq_echo: bind %s: %s\n", argv[1],
		    zmq_strerror(errno));
		return 1;
	}
	printf("{\"event\": \"ready\", \"pid\": %ld, \"endpoint\": \"%s\"}\n",
	    (long)getpid(), argv[1]);
	fflush(stdout);

	deadline = now_s() + max_seconds;
	item.socket = sock;
	item.fd = -1;
	item.events = ZMQ_POLLIN;
	/* Idle, it sleeps until the deadline: no periodic wake-up. */
	while (!stop_requested && (left = deadline - now_s()) > 0) {
		item.revents = 0;
		rc = zmq_poll(&item, 1, (long)(left * 1000) + 1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (rc == 0)
			continue;
		/* Drain everything that is ready before polling again. */
		while ((n = recv_message(sock, frames)) > 0) {
			send_message(sock, frames, n);
			messages++;
		}
		if (n < 0 && errno != EINTR)
			break;
	}
	printf("{\"tool\": \"zmq_echo\", \"messages\": %ld}\n", messages);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}
