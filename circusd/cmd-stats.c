/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stats: process info objects of every watcher, of one watcher, or of one
 * of its processes. One stats batch per request, so children come from a
 * single ppid index whatever the number of processes (circusd's
 * descendants from process events, or one /proc scan: lib/procinfo.c),
 * built a bounded step per loop turn (stats.c, doc/design.md §19).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "stats.h"
#include "xmalloc.h"

/*
 * Python's int() of a string: blanks around, an optional sign, digits with
 * single underscores between them. Returns 0, or -1 if not an integer;
 * *out saturates (no pid is that large anyway).
 */
static int
cmd_stats_pyint(const char *s, long long *out)
{
	long long v = 0;
	bool neg = false, digit = false;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s != '\0'; s++) {
		if (*s == '_' && digit && isdigit((unsigned char)s[1]))
			continue;
		if (!isdigit((unsigned char)*s))
			break;
		digit = true;
		if (v < 1000000000000LL)
			v = v * 10 + (*s - '0');
	}
	while (isspace((unsigned char)*s))
		s++;
	if (!digit || *s != '\0')
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* One process of w, given as an int, a float, a bool or a string. */
static enum cmd_status
cmd_stats_process(struct cmd_ctx *ctx, struct procinfo_batch *b, struct watcher *w,
    json_t *name, json_t *process)
{
	struct process *p = NULL;
	long long pid;
	double d;
	char *repr, *nrepr;

	switch (json_typeof(process)) {
	case JSON_INTEGER:
		pid = json_integer_value(process);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		pid = json_is_true(process);
		break;
	case JSON_REAL:
		d = json_real_value(process);
		if (isnan(d))
			return cmd_error5(ctx,
			    "cannot convert float NaN to integer");
		if (isinf(d))
			return cmd_error5(ctx,
			    "cannot convert float infinity to integer");
		pid = fabs(d) < 1e15 ? (long long)d : -1;
		break;
	case JSON_STRING:
		if (cmd_stats_pyint(json_string_value(process), &pid) != 0) {
			repr = pyjson_str_repr(json_string_value(process));
			cmd_error5(ctx,
			    "invalid literal for int() with base "
			    "10: %s",
			    repr);
			free(repr);
			return CMD_ERROR;
		}
		break;
	default:
		return cmd_error5(ctx,
		    "int() argument must be a string, a "
		    "bytes-like object or a real number, not '%s'",
		    pyjson_type_name(process));
	}
	if (pid > 0 && pid <= INT32_MAX)
		p = watcher_find_process(w, (pid_t)pid);
	if (p == NULL) {
		repr = pyjson_repr(process);
		nrepr = pyjson_repr(name);
		cmd_error(ctx, 3, "process %s not found in %s", repr, nrepr);
		free(nrepr);
		free(repr);
		return CMD_ERROR;
	}
	ctx->result = json_object();
	json_object_set_new(ctx->result, "process", json_deep_copy(process));
	json_object_set_new(ctx->result, "info", stats_batch_process(b, p));
	return CMD_OK;
}

/* One reply waiting for its extended_stats hooks. */
struct cmd_stats_ext {
	struct cmd_ctx	*ctx;
	size_t		 pending;
};

/* One process's extended_stats hook. */
struct cmd_stats_ext_one {
	struct cmd_stats_ext	*ext;
	json_t			*info;		/* in ctx->result */
};

/* The hook printed a JSON object: its keys are added to the info (after
 * the standard ones); anything else is logged and ignored. */
static void
cmd_stats_ext_done(struct watcher *w, void *arg, bool result,
    const char *output)
{
	struct cmd_stats_ext_one *one = arg;
	struct cmd_stats_ext *ext = one->ext;
	json_t *extra;

	(void)result;
	extra = *output != '\0' ? json_loads(output, 0, NULL) : NULL;
	if (json_is_object(extra))
		json_object_update(one->info, extra);
	else if (*output != '\0')
		log_warnx("%s: extended_stats hook printed no JSON object",
		    w->name);
	json_decref(extra);
	json_decref(one->info);
	free(one);
	if (--ext->pending > 0)
		return;
	cmd_finish(ext->ctx);
	free(ext);
}

/* stats <name> with extended: run the extended_stats hook per process
 * (doc/design.md §9: {pid, stats} on stdin, JSON object on stdout). */
static enum cmd_status
cmd_stats_extended(struct cmd_ctx *ctx, struct watcher *w, json_t *infos)
{
	struct cmd_stats_ext *ext;
	struct cmd_stats_ext_one *one;
	const char *pid;
	json_t *info;

	if (!hook_configured(w, "extended_stats") || json_object_size(infos) ==
	    0)
		return CMD_OK;
	ext = xcalloc(1, sizeof *ext);
	ext->ctx = ctx;
	json_object_foreach(infos, pid, info)
		if (json_is_object(info))
			ext->pending++;
	if (ext->pending == 0) {
		free(ext);
		return CMD_OK;
	}
	if (!ctx->parked)
		cmd_park(ctx);
	/* configured hooks always call back later, from the loop */
	json_object_foreach(infos, pid, info) {
		if (!json_is_object(info))
			continue;
		one = xcalloc(1, sizeof *one);
		one->ext = ext;
		one->info = json_incref(info);
		hook_run_output(w, "extended_stats", json_pack("{s:I, s:o}",
		    "pid", json_integer_value(json_object_get(info, "pid")),
		    "stats", json_deep_copy(info)), cmd_stats_ext_done, one);
	}
	return CMD_WAIT;
}

