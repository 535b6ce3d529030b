/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/client.c against an in-process ROUTER thread. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include "client.h"

/* How the fake server answers. */
enum server_mode {
	SERVER_REPLY,		/* a stale reply, then the right one */
	SERVER_SILENT,		/* never answers */
	SERVER_GARBAGE,		/* answers with non-JSON */
};

struct server {
	void			*ctx;
	void			*sock;
	char			 endpoint[128];
	enum server_mode	 mode;
	pthread_t		 thread;
	volatile int		 stop;
	char			 identity[64];
	char			 last[1024];
	int			 count;
	pthread_mutex_t		 lock;
};

static void	*server_main(void *);
static void	 server_start(struct server *, enum server_mode);
static void	 server_stop(struct server *);
static json_t	*request(const char *);

/* Serve until asked to stop. */
static void *
server_main(void *arg)
{
	struct server	*s = arg;
	zmq_pollitem_t	 item;
	char		 ident[256], body[1024], reply[1200];
	json_t		*req;
	int		 ilen, blen;
	const char	*id;

	while (!s->stop) {
		item.socket = s->sock;
		item.fd = 0;
		item.events = ZMQ_POLLIN;
		item.revents = 0;
		if (zmq_poll(&item, 1, 20) <= 0)
			continue;
		ilen = zmq_recv(s->sock, ident, sizeof ident, 0);
		blen = zmq_recv(s->sock, body, sizeof body - 1, 0);
		if (ilen <= 0 || blen < 0)
			continue;
		body[blen] = '\0';
		pthread_mutex_lock(&s->lock);
		snprintf(s->identity, sizeof s->identity, "%.*s", ilen, ident);
		snprintf(s->last, sizeof s->last, "%s", body);
		s->count++;
		pthread_mutex_unlock(&s->lock);
		req = json_loads(body, 0, NULL);
		if (s->mode == SERVER_SILENT || req == NULL ||
		    json_object_get(req, "msg_type") != NULL) {
			json_decref(req);
			continue;
		}
		id = json_string_value(json_object_get(req, "id"));
		if (s->mode == SERVER_GARBAGE) {
			zmq_send(s->sock, ident, (size_t)ilen, ZMQ_SNDMORE);
			zmq_send(s->sock, "nope", 4, 0);
			json_decref(req);
			continue;
		}
		snprintf(reply, sizeof reply, "{\"status\": \"ok\", "
		    "\"stale\": true, \"id\": \"%032d\"}", 0);
		zmq_send(s->sock, ident, (size_t)ilen, ZMQ_SNDMORE);
		zmq_send(s->sock, reply, strlen(reply), 0);
		snprintf(reply, sizeof reply, "{\"status\": \"ok\", "
		    "\"id\": \"%s\"}", id != NULL ? id : "");
		zmq_send(s->sock, ident, (size_t)ilen, ZMQ_SNDMORE);
		zmq_send(s->sock, reply, strlen(reply), 0);
		json_decref(req);
	}
	return NULL;
}

