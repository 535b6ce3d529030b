/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One tick of the stats stream (doc/design.md §17.4): per watcher with pids,
 * each pid's info object then the aggregate; then the `circus` group
 * (circusd and ourselves) and the `sockets` group. Socket "reads" are the
 * number of 10 ms polls that found the socket readable in the last second.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "circusd-stats.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

/* What a group's aggregate is made of. */
struct agg {
	json_t	*pids;
	double	 cpu_sum;
	double	 mem_sum;
	double	 age_max;
	size_t	 n;
	bool	 cpu_na;
	bool	 mem_na;
};

static void	 publish_send(struct stats *, const char *, json_t *);
static bool	 publish_pid(struct stats *, struct procinfo_batch *,
		     const char *, pid_t, struct procinfo_sample *,
		     const char *, struct agg *);
static void	 publish_agg(struct stats *, const char *, struct agg *);

/* Send topic + JSON body (consumes body). */
static void
publish_send(struct stats *st, const char *topic, json_t *body)
{
	char	*text;

	text = pyjson_dumps(body);
	json_decref(body);
	if (text == NULL)
		return;
	if (zmq_send(st->pub, topic, strlen(topic), ZMQ_SNDMORE) == -1 ||
	    zmq_send(st->pub, text, strlen(text), 0) == -1)
		log_debug("publish %s: %s", topic, zmq_strerror(zmq_errno()));
	free(text);
}

/* Sample and publish one pid of a group; false if it is gone. */
static bool
publish_pid(struct stats *st, struct procinfo_batch *b, const char *group,
    pid_t pid, struct procinfo_sample *s, const char *name, struct agg *a)
{
	json_t	*info, *v;
	char	 topic[512];

	info = procinfo_batch_sample(b, pid, s);
	if (!json_is_object(info)) {
		json_decref(info);
		return false;
	}
	json_object_set_new(info, "subtopic", json_integer(pid));
	json_object_set_new(info, "name", name != NULL ? json_string(name) :
	    json_null());
	json_array_append_new(a->pids, json_integer(pid));
	if (json_is_number(v = json_object_get(info, "cpu")))
		a->cpu_sum += json_number_value(v);
	else
		a->cpu_na = true;
	if (json_is_number(v = json_object_get(info, "mem")))
		a->mem_sum += json_number_value(v);
	else
		a->mem_na = true;
	v = json_object_get(info, "age");
	if (json_number_value(v) > a->age_max)
		a->age_max = json_number_value(v);
	a->n++;
	snprintf(topic, sizeof topic, "stat.%s.%d", group, (int)pid);
	publish_send(st, topic, info);
	return true;
}

/* Publish a group's aggregate and reset it. */
static void
publish_agg(struct stats *st, const char *group, struct agg *a)
{
	json_t	*body;
	char	 topic[512];

	body = json_object();
	json_object_set_new(body, "pid", a->pids);
	json_object_set_new(body, "cpu", a->cpu_na ? json_string(PROCINFO_NA) :
	    json_real(a->n > 0 ? a->cpu_sum / (double)a->n : 0.0));
	json_object_set_new(body, "mem", a->mem_na ? json_string(PROCINFO_NA) :
	    json_real(procinfo_round(a->mem_sum, 3)));
	json_object_set_new(body, "age", json_real(a->age_max));
	snprintf(topic, sizeof topic, "stat.%s", group);
	publish_send(st, topic, body);
	memset(a, 0, sizeof *a);
}

/* Publish the sockets group from the last full window. */
static void
publish_sockets(struct stats *st)
{
	json_t	*addresses, *body;
	char	 topic[64];
	size_t	 i;
	unsigned total = 0;

	if (st->nsocks == 0)
		return;
	addresses = json_array();
	for (i = 0; i < st->nsocks; i++) {
		body = json_pack("{s:i, s:i, s:i, s:s}", "fd", st->socks[i].fd,
		    "subtopic", st->socks[i].fd, "reads",
		    (int)st->socks[i].last_reads, "address",
		    st->socks[i].address);
		snprintf(topic, sizeof topic, "stat.sockets.%d",
		    st->socks[i].fd);
		publish_send(st, topic, body);
		json_array_append_new(addresses,
		    json_string(st->socks[i].address));
		total += st->socks[i].last_reads;
	}
	body = json_object();
	json_object_set_new(body, "addresses", addresses);
	json_object_set_new(body, "reads", json_integer(total));
	publish_send(st, "stat.sockets", body);
}

/* One tick: every watcher with pids, circus, sockets. */
void
publish_tick(struct stats *st)
{
	struct procinfo_batch	*b;
	struct swatcher		*w;
	struct agg		 a;
	size_t			 i, j;

	b = procinfo_batch_new();
	memset(&a, 0, sizeof a);
	for (i = 0; i < st->nwatchers; i++) {
		w = st->watchers[i];
		if (w->npids == 0)
			continue;
		a.pids = json_array();
		for (j = 0; j < w->npids; j++)
			publish_pid(st, b, w->name, w->pids[j].pid,
			    &w->pids[j].sample, NULL, &a);
		publish_agg(st, w->name, &a);
	}
	a.pids = json_array();
	if (st->circusd_pid > 0)
		publish_pid(st, b, "circus", st->circusd_pid,
		    &st->circusd_sample, "circusd", &a);
	publish_pid(st, b, "circus", getpid(), &st->self_sample,
	    "circusd-stats", &a);
	publish_agg(st, "circus", &a);
	publish_sockets(st);
	procinfo_batch_free(b);
}

/* One zero-timeout poll of every socket. */
void
publish_poll_sockets(struct stats *st)
{
	struct pollfd	 pfd[64];
	size_t		 i, n;

	n = st->nsocks < nitems(pfd) ? st->nsocks : nitems(pfd);
	for (i = 0; i < n; i++) {
		pfd[i].fd = st->socks[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (n == 0 || poll(pfd, n, 0) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents & POLLIN)
			st->socks[i].reads++;
	}
}

/* Close the window: the counts become what is published. */
void
publish_sockets_window(struct stats *st)
{
	size_t	i;

	for (i = 0; i < st->nsocks; i++) {
		st->socks[i].last_reads = st->socks[i].reads;
		st->socks[i].reads = 0;
	}
}
