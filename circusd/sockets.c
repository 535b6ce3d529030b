/* SPDX-License-Identifier: Apache-2.0 */
/*
 * [socket:*] in the daemon: created close-on-exec (children that use
 * sockets get them by clearing the flag after fork), bound and listening
 * before any watcher starts, reported by listsockets.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Wrap a socket config (ownership passes). Each one is numbered in
 * the order they are created (by name at start-up, then reloadconfig's
 * additions): the order of Circus's file descriptors. */
struct csocket *
csocket_new(struct socket_cfg *cfg)
{
	static unsigned long seq;
	struct csocket *s = xcalloc(1, sizeof *s);

	s->cfg = cfg;
	s->fd = -1;
	s->seq = ++seq;
	return s;
}

/* Resolve host/port into an address of the socket's family. */
static int
csocket_resolve(struct csocket *s, struct sockaddr_storage *ss,
    socklen_t *len, char **cause)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = s->cfg->type;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof port, "%d", s->cfg->port);
	rc = getaddrinfo(s->cfg->host, port, &hints, &res);
	if (rc != 0) {
		*cause = xprintf("socket '%s': cannot resolve %s: %s",
		    s->cfg->name, s->cfg->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET ||
		    (ai->ai_family == AF_INET6 && s->cfg->family == AF_INET6)) {
			memcpy(ss, ai->ai_addr, ai->ai_addrlen);
			*len = ai->ai_addrlen;
			freeaddrinfo(res);
			return 0;
		}
	}
	freeaddrinfo(res);
	*cause = xprintf("socket '%s': no usable address for %s", s->cfg->name,
	    s->cfg->host);
	return -1;
}

/* Create, bind and listen one fd for this socket's config. */
static int
csocket_open(struct csocket *s, bool reuseport, char **cause)
{
	struct socket_cfg *c = s->cfg;
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len = 0;
	mode_t old;
	int fd, one = 1, family = c->family, rc;

	memset(&ss, 0, sizeof ss);
	if (c->path != NULL) {
		family = AF_UNIX;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(c->path) >= sizeof sun.sun_path) {
			*cause = xprintf("socket '%s': path too long: %s",
			    c->name, c->path);
			return -1;
		}
		strlcpy(sun.sun_path, c->path, sizeof sun.sun_path);
		if (access(c->path, F_OK) == 0) {
			if (!c->replace) {
				*cause = xprintf("socket '%s': '%s' already "
				    "exists. You might want to remove it. If "
				    "it's a stalled socket file, just restart "
				    "Circus", c->name, c->path);
				return -1;
			}
			unlink(c->path);
		}
		memcpy(&ss, &sun, sizeof sun);
		len = sizeof sun;
	} else if (csocket_resolve(s, &ss, &len, cause) == -1)
		return -1;
	else
		family = ss.ss_family;
	fd = socket(family, c->type | SOCK_CLOEXEC, c->proto);
	if (fd == -1) {
		*cause = xprintf("socket '%s': socket: %s", c->name,
		    strerror(errno));
		return -1;
	}
	if (family != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (c->so_reuseport || reuseport)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
			    sizeof one);
	}
	if (c->interface != NULL && setsockopt(fd, SOL_SOCKET,
	    SO_BINDTODEVICE, c->interface, strlen(c->interface)) == -1) {
		*cause = xprintf("socket '%s': interface %s: %s", c->name,
		    c->interface, strerror(errno));
		close(fd);
		return -1;
	}
	if (family == AF_UNIX) {
		old = umask((mode_t)c->umask);
		rc = bind(fd, (struct sockaddr *)&ss, len);
		umask(old);
	} else
		rc = bind(fd, (struct sockaddr *)&ss, len);
	if (rc == -1) {
		if (c->path != NULL)
			*cause = xprintf("socket '%s': Could not bind %s: %s",
			    c->name, c->path, strerror(errno));
		else
			*cause = xprintf("socket '%s': Could not bind %s:%d: "
			    "[Errno %d] %s", c->name, c->host, c->port, errno,
			    strerror(errno));
		close(fd);
		return -1;
	}
	if (!c->blocking)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if ((c->type == SOCK_STREAM || c->type == SOCK_SEQPACKET) &&
	    listen(fd, c->backlog) == -1) {
		*cause = xprintf("socket '%s': listen: %s", c->name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind and listen the master socket (so_reuseport masters stay unbound). */
int
csocket_bind(struct csocket *s, char **cause)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[NI_MAXHOST];

	if (s->fd != -1)	/* adopted by a full restart */
		return 0;
	if (s->cfg->so_reuseport) {
		free(s->bound_host);
		s->bound_host = xstrdup(s->cfg->host);
		s->bound_port = s->cfg->port;
		return 0;
	}
	s->fd = csocket_open(s, false, cause);
	if (s->fd == -1)
		return -1;
	free(s->bound_host);
	s->bound_host = NULL;
	if (s->cfg->path == NULL &&
	    getsockname(s->fd, (struct sockaddr *)&ss, &len) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0,
	    NI_NUMERICHOST) == 0) {
		s->bound_host = xstrdup(host);
		s->bound_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	}
	return 0;
}

