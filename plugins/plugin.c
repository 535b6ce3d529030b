/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared runtime of the bundled plugins (doc/design.md §11): Circus's
 * plugin command line, the --config string, the SUB socket read from the
 * libev loop (ZMQ_FD is edge-triggered: drained until ZMQ_EVENTS clears,
 * and again before each loop iteration), calls and casts through
 * lib/client.c, and a stop on SIGTERM that frees everything.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "log.h"
#include "plugin.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

/* Trimmed copy of s[0..len). */
static char *
plugin_strip(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\n'))
		len--;
	return (xstrndup(s, len));
}

/* Circus's "key:value:::key:value" configuration string. */
json_t *
plugin_parse_config(const char *s)
{
	json_t		*o = json_object(), *j;
	const char	*item, *end, *colon;
	char		*k, *v;
	size_t		 len;

	for (item = s; item != NULL && *item != '\0';) {
		end = strstr(item, ":::");
		len = end != NULL ? (size_t)(end - item) : strlen(item);
		colon = memchr(item, ':', len);
		if (colon != NULL) {
			k = plugin_strip(item, colon - item);
			v = plugin_strip(colon + 1, len - (colon + 1 - item));
			if ((j = json_string(v)) == NULL)
				j = json_string("");	/* not UTF-8 */
			json_object_set_new(o, k, j);
			free(k);
			free(v);
		}
		item = end != NULL ? end + 3 : NULL;
	}
	return (o);
}

/* A configuration string, or def. */
const char *
plugin_conf_str(struct plugin *p, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(p->config, key));

	return (v != NULL ? v : def);
}

/* A float option; a bad value is logged and gives def. */
double
plugin_conf_float(struct plugin *p, const char *key, double def)
{
	const char	*v = plugin_conf_str(p, key, NULL);
	double		 d;

	if (v == NULL)
		return (def);
	if (util_parse_float(v, &d) == -1) {
		log_errorx("%s = '%s' is not a number; using %g", key, v, def);
		return (def);
	}
	return (d);
}

/* An integer option; a bad value is logged and gives def. */
long
plugin_conf_int(struct plugin *p, const char *key, long def)
{
	const char	*v = plugin_conf_str(p, key, NULL);
	long long	 n;

	if (v == NULL)
		return (def);
	if (util_parse_int(v, &n) == -1 || n < -2147483647LL ||
	    n > 2147483647LL) {
		log_errorx("%s = '%s' is not an integer; using %ld", key, v,
		    def);
		return (def);
	}
	return ((long)n);
}

/* A boolean option (Circus words); a bad value is logged and gives def. */
bool
plugin_conf_bool(struct plugin *p, const char *key, bool def)
{
	const char	*v = plugin_conf_str(p, key, NULL);
	bool		 b;

	if (v == NULL)
		return (def);
	if (util_parse_bool(v, &b) == -1) {
		log_errorx("%s = '%s' is not a boolean; using %s", key, v,
		    def ? "true" : "false");
		return (def);
	}
	return (b);
}

/* UDP socket to the statsd server. */
int
plugin_statsd_open(struct plugin *p, const char *default_app)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	const char	*host = plugin_conf_str(p, "host", "localhost");
	const char	*port = plugin_conf_str(p, "port", "8125");
	int		 rc, fd = -1;

	p->statsd_rate = plugin_conf_float(p, "sample_rate", 1.0);
	free(p->statsd_prefix);
	p->statsd_prefix = xprintf("circus.%s.watcher.", plugin_conf_str(p,
	    "application_name", default_app));
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_errorx("statsd %s:%s: %s", host, port, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1) {
		log_warn("statsd %s:%s", host, port);
		return (-1);
	}
	if (p->statsd_fd != -1)
		close(p->statsd_fd);
	p->statsd_fd = fd;
	return (0);
}

