/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-channel client: a DEALER socket with a random 32-hex identity,
 * linger 0, that sends one-frame JSON requests and matches replies by id
 * (doc/design.md §17.1). Used by circusctl, plugins and tools.
 */
#ifndef CIRCUS_CLIENT_H
#define CIRCUS_CLIENT_H

#include <signal.h>
#include <sys/types.h>

#include <jansson.h>

/* client_call() results. */
#define CLIENT_OK		0
#define CLIENT_ERROR		-1	/* socket or reply decoding error */
#define CLIENT_TIMEOUT		-2	/* connected, no matching reply in time */
#define CLIENT_UNREACHABLE	-3	/* no connection within the timeout */
#define CLIENT_INTERRUPTED	-4	/* the interrupt flag was raised */
/* The cause of a CLIENT_UNREACHABLE when the daemon refused our CURVE key. */
#define CLIENT_KEY_REFUSED	"circusd refused this client's CURVE key"

struct client;

/* CurveZMQ keys of a client, Z85 text (40 characters). */
struct client_curve {
	char	public_key[41];
	char	secret_key[41];
	char	server_key[41];
};

/* Open a client connected (asynchronously) to endpoint. Returns NULL and
 * sets *cause (allocated) on failure. */
struct client	*client_new(const char *endpoint, char **cause);
/* The same, as a CURVE client with keys when keys is not NULL and the
 * endpoint is tcp:// (the daemon secures only tcp endpoints). */
struct client	*client_new_curve(const char *endpoint,
		     const struct client_curve *keys, char **cause);
/* Make an unconnected ZeroMQ socket (a SUB for listen...) a CURVE
 * client with keys. Returns 0, or -1 with errno set. */
int		 client_curve_apply(void *sock,
		     const struct client_curve *keys);
/* Close the socket and free the client; NULL is a no-op. */
void		 client_free(struct client *);
/* Drop the socket (and anything queued on it) and open a fresh one. */
int		 client_reset(struct client *, char **cause);
/* The endpoint the client connects to (borrowed). */
const char	*client_endpoint(const struct client *);
/* Make waits return CLIENT_INTERRUPTED once *flag becomes non-zero (checked
 * when a signal interrupts the wait). NULL disables. */
void		 client_set_interrupt(struct client *,
		     volatile sig_atomic_t *flag);
/*
 * Send request (an object; an "id" member is set in it, 32 hex chars) and
 * wait up to timeout_ms for the reply carrying that id; other replies are
 * discarded. On CLIENT_OK *reply is the decoded reply (caller decrefs).
 * Otherwise returns a CLIENT_* code and sets *cause (allocated).
 */
int		 client_call(struct client *, json_t *request, int timeout_ms,
		     json_t **reply, char **cause);
/* Send request with "msg_type": "cast" (no reply expected). Waits up to
 * timeout_ms for a connection. Returns CLIENT_OK or a CLIENT_* code. */
int		 client_cast(struct client *, json_t *request, int timeout_ms,
		     char **cause);

/*
 * Start "ssh -N -L" forwarding a local port to the host:port of a tcp://
 * endpoint through server ("user@host[:port]"), with optional keyfile.
 * Sets *local (allocated, "tcp://127.0.0.1:<port>") and *pid. Returns 0,
 * or -1 with *cause set.
 */
int		 client_tunnel_open(const char *endpoint, const char *server,
		     const char *keyfile, char **local, pid_t *pid,
		     char **cause);
/* Stop a tunnel started by client_tunnel_open. */
void		 client_tunnel_close(pid_t pid);

#endif