/* Bind a ROUTER on a fresh ipc endpoint and serve from a thread. */
static void
server_start(struct server *s, enum server_mode mode)
{
	int	zero = 0;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	s->mode = mode;
	snprintf(s->endpoint, sizeof s->endpoint, "ipc:///tmp/cctl-unit-%d.sock",
	    (int)getpid());
	s->ctx = zmq_ctx_new();
	s->sock = zmq_socket(s->ctx, ZMQ_ROUTER);
	zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
	assert_int_equal(zmq_bind(s->sock, s->endpoint), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

/* Stop the thread, close everything. */
static void
server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	zmq_close(s->sock);
	zmq_ctx_term(s->ctx);
	unlink(s->endpoint + 6);
	pthread_mutex_destroy(&s->lock);
}

/* {"command": name, "properties": {}} */
static json_t *
request(const char *name)
{
	json_t	*r = json_object();

	json_object_set_new(r, "command", json_string(name));
	json_object_set_new(r, "properties", json_object());
	return r;
}

/* A call gets the reply with its own id; stale ones are dropped. */
static void
test_call(void **state)
{
	static const char prefix[] = "{\"command\": \"list\", "
	    "\"properties\": {}, \"id\": \"";
	struct server	 s;
	struct client	*c;
	json_t		*req, *reply = NULL;
	char		*cause = NULL;
	const char	*id;
	size_t		 i;

	(void)state;
	server_start(&s, SERVER_REPLY);
	c = client_new(s.endpoint, &cause);
	assert_non_null(c);
	assert_string_equal(client_endpoint(c), s.endpoint);
	req = request("list");
	assert_int_equal(client_call(c, req, 5000, &reply, &cause), CLIENT_OK);
	id = json_string_value(json_object_get(req, "id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 32);
	assert_string_equal(json_string_value(json_object_get(reply, "id")),
	    id);
	assert_null(json_object_get(reply, "stale"));
	pthread_mutex_lock(&s.lock);
	assert_int_equal(strlen(s.identity), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", s.identity[i]));
	assert_true(strncmp(s.last, prefix, strlen(prefix)) == 0);
	pthread_mutex_unlock(&s.lock);
	json_decref(reply);
	json_decref(req);

	/* after a reset the client still works (new identity) */
	assert_int_equal(client_reset(c, &cause), 0);
	req = request("status");
	assert_int_equal(client_call(c, req, 5000, &reply, &cause), CLIENT_OK);
	json_decref(reply);
	json_decref(req);
	client_free(c);
	server_stop(&s);
}

/* A cast is marked and gets no reply. */
static void
test_cast(void **state)
{
	struct server	 s;
	struct client	*c;
	json_t		*req;
	char		*cause = NULL;
	int		 n = 0, i;

	(void)state;
	server_start(&s, SERVER_REPLY);
	c = client_new(s.endpoint, &cause);
	req = request("stop");
	assert_int_equal(client_cast(c, req, 5000, &cause), CLIENT_OK);
	for (i = 0; i < 500 && n == 0; i++) {
		pthread_mutex_lock(&s.lock);
		n = s.count;
		pthread_mutex_unlock(&s.lock);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_string_equal(s.last, "{\"command\": \"stop\", \"properties\": "
	    "{}, \"msg_type\": \"cast\"}");
	json_decref(req);
	client_free(c);
	server_stop(&s);
}

/* No reply: CLIENT_TIMEOUT; no daemon: CLIENT_UNREACHABLE. */
static void
test_timeouts(void **state)
{
	struct server	 s;
	struct client	*c;
	json_t		*req, *reply = NULL;
	char		*cause = NULL;

	(void)state;
	server_start(&s, SERVER_SILENT);
	c = client_new(s.endpoint, &cause);
	req = request("list");
	assert_int_equal(client_call(c, req, 300, &reply, &cause),
	    CLIENT_TIMEOUT);
	assert_null(reply);
	assert_string_equal(cause, "Timed out.");
	free(cause);
	json_decref(req);
	client_free(c);
	server_stop(&s);

	c = client_new("ipc:///tmp/cctl-unit-nobody.sock", &cause);
	req = request("list");
	assert_int_equal(client_call(c, req, 300, &reply, &cause),
	    CLIENT_UNREACHABLE);
	free(cause);
	assert_int_equal(client_cast(c, req, 100, &cause),
	    CLIENT_UNREACHABLE);
	free(cause);
	json_decref(req);
	client_free(c);

	cause = NULL;
	assert_null(client_new("bogus://x", &cause));
	assert_non_null(cause);
	free(cause);
}

/* A garbage reply is an error; a raised flag interrupts. */
static void
test_errors(void **state)
{
	struct server		 s;
	struct client		*c;
	json_t			*req, *reply = NULL;
	char			*cause = NULL;
	volatile sig_atomic_t	 flag = 1;

	(void)state;
	server_start(&s, SERVER_GARBAGE);
	c = client_new(s.endpoint, &cause);
	req = request("list");
	assert_int_equal(client_call(c, req, 5000, &reply, &cause),
	    CLIENT_ERROR);
	assert_true(strncmp(cause, "invalid JSON in reply", 21) == 0);
	free(cause);
	client_set_interrupt(c, &flag);
	assert_int_equal(client_call(c, req, 5000, &reply, &cause),
	    CLIENT_INTERRUPTED);
	free(cause);
	json_decref(req);
	client_free(c);
	server_stop(&s);
	client_free(NULL);
}

/* The tunnel refuses non-tcp endpoints and endpoints without a port. */
static void
test_tunnel_checks(void **state)
{
	char	*local = NULL, *cause = NULL;
	pid_t	 pid = 0;

	(void)state;
	assert_int_equal(client_tunnel_open("ipc:///x", "a@b", NULL, &local,
	    &pid, &cause), -1);
	assert_string_equal(cause, "ssh tunnels need a tcp:// endpoint, not "
	    "ipc:///x");
	free(cause);
	assert_int_equal(client_tunnel_open("tcp://host", "a@b", NULL, &local,
	    &pid, &cause), -1);
	assert_string_equal(cause, "no port in endpoint tcp://host");
	free(cause);
	client_tunnel_close(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_cast),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tunnel_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