/* One metric, one datagram. */
void
plugin_statsd(struct plugin *p, const char *bucket, const char *value,
    const char *type)
{
	char	*msg, rate[32] = "";
	ssize_t	 n;

	if (p->statsd_fd == -1)
		return;
	if (p->statsd_rate != 1.0) {
		rate[0] = '|';
		rate[1] = '@';
		pyjson_float_repr(p->statsd_rate, rate + 2, sizeof rate - 2);
	}
	msg = xprintf("%s%s:%s|%s%s", p->statsd_prefix, bucket, value, type,
	    rate);
	n = send(p->statsd_fd, msg, strlen(msg), 0);
	if (n == -1)
		log_debug("statsd: %s", strerror(errno));
	free(msg);
}

void
plugin_statsd_incr(struct plugin *p, const char *bucket)
{
	plugin_statsd(p, bucket, "1", "c");
}

void
plugin_statsd_gauge(struct plugin *p, const char *bucket, double value)
{
	char	buf[32];

	pyjson_float_repr(value, buf, sizeof buf);
	plugin_statsd(p, bucket, buf, "g");
}

void
plugin_statsd_gauge_int(struct plugin *p, const char *bucket,
    long long value)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%lld", value);
	plugin_statsd(p, bucket, buf, "g");
}

/* "1.70M" -> bytes. */
int
plugin_to_bytes(const char *s, double *out)
{
	static const char units[] = "BKMGTPEZY";
	const char	*u;
	char		*num;
	size_t		 len;
	double		 d;
	int		 rc;

	if (s == NULL)
		return (-1);
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return (-1);
	u = strchr(units, toupper((unsigned char)s[len - 1]));
	if (u == NULL || *u == '\0')
		return (util_parse_float(s, out));
	num = xstrndup(s, len - 1);
	rc = util_parse_float(num, &d);
	free(num);
	if (rc == -1)
		return (-1);
	for (; u > units; u--)
		d *= 1024;
	*out = d;
	return (0);
}

/* Build {"command", "properties"} (props stolen). */
static json_t *
plugin_request(const char *command, json_t *props)
{
	return (json_pack("{s:s, s:o}", "command", command, "properties",
	    props != NULL ? props : json_object()));
}

/* Call and wait for the reply. */
json_t *
plugin_call(struct plugin *p, const char *command, json_t *props)
{
	json_t	*req, *reply = NULL;
	char	*cause = NULL;

	req = plugin_request(command, props);
	if (client_call(p->client, req, PLUGIN_CALL_TIMEOUT_MS, &reply,
	    &cause) != CLIENT_OK) {
		log_errorx("%s: %s", command, cause);
		free(cause);
		reply = NULL;
		/* a late reply must not answer the next call */
		if (client_reset(p->client, &cause) == -1) {
			log_errorx("%s", cause);
			free(cause);
		}
	}
	json_decref(req);
	return (reply);
}

/* A reply with "status": "ok". */
bool
plugin_reply_ok(const json_t *reply)
{
	const char *st = json_string_value(json_object_get(reply, "status"));

	return (st != NULL && strcmp(st, "ok") == 0);
}

/* Cast (no reply). */
int
plugin_cast(struct plugin *p, const char *command, json_t *props)
{
	json_t	*req;
	char	*cause = NULL;
	int	 rc = 0;

	req = plugin_request(command, props);
	if (client_cast(p->client, req, PLUGIN_CALL_TIMEOUT_MS, &cause) !=
	    CLIENT_OK) {
		log_errorx("%s: %s", command, cause);
		free(cause);
		rc = -1;
	}
	json_decref(req);
	return (rc);
}

/* Hand one event message to the plugin. */
static void
plugin_dispatch(struct plugin *p, const char *topic, size_t tlen,
    const char *body, size_t blen)
{
	char		*t, *watcher, *action, *dot;
	json_t		*j;
	json_error_t	 err;

	t = xstrndup(topic, tlen);
	/* fields 1 and 2 of the dotted topic, as Circus's plugins take them */
	if ((watcher = strchr(t, '.')) == NULL) {
		free(t);
		return;
	}
	watcher++;
	if ((dot = strchr(watcher, '.')) == NULL) {
		free(t);
		return;
	}
	*dot = '\0';
	action = dot + 1;
	if ((dot = strchr(action, '.')) != NULL)
		*dot = '\0';
	if (p->ops->event == NULL) {
		free(t);
		return;
	}
	j = json_loadb(body, blen, JSON_DECODE_ANY, &err);
	if (j == NULL)
		log_debug("event %s: undecodable body", t);
	else
		p->ops->event(p, watcher, action, j);
	json_decref(j);
	free(t);
}

