/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zmq_rtt: closed-loop load client for the control channel, used on circusd
 * and on zmq_echo alike so that the two are measured by the same client.
 *
 *   zmq_rtt -e ENDPOINT -c COMMAND [-p PROPERTIES_JSON] [-n COUNT]
 *           [-t MAX_SECONDS] [-C CLIENTS] [-w WARMUP] [-T TIMEOUT_MS] [-v]
 *
 * Each of CLIENTS threads owns a DEALER (32-hex identity, linger 0, as
 * Circus's clients) and sends {"command": ..., "properties": ..., "id": ...}
 * one at a time, waiting for the reply carrying the same id. COUNT requests
 * in all (split between the clients) or MAX_SECONDS, whichever comes first;
 * WARMUP requests per client are sent first and not counted. One JSON line
 * on stdout: latency percentiles in microseconds and the throughput.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_CLIENTS 64
#define BODY_MAX 4096
#define REPLY_MAX (1 << 20)

struct client {
	pthread_t thread;
	int index;
	long quota;   /* requests to time */
	long done;    /* requests timed */
	long errors;  /* replies with "status": "error" */
	long timeouts;
	double *lat_us;
	double first_start, last_end;
};

static const char *opt_endpoint;
static const char *opt_command;
static const char *opt_props = "{}";
static double opt_max_seconds = 10;
static long opt_warmup = 50;
static int opt_timeout_ms = 5000;
static int opt_verbose;
static void *zctx;
static pthread_barrier_t start_barrier;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, long n, double p)
{
	long rank;

	if (n <= 0)
		return 0;
	rank = (long)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/*
 * One request/reply; returns 0 ok, 1 error reply, -1 timeout/failure.
 * The whole reply is read (a zmq_msg_t: a 10,000-process `stats` is
 * megabytes, and its id comes last); `reply` keeps its first REPLY_MAX - 1
 * bytes for -v.
 */
static int
round_trip(void *sock, char *body, char *reply, const char *id)
{
	zmq_msg_t msg;
	size_t len, idlen = strlen(id);
	const char *data, *end;
	int err;

	if (zmq_send(sock, body, strlen(body), 0) < 0)
		return -1;
	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, 0) < 0) {
			zmq_msg_close(&msg);
			return -1;
		}
		data = zmq_msg_data(&msg);
		len = zmq_msg_size(&msg);
		/* the id is the reply's last key: look at its tail */
		end = data + len;
		if (len < idlen || memmem(len > 256 ? end - 256 : data,
		    len > 256 ? 256 : len, id, idlen) == NULL) {
			zmq_msg_close(&msg);
			continue; /* a late reply to an earlier request */
		}
		if (len > REPLY_MAX - 1)
			len = REPLY_MAX - 1;
		memcpy(reply, data, len);
		reply[len] = '\0';
		zmq_msg_close(&msg);
		if (opt_verbose) {
			fprintf(stderr, "reply: %s\n", reply);
			opt_verbose = 0;
		}
		err = strstr(reply, "\"status\": \"error\"") != NULL ||
		    strstr(reply, "\"status\":\"error\"") != NULL;
		return err;
	}
}

