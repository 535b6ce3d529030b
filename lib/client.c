/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-channel client over a ZeroMQ DEALER (doc/design.md §17.1): one
 * frame per request, replies matched by id until a deadline. A request is
 * sent once a socket monitor has seen the connection's ZMTP handshake
 * complete (with CURVE: the daemon accepted our key), so "unreachable",
 * "key refused" and "no answer" can be told apart; ZMQ_IMMEDIATE is not used: when the
 * daemon closes right after its reply (quit), it drops the reply that
 * arrived but was not read yet.
 * Also spawns the optional ssh tunnel (doc/design.md §17.6). Never logs.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

#define CLIENT_INTERRUPT_MS	200	/* interrupt flag checked this often */

struct client {
	void			*ctx;
	void			*sock;
	void			*mon;		/* PAIR: the socket's monitor */
	bool			 connected;	/* a handshake completed */
	bool			 refused;	/* the daemon refused our key */
	char			*endpoint;
	volatile sig_atomic_t	*interrupt;
	struct client_curve	 curve;
	int			 use_curve;
};

static int	client_open(struct client *, char **);
static int	client_wait(struct client *, short, long, char **);
static int	client_send(struct client *, json_t *, int, char **);

/* Make an unconnected ZeroMQ socket a CURVE client with keys. */
int
client_curve_apply(void *sock, const struct client_curve *keys)
{
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, keys->server_key,
	    40) != 0 || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY,
	    keys->public_key, 40) != 0 || zmq_setsockopt(sock,
	    ZMQ_CURVE_SECRETKEY, keys->secret_key, 40) != 0)
		return -1;
	return 0;
}


/* Close the socket and its monitor. */
static void
client_close(struct client *c)
{
	if (c->sock != NULL)
		zmq_socket_monitor(c->sock, NULL, 0);
	if (c->mon != NULL) {
		zmq_close(c->mon);
		c->mon = NULL;
	}
	if (c->sock != NULL) {
		zmq_close(c->sock);
		c->sock = NULL;
	}
}

/* Create the DEALER socket with a fresh identity, its connection monitor,
 * and connect it. */
static int
client_open(struct client *c, char **cause)
{
	char	identity[33], monaddr[64];
	int	zero = 0;

	c->connected = c->refused = false;
	c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
	if (c->sock == NULL) {
		*cause = xprintf("cannot create socket: %s",
		    zmq_strerror(zmq_errno()));
		return -1;
	}
	util_uuid_hex(identity);
	zmq_setsockopt(c->sock, ZMQ_IDENTITY, identity, 32);
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
	if (c->use_curve && client_curve_apply(c->sock, &c->curve) != 0) {
		*cause = xprintf("cannot set CURVE keys: %s",
		    zmq_strerror(zmq_errno()));
		client_close(c);
		return -1;
	}
	snprintf(monaddr, sizeof monaddr, "inproc://client-monitor-%s",
	    identity);
	if (zmq_socket_monitor(c->sock, monaddr,
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	    ZMQ_EVENT_DISCONNECTED) != 0 ||
	    (c->mon = zmq_socket(c->ctx, ZMQ_PAIR)) == NULL ||
	    zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_connect(c->mon, monaddr) != 0) {
		*cause = xprintf("cannot monitor the socket: %s",
		    zmq_strerror(zmq_errno()));
		client_close(c);
		return -1;
	}
	if (zmq_connect(c->sock, c->endpoint) != 0) {
		*cause = xprintf("cannot connect to %s: %s", c->endpoint,
		    zmq_strerror(zmq_errno()));
		client_close(c);
		return -1;
	}
	return 0;
}

/* Open a client for endpoint. */
struct client *
client_new(const char *endpoint, char **cause)
{
	return client_new_curve(endpoint, NULL, cause);
}

