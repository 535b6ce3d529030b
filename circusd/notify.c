/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The readiness channel (doc/design.md §18): one AF_UNIX datagram socket
 * per daemon, opened with the arbiter, given to workers
 * as NOTIFY_SOCKET the way systemd does (sd_notify(3)). The address is
 * abstract ("@circusd-<pid>-<random>"), so nothing is left on disk. The
 * sender is identified by the kernel (SCM_CREDENTIALS), never by what the
 * message says: the arbiter's callback drops a datagram from a pid that
 * is not one of our processes, so no other local process can mark a
 * worker ready. A leaf: it knows nothing of processes or watchers.
 *
 * Lines understood: READY=1, STOPPING=1, STATUS=..., WATCHDOG=1,
 * WATCHDOG=trigger. Others (MAINPID=, FDSTORE=, ...) are ignored, and
 * passed fds are closed at once.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Datagrams read per wakeup before the loop gets control back. */
#define NOTIFY_BATCH	64
/* A datagram larger than this is truncated (and its STATUS cut). */
#define NOTIFY_MSG_MAX	4096

struct notify {
	int		 fd;
	ev_io		 io;
	char		 addr[64];	/* as given in NOTIFY_SOCKET, "@..." */
	notify_cb	 cb;
	void		*ctx;
};

/* Parse one datagram's lines and hand them to the callback. */
static void
notify_apply(struct notify *n, pid_t sender, char *msg)
{
	struct notify_msg m;
	char *line, *next;

	memset(&m, 0, sizeof m);
	for (line = msg; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "READY=1") == 0)
			m.ready = true;
		else if (strcmp(line, "STOPPING=1") == 0)
			m.stopping = true;
		else if (strcmp(line, "WATCHDOG=1") == 0)
			m.watchdog = true;
		else if (strcmp(line, "WATCHDOG=trigger") == 0)
			m.watchdog_trigger = true;
		else if (strncmp(line, "STATUS=", 7) == 0)
			m.status = line + 7;
	}
	n->cb(n->ctx, sender, &m);
}

/* Close every fd a datagram carried (FDSTORE=1 is not supported). */
static void
notify_close_fds(struct msghdr *mh, pid_t *sender)
{
	struct cmsghdr *c;
	struct ucred cred;
	size_t i, n;
	int *fds;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof cred)) {
			memcpy(&cred, CMSG_DATA(c), sizeof cred);
			*sender = cred.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			fds = (int *)(void *)CMSG_DATA(c);
			for (i = 0; i < n; i++)
				close(fds[i]);
		}
	}
}

/* Read what is queued (a bounded batch), one datagram at a time. */
static void
notify_read_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	struct notify *nt = io->data;
	char buf[NOTIFY_MSG_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;
	pid_t sender;
	int i;

	for (i = 0; i < NOTIFY_BATCH; i++) {
		iov.iov_base = buf;
		iov.iov_len = sizeof buf - 1;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = &control;
		mh.msg_controllen = sizeof control;
		n = recvmsg(nt->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("notify socket: recvmsg");
			return;
		}
		sender = 0;
		notify_close_fds(&mh, &sender);
		buf[n] = '\0';
		if (sender <= 0) {
			log_debug("notify: dropped a message without "
			    "credentials");
			continue;
		}
		notify_apply(nt, sender, buf);
	}
}

/* Open the socket; messages go to cb(ctx, sender pid, message). */
struct notify *
notify_open(struct ev_loop *loop, notify_cb cb, void *ctx, char **cause)
{
	struct sockaddr_un sun;
	struct notify *n;
	socklen_t len;
	int fd, on = 1;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		*cause = xprintf("notify socket: %s", strerror(errno));
		return NULL;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1) {
		*cause = xprintf("notify socket: SO_PASSCRED: %s",
		    strerror(errno));
		close(fd);
		return NULL;
	}
	n = xcalloc(1, sizeof *n);
	snprintf(n->addr, sizeof n->addr, "@circusd-%d-%08x", (int)getpid(),
	    arc4random());
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	/* abstract: a leading NUL, then the name without the '@' */
	memcpy(sun.sun_path + 1, n->addr + 1, strlen(n->addr) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(n->addr));
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		*cause = xprintf("notify socket %s: bind: %s", n->addr,
		    strerror(errno));
		close(fd);
		free(n);
		return NULL;
	}
	n->fd = fd;
	n->cb = cb;
	n->ctx = ctx;
	ev_io_init(&n->io, notify_read_cb, fd, EV_READ);
	n->io.data = n;
	ev_io_start(loop, &n->io);
	log_debug("notify socket at %s", n->addr);
	return n;
}

/* The NOTIFY_SOCKET value. */
const char *
notify_address(const struct notify *n)
{
	return n->addr;
}

/* Close the socket and free. */
void
notify_free(struct ev_loop *loop, struct notify *n)
{
	if (n == NULL)
		return;
	ev_io_stop(loop, &n->io);
	close(n->fd);
	free(n);
}