/* True when both configs name the same address (a restart keeps its fd). */
bool
csocket_same_address(const struct socket_cfg *a, const struct socket_cfg *b)
{
	return (a->port == b->port && a->family == b->family &&
	    a->type == b->type && a->proto == b->proto &&
	    a->so_reuseport == b->so_reuseport &&
	    (a->host == NULL) == (b->host == NULL) &&
	    (a->host == NULL || strcmp(a->host, b->host) == 0) &&
	    (a->path == NULL) == (b->path == NULL) &&
	    (a->path == NULL || strcmp(a->path, b->path) == 0) &&
	    (a->interface == NULL) == (b->interface == NULL) &&
	    (a->interface == NULL || strcmp(a->interface, b->interface) == 0));
}

/* Take over old's bound fd (restart); listen again with s's backlog and
 * blocking mode, the only options that can change on a bound socket. */
void
csocket_adopt(struct csocket *s, struct csocket *old)
{
	int fl;

	ev_io_stop(EV_DEFAULT, &old->ondemand_w);
	s->fd = old->fd;
	old->fd = -1;
	free(s->bound_host);
	s->bound_host = old->bound_host;
	old->bound_host = NULL;
	s->bound_port = old->bound_port;
	fl = fcntl(s->fd, F_GETFL);
	if (fl != -1)
		(void)fcntl(s->fd, F_SETFL, s->cfg->blocking ? fl & ~O_NONBLOCK :
		    fl | O_NONBLOCK);
	if (s->cfg->type == SOCK_STREAM || s->cfg->type == SOCK_SEQPACKET)
		(void)listen(s->fd, s->cfg->backlog);
}

/* A fresh per-process socket for so_reuseport. */
int
csocket_bind_reuseport(struct csocket *s, char **cause)
{
	return csocket_open(s, true, cause);
}

/* Close the socket and unlink a unix path. */
void
csocket_close(struct csocket *s)
{
	if (s->fd != -1) {
		ev_io_stop(EV_DEFAULT, &s->ondemand_w);
		close(s->fd);
		s->fd = -1;
		if (s->cfg->path != NULL)
			unlink(s->cfg->path);
	}
}

/* Close and free. */
void
csocket_free(struct csocket *s)
{
	if (s == NULL)
		return;
	csocket_close(s);
	free(s->bound_host);
	socket_cfg_free(s->cfg);
	free(s);
}

/* Find a socket of the arbiter by name (any case). */
struct csocket *
csocket_find(struct arbiter *a, const char *name)
{
	struct csocket *s;

	TAILQ_FOREACH(s, &a->sockets, entry)
		if (strcasecmp(s->cfg->name, name) == 0)
			return s;
	return NULL;
}

/* listsockets item. */
json_t *
csocket_json(const struct csocket *s)
{
	if (s->cfg->path != NULL)
		return json_pack("{s:i, s:s, s:i, s:s}", "fd", s->fd, "name",
		    s->cfg->name, "backlog", s->cfg->backlog, "path",
		    s->cfg->path);
	return json_pack("{s:i, s:s, s:i, s:s, s:i}", "fd", s->fd, "name",
	    s->cfg->name, "backlog", s->cfg->backlog, "host",
	    s->bound_host != NULL ? s->bound_host : s->cfg->host, "port",
	    s->bound_port);
}