/* Open a client for endpoint, a CURVE client on tcp:// with keys. */
struct client *
client_new_curve(const char *endpoint, const struct client_curve *keys,
    char **cause)
{
	struct client	*c;

	c = xcalloc(1, sizeof *c);
	c->endpoint = xstrdup(endpoint);
	if (keys != NULL && strncmp(endpoint, "tcp://", 6) == 0) {
		c->curve = *keys;
		c->use_curve = 1;
	}
	c->ctx = zmq_ctx_new();
	if (c->ctx == NULL) {
		*cause = xprintf("cannot create ZeroMQ context: %s",
		    zmq_strerror(zmq_errno()));
		client_free(c);
		return NULL;
	}
	if (client_open(c, cause) != 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

/* Close and free a client. */
void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	client_close(c);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	free(c->endpoint);
	free(c);
}

/* Replace the socket with a new one (queued messages are dropped). */
int
client_reset(struct client *c, char **cause)
{
	client_close(c);
	return client_open(c, cause);
}

/* The endpoint given to client_new. */
const char *
client_endpoint(const struct client *c)
{
	return c->endpoint;
}

/* Set the flag that aborts waits when a signal arrives. */
void
client_set_interrupt(struct client *c, volatile sig_atomic_t *flag)
{
	c->interrupt = flag;
}

/* Read the monitor's pending events: handshake done (connected), key
 * refused, or not connected any more. Each
 * event is two frames: 16-bit event number and 32-bit value, then the
 * endpoint. */
static void
client_read_monitor(struct client *c)
{
	zmq_msg_t	msg;
	uint16_t	event;
	int		more;

	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->mon, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&msg);
			return;
		}
		if (zmq_msg_size(&msg) >= sizeof event) {
			memcpy(&event, zmq_msg_data(&msg), sizeof event);
			if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				c->connected = true;
			else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
				c->refused = true;
			else if (event == ZMQ_EVENT_DISCONNECTED)
				c->connected = false;
		}
		more = zmq_msg_more(&msg);
		zmq_msg_close(&msg);
		while (more) {	/* the endpoint frame */
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, c->mon, ZMQ_DONTWAIT) == -1)
				more = 0;
			else
				more = zmq_msg_more(&msg);
			zmq_msg_close(&msg);
		}
	}
}

/*
 * Poll until the monotonic deadline for a connection (events 0: the
 * monitor) or for events on the socket. Returns 1 when there, 0 on
 * timeout, or a CLIENT_* error code.
 */
static int
client_wait(struct client *c, short events, long deadline, char **cause)
{
	zmq_pollitem_t	item;
	long		left;
	int		n;

	for (;;) {
		if (c->interrupt != NULL && *c->interrupt) {
			*cause = xstrdup("Interrupted.");
			return CLIENT_INTERRUPTED;
		}
		if (events == 0) {
			client_read_monitor(c);
			if (c->connected)
				return 1;
		}
		left = deadline - util_monotonic_ms();
		if (left < 0)
			left = 0;
		memset(&item, 0, sizeof item);
		item.socket = events == 0 ? c->mon : c->sock;
		item.events = events == 0 ? ZMQ_POLLIN : events;
		/* The signal may interrupt another thread (circusctl on a
		 * fleet): look at the flag at least this often. */
		n = zmq_poll(&item, 1, c->interrupt != NULL &&
		    left > CLIENT_INTERRUPT_MS ? CLIENT_INTERRUPT_MS : left);
		if (n == -1) {
			if (zmq_errno() == EINTR)
				continue;
			*cause = xprintf("%s", zmq_strerror(zmq_errno()));
			return CLIENT_ERROR;
		}
		if (events != 0 && n > 0 && (item.revents & events))
			return 1;
		if (left == 0 && !(events == 0 && n > 0))
			return 0;
	}
}

/* Wait for a connection and send request as one frame. */
static int
client_send(struct client *c, json_t *request, int timeout_ms, char **cause)
{
	char	*body;
	long	 deadline = util_monotonic_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int	 rc;

	rc = client_wait(c, 0, deadline, cause);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*cause = xstrdup(c->refused ? CLIENT_KEY_REFUSED :
		    "Timed out.");
		return CLIENT_UNREACHABLE;
	}
	body = pyjson_dumps(request);
	rc = zmq_send(c->sock, body, strlen(body), ZMQ_DONTWAIT);
	free(body);
	if (rc == -1) {
		*cause = xprintf("%s", zmq_strerror(zmq_errno()));
		return zmq_errno() == EAGAIN ? CLIENT_UNREACHABLE :
		    CLIENT_ERROR;
	}
	return CLIENT_OK;
}

