/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multicast discovery (doc/design.md §17.8): answer any datagram on the
 * multicast port with {"endpoint": "<control endpoint>"}, plus (ours, for
 * `circusctl --discover`) "pubsub_endpoint" and, when CURVE is on, the
 * server's "curve_public_key". Any error only disables discovery, with
 * Circus's warning.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

/* A datagram arrived: answer it with our endpoint. */
static void
discovery_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	struct arbiter *a = io->data;
	struct sockaddr_storage from;
	socklen_t len;
	char buf[1024], *reply;
	json_t *o;
	int i;

	for (i = 0; i < 64; i++) {
		len = sizeof from;
		if (recvfrom(a->mcast_fd, buf, sizeof buf, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &len) == -1)
			return;
		o = json_pack("{s:s,s:s}", "endpoint", a->cfg->circus.endpoint,
		    "pubsub_endpoint", a->cfg->circus.pubsub_endpoint);
		if (auth_public_key(a) != NULL)
			json_object_set_new(o, "curve_public_key",
			    json_string(auth_public_key(a)));
		reply = pyjson_dumps(o);
		json_decref(o);
		(void)sendto(a->mcast_fd, reply, strlen(reply), MSG_DONTWAIT,
		    (struct sockaddr *)&from, len);
		free(reply);
	}
}

/* Parse udp://A.B.C.D:PORT with a multicast group; -1 if not one. */
static int
discovery_parse(const char *url, struct in_addr *group, int *port)
{
	char host[64];
	const char *colon;
	size_t n;

	if (strncmp(url, "udp://", 6) != 0)
		return -1;
	url += 6;
	if ((colon = strrchr(url, ':')) == NULL)
		return -1;
	n = (size_t)(colon - url);
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, url, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, group) != 1)
		return -1;
	if ((ntohl(group->s_addr) >> 28) != 0xe)	/* 224-239 */
		return -1;
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536 ? 0 : -1;
}

/* Open discovery if configured; never fatal. */
void
discovery_open(struct arbiter *a)
{
	const char *url = a->cfg->circus.multicast_endpoint;
	struct sockaddr_in sin;
	struct ip_mreq mreq;
	struct in_addr group;
	int fd, one = 1, ttl = 255, port;

	if (url == NULL || url[0] == '\0')
		return;
	if (a->mcast_fd != -1)	/* handed over by a full restart */
		goto watch;
	if (discovery_parse(url, &group, &port) == -1)
		goto fail;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	memset(&mreq, 0, sizeof mreq);
	mreq.imr_multiaddr = group;
	mreq.imr_interface.s_addr = htonl(INADDR_ANY);
	/* joining can fail without a multicast route; answering still works */
	(void)setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		goto fail;
	}
	a->mcast_fd = fd;
watch:
	ev_io_init(&a->mcast_w, discovery_cb, a->mcast_fd, EV_READ);
	a->mcast_w.data = a;
	ev_io_start(a->loop, &a->mcast_w);
	return;
fail:
	log_warnx("Multicast discovery is disabled, there was an error during "
	    "udp socket creation.");
}

/* Close discovery. */
void
discovery_close(struct arbiter *a)
{
	if (a->mcast_fd == -1)
		return;
	ev_io_stop(a->loop, &a->mcast_w);
	close(a->mcast_fd);
	a->mcast_fd = -1;
}

/* Move old's discovery socket to next when both use the same address. */
void
discovery_handover(struct arbiter *old, struct arbiter *next)
{
	const char *u = old->cfg->circus.multicast_endpoint;
	const char *v = next->cfg->circus.multicast_endpoint;

	if (old->mcast_fd == -1 || next->mcast_fd != -1 || u == NULL ||
	    v == NULL || strcmp(u, v) != 0)
		return;
	ev_io_stop(old->loop, &old->mcast_w);
	next->mcast_fd = old->mcast_fd;
	old->mcast_fd = -1;
}
