/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Descendants of a root process from the netlink proc connector: a FORK
 * whose parent is the root or a known descendant adds the child, an EXIT
 * removes it. Threads are ignored. The table is a pid-sorted array.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctree.h"
#include "xmalloc.h"

#define PROCTREE_RCVBUF	(4 << 20)

struct proctree {
	int			 fd;
	pid_t			 root;
	bool			 seen_root_fork;
	bool			 lost;
	struct proctree_link	*links;		/* sorted by pid */
	size_t			 n;
	size_t			 cap;
};

static int	 proctree_listen(int);
static ssize_t	 proctree_find(const struct proctree *, pid_t);
static void	 proctree_add(struct proctree *, pid_t, pid_t);
static void	 proctree_del(struct proctree *, pid_t);
static void	 proctree_event(struct proctree *, const struct proc_event *);

/* Ask the kernel to multicast process events to fd. */
static int
proctree_listen(int fd)
{
	char			 buf[NLMSG_SPACE(sizeof(struct cn_msg) +
				     sizeof(enum proc_cn_mcast_op))];
	struct nlmsghdr		*nh = (struct nlmsghdr *)(void *)buf;
	struct cn_msg		*cn;
	enum proc_cn_mcast_op	 op = PROC_CN_MCAST_LISTEN;

	memset(buf, 0, sizeof buf);
	nh->nlmsg_len = NLMSG_LENGTH(sizeof *cn + sizeof op);
	nh->nlmsg_type = NLMSG_DONE;
	nh->nlmsg_pid = 0;
	cn = NLMSG_DATA(nh);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof op;
	memcpy(cn->data, &op, sizeof op);
	return send(fd, buf, nh->nlmsg_len, 0) == (ssize_t)nh->nlmsg_len ?
	    0 : -1;
}

/* Open the connector socket. */
struct proctree *
proctree_open(pid_t root, char **cause)
{
	struct proctree		*t;
	struct sockaddr_nl	 sa;
	int			 fd, size = PROCTREE_RCVBUF;

	fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_CONNECTOR);
	if (fd == -1) {
		*cause = xprintf("proc connector: %s", strerror(errno));
		return NULL;
	}
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    proctree_listen(fd) == -1) {
		*cause = xprintf("proc connector: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
	    sizeof size) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	t = proctree_new(root);
	t->fd = fd;
	return t;
}

/* An empty table without a socket (events come from proctree_feed). */
struct proctree *
proctree_new(pid_t root)
{
	struct proctree	*t;

	t = xcalloc(1, sizeof *t);
	t->fd = -1;
	t->root = root;
	return t;
}

/* Close and free. */
void
proctree_free(struct proctree *t)
{
	if (t == NULL)
		return;
	if (t->fd != -1)
		close(t->fd);
	free(t->links);
	free(t);
}

/* Index of pid in the table, or -1. */
static ssize_t
proctree_find(const struct proctree *t, pid_t pid)
{
	size_t	lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->links[mid].pid < pid)
			lo = mid + 1;
		else if (t->links[mid].pid > pid)
			hi = mid;
		else
			return (ssize_t)mid;
	}
	return -1;
}

/* Insert or update pid's parent. */
static void
proctree_add(struct proctree *t, pid_t pid, pid_t ppid)
{
	size_t	i;
	ssize_t	at;

	if ((at = proctree_find(t, pid)) != -1) {
		t->links[at].ppid = ppid;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->links = xreallocarray(t->links, t->cap, sizeof *t->links);
	}
	for (i = t->n; i > 0 && t->links[i - 1].pid > pid; i--)
		t->links[i] = t->links[i - 1];
	t->links[i].pid = pid;
	t->links[i].ppid = ppid;
	t->n++;
}

/* Remove pid if present. */
static void
proctree_del(struct proctree *t, pid_t pid)
{
	ssize_t	at;

	if ((at = proctree_find(t, pid)) == -1)
		return;
	memmove(&t->links[at], &t->links[at + 1],
	    (t->n - (size_t)at - 1) * sizeof *t->links);
	t->n--;
}

/* One event: forks of processes (not threads) and their exits. */
static void
proctree_event(struct proctree *t, const struct proc_event *ev)
{
	pid_t	parent, child;

	switch (ev->what) {
	case PROC_EVENT_FORK:
		child = ev->event_data.fork.child_pid;
		if (child != ev->event_data.fork.child_tgid)
			return;	/* a new thread */
		parent = ev->event_data.fork.parent_tgid;
		if (parent == t->root) {
			t->seen_root_fork = true;
			proctree_add(t, child, parent);
		} else if (proctree_find(t, parent) != -1)
			proctree_add(t, child, parent);
		break;
	case PROC_EVENT_EXIT:
		if (ev->event_data.exit.process_pid ==
		    ev->event_data.exit.process_tgid)
			proctree_del(t, ev->event_data.exit.process_pid);
		break;
	default:
		break;
	}
}

/* Apply a buffer of netlink messages. */
void
proctree_feed(struct proctree *t, const void *buf, size_t len)
{
	const struct nlmsghdr	*nh = buf;
	const struct cn_msg	*cn;
	struct proc_event	 ev;
	int			 left = (int)len;

	for (; NLMSG_OK(nh, (unsigned)left); nh = NLMSG_NEXT(nh, left)) {
		if (nh->nlmsg_type == NLMSG_ERROR ||
		    nh->nlmsg_type == NLMSG_NOOP)
			continue;
		cn = NLMSG_DATA(nh);
		if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
		    cn->len < sizeof ev - sizeof ev.event_data)
			continue;
		memset(&ev, 0, sizeof ev);
		memcpy(&ev, cn->data, cn->len < sizeof ev ? cn->len :
		    sizeof ev);
		proctree_event(t, &ev);
	}
}

/* Read every pending event. */
void
proctree_drain(struct proctree *t)
{
	while (!proctree_drain_some(t, SIZE_MAX))
		;
}

/* Read at most max messages: true when none is left. */
bool
proctree_drain_some(struct proctree *t, size_t max)
{
	char	 buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t	 n;

	while (t->fd != -1) {
		if (max-- == 0)
			return false;
		n = recv(t->fd, buf, sizeof buf, 0);
		if (n > 0) {
			proctree_feed(t, buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == ENOBUFS) {
			proctree_lost(t);
			continue;
		}
		return true;
	}
	return true;
}

/* Events were lost: the table cannot be trusted until reloaded. */
void
proctree_lost(struct proctree *t)
{
	t->lost = true;
}

/* Complete and trustworthy. */
bool
proctree_ready(const struct proctree *t)
{
	return t != NULL && t->seen_root_fork && !t->lost;
}

/* The table. */
const struct proctree_link *
proctree_links(const struct proctree *t, size_t *n)
{
	*n = t->n;
	return t->links;
}

/* Descendants of the root from a full pid-sorted (pid, ppid) list. */
void
proctree_reload(struct proctree *t, const struct proctree_link *all,
    size_t n)
{
	bool	added = true;
	size_t	i;

	t->n = 0;
	/* Parents may have higher pids than children (pid wrap): repeat
	 * until a pass adds nothing; trees are shallow. */
	while (added) {
		added = false;
		for (i = 0; i < n; i++) {
			if (proctree_find(t, all[i].pid) != -1)
				continue;
			if (all[i].ppid == t->root ||
			    proctree_find(t, all[i].ppid) != -1) {
				proctree_add(t, all[i].pid, all[i].ppid);
				added = true;
			}
		}
	}
	t->lost = false;
}