/* Read every queued event (until ZMQ_EVENTS has no POLLIN). */
static void
plugin_drain(struct plugin *p)
{
	zmq_msg_t	 topic, body;
	int		 events, more;
	size_t		 len;

	for (;;) {
		len = sizeof events;
		if (zmq_getsockopt(p->sub, ZMQ_EVENTS, &events, &len) != 0 ||
		    !(events & ZMQ_POLLIN))
			return;
		zmq_msg_init(&topic);
		if (zmq_msg_recv(&topic, p->sub, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&topic);
			return;
		}
		zmq_msg_init(&body);
		more = zmq_msg_more(&topic) ?
		    zmq_msg_recv(&body, p->sub, ZMQ_DONTWAIT) != -1 : 0;
		if (more)
			plugin_dispatch(p, zmq_msg_data(&topic),
			    zmq_msg_size(&topic), zmq_msg_data(&body),
			    zmq_msg_size(&body));
		/* drop any further frames */
		while (zmq_msg_more(&body))
			if (zmq_msg_recv(&body, p->sub, ZMQ_DONTWAIT) == -1)
				break;
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		if (ev_userdata(p->loop) == NULL)
			return;		/* stopping */
	}
}

static void
plugin_sub_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	plugin_drain(w->data);
}

static void
plugin_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	plugin_drain(w->data);
}

/* The plugin's periodic work. */
static void
plugin_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct plugin *p = t->data;

	(void)loop;
	(void)revents;
	p->ops->tick(p);
}

/* SIGTERM/SIGINT: leave the loop. */
static void
plugin_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("%s: got signal %d, stopping", ((struct plugin *)w->data)->
	    ops->name, w->signum);
	ev_set_userdata(loop, NULL);
	ev_break(loop, EVBREAK_ALL);
}

/* SUB socket on the events endpoint, subscribed to "watcher.". */
static int
plugin_open_sub(struct plugin *p)
{
	int	zero = 0, fd;
	size_t	len = sizeof fd;

	p->zctx = zmq_ctx_new();
	p->sub = zmq_socket(p->zctx, ZMQ_SUB);
	if (p->sub == NULL) {
		log_errorx("cannot create SUB socket: %s",
		    zmq_strerror(zmq_errno()));
		return (-1);
	}
	zmq_setsockopt(p->sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(p->sub, ZMQ_RCVHWM, &zero, sizeof zero);
	zmq_setsockopt(p->sub, ZMQ_SUBSCRIBE, "watcher.", 8);
	if (zmq_connect(p->sub, p->pubsub) != 0) {
		log_errorx("cannot connect to %s: %s", p->pubsub,
		    zmq_strerror(zmq_errno()));
		return (-1);
	}
	if (zmq_getsockopt(p->sub, ZMQ_FD, &fd, &len) != 0)
		return (-1);
	ev_io_init(&p->sub_io, plugin_sub_cb, fd, EV_READ);
	p->sub_io.data = p;
	ev_io_start(p->loop, &p->sub_io);
	ev_prepare_init(&p->sub_prepare, plugin_prepare_cb);
	p->sub_prepare.data = p;
	ev_prepare_start(p->loop, &p->sub_prepare);
	return (0);
}

static void
plugin_usage(const char *prog)
{
	printf("usage: %s [--endpoint E] [--pubsub P] [--config CFG] "
	    "[--check-delay N] [--log-level L] [--log-output O] [--version] "
	    "[plugin]\n", prog);
}

/* Parse Circus's plugin command line (doc/design.md §11). 1 = exit 0 now. */
static int
plugin_args(struct plugin *p, int argc, char **argv, const char **level,
    const char **output)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "pubsub", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-delay", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-output", required_argument, NULL, 'o' },
		{ "ssh", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	c;

	p->endpoint = "tcp://127.0.0.1:5555";
	p->pubsub = "tcp://127.0.0.1:5556";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': p->endpoint = optarg; break;
		case 'p': p->pubsub = optarg; break;
		case 'c':
			json_decref(p->config);
			p->config = plugin_parse_config(optarg);
			break;
		case 'd':
			if (util_parse_float(optarg, &p->check_delay) == -1) {
				fprintf(stderr, "--check-delay: '%s' is not a "
				    "number\n", optarg);
				return (-1);
			}
			break;
		case 'l': *level = optarg; break;
		case 'o': *output = optarg; break;
		case 's':
			fprintf(stderr, "--ssh is not supported by the "
			    "bundled plugins\n");
			return (-1);
		case 'v': printf("%s 0.19.0\n", argv[0]); return (1);
		case 'h': plugin_usage(argv[0]); return (1);
		default: plugin_usage(argv[0]); return (-1);
		}
	}
	return (0);
}