/* Send a request and wait for its reply. */
int
client_call(struct client *c, json_t *request, int timeout_ms, json_t **reply,
    char **cause)
{
	char		 id[33];
	json_t		*v, *rid;
	json_error_t	 err;
	zmq_msg_t	 msg;
	long		 deadline;
	int		 rc;

	*reply = NULL;
	deadline = util_monotonic_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	util_uuid_hex(id);
	json_object_set_new(request, "id", json_string(id));
	rc = client_send(c, request, timeout_ms, cause);
	if (rc != CLIENT_OK)
		return rc;
	for (;;) {
		rc = client_wait(c, ZMQ_POLLIN, deadline, cause);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			*cause = xstrdup("Timed out.");
			return CLIENT_TIMEOUT;
		}
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&msg);
			if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
				continue;
			*cause = xprintf("%s", zmq_strerror(zmq_errno()));
			return CLIENT_ERROR;
		}
		v = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg),
		    JSON_DECODE_ANY, &err);
		zmq_msg_close(&msg);
		if (v == NULL) {
			*cause = xprintf("invalid JSON in reply: %s", err.text);
			return CLIENT_ERROR;
		}
		rid = json_is_object(v) ? json_object_get(v, "id") : NULL;
		if (rid != NULL && json_is_string(rid) &&
		    strcmp(json_string_value(rid), id) == 0) {
			*reply = v;
			return CLIENT_OK;
		}
		json_decref(v);
	}
}

/* Send a request as a cast: no reply will come. */
int
client_cast(struct client *c, json_t *request, int timeout_ms, char **cause)
{
	json_object_set_new(request, "msg_type", json_string("cast"));
	return client_send(c, request, timeout_ms, cause);
}

/* Start an ssh process forwarding a free local port to the endpoint. */
int
client_tunnel_open(const char *endpoint, const char *server,
    const char *keyfile, char **local, pid_t *pid, char **cause)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof sin;
	const char		*hostport, *colon, *argv[16];
	char			*host = NULL, *target = NULL, *forward = NULL;
	char			*sshport = NULL, *rport;
	int			 fd, argc = 0, lport;
	pid_t			 child;

	if (strncmp(endpoint, "tcp://", 6) != 0) {
		*cause = xprintf("ssh tunnels need a tcp:// endpoint, not %s",
		    endpoint);
		return -1;
	}
	hostport = endpoint + 6;
	rport = strrchr(hostport, ':');
	if (rport == NULL || rport[1] == '\0') {
		*cause = xprintf("no port in endpoint %s", endpoint);
		return -1;
	}
	host = xstrndup(hostport, (size_t)(rport - hostport));
	rport++;

	/* Pick a free local port for ssh to listen on. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xprintf("socket: %s", strerror(errno));
		free(host);
		return -1;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
		*cause = xprintf("cannot find a free local port: %s",
		    strerror(errno));
		close(fd);
		free(host);
		return -1;
	}
	lport = ntohs(sin.sin_port);
	close(fd);

	colon = strrchr(server, ':');
	if (colon != NULL && strchr(server, ']') == NULL) {
		target = xstrndup(server, (size_t)(colon - server));
		sshport = xstrdup(colon + 1);
	} else
		target = xstrdup(server);
	forward = xprintf("%d:%s:%s", lport, host, rport);

	argv[argc++] = "ssh";
	argv[argc++] = "-N";
	argv[argc++] = "-o";
	argv[argc++] = "ExitOnForwardFailure=yes";
	argv[argc++] = "-L";
	argv[argc++] = forward;
	if (sshport != NULL) {
		argv[argc++] = "-p";
		argv[argc++] = sshport;
	}
	if (keyfile != NULL) {
		argv[argc++] = "-i";
		argv[argc++] = keyfile;
	}
	argv[argc++] = target;
	argv[argc] = NULL;

	child = fork();
	if (child == -1) {
		*cause = xprintf("fork: %s", strerror(errno));
		argc = -1;
	} else if (child == 0) {
		fd = open("/dev/null", O_RDONLY);
		if (fd != -1) {
			dup2(fd, STDIN_FILENO);
			if (fd != STDIN_FILENO)
				close(fd);
		}
		execvp("ssh", (char *const *)(uintptr_t)argv);
		fprintf(stderr, "circus: cannot run ssh: %s\n",
		    strerror(errno));
		_exit(127);
	}
	free(host);
	free(target);
	free(sshport);
	free(forward);
	if (argc == -1)
		return -1;
	*pid = child;
	*local = xprintf("tcp://127.0.0.1:%d", lport);
	return 0;
}

/* Terminate and reap an ssh tunnel. */
void
client_tunnel_close(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}
