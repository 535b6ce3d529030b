/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control and pub/sub channel security (README "Securing the control
 * channel"): CurveZMQ on tcp:// endpoints with czmq certificates, and the
 * ZAP handler that decides which client keys get in. The handler is a REP
 * socket on inproc://zeromq.zap.01 driven by the arbiter's libev loop (no
 * zauth thread). It answers a CURVE handshake with the User-Id "rw:<key>"
 * or "ro:<key>" (the controller reads it with zmq_msg_gets) or refuses it,
 * logging the key. The key directories are read at every handshake, so a
 * key added or removed applies to the next connection.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <zmq.h>

#include "circusd.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define AUTH_ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define AUTH_ZAP_FRAMES		7	/* version .. credentials */

/* Does dir hold a client certificate whose public key is key? */
static bool
auth_dir_has(const char *dir, const char *key)
{
	DIR		*d;
	struct dirent	*de;
	zcert_t		*cert;
	char		*path;
	size_t		 n;
	bool		 found = false;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.' || (n > 7 &&
		    strcmp(de->d_name + n - 7, "_secret") == 0))
			continue;
		path = xprintf("%s/%s", dir, de->d_name);
		if ((cert = zcert_load(path)) != NULL) {
			found = strcmp(zcert_public_txt(cert), key) == 0;
			zcert_destroy(&cert);
		}
		free(path);
	}
	closedir(d);
	return found;
}

/* Decide one ZAP request: status code, and the User-Id for a 200. */
static const char *
auth_decide(struct arbiter *a, const char *mechanism, const char *address,
    const unsigned char *cred, size_t credlen, char **user)
{
	const struct circus_cfg	*c = &a->cfg->circus;
	char			 key[41];

	*user = xstrdup("");
	if (strcmp(mechanism, "NULL") == 0)
		return "200";	/* plaintext ipc/loopback: as Circus */
	if (strcmp(mechanism, "CURVE") != 0 || credlen != 32) {
		log_warnx("refused a %s client from %s: only CURVE is "
		    "accepted", mechanism, address);
		return "400";
	}
	zmq_z85_encode(key, cred, 32);
	if (auth_dir_has(c->curve_clients, key)) {
		free(*user);
		*user = xprintf("rw:%s", key);
		log_debug("CURVE client key %s from %s allowed", key, address);
		return "200";
	}
	if (auth_dir_has(c->curve_readonly_clients, key)) {
		free(*user);
		*user = xprintf("ro:%s", key);
		log_debug("CURVE client key %s from %s allowed read-only", key,
		    address);
		return "200";
	}
	log_warnx("refused CURVE client key %s from %s: not in "
	    "curve_clients nor curve_readonly_clients", key, address);
	return "400";
}

/* A frame as a NUL-terminated string (caller frees). */
static char *
auth_frame_str(zmq_msg_t *m)
{
	char	*s = xmalloc(zmq_msg_size(m) + 1);

	memcpy(s, zmq_msg_data(m), zmq_msg_size(m));
	s[zmq_msg_size(m)] = '\0';
	return s;
}

/* Answer one ZAP request made of n frames. */
static void
auth_answer(struct arbiter *a, zmq_msg_t *f, int n)
{
	const char	*status = "400";
	char		*mech, *addr, *user = NULL;
	void		*s = a->zap_raw;

	if (n >= AUTH_ZAP_FRAMES) {
		mech = auth_frame_str(&f[5]);
		addr = auth_frame_str(&f[3]);
		status = auth_decide(a, mech, addr, zmq_msg_data(&f[6]),
		    zmq_msg_size(&f[6]), &user);
		free(mech);
		free(addr);
	}
	zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
	if (n >= 2)
		zmq_send(s, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
		    ZMQ_SNDMORE);
	else
		zmq_send(s, "", 0, ZMQ_SNDMORE);
	zmq_send(s, status, 3, ZMQ_SNDMORE);
	zmq_send(s, status[0] == '2' ? "OK" : "refused", status[0] == '2' ?
	    2 : 7, ZMQ_SNDMORE);
	zmq_send(s, user != NULL ? user : "", user != NULL ? strlen(user) : 0,
	    ZMQ_SNDMORE);
	zmq_send(s, "", 0, 0);
	free(user);
}

/* Read and answer every pending ZAP request (ZMQ_FD is edge-triggered). */
static void
auth_drain(struct arbiter *a)
{
	zmq_msg_t	f[AUTH_ZAP_FRAMES];
	zmq_msg_t	extra;
	int		events, n, i;
	size_t		sz;

	for (;;) {
		sz = sizeof events;
		if (a->zap_raw == NULL || zmq_getsockopt(a->zap_raw,
		    ZMQ_EVENTS, &events, &sz) == -1 ||
		    !(events & ZMQ_POLLIN))
			return;
		n = 0;
		for (;;) {
			zmq_msg_t *m = n < AUTH_ZAP_FRAMES ? &f[n] : &extra;

			zmq_msg_init(m);
			if (zmq_msg_recv(m, a->zap_raw, ZMQ_DONTWAIT) == -1) {
				zmq_msg_close(m);
				break;
			}
			n++;
			if (!zmq_msg_more(m)) {
				if (m == &extra)
					zmq_msg_close(m);
				break;
			}
			if (m == &extra)
				zmq_msg_close(m);
		}
		if (n > 0)
			auth_answer(a, f, n);
		for (i = 0; i < n && i < AUTH_ZAP_FRAMES; i++)
			zmq_msg_close(&f[i]);
	}
}

