/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HttpObserver (doc/design.md §17.7): every loop_rate seconds an HTTP/1.1 GET
 * of check_url within timeout seconds. 2xx: statsd timer
 * http_stats.request_time (ms); otherwise counters http_stats.error and
 * http_stats.error.<status> (599 for a network error or the timeout) and,
 * with restart_on_error, a restart of that watcher. Plain http:// only.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "xmalloc.h"

#define HTTP_NETWORK_ERROR	599

struct hobs {
	struct plugin	*plugin;
	char		*host, *port, *path;
	double		 timeout;
	const char	*restart;
};

/* Split http://host[:port][/path]. -1 if it is not such a URL. */
static int
ho_parse_url(struct hobs *h, const char *url)
{
	const char	*s, *slash, *colon;

	if (strncmp(url, "http://", 7) != 0)
		return (-1);
	s = url + 7;
	slash = strchr(s, '/');
	if (slash == NULL)
		slash = s + strlen(s);
	colon = memchr(s, ':', slash - s);
	if (s[0] == '[') {		/* [v6]:port */
		colon = memchr(s, ']', slash - s);
		if (colon == NULL)
			return (-1);
		h->host = xstrndup(s + 1, colon - s - 1);
		colon = colon[1] == ':' ? colon + 1 : NULL;
	} else
		h->host = xstrndup(s, (colon != NULL ? colon : slash) - s);
	h->port = colon != NULL ? xstrndup(colon + 1, slash - colon - 1) :
	    xstrdup("80");
	h->path = xstrdup(*slash != '\0' ? slash : "/");
	return (0);
}

static double
ho_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Wait for fd to be ready for events until deadline. */
static int
ho_wait(int fd, short events, double deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	double		left;
	int		n;

	for (;;) {
		left = deadline - ho_now();
		if (left <= 0)
			return (-1);
		n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n > 0)
			return (0);
		if (n == -1 && errno != EINTR)
			return (-1);
	}
}

/* Connect to host:port within the deadline; -1 on failure. */
static int
ho_connect(struct hobs *h, double deadline)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 fd = -1, err;
	socklen_t	 len = sizeof err;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(h->host, h->port, &hints, &res) != 0)
		return (-1);
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS || ho_wait(fd, POLLOUT,
		    deadline) == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR,
		    &err, &len) == -1 || err != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return (fd);
}

/* One GET: the status code, or HTTP_NETWORK_ERROR. */
static int
ho_get(struct hobs *h)
{
	double	 deadline = ho_now() + h->timeout;
	char	*req, buf[256];
	size_t	 off = 0, len;
	ssize_t	 n;
	int	 fd, code = HTTP_NETWORK_ERROR;

	if ((fd = ho_connect(h, deadline)) == -1)
		return (HTTP_NETWORK_ERROR);
	req = xprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: circus-c "
	    "HttpObserver\r\nConnection: close\r\n\r\n", h->path, h->host);
	len = strlen(req);
	while (off < len) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += n;
		else if ((n == -1 && errno != EAGAIN && errno != EINTR) ||
		    ho_wait(fd, POLLOUT, deadline) == -1)
			goto out;
	}
	off = 0;
	while (off < sizeof buf - 1 && memchr(buf, '\n', off) == NULL) {
		n = recv(fd, buf + off, sizeof buf - 1 - off, 0);
		if (n > 0)
			off += n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR) ||
		    ho_wait(fd, POLLIN, deadline) == -1)
			break;
	}
	buf[off] = '\0';
	if (strncmp(buf, "HTTP/", 5) == 0 && sscanf(buf, "HTTP/%*s %d",
	    &code) != 1)
		code = HTTP_NETWORK_ERROR;
out:
	free(req);
	close(fd);
	return (code);
}

static void
ho_tick(struct plugin *p)
{
	struct hobs	*h = p->data;
	double		 start = ho_now();
	char		 ms[32], *bucket;
	int		 code;

	code = ho_get(h);
	if (code >= 200 && code < 300) {
		snprintf(ms, sizeof ms, "%.0f", (ho_now() - start) * 1000);
		plugin_statsd(p, "http_stats.request_time", ms, "ms");
		return;
	}
	plugin_statsd_incr(p, "http_stats.error");
	bucket = xprintf("http_stats.error.%d", code);
	plugin_statsd_incr(p, bucket);
	free(bucket);
	if (h->restart != NULL) {
		plugin_cast(p, "restart", json_pack("{s:s}", "name",
		    h->restart));
		plugin_statsd_incr(p, "http_stats.restart_on_error");
	}
}

static int
ho_init(struct plugin *p)
{
	struct hobs	*h;
	const char	*url = plugin_conf_str(p, "check_url",
			    "http://localhost/");

	if (plugin_statsd_open(p, "http_observer") == -1)
		return (-1);
	h = xcalloc(1, sizeof *h);
	if (ho_parse_url(h, url) == -1) {
		log_errorx("http_observer: check_url = '%s': only http:// "
		    "URLs are supported", url);
		free(h);
		return (-1);
	}
	h->plugin = p;
	h->timeout = plugin_conf_float(p, "timeout", 10);
	h->restart = plugin_conf_str(p, "restart_on_error", NULL);
	p->data = h;
	return (0);
}

static void
ho_stop(struct plugin *p)
{
	struct hobs *h = p->data;

	if (h == NULL)
		return;
	free(h->host);
	free(h->port);
	free(h->path);
	free(h);
	p->data = NULL;
}

static const struct plugin_ops hobs_ops = {
	.name = "http_observer",
	.init = ho_init,
	.tick = ho_tick,
	.loop_rate = 60,
	.stop = ho_stop,
};

PLUGIN_MAIN(hobs_ops)