/* Run the plugin until SIGTERM. */
int
plugin_main(int argc, char **argv, const struct plugin_ops *ops)
{
	struct plugin	 p;
	const char	*level = "info", *output = "-";
	char		*cause = NULL;
	sigset_t	 mask;
	double		 rate;
	int		 rc = 1;

	memset(&p, 0, sizeof p);
	p.ops = ops;
	p.statsd_fd = -1;
	p.config = json_object();
	if ((rc = plugin_args(&p, argc, argv, &level, &output)) != 0) {
		json_decref(p.config);
		return (rc == 1 ? 0 : 2);
	}
	rc = 1;
	log_level_current = log_level_parse(level);
	if (log_open(ops->name, output, &cause) == -1) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		json_decref(p.config);
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);
	/* A SIGTERM that comes while starting up waits for libev's handler. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p.loop = ev_default_loop(EVFLAG_AUTO);
	ev_set_userdata(p.loop, &p);
	ev_signal_init(&p.sigterm, plugin_signal_cb, SIGTERM);
	ev_signal_init(&p.sigint, plugin_signal_cb, SIGINT);
	p.sigterm.data = p.sigint.data = &p;
	ev_signal_start(p.loop, &p.sigterm);
	ev_signal_start(p.loop, &p.sigint);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	if ((p.client = client_new(p.endpoint, &cause)) == NULL) {
		log_errorx("%s", cause);
		free(cause);
		goto out;
	}
	if (plugin_open_sub(&p) == -1)
		goto out;
	if (ops->init(&p) == -1)
		goto out;
	if (ops->tick != NULL) {
		rate = plugin_conf_float(&p, "loop_rate", ops->loop_rate);
		if (!(rate > 0))
			rate = ops->loop_rate;
		ev_timer_init(&p.tick, plugin_tick_cb, rate, rate);
		p.tick.data = &p;
		ev_timer_start(p.loop, &p.tick);
	}
	log_info("%s: started (endpoint %s, pubsub %s)", ops->name,
	    p.endpoint, p.pubsub);
	ev_run(p.loop, 0);
	ev_timer_stop(p.loop, &p.tick);
	if (ops->stop != NULL)
		ops->stop(&p);
	rc = 0;
out:
	if (p.loop != NULL) {
		ev_signal_stop(p.loop, &p.sigterm);
		ev_signal_stop(p.loop, &p.sigint);
	}
	if (p.sub != NULL) {
		ev_io_stop(p.loop, &p.sub_io);
		ev_prepare_stop(p.loop, &p.sub_prepare);
		zmq_close(p.sub);
	}
	if (p.zctx != NULL)
		zmq_ctx_term(p.zctx);
	client_free(p.client);
	if (p.statsd_fd != -1)
		close(p.statsd_fd);
	free(p.statsd_prefix);
	json_decref(p.config);
	if (p.loop != NULL)
		ev_loop_destroy(p.loop);
	log_close();
	return (rc);
}