/* Fill `body` with a request carrying a fresh id, copied to `id`. */
static void
build_request(struct client *c, unsigned long long seq, char *body, char *id)
{
	snprintf(id, 33, "%08x%08x%016llx", (unsigned)c->index,
	    (unsigned)getpid(), seq);
	snprintf(body, BODY_MAX,
	    "{\"command\": \"%s\", \"properties\": %s, \"id\": \"%s\"}",
	    opt_command, opt_props, id);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	char identity[33], id[33], body[BODY_MAX];
	char *reply = malloc(REPLY_MAX);
	unsigned long long seq = 0, tag;
	int linger = 0, rc, ok = 1;
	double t0, t1, stop_at;
	void *sock;
	long i;

	tag = ((unsigned long long)getpid() << 20) ^
	    ((unsigned long long)c->index << 8) ^ (unsigned long long)time(NULL);
	snprintf(identity, sizeof(identity), "%016llx%016llx", tag,
	    (unsigned long long)c->index);
	sock = zmq_socket(zctx, ZMQ_DEALER);
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_IDENTITY, identity, 32);
	zmq_setsockopt(sock, ZMQ_RCVTIMEO, &opt_timeout_ms,
	    sizeof(opt_timeout_ms));
	if (reply == NULL || zmq_connect(sock, opt_endpoint) != 0) {
		fprintf(stderr, "zmq_rtt: connect %s: %s\n", opt_endpoint,
		    zmq_strerror(errno));
		c->timeouts++;
		ok = 0;
	}
	for (i = 0; ok && i < opt_warmup; i++) {
		build_request(c, seq++, body, id);
		if (round_trip(sock, body, reply, id) < 0) {
			c->timeouts++;
			ok = 0;
		}
	}
	/* Every client starts its timed part at the same moment. */
	pthread_barrier_wait(&start_barrier);
	c->first_start = now_s();
	stop_at = c->first_start + opt_max_seconds;
	for (i = 0; ok && i < c->quota; i++) {
		build_request(c, seq++, body, id);
		t0 = now_s();
		if (t0 > stop_at)
			break;
		rc = round_trip(sock, body, reply, id);
		t1 = now_s();
		if (rc < 0) {
			c->timeouts++;
			break;
		}
		c->errors += rc;
		c->lat_us[c->done++] = (t1 - t0) * 1e6;
		c->last_end = t1;
	}
	zmq_close(sock);
	free(reply);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: zmq_rtt -e ENDPOINT -c COMMAND [-p PROPERTIES_JSON] "
	    "[-n COUNT] [-t MAX_SECONDS] [-C CLIENTS] [-w WARMUP] "
	    "[-T TIMEOUT_MS] [-v]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct client clients[MAX_CLIENTS];
	long count = 1000, total = 0, errors = 0, timeouts = 0, k, i;
	double start = 0, end = 0, sum = 0, elapsed, *all;
	int nclients = 1, opt, c;
	char *endp;

	while ((opt = getopt(argc, argv, "e:c:p:n:t:C:w:T:v")) != -1) {
		switch (opt) {
		case 'e':
			opt_endpoint = optarg;
			break;
		case 'c':
			opt_command = optarg;
			break;
		case 'p':
			opt_props = optarg;
			break;
		case 'n':
			count = strtol(optarg, &endp, 10);
			if (*endp != '\0' || count < 1 || count > 10000000)
				usage();
			break;
		case 't':
			opt_max_seconds = strtod(optarg, &endp);
			if (*endp != '\0' || opt_max_seconds <= 0 ||
			    opt_max_seconds > 3600)
				usage();
			break;
		case 'C':
			nclients = (int)strtol(optarg, &endp, 10);
			if (*endp != '\0' || nclients < 1 ||
			    nclients > MAX_CLIENTS)
				usage();
			break;
		case 'w':
			opt_warmup = strtol(optarg, &endp, 10);
			if (*endp != '\0' || opt_warmup < 0 || opt_warmup > 100000)
				usage();
			break;
		case 'T':
			opt_timeout_ms = (int)strtol(optarg, &endp, 10);
			if (*endp != '\0' || opt_timeout_ms < 1)
				usage();
			break;
		case 'v':
			opt_verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (opt_endpoint == NULL || opt_command == NULL ||
	    strlen(opt_command) + strlen(opt_props) > BODY_MAX - 100)
		usage();

	zctx = zmq_ctx_new();
	pthread_barrier_init(&start_barrier, NULL, (unsigned)nclients);
	memset(clients, 0, sizeof(clients));
	for (c = 0; c < nclients; c++) {
		clients[c].index = c;
		clients[c].quota = count / nclients + (c < count % nclients);
		clients[c].lat_us = calloc((size_t)clients[c].quota + 1,
		    sizeof(double));
		if (clients[c].lat_us == NULL) {
			perror("zmq_rtt: calloc");
			return 1;
		}
	}
	for (c = 0; c < nclients; c++)
		pthread_create(&clients[c].thread, NULL, client_main,
		    &clients[c]);
	for (c = 0; c < nclients; c++)
		pthread_join(clients[c].thread, NULL);

	for (c = 0; c < nclients; c++) {
		total += clients[c].done;
		errors += clients[c].errors;
		timeouts += clients[c].timeouts;
		if (start == 0 || clients[c].first_start < start)
			start = clients[c].first_start;
		if (clients[c].last_end > end)
			end = clients[c].last_end;
	}
	all = calloc((size_t)total + 1, sizeof(double));
	if (all == NULL) {
		perror("zmq_rtt: calloc");
		return 1;
	}
	for (c = 0, k = 0; c < nclients; c++)
		for (i = 0; i < clients[c].done; i++) {
			all[k++] = clients[c].lat_us[i];
			sum += clients[c].lat_us[i];
		}
	qsort(all, (size_t)total, sizeof(double), cmp_double);
	elapsed = end > start ? end - start : 0;
	printf("{\"tool\": \"zmq_rtt\", \"command\": \"%s\", \"clients\": %d, "
	       "\"count\": %ld, \"errors\": %ld, \"timeouts\": %ld, "
	       "\"elapsed_s\": %.6f, \"rps\": %.1f, \"p50_us\": %.2f, "
	       "\"p90_us\": %.2f, \"p99_us\": %.2f, \"min_us\": %.2f, "
	       "\"max_us\": %.2f, \"mean_us\": %.2f}\n",
	    opt_command, nclients, total, errors, timeouts, elapsed,
	    elapsed > 0 ? (double)total / elapsed : 0.0,
	    percentile(all, total, 50), percentile(all, total, 90),
	    percentile(all, total, 99), total ? all[0] : 0.0,
	    total ? all[total - 1] : 0.0, total ? sum / (double)total : 0.0);
	for (c = 0; c < nclients; c++)
		free(clients[c].lat_us);
	free(all);
	zmq_ctx_term(zctx);
	return timeouts == 0 ? 0 : 1;
}
