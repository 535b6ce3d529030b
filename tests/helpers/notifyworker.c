/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small worker that speaks the readiness protocol (sd_notify: datagrams
 * "READY=1", "STATUS=...", "STOPPING=1", "WATCHDOG=1" to $NOTIFY_SOCKET)
 * and socket activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES: sockets
 * from fd 3 on), for the e2e tests (doc/design.md; doc/workers.md is the
 * contract it follows). Self-contained: built alone by the Makefile's
 * tests/helpers rule into $(BUILD)/helpers/notifyworker.
 *
 *   --ready-after SECONDS    send READY=1 after that delay (default 0)
 *   --never-ready            never send READY=1
 *   --exit-at-start CODE     exit at once with CODE (after --stderr)
 *   --stderr TEXT            write TEXT and a newline to stderr at start
 *   --status TEXT            send STATUS=TEXT at start
 *   --watchdog               send WATCHDOG=1 every $WATCHDOG_USEC / 2
 *   --stop-pinging-after S   stop the WATCHDOG=1 pings after S seconds
 *   --listen-report FILE     append one JSON line describing LISTEN_*
 *   --serve                  answer HTTP/1.0 requests with "<pid>\n" on
 *                            the LISTEN_FDS sockets (or the --fd ones)
 *   --fd N                   serve on fd N (repeatable)
 *   --delay-ms N             wait N ms before each answer
 *
 * SIGTERM: send STOPPING=1, close the listening fds, finish the requests
 * already accepted, exit 0.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN	64
#define MAX_CONN	64
#define REQ_MAX		4096

enum conn_state { C_FREE, C_READ, C_WAIT, C_WRITE };

struct conn {
	enum conn_state	 state;
	int		 fd;
	char		 req[REQ_MAX];
	size_t		 reqlen;
	char		 out[128];
	size_t		 outlen, outoff;
	long		 due;		/* C_WAIT: answer at this time (ms) */
};

static struct {
	double		 ready_after;
	bool		 never_ready;
	bool		 exit_at_start;
	int		 exit_code;
	const char	*stderr_text;
	const char	*status;
	bool		 watchdog;
	double		 stop_pinging_after;	/* < 0 = never */
	const char	*listen_report;
	bool		 serve;
	int		 fds[MAX_LISTEN];
	int		 nfds;
	long		 delay_ms;
} opt = { .stop_pinging_after = -1 };

static int		 sigpipe_fd[2] = { -1, -1 };
static int		 listen_fds[MAX_LISTEN];
static int		 nlisten;
static struct conn	 conns[MAX_CONN];

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "notifyworker: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long
parse_long(const char *name, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die("%s: not an integer in [%ld, %ld]: '%s'", name, min, max,
		    s);
	return v;
}

static double
parse_seconds(const char *name, const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e6)
		die("%s: not a number of seconds: '%s'", name, s);
	return v;
}

/* An environment variable as a non-negative int, or -1 if unset/bad. */
static long
env_long(const char *name)
{
	const char	*s = getenv(name);
	char		*end;
	long		 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	return v;
}

/* ------------------------------------------------------------------ */
/* sd_notify */

static void
notify(const char *msg)
{
	const char		*addr = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 n;
	int			 s;

	if (addr == NULL || addr[0] == '\0')
		return;
	n = strlen(addr);
	if (n >= sizeof sun.sun_path || (addr[0] != '@' && addr[0] != '/'))
		die("NOTIFY_SOCKET: not an abstract or absolute address: '%s'",
		    addr);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, addr, n);
	if (addr[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		    1);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s == -1)
		die("socket: %s", strerror(errno));
	if (sendto(s, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len) == -1)
		fprintf(stderr, "notifyworker: send '%s' to %s: %s\n", msg,
		    addr, strerror(errno));
	close(s);
}

/* ------------------------------------------------------------------ */
/* --listen-report */

