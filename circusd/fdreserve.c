/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running out of file descriptors must not take the supervisor down.
 * libzmq's ipc listener asserts (abort()) when accept4() fails with
 * EMFILE, and its tcp listener retries at once, forever, at 100% CPU. So
 * circusd provides the accept4() libzmq calls: on EMFILE/ENFILE it sheds
 * the pending connection with a spare descriptor kept for that purpose
 * (the client reconnects later) and reports EAGAIN, which every listener
 * treats as "nothing to accept". It runs in libzmq's I/O thread: it only
 * counts; the loop logs (fdreserve_report).
 */
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include "circusd.h"
#include "log.h"

static atomic_int	spare = -1;
static atomic_ulong	shed;
static unsigned long	shed_reported;

/* Take the spare descriptor (idempotent; after daemonize). */
void
fdreserve_init(void)
{
	int fd, expected = -1;

	if (atomic_load(&spare) != -1)
		return;
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if (!atomic_compare_exchange_strong(&spare, &expected, fd))
		close(fd);
}

/* Log what was shed since the last call (main loop). */
void
fdreserve_report(void)
{
	unsigned long n = atomic_load(&shed);

	if (n == shed_reported)
		return;
	log_errorx("control channel: too many open files: %lu new "
	    "connection(s) dropped (RLIMIT_NOFILE reached), clients will "
	    "retry", n - shed_reported);
	shed_reported = n;
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int s, r;

	s = (int)syscall(SYS_accept4, fd, addr, len, flags);
	if (s != -1 || (errno != EMFILE && errno != ENFILE))
		return s;
	r = atomic_exchange(&spare, -1);
	if (r != -1) {
		/* Free one slot, take the connection and drop it. */
		close(r);
		s = (int)syscall(SYS_accept4, fd, NULL, NULL, SOCK_CLOEXEC);
		if (s != -1)
			close(s);
		r = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (r != -1) {
			int expected = -1;

			if (!atomic_compare_exchange_strong(&spare, &expected,
			    r))
				close(r);
		}
	}
	atomic_fetch_add(&shed, 1);
	errno = EAGAIN;
	return -1;
}
