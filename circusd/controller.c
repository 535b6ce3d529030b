/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control channel: a ROUTER socket driven from libev through ZMQ_FD
 * (edge-triggered, so it is drained until a receive says EAGAIN), one
 * pipeline for every request (frames -> JSON -> command lookup -> required
 * properties -> watcher lookup -> exec -> reply envelope), and parked
 * replies for commands that complete later.
 */

#include <ctype.h>
#include <malloc.h>
#include <stddef.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <zmq.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

#define CONTROLLER_MAX_MSG	(16 * 1024 * 1024)
#define CONTROLLER_TRIM_AT	(1024 * 1024)
#define CONTROLLER_OUT_KEEP	(64 * 1024)

static void controller_drain(struct arbiter *);

/* New request context: the arbiter's spare one (the last freed, its
 * buffers with it) when it has one. */
struct cmd_ctx *
cmd_ctx_new(struct arbiter *a)
{
	struct cmd_ctx *ctx;

	if ((ctx = a->ctl_spare) != NULL) {
		a->ctl_spare = NULL;
		memset(ctx, 0, offsetof(struct cmd_ctx, identity_buf));
	} else
		ctx = xcalloc(1, sizeof *ctx);
	ctx->arbiter = a;
	return ctx;
}

/* Free a request context (keep it as the spare while the ROUTER is
 * open: controller_close frees that). */
void
cmd_ctx_free(struct cmd_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->identity != ctx->identity_buf)
		free(ctx->identity);
	json_decref(ctx->id);
	json_decref(ctx->props);
	if (ctx->raw != ctx->raw_buf)
		free(ctx->raw);
	if (ctx->command_buf != ctx->command_inline)
		free(ctx->command_buf);
	json_decref(ctx->result);
	free(ctx->reason);
	free(ctx->member_key);
	free(ctx->member_text);
	if (ctx->arbiter->router != NULL && ctx->arbiter->ctl_spare == NULL)
		ctx->arbiter->ctl_spare = ctx;
	else
		free(ctx);
}

