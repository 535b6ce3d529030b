/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/proctree.c: the descendants table fed with netlink
 * proc connector messages built here. */
#include <sys/types.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proctree.h"

#define ROOT 100

/* A buffer of messages, appended one event at a time. */
struct nlbuf {
	char	 data[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	size_t	 len;
};

/* Append one proc event. */
static void
put_event(struct nlbuf *b, const struct proc_event *ev)
{
	struct nlmsghdr	*nh = (struct nlmsghdr *)(void *)(b->data + b->len);
	struct cn_msg	*cn;

	memset(nh, 0, NLMSG_SPACE(sizeof *cn + sizeof *ev));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof *cn + sizeof *ev);
	nh->nlmsg_type = NLMSG_DONE;
	cn = NLMSG_DATA(nh);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof *ev;
	memcpy(cn->data, ev, sizeof *ev);
	b->len += NLMSG_SPACE(sizeof *cn + sizeof *ev);
}

/* A fork of parent's thread group: child_tid == child_tgid for a process. */
static void
put_fork(struct nlbuf *b, pid_t parent, pid_t child, pid_t child_tgid)
{
	struct proc_event ev;

	memset(&ev, 0, sizeof ev);
	ev.what = PROC_EVENT_FORK;
	ev.event_data.fork.parent_pid = parent;
	ev.event_data.fork.parent_tgid = parent;
	ev.event_data.fork.child_pid = child;
	ev.event_data.fork.child_tgid = child_tgid;
	put_event(b, &ev);
}

static void
put_exit(struct nlbuf *b, pid_t pid, pid_t tgid)
{
	struct proc_event ev;

	memset(&ev, 0, sizeof ev);
	ev.what = PROC_EVENT_EXIT;
	ev.event_data.exit.process_pid = pid;
	ev.event_data.exit.process_tgid = tgid;
	put_event(b, &ev);
}

/* The table as "pid<ppid pid<ppid ...". */
static char *
table(struct proctree *t)
{
	const struct proctree_link *l;
	static char out[512];
	size_t n, i, off = 0;

	l = proctree_links(t, &n);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, sizeof out - off, "%s%d<%d",
		    i ? " " : "", (int)l[i].pid, (int)l[i].ppid);
	return out;
}

/* Forks of the root and of its descendants are kept, others and threads
 * are not; exits remove; ready only once the root was seen forking. */
static void
test_descendants(void **state)
{
	struct proctree *t;
	struct nlbuf *b;

	(void)state;
	t = proctree_new(ROOT);
	b = calloc(1, sizeof *b);
	put_fork(b, 7, 8, 8);		/* unrelated */
	proctree_feed(t, b->data, b->len);
	assert_false(proctree_ready(t));
	assert_string_equal(table(t), "");

	b->len = 0;
	put_fork(b, ROOT, 300, 300);	/* a worker */
	put_fork(b, ROOT, 200, 200);	/* another */
	put_fork(b, 300, 301, 300);	/* a thread of the worker */
	put_fork(b, 300, 150, 150);	/* its child, lower pid (wrap) */
	put_fork(b, 150, 151, 151);	/* a grandchild */
	put_fork(b, 9, 10, 10);		/* unrelated */
	proctree_feed(t, b->data, b->len);
	assert_true(proctree_ready(t));
	assert_string_equal(table(t), "150<300 151<150 200<100 300<100");

	b->len = 0;
	put_exit(b, 301, 300);		/* a thread ends: nothing */
	put_exit(b, 150, 150);
	put_exit(b, 10, 10);
	proctree_feed(t, b->data, b->len);
	assert_string_equal(table(t), "151<150 200<100 300<100");
	free(b);
	proctree_free(t);
}

/* Lost events make it unready until reloaded from a full list. */
static void
test_lost_and_reload(void **state)
{
	static const struct proctree_link all[] = {
		{ 1, 0 }, { 50, 400 }, { 60, 1 }, { ROOT, 1 }, { 400, ROOT },
		{ 401, 400 }, { 500, 60 },
	};
	struct proctree *t;
	struct nlbuf *b;

	(void)state;
	t = proctree_new(ROOT);
	b = calloc(1, sizeof *b);
	put_fork(b, ROOT, 400, 400);
	proctree_feed(t, b->data, b->len);
	assert_true(proctree_ready(t));
	proctree_lost(t);
	assert_false(proctree_ready(t));
	proctree_reload(t, all, sizeof all / sizeof all[0]);
	assert_true(proctree_ready(t));
	assert_string_equal(table(t), "50<400 400<100 401<400");
	free(b);
	proctree_free(t);
}

/* Truncated or foreign messages are skipped. */
static void
test_garbage(void **state)
{
	struct proctree *t;
	struct nlbuf *b;

	(void)state;
	t = proctree_new(ROOT);
	b = calloc(1, sizeof *b);
	put_fork(b, ROOT, 400, 400);
	proctree_feed(t, b->data, b->len - 8);	/* cut short */
	proctree_feed(t, b->data, 3);
	memset(b->data, 0xff, 64);
	proctree_feed(t, b->data, 64);
	assert_string_equal(table(t), "");
	free(b);
	proctree_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descendants),
		cmocka_unit_test(test_lost_and_reload),
		cmocka_unit_test(test_garbage),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
