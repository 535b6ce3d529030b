/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only publisher: the PUB socket on the pubsub endpoint (bound, handed
 * over at a full restart and closed here) and its two-frame events
 * "watcher.<name>.<event>" + JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <zmq.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

/* A subscriber descheduled for a second must not lose events of a busy
 * daemon (1000, ZeroMQ's default, is half a second of churn); still
 * bounded: one that stops reading costs at most this many. */
#define EVENTS_PUB_HWM	100000

/* Bind the PUB socket unless a shares the pubsub endpoint with old (a
 * full restart keeps it: subscribers stay connected); old NULL: bind it
 * if not bound yet. */
int
events_bind(struct arbiter *a, const struct arbiter *old, char **cause)
{
	const char *ep = a->cfg->circus.pubsub_endpoint;
	zsock_t *pub;

	if (a->pub != NULL || (old != NULL && old->pub != NULL &&
	    strcmp(ep, old->cfg->circus.pubsub_endpoint) == 0))
		return 0;
	pub = zsock_new(ZMQ_PUB);
	if (pub == NULL) {
		*cause = xstrdup("cannot create the pub/sub socket");
		return -1;
	}
	zsock_set_linger(pub, 0);
	zsock_set_sndhwm(pub, EVENTS_PUB_HWM);
	if (endpoint_bind(a, old, pub, "pubsub_endpoint", ep, cause) == -1) {
		zsock_destroy(&pub);
		return -1;
	}
	a->pub = pub;
	a->pub_raw = zsock_resolve(pub);
	a->pub_ino = endpoint_ipc_ino(ep);
	return 0;
}

/* Take over old's PUB if next did not bind its own endpoint. */
void
events_handover(struct arbiter *old, struct arbiter *next)
{
	if (next->pub != NULL || old->pub == NULL)
		return;
	next->pub = old->pub;
	next->pub_raw = old->pub_raw;
	next->pub_ino = old->pub_ino;
	old->pub = old->pub_raw = NULL;
}

/* Close the PUB socket, once the final events are sent. */
void
events_close(struct arbiter *a)
{
	zsock_t *s;

	if (a->pub == NULL)
		return;
	s = a->pub;
	/* final stop events reach subscribers (doc/design.md §15) */
	zsock_set_linger(s, 1000);
	zsock_destroy(&s);
	a->pub = NULL;
	a->pub_raw = NULL;
	endpoint_ipc_unlink(a->cfg->circus.pubsub_endpoint, a->pub_ino);
}

/* zmq_send, again when a signal (SIGCHLD, every death) interrupts it:
 * ZeroMQ then returns EINTR and the frame was not sent. */
static int
events_send(void *sock, const char *buf, size_t len, int flags)
{
	int rc;

	do
		rc = zmq_send(sock, buf, len, flags);
	while (rc == -1 && errno == EINTR);
	return rc;
}

/* Publish one event; body is stolen. */
void
events_publish(struct arbiter *a, struct watcher *w, const char *event,
    json_t *body)
{
	char *topic, *text;

	if (a->pub_raw == NULL || body == NULL) {
		json_decref(body);
		return;
	}
	topic = xprintf("watcher.%s.%s", w->topic, event);
	text = pyjson_dumps(body);
	if (events_send(a->pub_raw, topic, strlen(topic), ZMQ_SNDMORE) == -1 ||
	    events_send(a->pub_raw, text, strlen(text), 0) == -1)
		log_debug("publish %s failed: %s", topic, zmq_strerror(errno));
	free(topic);
	free(text);
	json_decref(body);
}

/* Publish {"process_pid": pid, "time": when}. */
void
events_pid(struct arbiter *a, struct watcher *w, const char *event, pid_t pid,
    double when)
{
	events_publish(a, w, event,
	    json_pack("{s:i, s:f}", "process_pid", (int)pid, "time", when));
}