/* Set an error with errno and reason. */
enum cmd_status
cmd_error(struct cmd_ctx *ctx, int errnum, const char *fmt, ...)
{
	va_list ap;

	free(ctx->reason);
	va_start(ap, fmt);
	if (vasprintf(&ctx->reason, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	ctx->errnum = errnum;
	return CMD_ERROR;
}

/* errno 5 with Circus's "command b'<raw>': " prefix. */
enum cmd_status
cmd_error5(struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char *text, *raw;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	raw = pyjson_bytes_repr(ctx->raw != NULL ? ctx->raw : "",
	    ctx->raw != NULL ? ctx->raw_len : 0);
	cmd_error(ctx, 5, "command %s: %s", raw, text);
	free(raw);
	free(text);
	return CMD_ERROR;
}

/* Park a request until its operation completes. */
enum cmd_status
cmd_park(struct cmd_ctx *ctx)
{
	ctx->parked = true;
	TAILQ_INSERT_TAIL(&ctx->arbiter->parked, ctx, entry);
	return CMD_WAIT;
}

/* zmq_send, again when a signal (SIGCHLD, every death) interrupts it:
 * ZeroMQ then returns EINTR and the frame was not sent. */
static int
controller_zsend(void *sock, const void *buf, size_t len, int flags)
{
	int rc;

	do
		rc = zmq_send(sock, buf, len, flags);
	while (rc == -1 && errno == EINTR);
	return rc;
}

/*
 * Replies made while a drain reads requests are held and sent together
 * when the drain has read all there was (or the queue is full): the
 * ZeroMQ I/O thread is woken once for the batch instead of once per
 * reply, which is what four concurrent clients cost most (BENCHMARKS.md,
 * throughput). Replies made outside a drain (parked operations) leave at
 * once.
 */
#define CONTROLLER_BATCH	32
static struct {
	zmq_msg_t	id, body;
} controller_batch[CONTROLLER_BATCH];
static int	controller_nbatch;
static bool	controller_batching;

/* Send the held replies. */
static void
controller_flush(struct arbiter *a)
{
	int i, rc;

	for (i = 0; i < controller_nbatch; i++) {
		if (a->router_raw != NULL) {
			do
				rc = zmq_msg_send(&controller_batch[i].id,
				    a->router_raw, ZMQ_SNDMORE);
			while (rc == -1 && errno == EINTR);
			if (rc != -1) {
				do
					rc = zmq_msg_send(
					    &controller_batch[i].body,
					    a->router_raw, 0);
				while (rc == -1 && errno == EINTR);
			}
			if (rc == -1)
				log_debug("reply not sent: %s",
				    zmq_strerror(errno));
		}
		zmq_msg_close(&controller_batch[i].id);
		zmq_msg_close(&controller_batch[i].body);
	}
	controller_nbatch = 0;
}

/*
 * Send [identity, body] on the ROUTER (held while a drain batches); the
 * body (len bytes) stays the caller's. It is copied into the message:
 * handing a big one over as it is (zmq_msg_init_data) lost replies under
 * the flood test (tests/e2e/test_flood.py), so that is not done.
 */
static void
controller_send(struct arbiter *a, const char *identity, size_t idlen,
    const char *body, size_t len)
{
	zmq_msg_t *id, *m;

	if (a->router_raw == NULL)
		return;
	a->ctl_sent = true;
	if (controller_batching) {
		id = &controller_batch[controller_nbatch].id;
		m = &controller_batch[controller_nbatch].body;
		zmq_msg_init_size(id, idlen);
		memcpy(zmq_msg_data(id), identity, idlen);
		zmq_msg_init_size(m, len);
		memcpy(zmq_msg_data(m), body, len);
		if (++controller_nbatch == CONTROLLER_BATCH)
			controller_flush(a);
		return;
	}
	if (controller_zsend(a->router_raw, identity, idlen, ZMQ_SNDMORE) ==
	    -1 || controller_zsend(a->router_raw, body, len, 0) == -1)
		log_debug("reply not sent: %s", zmq_strerror(errno));
}

/* "key": v, or "key": now when v is NULL. */
static void
controller_member(struct pyjson_buf *b, const char *key, const json_t *v)
{
	pyjson_buf_key(b, key);
	if (v != NULL)
		pyjson_buf_dumps(b, v);
	else
		pyjson_buf_float(b, util_wallclock());
}

/* The request's id as json.dumps writes it: a plain string as it came. */
static void
controller_id(struct pyjson_buf *b, const struct cmd_ctx *ctx)
{
	if (ctx->id_str != NULL) {
		pyjson_buf_raw(b, "\"", 1);
		pyjson_buf_raw(b, ctx->id_str, ctx->id_len);
		pyjson_buf_raw(b, "\"", 1);
	} else
		pyjson_buf_dumps(b, ctx->id != NULL ? ctx->id : json_null());
}

/*
 * The envelope around a big member (member_text): written into the room
 * left before the text (member_head bytes) and after it, so the
 * megabytes are not copied; a copy only when the room is too small.
 * pre ends with the member's key; post starts with a sentinel byte (so
 * that its first key gets its ", ") that is dropped here. Returns the
 * buffer to free, the reply *len bytes *off bytes into it.
 */
static char *
controller_wrap(struct cmd_ctx *ctx, struct pyjson_buf *pre,
    struct pyjson_buf *post, size_t *off, size_t *len)
{
	size_t head = ctx->member_head, mlen = ctx->member_len;
	size_t plen = post->len - 1;
	char *base;

	if (pre->len <= head) {
		base = ctx->member_text;
		ctx->member_text = NULL;
		*off = head - pre->len;
		memcpy(base + *off, pre->data, pre->len);
		base = xrealloc(base, head + mlen + plen + 1);
		memcpy(base + head + mlen, post->data + 1, plen);
		base[head + mlen + plen] = '\0';
	} else {
		*off = 0;
		base = xmalloc(pre->len + mlen + plen + 1);
		memcpy(base, pre->data, pre->len);
		memcpy(base + pre->len, ctx->member_text + head, mlen);
		memcpy(base + pre->len + mlen, post->data + 1, plen);
		base[pre->len + mlen + plen] = '\0';
	}
	*len = pre->len + mlen + plen;
	free(pyjson_buf_finish(post, NULL));
	return base;
}

/*
 * Write the reply envelope for ctx, Circus's dict in its order: error:
 * status, reason, tb, time, errno, id; ok: status, time, then the result's
 * members (a list result as "results"; the member named member_key is
 * the JSON text member_text, made beforehand: controller_wrap), then id. A
 * result member named
 * status, time or id takes that member's place (as a dict update does);
 * id's value is always the request's. Written straight from the result,
 * without building the merged dict, into the arbiter's reply buffer
 * (ctl_out, kept from one reply to the next): the reply is *len bytes at
 * the pointer returned, and *heap (NULL when there is none) a buffer the
 * caller frees after sending.
 */
static const char *
controller_envelope(struct cmd_ctx *ctx, enum cmd_status st, char **heap,
    size_t *len)
{
	struct arbiter *a = ctx->arbiter;
	struct pyjson_buf out = { a->ctl_out, 0, a->ctl_out_size };
	struct pyjson_buf post = { 0 }, *pre = &out, *b = pre;
	const json_t *res = json_is_object(ctx->result) ? ctx->result : NULL;
	bool id_done = false;
	size_t off;
	const char *k;
	json_t *v;

	*heap = NULL;
	if (st == CMD_ERROR) {
		pyjson_buf_raw(b, "{\"status\": \"error\"", 18);
		/* json_string refuses text that is not UTF-8: no member then */
		if ((v = json_string(ctx->reason != NULL ? ctx->reason :
		    "unknown error")) != NULL)
			controller_member(b, "reason", v);
		json_decref(v);
		pyjson_buf_raw(b, ", \"tb\": null, \"time\": ", 22);
		pyjson_buf_float(b, util_wallclock());
		v = json_integer(ctx->errnum);
		controller_member(b, "errno", v);
		json_decref(v);
	} else {
		pyjson_buf_raw(b, "{\"status\": ", 11);
		if (res != NULL && (v = json_object_get(res, "status")) != NULL)
			pyjson_buf_dumps(b, v);
		else
			pyjson_buf_raw(b, "\"ok\"", 4);
		pyjson_buf_raw(b, ", \"time\": ", 10);
		if (res != NULL && (v = json_object_get(res, "time")) != NULL)
			pyjson_buf_dumps(b, v);
		else
			pyjson_buf_float(b, util_wallclock());
		if (res != NULL) {
			json_object_foreach((json_t *)(uintptr_t)res, k, v) {
				if (strcmp(k, "status") == 0 ||
				    strcmp(k, "time") == 0)
					continue;
				if (strcmp(k, "id") == 0) {
					pyjson_buf_key(b, k);
					controller_id(b, ctx);
					id_done = true;
					continue;
				}
				if (ctx->member_text != NULL && b == pre &&
				    ctx->member_key != NULL &&
				    strcmp(k, ctx->member_key) == 0) {
					pyjson_buf_key(b, k);
					b = &post;
					pyjson_buf_raw(b, "-", 1);
					continue;
				}
				controller_member(b, k, v);
			}
		} else if (json_is_array(ctx->result))
			controller_member(b, "results", ctx->result);
	}
	if (!id_done) {
		pyjson_buf_raw(b, ", \"id\": ", 8);
		controller_id(b, ctx);
	}
	pyjson_buf_raw(b, "}", 1);
	a->ctl_out = out.data;
	a->ctl_out_size = out.size;
	if (b == &post) {
		*heap = controller_wrap(ctx, pre, &post, &off, len);
		return *heap + off;
	}
	*len = out.len;
	return out.data;
}

/* Reply (unless cast/internal) and free ctx. */
static void
controller_reply(struct cmd_ctx *ctx, enum cmd_status st)
{
	struct arbiter *a = ctx->arbiter;
	const char *body;
	char *heap;
	size_t len;

	if (!ctx->cast && !ctx->internal && ctx->identity != NULL) {
		body = controller_envelope(ctx, st, &heap, &len);
		controller_send(a, ctx->identity, ctx->identity_len, body, len);
		free(heap);
		/* kept while the ROUTER is open (controller_close frees it) */
		if (a->ctl_out_size > CONTROLLER_OUT_KEEP ||
		    a->router == NULL) {
			free(a->ctl_out);
			a->ctl_out = NULL;
			a->ctl_out_size = 0;
		}
	} else if (st == CMD_ERROR)
		log_warnx("command %s failed: %s", ctx->command ? ctx->command :
		    "?", ctx->reason ? ctx->reason : "");
	cmd_ctx_free(ctx);
}

/* Send the reply of a parked command and free it. */
void
cmd_finish(struct cmd_ctx *ctx)
{
	if (ctx->parked) {
		TAILQ_REMOVE(&ctx->arbiter->parked, ctx, entry);
		ctx->parked = false;
	}
	if (ctx->failed) {
		free(ctx->reason);
		ctx->reason = xstrdup("server error");
		ctx->errnum = 6;
		controller_reply(ctx, CMD_ERROR);
	} else
		controller_reply(ctx, CMD_OK);
}

/* Finish a parked command with an error reply (errno and reason). */
void
cmd_finish_error(struct cmd_ctx *ctx, int errnum, const char *reason)
{
	if (ctx->parked) {
		TAILQ_REMOVE(&ctx->arbiter->parked, ctx, entry);
		ctx->parked = false;
	}
	cmd_error(ctx, errnum, "%s", reason);
	controller_reply(ctx, CMD_ERROR);
}

/* Fail every parked reply (shutdown). */
void
controller_fail_parked(struct arbiter *a)
{
	struct cmd_ctx *ctx;

	while ((ctx = TAILQ_FIRST(&a->parked)) != NULL) {
		if (ctx->abandon != NULL)
			ctx->abandon(ctx);
		/* a second quit waited for this very exit: that is success */
		ctx->failed = ctx->command == NULL ||
		    strcmp(ctx->command, "quit") != 0 || !a->stopping;
		cmd_finish(ctx);
	}
}

/* Handle one request body from the client with this ROUTER identity: the
 * whole pipeline (also the entry point of tests/fuzz/fuzz-request.c). */
void
controller_handle_request(struct arbiter *a, const char *identity,
    size_t idlen, const char *body, size_t len)
{
	controller_handle_request_as(a, identity, idlen, body, len, false);
}

/* s[0..len) NUL-terminated in inline_buf when it fits, else in a new
 * allocation (the caller frees it when it is not inline_buf). */
static char *
copy_in(char *inline_buf, size_t inline_size, const char *s, size_t len)
{
	char *p = len < inline_size ? inline_buf : xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* ctx->command_buf = the len bytes at s (a NUL among them ends it, as
 * in the C string jansson gives). */
static void
controller_command(struct cmd_ctx *ctx, const char *s, size_t len)
{
	const char *nul;

	if ((nul = memchr(s, '\0', len)) != NULL)
		len = (size_t)(nul - s);
	ctx->command_buf = copy_in(ctx->command_inline,
	    sizeof ctx->command_inline, s, len);
	ctx->command = ctx->command_buf;
}

/*
 * Read the request's members into ctx: the plain ones straight from the
 * text (pyjson_load_members), anything else through pyjson_loadb. Returns
 * the errno of the error reply (1 json invalid, 2 no command), or 0.
 */
static int
controller_parse(struct cmd_ctx *ctx)
{
	struct pyjson_member m[4] = {
		{ .key = "command" }, { .key = "id" }, { .key = "msg_type" },
		{ .key = "properties" },
	};
	json_error_t jerr;
	json_t *req, *cmd, *mt;
	int rc = 0;

	if (pyjson_load_members(ctx->raw, ctx->raw_len, m, nitems(m)) == 0) {
		ctx->id = m[1].value;
		ctx->id_str = m[1].str;
		ctx->id_len = m[1].len;
		ctx->cast = m[2].str != NULL && m[2].len == 4 &&
		    memcmp(m[2].str, "cast", 4) == 0;
		json_decref(m[2].value);
		ctx->props = m[3].value;
		if (m[0].str != NULL)
			controller_command(ctx, m[0].str, m[0].len);
		else
			rc = 2;
		json_decref(m[0].value);
	} else {
		req = pyjson_loadb(ctx->raw, ctx->raw_len,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		if (req == NULL)
			return 1;
		if (!json_is_object(req)) {
			json_decref(req);
			return 2;
		}
		ctx->id = json_incref(json_object_get(req, "id"));
		mt = json_object_get(req, "msg_type");
		ctx->cast = json_is_string(mt) &&
		    strcmp(json_string_value(mt), "cast") == 0;
		ctx->props = json_incref(json_object_get(req, "properties"));
		cmd = json_object_get(req, "command");
		if (json_is_string(cmd))
			controller_command(ctx, json_string_value(cmd),
			    json_string_length(cmd));
		else
			rc = 2;
		json_decref(req);
	}
	if (!json_is_object(ctx->props)) {
		/* commands only read ctx->props: one empty object serves */
		json_decref(ctx->props);
		if (ctx->arbiter->ctl_noprops == NULL)
			ctx->arbiter->ctl_noprops = json_object();
		ctx->props = json_incref(ctx->arbiter->ctl_noprops);
	}
	return rc;
}

/* The same, from a client with a read-only key when readonly. */
void
controller_handle_request_as(struct arbiter *a, const char *identity,
    size_t idlen, const char *body, size_t len, bool readonly)
{
	struct cmd_ctx *ctx;
	const char *b = body;
	enum cmd_status st;
	int rc;

	while (len > 0 && isspace((unsigned char)*b)) {
		b++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)b[len - 1]))
		len--;
	if (len == 0) {
		log_warnx("got an empty message, ignoring it");
		return;
	}
	ctx = cmd_ctx_new(a);
	ctx->readonly = readonly;
	ctx->identity_len = idlen;	/* ZeroMQ's have at most 255 bytes */
	if (idlen <= sizeof ctx->identity_buf)
		ctx->identity = ctx->identity_buf;
	else
		ctx->identity = xmalloc(idlen);
	if (idlen > 0)
		memcpy(ctx->identity, identity, idlen);
	ctx->raw = copy_in(ctx->raw_buf, sizeof ctx->raw_buf, b, len);
	ctx->raw_len = len;
	if ((rc = controller_parse(ctx)) != 0) {
		cmd_error(ctx, rc, rc == 1 ? "json invalid" :
		    "unknown command: None");
		controller_reply(ctx, CMD_ERROR);
		return;
	}
	st = a->commands->dispatch(ctx);
	if (st != CMD_WAIT)
		controller_reply(ctx, st);
}

/* Did a client with a read-only CURVE key send m? (auth.c's User-Id) */
static bool
controller_readonly_key(zmq_msg_t *m)
{
	const char *uid = zmq_msg_gets(m, "User-Id");

	return uid != NULL && strncmp(uid, "ro:", 3) == 0;
}

/*
 * Read every pending message (ZMQ_FD is edge-triggered): until a receive
 * says EAGAIN, which has processed the socket's commands as a ZMQ_EVENTS
 * query would, so the fd signals again for the next message. Asking
 * ZMQ_EVENTS before each message would cost a poll() each: a receive that
 * finds a message makes no system call.
 */
static void
controller_drain(struct arbiter *a)
{
	zmq_msg_t parts[3];
	int more, n, i, rc;

	controller_batching = true;
	for (;;) {
		if (a->router_raw == NULL)
			break;
		n = 0;
		for (;;) {
			zmq_msg_t m;

			zmq_msg_init(&m);
			/* EINTR (SIGCHLD) mid-message: the next frame is
			 * still there, a retry keeps the message whole */
			do
				rc = zmq_msg_recv(&m, a->router_raw,
				    ZMQ_DONTWAIT);
			while (rc == -1 && errno == EINTR);
			if (rc == -1) {
				zmq_msg_close(&m);
				break;
			}
			more = zmq_msg_more(&m);
			if (n < 3)
				parts[n] = m;
			else
				zmq_msg_close(&m);
			n++;
			if (!more)
				break;
		}
		if (n == 0) {
			if (controller_nbatch > 0) {
				/* sending may process the socket's commands and
				 * take the fd's edge of a request that came
				 * meanwhile: a receive after the last send
				 * (EAGAIN) re-arms it, or that client waits
				 * for nothing (tests/e2e/test_flood.py) */
				controller_flush(a);
				continue;
			}
			controller_batching = false;
			a->ctl_sent = false;
			/* A burst (or one huge request) is over: give the
			 * memory its parsing freed back, RSS returns to its
			 * level instead of staying at the burst's peak. */
			if (a->ctl_untrimmed >= CONTROLLER_TRIM_AT) {
				malloc_trim(0);
				a->ctl_untrimmed = 0;
				/* and again once ZeroMQ's I/O thread has let go
				 * of the burst's connections and messages */
				ev_timer_stop(a->loop, &a->trim_w);
				ev_timer_set(&a->trim_w, 1., 0.);
				ev_timer_start(a->loop, &a->trim_w);
			}
			return;
		}
		for (i = 0; i < n && i < 3; i++)
			a->ctl_untrimmed += zmq_msg_size(&parts[i]);
		if (n == 2)
			controller_handle_request_as(a,
			    zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]),
			    zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]),
			    a->server_cert != NULL &&
			    controller_readonly_key(&parts[1]));
		else
			log_warnx("got unexpected message with %d frames, "
			    "ignoring it", n);
		for (i = 0; i < n && i < 3; i++)
			zmq_msg_close(&parts[i]);
	}
	controller_batching = false;
	controller_flush(a);
}