/* The reply from a finished job: one watcher's, or every watcher's. The
 * info objects go out as the JSON text the job wrote (doc/design.md
 * §19), but for extended_stats hooks, which get and extend objects. */
static enum cmd_status
cmd_stats_reply(struct cmd_ctx *ctx, struct stats_job *job)
{
	struct pyjson_buf b = { 0 };
	struct watcher *w;
	const char *text, *mode;
	const pid_t *pids;
	json_t *tree, *jtree;
	size_t i, len;
	uint64_t cpu_usec;
	int64_t memory;

	ctx->result = json_object();
	if (json_object_get(ctx->props, "name") == NULL) {
		/* room for the envelope (controller.c writes it there) */
		b.size = STATS_TEXT_HEAD + 4096;
		for (i = 0; i < stats_job_count(job); i++) {
			(void)stats_job_text(job, i, &len);
			b.size += len + 64;
		}
		b.data = xmalloc(b.size);
		memset(b.data, 0, STATS_TEXT_HEAD);
		b.len = STATS_TEXT_HEAD;
		pyjson_buf_raw(&b, "{", 1);
		for (i = 0; i < stats_job_count(job); i++) {
			pyjson_buf_key(&b, stats_job_name(job, i));
			text = stats_job_text(job, i, &len);
			pyjson_buf_raw(&b, text, len);
		}
		pyjson_buf_raw(&b, "}", 1);
		json_object_set_new(ctx->result, "infos", json_null());
		ctx->member_key = xstrdup("infos");
		ctx->member_text = pyjson_buf_finish(&b, &ctx->member_len);
		ctx->member_len -= STATS_TEXT_HEAD;
		ctx->member_head = STATS_TEXT_HEAD;
		return CMD_OK;
	}
	json_object_set_new(ctx->result, "name",
	    json_deep_copy(json_object_get(ctx->props, "name")));
	json_object_set_new(ctx->result, "info", json_null());
	/* the watcher may have been removed while the job ran */
	w = arbiter_find_watcher(ctx->arbiter, stats_job_name(job, 0));
	/* ours: why a client (the flapping plugin) stopped it */
	if (w != NULL && w->client_stop_reason != NULL)
		json_object_set_new(ctx->result, "stop_reason",
		    json_string(w->client_stop_reason));
	/* ours: the whole tree and how it is known (doc/design.md §20) */
	tree = json_array();
	pids = stats_job_tree(job, 0, &len, &mode);
	for (i = 0; i < len; i++)
		json_array_append_new(tree, json_integer(pids[i]));
	json_object_set_new(ctx->result, "tree", json_pack("{s:s, s:o}",
	    "mode", mode, "pids", tree));
	/* the kernel's count for the whole cgroup (doc/design.md §20) */
	if (w != NULL && strcmp(mode, "cgroup") == 0 &&
	    cgroup_usage(w, &cpu_usec, &memory)) {
		jtree = json_object_get(ctx->result, "tree");
		json_object_set_new(jtree, "cpu_usec",
		    json_integer((json_int_t)cpu_usec));
		json_object_set_new(jtree, "memory", memory >= 0 ?
		    json_integer(memory) : json_null());
	}
	if (w != NULL && cmd_prop_bool(ctx, "extended", false)) {
		json_object_set_new(ctx->result, "info",
		    stats_job_infos(job, 0));
		return cmd_stats_extended(ctx, w,
		    json_object_get(ctx->result, "info"));
	}
	ctx->member_key = xstrdup("info");
	ctx->member_text = stats_job_take_text(job, 0, &ctx->member_len);
	ctx->member_head = STATS_TEXT_HEAD;
	return CMD_OK;
}

/* Shutdown while the job runs: drop it (the reply fails). */
static void
cmd_stats_abandon(struct cmd_ctx *ctx)
{
	stats_job_free(ctx->work);
	ctx->work = NULL;
	ctx->abandon = NULL;
}

/* The job of a parked stats is done: reply. */
static void
cmd_stats_done(struct stats_job *job, void *arg)
{
	struct cmd_ctx *ctx = arg;
	enum cmd_status st;

	ctx->work = NULL;
	ctx->abandon = NULL;
	st = cmd_stats_reply(ctx, job);
	stats_job_free(job);
	if (st == CMD_OK)
		cmd_finish(ctx);
}

/* Info objects for all watchers, one watcher, or one process. A watcher
 * or all of them: a job of bounded steps (doc/design.md §19), parked
 * when the first step did not finish it. */
static enum cmd_status
cmd_stats_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w = NULL;
	struct procinfo_batch *b;
	struct stats_job *job;
	json_t *process;
	enum cmd_status st;

	if (!cmd_watcher_opt(ctx, &w))
		return CMD_ERROR;
	if (w != NULL &&
	    (process = json_object_get(ctx->props, "process")) != NULL) {
		b = procinfo_batch_new();
		st = cmd_stats_process(ctx, b, w,
		    json_object_get(ctx->props, "name"), process);
		procinfo_batch_free(b);
		return st;
	}
	job = stats_job_new(a);
	if (w != NULL)
		stats_job_add(job, w);
	else {
		TAILQ_FOREACH(w, &a->watchers, entry)
			stats_job_add(job, w);
	}
	if (stats_job_start(job, cmd_stats_done, ctx)) {
		st = cmd_stats_reply(ctx, job);
		stats_job_free(job);
		return st;
	}
	ctx->work = job;
	ctx->abandon = cmd_stats_abandon;
	return cmd_park(ctx);
}

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.summary = "Get process infos",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_stats_exec,
};
