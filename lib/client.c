/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-channel client over a ZeroMQ DEALER (protocol.md §2, §11): one
 * frame per request, replies matched by id until a deadline. ZMQ_IMMEDIATE
 * keeps requests off a socket that has no connection, so "unreachable" and
 * "no answer" can be told apart and nothing stale is delivered later.
 * Also spawns the optional ssh tunnel (protocol.md §10). Never logs.
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

struct client {
	void			*ctx;
	void			*sock;
	char			*endpoint;
	volatile sig_atomic_t	*interrupt;
};

static int	client_open(struct client *, char **);
static int	client_wait(struct client *, short, long, char **);
static int	client_send(struct client *, json_t *, int, char **);

/* Create the DEALER socket with a fresh identity and connect it. */
static int
client_open(struct client *c, char **cause)
{
	char	identity[33];
	int	zero = 0, one = 1;

	c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
	if (c->sock == NULL) {
		*cause = xprintf("cannot create socket: %s",
		    zmq_strerror(zmq_errno()));
		return -1;
	}
	util_uuid_hex(identity);
	zmq_setsockopt(c->sock, ZMQ_IDENTITY, identity, 32);
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one);
	if (zmq_connect(c->sock, c->endpoint) != 0) {
		*cause = xprintf("cannot connect to %s: %s", c->endpoint,
		    zmq_strerror(zmq_errno()));
		zmq_close(c->sock);
		c->sock = NULL;
		return -1;
	}
	return 0;
}

/* Open a client for endpoint. */
struct client *
client_new(const char *endpoint, char **cause)
{
	struct client	*c;

	c = xcalloc(1, sizeof *c);
	c->endpoint = xstrdup(endpoint);
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
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	free(c->endpoint);
	free(c);
}

/* Replace the socket with a new one (queued messages are dropped). */
int
client_reset(struct client *c, char **cause)
{
	if (c->sock != NULL) {
		zmq_close(c->sock);
		c->sock = NULL;
	}
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

/*
 * Poll the socket for events until the monotonic deadline. Returns 1 when
 * ready, 0 on timeout, or a CLIENT_* error code.
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
		left = deadline - util_monotonic_ms();
		if (left < 0)
			left = 0;
		memset(&item, 0, sizeof item);
		item.socket = c->sock;
		item.events = events;
		n = zmq_poll(&item, 1, left);
		if (n == -1) {
			if (zmq_errno() == EINTR)
				continue;
			*cause = xprintf("%s", zmq_strerror(zmq_errno()));
			return CLIENT_ERROR;
		}
		if (n > 0 && (item.revents & events))
			return 1;
		if (left == 0)
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

	rc = client_wait(c, ZMQ_POLLOUT, deadline, cause);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*cause = xstrdup("Timed out.");
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