/* ROUTER fd readable. */
static void
controller_io_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	struct arbiter *a = io->data;

	controller_drain(a);
}

/* Before the loop sleeps: a send since the last drain (a parked reply
 * from a timer or a child's exit) may have consumed a readiness edge. A
 * drain that ended after the last send needs no second look: each costs a
 * poll(). */
static void
controller_prepare_cb(UNUSED struct ev_loop *loop, ev_prepare *pw,
    UNUSED int revents)
{
	struct arbiter *a = pw->data;

	if (a->ctl_sent)
		controller_drain(a);
	fdreserve_report();
}

/* Bind the ROUTER socket on the control endpoint. */
static int
controller_bind_router(struct arbiter *a, const struct arbiter *old,
    char **cause)
{
	const struct circus_cfg *c = &a->cfg->circus;
	int64_t maxmsg = CONTROLLER_MAX_MSG;
	zsock_t *router;
	int zero = 0;

	router = zsock_new(ZMQ_ROUTER);
	if (router == NULL) {
		*cause = xstrdup("cannot create the control socket");
		return -1;
	}
	zsock_set_linger(router, 0);
	zmq_setsockopt(zsock_resolve(router), ZMQ_MAXMSGSIZE, &maxmsg,
	    sizeof maxmsg);
	zmq_setsockopt(zsock_resolve(router), ZMQ_ROUTER_MANDATORY, &zero,
	    sizeof zero);
	if (endpoint_bind(a, old, router, "endpoint", c->endpoint,
	    cause) == -1) {
		zsock_destroy(&router);
		return -1;
	}
	a->router = router;
	a->router_raw = zsock_resolve(router);
	a->router_ino = endpoint_ipc_ino(c->endpoint);
	if (c->endpoint_owner != NULL && strncmp(c->endpoint, "ipc://", 6) == 0 &&
	    endpoint_chown(c->endpoint + 6, c->endpoint_owner, cause) == -1)
		return -1;
	return 0;
}

