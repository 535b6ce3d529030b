/* SPDX-License-Identifier: Apache-2.0 */
/* Two-frame pub/sub messages off a SUB socket, without waiting. */
#include <stdlib.h>

#include <zmq.h>

#include "pubsub.h"
#include "xmalloc.h"

/* Drop the rest of a multi-frame message. */
static void
pubsub_skip(void *sub)
{
	zmq_msg_t	 m;
	int		 more = 0;
	size_t		 len = sizeof more;

	while (zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sub, 0) == -1) {
			zmq_msg_close(&m);
			return;
		}
		zmq_msg_close(&m);
	}
}

/* One (topic, body) message if one is waiting. */
int
pubsub_recv(void *sub, char **topic, char **body, size_t *len)
{
	zmq_msg_t	 t, b;
	int		 more, got;
	size_t		 ml;

	for (;;) {
		zmq_msg_init(&t);
		if (zmq_msg_recv(&t, sub, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&t);
			return -1;
		}
		more = 0;
		ml = sizeof more;
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
		zmq_msg_init(&b);
		got = more && zmq_msg_recv(&b, sub, 0) != -1;
		if (got) {
			*topic = xstrndup(zmq_msg_data(&t), zmq_msg_size(&t));
			*len = zmq_msg_size(&b);
			*body = xstrndup(zmq_msg_data(&b), *len);
		}
		zmq_msg_close(&b);
		zmq_msg_close(&t);
		pubsub_skip(sub);
		if (got)
			return 0;
	}
}