/* ZAP socket readable. */
static void
auth_io_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	auth_drain(io->data);
}

/* Before the loop sleeps: the replies sent may have taken the edge. */
static void
auth_prepare_cb(UNUSED struct ev_loop *loop, ev_prepare *pw,
    UNUSED int revents)
{
	auth_drain(pw->data);
}

/* Drive the ZAP handler's socket from a's loop. */
static void
auth_watch(struct arbiter *a)
{
	size_t	sz = sizeof(int);
	int	fd;

	zmq_getsockopt(a->zap_raw, ZMQ_FD, &fd, &sz);
	ev_io_init(&a->zap_w, auth_io_cb, fd, EV_READ);
	a->zap_w.data = a;
	ev_io_start(a->loop, &a->zap_w);
	ev_prepare_init(&a->zap_prepare, auth_prepare_cb);
	a->zap_prepare.data = a;
	ev_prepare_start(a->loop, &a->zap_prepare);
}

/*
 * When curve_server_cert is set, load the server certificate and start
 * the ZAP handler, before arbiter_start binds the endpoints. (Plaintext
 * TCP off loopback is refused by the config loader, config.c.)
 */
int
auth_open(struct arbiter *a, char **cause)
{
	const struct circus_cfg	*c = &a->cfg->circus;
	bool			 curve = c->curve_server_cert != NULL;
	zsock_t			*zap;

	if (!curve || a->zap != NULL)	/* off, or handed over (restart) */
		return 0;
	if (!zsys_has_curve()) {
		*cause = xstrdup("curve_server_cert: this libzmq has no "
		    "CURVE support");
		return -1;
	}
	a->server_cert = zcert_load(c->curve_server_cert);
	if (a->server_cert == NULL ||
	    strcmp(zcert_secret_txt(a->server_cert),
	    "0000000000000000000000000000000000000000") == 0) {
		*cause = xprintf("curve_server_cert = %s: cannot load a "
		    "secret certificate (make one with: circusctl keygen %s)",
		    c->curve_server_cert, c->curve_server_cert);
		zcert_destroy((zcert_t **)&a->server_cert);
		return -1;
	}
	if ((zap = zsock_new(ZMQ_REP)) == NULL || zsock_bind(zap, "%s",
	    AUTH_ZAP_ENDPOINT) == -1) {
		*cause = xprintf("cannot bind the ZAP handler on %s: %s",
		    AUTH_ZAP_ENDPOINT, zmq_strerror(errno));
		zsock_destroy(&zap);
		return -1;
	}
	zsock_set_linger(zap, 0);
	a->zap = zap;
	a->zap_raw = zsock_resolve(zap);
	auth_watch(a);
	log_info("CurveZMQ on tcp endpoints, server public key %s",
	    zcert_public_txt(a->server_cert));
	return 0;
}

/* Make sock (not yet bound to endpoint) a CURVE server if tcp://. */
void
auth_apply(const struct arbiter *a, void *zsock, const char *endpoint)
{
	if (a->server_cert == NULL || strncmp(endpoint, "tcp://", 6) != 0)
		return;
	zcert_apply(a->server_cert, zsock);
	zsock_set_curve_server(zsock, 1);
	zsock_set_zap_domain(zsock, "circus");
}

/* The server public key (Z85) when CURVE is on, else NULL. */
const char *
auth_public_key(const struct arbiter *a)
{
	return a->server_cert != NULL ? zcert_public_txt(a->server_cert) :
	    NULL;
}

/*
 * A full restart: next takes over old's certificate and ZAP handler (the
 * sockets it takes over were made CURVE servers with that certificate).
 * CURVE switched on, off or to another certificate needs a daemon
 * restart (quit, then start): said in the log.
 */
void
auth_handover(struct arbiter *old, struct arbiter *next)
{
	const char	*was = old->cfg->circus.curve_server_cert;
	const char	*now = next->cfg->circus.curve_server_cert;

	if ((was == NULL) != (now == NULL) ||
	    (was != NULL && strcmp(was, now) != 0))
		log_warn("curve_server_cert changed: the daemon keeps %s "
		    "until it is stopped and started again",
		    was != NULL ? was : "plaintext");
	if (old->zap == NULL)
		return;
	ev_io_stop(old->loop, &old->zap_w);
	ev_prepare_stop(old->loop, &old->zap_prepare);
	next->zap = old->zap;
	next->zap_raw = old->zap_raw;
	next->server_cert = old->server_cert;
	old->zap = old->zap_raw = NULL;
	old->server_cert = NULL;
	auth_watch(next);
}

/* Stop the ZAP handler and free the certificate. */
void
auth_close(struct arbiter *a)
{
	zsock_t	*s;

	if (a->zap != NULL) {
		ev_io_stop(a->loop, &a->zap_w);
		ev_prepare_stop(a->loop, &a->zap_prepare);
		s = a->zap;
		zsock_destroy(&s);
		a->zap = NULL;
		a->zap_raw = NULL;
	}
	zcert_destroy((zcert_t **)&a->server_cert);
}