/* Bind the control endpoint unless a shares it with old (a full restart
 * keeps it: same socket, clients stay connected); old NULL: bind it if
 * not bound yet. */
int
controller_bind(struct arbiter *a, const struct arbiter *old, char **cause)
{
	const struct circus_cfg *c = &a->cfg->circus;

	if (a->router == NULL && (old == NULL || old->router == NULL ||
	    strcmp(c->endpoint, old->cfg->circus.endpoint) != 0) &&
	    controller_bind_router(a, old, cause) == -1)
		return -1;
	return 0;
}

/* The second trim after a burst. */
static void
controller_trim_cb(UNUSED struct ev_loop *loop, UNUSED ev_timer *t,
    UNUSED int revents)
{
	malloc_trim(0);
}

/* Take over old's ROUTER if next did not bind its own endpoint. */
void
controller_handover(struct arbiter *old, struct arbiter *next)
{
	controller_flush(old);
	ev_timer_stop(old->loop, &old->trim_w);
	next->ctl_untrimmed = old->ctl_untrimmed;
	if (next->router == NULL && old->router != NULL) {
		ev_io_stop(old->loop, &old->router_w);
		ev_prepare_stop(old->loop, &old->router_prepare);
		next->router = old->router;
		next->router_raw = old->router_raw;
		next->router_ino = old->router_ino;
		old->router = old->router_raw = NULL;
	}
}