static void
json_string(FILE *f, const char *s, size_t n)
{
	size_t	i;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
report_fd(FILE *f, int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	const char		*family = "other";
	int			 port = -1;

	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		family = "none";
	else if (ss.ss_family == AF_INET) {
		family = "inet";
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		family = "inet6";
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else if (ss.ss_family == AF_UNIX)
		family = "unix";
	fprintf(f, "{\"fd\":%d,\"family\":\"%s\"", fd, family);
	if (port >= 0)
		fprintf(f, ",\"port\":%d", port);
	fputc('}', f);
}

static void
listen_report(const char *path)
{
	const char	*names = getenv("LISTEN_FDNAMES");
	const char	*p, *colon;
	char		*buf;
	size_t		 size;
	FILE		*f;
	long		 lpid = env_long("LISTEN_PID");
	long		 lfds = env_long("LISTEN_FDS");
	long		 i;
	int		 fd;

	if ((f = open_memstream(&buf, &size)) == NULL)
		die("open_memstream: %s", strerror(errno));
	fprintf(f, "{\"pid\":%ld,\"listen_pid\":", (long)getpid());
	if (lpid >= 0)
		fprintf(f, "%ld", lpid);
	else
		fputs("null", f);
	fputs(",\"listen_fds\":", f);
	if (lfds >= 0)
		fprintf(f, "%ld", lfds);
	else
		fputs("null", f);
	fputs(",\"names\":[", f);
	if (names != NULL) {
		for (p = names;; p = colon + 1) {
			colon = strchr(p, ':');
			if (p != names)
				fputc(',', f);
			json_string(f, p, colon ? (size_t)(colon - p) :
			    strlen(p));
			if (colon == NULL)
				break;
		}
	}
	fputs("],\"fds\":[", f);
	for (i = 0; lfds > 0 && i < lfds && i < 1024; i++) {
		if (i > 0)
			fputc(',', f);
		report_fd(f, 3 + (int)i);
	}
	fputs("]}\n", f);
	fclose(f);
	/* one write with O_APPEND: lines of several workers never mix */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		die("%s: %s", path, strerror(errno));
	if (write(fd, buf, size) != (ssize_t)size)
		die("%s: short write", path);
	close(fd);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* --serve */

static void
conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

static void
accept_one(int lfd)
{
	struct conn	*c = NULL;
	int		 fd, i;

	for (i = 0; i < MAX_CONN; i++)
		if (conns[i].state == C_FREE) {
			c = &conns[i];
			break;
		}
	if (c == NULL)
		return;		/* full: leave it in the backlog */
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	c->fd = fd;
	c->state = C_READ;
	c->reqlen = 0;
}

/* The request's head is complete: an empty line ends it. */
static bool
request_done(const struct conn *c)
{
	return memmem(c->req, c->reqlen, "\r\n\r\n", 4) != NULL ||
	    memmem(c->req, c->reqlen, "\n\n", 2) != NULL;
}

static void
conn_answer(struct conn *c)
{
	char	body[32];
	int	n;

	n = snprintf(body, sizeof body, "%ld\n", (long)getpid());
	c->outlen = (size_t)snprintf(c->out, sizeof c->out,
	    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
	c->outoff = 0;
	c->state = C_WRITE;
}

static void
conn_read(struct conn *c)
{
	ssize_t	n;

	n = read(c->fd, c->req + c->reqlen, sizeof c->req - c->reqlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->reqlen += (size_t)n;
	if (!request_done(c) && c->reqlen < sizeof c->req)
		return;
	if (opt.delay_ms > 0) {
		c->state = C_WAIT;
		c->due = now_ms() + opt.delay_ms;
	} else
		conn_answer(c);
}

static void
conn_write(struct conn *c)
{
	ssize_t	n;

	n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
	    MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->outlen) {
		shutdown(c->fd, SHUT_WR);
		conn_close(c);
	}
}

static int
conns_busy(void)
{
	int	i, n = 0;

	for (i = 0; i < MAX_CONN; i++)
		if (conns[i].state != C_FREE)
			n++;
	return n;
}

/* ------------------------------------------------------------------ */

static void
on_term(int sig)
{
	int	save = errno;

	(void)sig;
	if (write(sigpipe_fd[1], "T", 1) == -1) {
		/* the pipe is full: a stop is pending already */
	}
	errno = save;
}

static void
setup_listen(void)
{
	long	lpid, lfds, i;
	int	fl;

	if (opt.nfds > 0) {
		for (i = 0; i < opt.nfds; i++)
			listen_fds[nlisten++] = opt.fds[i];
	} else {
		lpid = env_long("LISTEN_PID");
		lfds = env_long("LISTEN_FDS");
		if (lpid != (long)getpid())
			die("--serve: LISTEN_PID is %s, not this pid %ld "
			    "(and no --fd)", getenv("LISTEN_PID") ?
			    getenv("LISTEN_PID") : "unset", (long)getpid());
		if (lfds <= 0 || lfds > MAX_LISTEN)
			die("--serve: LISTEN_FDS is %s (want 1..%d)",
			    getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") :
			    "unset", MAX_LISTEN);
		for (i = 0; i < lfds; i++)
			listen_fds[nlisten++] = 3 + (int)i;
	}
	for (i = 0; i < nlisten; i++) {
		fl = fcntl(listen_fds[i], F_GETFL);
		if (fl == -1)
			die("--serve: fd %d: %s", listen_fds[i],
			    strerror(errno));
		fcntl(listen_fds[i], F_SETFL, fl | O_NONBLOCK);
		fcntl(listen_fds[i], F_SETFD, FD_CLOEXEC);
	}
}

static void
parse_args(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define NEED()	do { if (v == NULL) die("%s needs a value", a); i++; } \
		while (0)
		if (strcmp(a, "--ready-after") == 0) {
			NEED();
			opt.ready_after = parse_seconds(a, v);
		} else if (strcmp(a, "--never-ready") == 0)
			opt.never_ready = true;
		else if (strcmp(a, "--exit-at-start") == 0) {
			NEED();
			opt.exit_at_start = true;
			opt.exit_code = (int)parse_long(a, v, 0, 255);
		} else if (strcmp(a, "--stderr") == 0) {
			NEED();
			opt.stderr_text = v;
		} else if (strcmp(a, "--status") == 0) {
			NEED();
			opt.status = v;
		} else if (strcmp(a, "--watchdog") == 0)
			opt.watchdog = true;
		else if (strcmp(a, "--stop-pinging-after") == 0) {
			NEED();
			opt.stop_pinging_after = parse_seconds(a, v);
		} else if (strcmp(a, "--listen-report") == 0) {
			NEED();
			opt.listen_report = v;
		} else if (strcmp(a, "--serve") == 0)
			opt.serve = true;
		else if (strcmp(a, "--fd") == 0) {
			NEED();
			if (opt.nfds == MAX_LISTEN)
				die("--fd: more than %d", MAX_LISTEN);
			opt.fds[opt.nfds++] = (int)parse_long(a, v, 0, INT_MAX);
		} else if (strcmp(a, "--delay-ms") == 0) {
			NEED();
			opt.delay_ms = parse_long(a, v, 0, 3600 * 1000);
		} else
			die("unknown option '%s'", a);
#undef NEED
	}
}

int
main(int argc, char **argv)
{
	struct sigaction	 sa;
	struct pollfd		 pfd[1 + MAX_LISTEN + MAX_CONN];
	struct conn		*cidx[MAX_CONN];
	char			 buf[16];
	long			 start, ready_at, next_ping, ping_until;
	long			 wd_usec, period, t, timeout;
	bool			 stopping = false, ready_sent = false;
	int			 i, n, nc;

	parse_args(argc, argv);
	if (opt.stderr_text != NULL) {
		fprintf(stderr, "%s\n", opt.stderr_text);
		fflush(stderr);
	}
	if (opt.exit_at_start)
		exit(opt.exit_code);
	if (opt.listen_report != NULL)
		listen_report(opt.listen_report);

	if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) == -1)
		die("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	for (i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	if (opt.serve)
		setup_listen();
	if (opt.status != NULL) {
		char *m;

		if (asprintf(&m, "STATUS=%s", opt.status) == -1)
			die("out of memory");
		notify(m);
		free(m);
	}

	start = now_ms();
	ready_at = opt.never_ready ? -1 : start +
	    (long)(opt.ready_after * 1000.0);
	wd_usec = env_long("WATCHDOG_USEC");
	period = -1;
	if (opt.watchdog && wd_usec > 0) {
		period = wd_usec / 2000;
		if (period < 1)
			period = 1;
	}
	next_ping = start;
	ping_until = opt.stop_pinging_after < 0 ? -1 : start +
	    (long)(opt.stop_pinging_after * 1000.0);

	for (;;) {
		t = now_ms();
		if (!ready_sent && ready_at >= 0 && t >= ready_at) {
			notify("READY=1");
			ready_sent = true;
		}
		if (period > 0 && (ping_until < 0 || t < ping_until) &&
		    t >= next_ping) {
			notify("WATCHDOG=1");
			next_ping = t + period;
		}
		for (i = 0; i < MAX_CONN; i++)
			if (conns[i].state == C_WAIT && t >= conns[i].due)
				conn_answer(&conns[i]);
		if (stopping && conns_busy() == 0)
			break;

		/* the nearest deadline bounds the wait */
		timeout = -1;
#define NEAR(d)	do { long w_ = (d) - t; if (w_ < 0) w_ = 0; \
		if (timeout < 0 || w_ < timeout) timeout = w_; } while (0)
		if (!ready_sent && ready_at >= 0)
			NEAR(ready_at);
		if (period > 0 && (ping_until < 0 || next_ping < ping_until))
			NEAR(next_ping);
		for (i = 0; i < MAX_CONN; i++)
			if (conns[i].state == C_WAIT)
				NEAR(conns[i].due);
#undef NEAR

		n = 0;
		pfd[n].fd = sigpipe_fd[0];
		pfd[n++].events = POLLIN;
		if (!stopping)
			for (i = 0; i < nlisten; i++) {
				pfd[n].fd = listen_fds[i];
				pfd[n++].events = POLLIN;
			}
		nc = 0;
		for (i = 0; i < MAX_CONN; i++) {
			if (conns[i].state == C_READ ||
			    conns[i].state == C_WRITE) {
				pfd[n + nc].fd = conns[i].fd;
				pfd[n + nc].events = conns[i].state ==
				    C_READ ? POLLIN : POLLOUT;
				cidx[nc++] = &conns[i];
			}
		}
		if (poll(pfd, (nfds_t)(n + nc),
		    timeout > INT_MAX ? INT_MAX : (int)timeout) == -1) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (i = 0; i < nc; i++) {
			if (pfd[n + i].revents == 0)
				continue;
			if (cidx[i]->state == C_READ)
				conn_read(cidx[i]);
			else if (cidx[i]->state == C_WRITE)
				conn_write(cidx[i]);
		}
		if (!stopping)
			for (i = 0; i < nlisten; i++)
				if (pfd[1 + i].revents & POLLIN)
					accept_one(listen_fds[i]);
		if (pfd[0].revents & POLLIN) {
			while (read(sigpipe_fd[0], buf, sizeof buf) > 0)
				;
			if (!stopping) {
				stopping = true;
				notify("STOPPING=1");
				/* stop accepting: the arbiter keeps the
				 * sockets open for the other workers */
				for (i = 0; i < nlisten; i++)
					close(listen_fds[i]);
				nlisten = 0;
			}
		}
	}
	return 0;
}
