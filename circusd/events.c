/* SPDX-License-Identifier: Apache-2.0 */
/* The only publisher: two-frame events "watcher.<name>.<event>" + JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

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