/* Bind (what is not bound yet) and watch the ROUTER. */
int
controller_open(struct arbiter *a, char **cause)
{
	int fd;
	size_t sz = sizeof fd;

	fdreserve_init();
	/* Fixed thresholds: after a 10 MB request glibc would otherwise raise
	 * them to 10/20 MB and keep that much freed memory in the heap. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	if (controller_bind(a, NULL, cause) == -1)
		return -1;
	zmq_getsockopt(a->router_raw, ZMQ_FD, &fd, &sz);
	ev_io_init(&a->router_w, controller_io_cb, fd, EV_READ);
	a->router_w.data = a;
	ev_io_start(a->loop, &a->router_w);
	a->ctl_sent = true;	/* a first look before the first sleep */
	ev_prepare_init(&a->router_prepare, controller_prepare_cb);
	a->router_prepare.data = a;
	ev_prepare_start(a->loop, &a->router_prepare);
	ev_timer_init(&a->trim_w, controller_trim_cb, 1., 0.);
	return 0;
}

/* Close the ROUTER (the replies it holds leave first). */
void
controller_close(struct arbiter *a)
{
	zsock_t *s;

	controller_batching = false;
	controller_flush(a);	/* held replies (quit's) leave first */
	ev_timer_stop(a->loop, &a->trim_w);
	free(a->ctl_spare);
	a->ctl_spare = NULL;
	json_decref(a->ctl_noprops);
	a->ctl_noprops = NULL;
	free(a->ctl_out);
	a->ctl_out = NULL;
	a->ctl_out_size = 0;

	if (a->router != NULL) {
		ev_io_stop(a->loop, &a->router_w);
		ev_prepare_stop(a->loop, &a->router_prepare);
		s = a->router;
		/* let the last replies (quit) leave before the socket goes */
		zsock_set_linger(s, 1000);
		zsock_destroy(&s);
		a->router = NULL;
		a->router_raw = NULL;
		endpoint_ipc_unlink(a->cfg->circus.endpoint, a->router_ino);
	}
}
