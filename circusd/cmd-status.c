/* SPDX-License-Identifier: Apache-2.0 */
/* status: one watcher's state (replacing the envelope's "ok"), or all. */
#include <stdlib.h>

#include "circusd.h"
#include "pyjson.h"
#include "xmalloc.h"

/* {"stdout": {"bytes": n, "lines": m}, ...} when a sink dropped output. */
static json_t *
cmd_status_dropped(const struct watcher *w)
{
	const struct stream *sinks[2] = { w->stdout_stream, w->stderr_stream };
	const char *names[2] = { "stdout", "stderr" };
	json_t *o = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		if (sinks[i] == NULL || stream_dropped_bytes(sinks[i]) == 0)
			continue;
		if (o == NULL)
			o = json_object();
		json_object_set_new(o, names[i], json_pack("{s:I, s:I}",
		    "bytes", (json_int_t)stream_dropped_bytes(sinks[i]),
		    "lines", (json_int_t)stream_dropped_lines(sinks[i])));
	}
	return o;
}

/* (*o)[key] = v, *o made on its first member; v is consumed. */
static void
cmd_status_add(json_t **o, const char *key, json_t *v)
{
	if (*o == NULL)
		*o = json_object();
	json_object_set_new(*o, key, v);
}

/* result[key] = o when o has members; o (or NULL) is consumed either
 * way. */
static void
cmd_status_set_nonempty(json_t *result, const char *key, json_t *o)
{
	if (json_object_size(o) > 0)
		json_object_set_new(result, key, o);
	else
		json_decref(o);
}

/* State of the named watcher, or of every watcher by display name. */
static enum cmd_status
cmd_status_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w = NULL;
	json_t *name, *all, *backoff, *backoffs, *gave_up, *reasons;
	const char *why;

	if (!cmd_watcher_opt(ctx, &w))
		return CMD_ERROR;
	if ((name = json_object_get(ctx->props, "name")) != NULL) {
		ctx->result = json_object();
		json_object_set_new(ctx->result, "status",
		    json_string(watcher_state_name(w->state)));
		/* ours (doc/design.md §5): why and for how long it is backing
		 * off */
		if ((backoff = watcher_backoff_json(w)) != NULL)
			json_object_set_new(ctx->result, "backoff", backoff);
		/* ours (doc/design.md §14): output a slow sink had to drop */
		if ((backoff = cmd_status_dropped(w)) != NULL)
			json_object_set_new(ctx->result, "dropped", backoff);
		/* ours: why it stopped by itself (gave up, hook veto) */
		if ((why = watcher_gave_up_reason(w)) != NULL)
			json_object_set_new(ctx->result, "gave_up",
			    json_string(why));
		/* ours (doc/design.md §18): ready vs starting, a rolling
		 * replace in progress, why the last one rolled back */
		if (w->cfg->readiness == READINESS_NOTIFY)
			json_object_set_new(ctx->result, "processes",
			    json_pack("{s:I, s:I}", "ready",
			    (json_int_t)watcher_ready_count(w), "starting",
			    (json_int_t)watcher_unready_count(w)));
		if ((backoff = watcher_rolling_json(w)) != NULL)
			json_object_set_new(ctx->result, "rolling", backoff);
		if (w->last_rollback != NULL)
			json_object_set_new(ctx->result, "rollback",
			    json_string(w->last_rollback));
		/* ours: why a client (the flapping plugin) stopped it */
		if (w->client_stop_reason != NULL)
			json_object_set_new(ctx->result, "stop_reason",
			    json_string(w->client_stop_reason));
		return CMD_OK;
	}

	all = json_object();
	backoffs = gave_up = reasons = NULL;	/* made when needed */
	TAILQ_FOREACH(w, &a->watchers, entry) {
		if (w->client_stop_reason != NULL)
			cmd_status_add(&reasons, w->name,
			    json_string(w->client_stop_reason));
		json_object_set_new(all, w->name,
		    json_string(watcher_state_name(w->state)));
		if ((backoff = watcher_backoff_json(w)) != NULL)
			cmd_status_add(&backoffs, w->name, backoff);
		if ((why = watcher_gave_up_reason(w)) != NULL)
			cmd_status_add(&gave_up, w->name, json_string(why));
	}
	ctx->result = json_object();
	json_object_set_new(ctx->result, "statuses", all);
	cmd_status_set_nonempty(ctx->result, "backoff", backoffs);
	cmd_status_set_nonempty(ctx->result, "gave_up", gave_up);
	cmd_status_set_nonempty(ctx->result, "stop_reasons", reasons);
	return CMD_OK;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.summary = "Get the status of a watcher or all watchers",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_status_exec,
};
