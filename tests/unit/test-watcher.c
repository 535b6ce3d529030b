/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the watcher's state machine (circusd/watcher.c) through
 * its seam, struct watcher_env (doc/design.md §21): a fake world with no
 * fork and no sleep. Processes are structs with made-up pids (101, 102,
 * ...), the clock is a number the test advances, timers are a list the
 * test fires, hooks wait until a step answers them, events are captured.
 *
 * Each case is a config, a script of steps and the trace it must produce:
 * every spawn, signal, exit, hook asked, event published, state change
 * and operation completed (with its result), in order, then the final
 * state. A fake process obeys the stop signal on the next loop turn
 * unless the case makes it stubborn (then only the SIGKILL that follows
 * graceful_timeout ends it, as process.c does).
 *
 * Steps (separated by ';'):
 *   start stop restart reload reload-seq reload-hard incr decr killall
 *                    queue that operation (killall: the kill command, 9)
 *   exit PID CODE    the process exits with CODE (-N: killed by signal N)
 *   ready PID        READY=1 from the process (readiness = notify)
 *   hook NAME yes|no the oldest pending hook (must be NAME) answers
 *   tick SECONDS     advance the clock, firing the timers due meanwhile
 *   failspawn N      the next N spawns fail (the program is missing)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "circusd.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define MAXP	64
#define MAXT	128
#define MAXH	16
#define TRACE	8192

/* What a case configures; zero means the default named. */
struct case_cfg {
	int		 n;		/* numprocesses (1) */
	double		 graceful;	/* graceful_timeout (5) */
	const char	*hooks;		/* configured hooks, e.g. "before_start" */
	bool		 notify;	/* readiness = notify */
	double		 ready_timeout;	/* readiness_timeout (30) */
	int		 rolling;	/* batch size (1) */
	int		 max_age;	/* 0: off */
	double		 warmup;	/* warmup_delay */
	bool		 stubborn;	/* processes ignore the stop signal */
	bool		 send_hup;
	int		 max_retry;	/* 0: the default 5; -2: 0 */
};

struct wcase {
	const char	*name;
	struct case_cfg	 cfg;
	const char	*steps;
	const char	*want;
};

struct fake_timer {
	ev_timer	*t;
	ev_tstamp	 due;
	unsigned	 seq;		/* same due time: start order */
};

struct fake_hook {
	const char	*name;		/* one of the watcher's hook names */
	json_t		*args;
	hook_done_cb	 done;
	void		*ctx;
};

/* The world one case runs in; reached from the watcher's arbiter. */
struct world {
	struct arbiter		 a;
	struct config		 cfg;
	struct watcher		*w;
	const struct case_cfg	*cc;
	ev_tstamp		 now;
	pid_t			 next_pid;
	int			 fail_spawns;
	struct process		*procs[MAXP];	/* not freed yet */
	size_t			 nprocs;
	struct fake_timer	 timers[MAXT];
	size_t			 ntimers;
	unsigned		 tseq;
	struct fake_hook	 hooks[MAXH];	/* asked, not answered */
	size_t			 nhooks;
	pid_t			 exits[MAXP];	/* obeyed signals: exit next turn */
	int			 exit_codes[MAXP];
	size_t			 nexits;
	enum watcher_state	 last_state;
	int			 in_reap;	/* inside libev's reap pass */
	char			 trace[TRACE];
};

static struct world *
world_of(const struct watcher *w)
{
	return container_of(w->arbiter, struct world, a);
}

static void trace(struct world *, const char *fmt, ...) PRINTFLIKE(2, 3);

/* A state change shows before whatever the watcher does next. */
static void
note_state(struct world *x)
{
	if (x->w == NULL || x->w->state == x->last_state)
		return;
	x->last_state = x->w->state;
	trace(x, "state %s", watcher_state_name(x->w->state));
}

static void
trace(struct world *x, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	note_state(x);
	len = strlen(x->trace);
	va_start(ap, fmt);
	vsnprintf(x->trace + len, sizeof x->trace - len, fmt, ap);
	va_end(ap);
	len = strlen(x->trace);
	if (len + 1 < sizeof x->trace) {
		x->trace[len] = '\n';
		x->trace[len + 1] = '\0';
	}
}

/* ---- fake timers and clock ---- */

static void
fake_timer_stop(struct watcher *w, ev_timer *t)
{
	struct world *x = world_of(w);
	size_t i;

	for (i = 0; i < x->ntimers; i++) {
		if (x->timers[i].t == t) {
			x->timers[i] = x->timers[--x->ntimers];
			return;
		}
	}
}

static void
fake_timer_start(struct watcher *w, ev_timer *t, ev_tstamp after)
{
	struct world *x = world_of(w);

	fake_timer_stop(w, t);
	assert_true(x->ntimers < MAXT);
	x->timers[x->ntimers].t = t;
	x->timers[x->ntimers].due = x->now + after;
	x->timers[x->ntimers].seq = x->tseq++;
	x->ntimers++;
}

static bool
fake_timer_active(struct watcher *w, const ev_timer *t)
{
	struct world *x = world_of(w);
	size_t i;

	for (i = 0; i < x->ntimers; i++)
		if (x->timers[i].t == t)
			return true;
	return false;
}

static ev_tstamp
fake_now(const struct watcher *w, UNUSED bool update)
{
	return world_of(w)->now;
}

/* Fire the earliest timer due by `until`; false if there is none. */
static bool
fire_timer(struct world *x, ev_tstamp until)
{
	struct fake_timer ft;
	size_t i, best = x->ntimers;

	for (i = 0; i < x->ntimers; i++) {
		if (x->timers[i].due > until + 1e-9)
			continue;
		if (best == x->ntimers || x->timers[i].due <
		    x->timers[best].due || (x->timers[i].due ==
		    x->timers[best].due && x->timers[i].seq <
		    x->timers[best].seq))
			best = i;
	}
	if (best == x->ntimers)
		return false;
	ft = x->timers[best];
	x->timers[best] = x->timers[--x->ntimers];
	if (ft.due > x->now)
		x->now = ft.due;
	ev_cb(ft.t)(NULL, ft.t, EV_TIMER);
	return true;
}

/* ---- fake processes ---- */

static void
fake_exit(struct world *x, struct process *p, int code)
{
	trace(x, "exit %d %d", (int)p->pid, code);
	p->exit_code = code;
	p->exit_known = true;
	p->state = PROCESS_EXITED;
	fake_timer_stop(x->w, &p->kill_timer);
	fake_timer_stop(x->w, &p->age_timer);
	fake_timer_stop(x->w, &p->ready_timer);
	fake_timer_stop(x->w, &p->watchdog_timer);
	if (p->holds > 0) {
		p->exit_deferred = true;
		return;
	}
	x->in_reap++;
	p->on_exit(p->watcher, p);
	x->in_reap--;
}

static struct process *
find_proc(struct world *x, pid_t pid)
{
	size_t i;

	for (i = 0; i < x->nprocs; i++)
		if (x->procs[i]->pid == pid)
			return x->procs[i];
	return NULL;
}

static struct process *
fake_spawn(struct watcher *w, int wid, process_exit_cb on_exit, char **cause)
{
	struct world *x = world_of(w);
	struct process *p;

	/* Every case checks it: a respawn is never made inside the reap
	 * pass (libev's waitpid() loop would reap it too, and workers that
	 * exit at once would keep the loop from ever polling: doc/design.md
	 * §5). Only an operation (start, a sequential reload) may spawn
	 * there, once per process it replaces. */
	if (x->in_reap > 0 && TAILQ_EMPTY(&w->ops))
		fail_msg("spawn inside a reap, with no operation running");
	if (x->fail_spawns > 0) {
		x->fail_spawns--;
		trace(x, "spawn failed at %g", x->now - 1000);
		*cause = xstrdup("[Errno 2] No such file or directory: "
		    "'/bin/nope'");
		return NULL;
	}
	assert_true(x->nprocs < MAXP);
	p = xcalloc(1, sizeof *p);
	p->watcher = w;
	p->on_exit = on_exit;
	p->pid = x->next_pid++;
	p->wid = wid;
	p->started = 1e9 + x->now;
	p->started_mono = x->now;
	p->state = PROCESS_RUNNING;
	x->procs[x->nprocs++] = p;
	trace(x, "spawn %d wid %d at %g", (int)p->pid, wid, x->now - 1000);
	return p;
}

/* graceful_timeout ran out: SIGKILL, which nobody ignores. */
static void
fake_kill_timeout_cb(UNUSED struct ev_loop *loop, ev_timer *t,
    UNUSED int revents)
{
	struct process *p = container_of(t, struct process, kill_timer);
	struct world *x = world_of(p->watcher);

	trace(x, "kill %d 9 at %g", (int)p->pid, x->now - 1000);
	fake_exit(x, p, -9);
}

/* process_kill's contract: the stop signal, SIGKILL after timeout_s. */
static void
fake_kill(struct process *p, int signum, double timeout_s,
    enum process_kill_reason reason)
{
	struct world *x = world_of(p->watcher);

	if (p->state != PROCESS_RUNNING) {
		if (reason == KILL_STOP && p->state == PROCESS_STOPPING)
			p->kill_reason = KILL_STOP;
		return;
	}
	p->kill_reason = reason;
	p->state = PROCESS_STOPPING;
	trace(x, "kill %d %d at %g", (int)p->pid, signum, x->now - 1000);
	if (x->cc->stubborn) {
		ev_timer_init(&p->kill_timer, fake_kill_timeout_cb, 0., 0.);
		fake_timer_start(p->watcher, &p->kill_timer, timeout_s);
		return;
	}
	x->exits[x->nexits] = p->pid;
	x->exit_codes[x->nexits++] = -signum;
}

static int
fake_signal(struct process *p, int signum)
{
	trace(world_of(p->watcher), "signal %d %d", (int)p->pid, signum);
	return 0;
}

static void
fake_hold(struct process *p)
{
	p->holds++;
}

static void
fake_release(struct process *p)
{
	if (--p->holds > 0 || !p->exit_deferred)
		return;
	p->exit_deferred = false;
	p->on_exit(p->watcher, p);
}

static void
fake_free(struct process *p)
{
	struct world *x = world_of(p->watcher);
	size_t i;

	fake_timer_stop(p->watcher, &p->kill_timer);
	fake_timer_stop(p->watcher, &p->age_timer);
	fake_timer_stop(p->watcher, &p->ready_timer);
	fake_timer_stop(p->watcher, &p->watchdog_timer);
	for (i = 0; i < x->nprocs; i++) {
		if (x->procs[i] == p) {
			memmove(&x->procs[i], &x->procs[i + 1],
			    (x->nprocs - i - 1) * sizeof *x->procs);
			x->nprocs--;
			break;
		}
	}
	free(p->notify_status);
	free(p->fail_reason);
	free(p->err_tail);
	free(p);
}

/* ---- fake hooks and events ---- */

static bool
fake_hook_configured(const struct watcher *w, const char *hook)
{
	const char *list = world_of(w)->cc->hooks, *s;
	size_t len = strlen(hook);

	for (s = list; s != NULL && (s = strstr(s, hook)) != NULL; s += len)
		if ((s == list || s[-1] == ' ') &&
		    (s[len] == '\0' || s[len] == ' '))
			return true;
	return false;
}

/* hook_run's contract: not configured, the result (true) now; else later,
 * when a step answers it. */
static void
fake_hook_run(struct watcher *w, const char *hook, json_t *args,
    hook_done_cb done, void *ctx)
{
	struct world *x = world_of(w);

	if (!fake_hook_configured(w, hook)) {
		json_decref(args);
		done(w, ctx, true);
		return;
	}
	trace(x, "hook %s", hook);
	assert_true(x->nhooks < MAXH);
	x->hooks[x->nhooks].name = hook;
	x->hooks[x->nhooks].args = args;
	x->hooks[x->nhooks].done = done;
	x->hooks[x->nhooks].ctx = ctx;
	x->nhooks++;
}

static void
fake_hook_cancel_all(struct watcher *w)
{
	struct world *x = world_of(w);

	while (x->nhooks > 0)
		json_decref(x->hooks[--x->nhooks].args);
}

static void
fake_publish(struct arbiter *a, UNUSED struct watcher *w, const char *event,
    json_t *body)
{
	struct world *x = container_of(a, struct world, a);
	json_t *pid = json_object_get(body, "process_pid");

	if (strcmp(event, "reap") == 0)
		trace(x, "event reap %d %d", (int)json_integer_value(pid),
		    (int)json_integer_value(json_object_get(body,
		    "exit_code")));
	else if (strcmp(event, "rolling") == 0)
		trace(x, "event rolling %d/%d", (int)json_integer_value(
		    json_object_get(body, "replaced")), (int)json_integer_value(
		    json_object_get(body, "total")));
	else if (strcmp(event, "rollback") == 0)
		trace(x, "event rollback: %s", json_string_value(
		    json_object_get(body, "reason")));
	else if (pid != NULL)
		trace(x, "event %s %d", event, (int)json_integer_value(pid));
	else
		trace(x, "event %s", event);
	json_decref(body);
}

static void
fake_publish_pid(struct arbiter *a, UNUSED struct watcher *w,
    const char *event, pid_t pid, UNUSED double when)
{
	trace(container_of(a, struct world, a), "event %s %d", event,
	    (int)pid);
}

static const struct watcher_env fake_env = {
	.spawn = fake_spawn,
	.stop = fake_kill,
	.signal = fake_signal,
	.hold = fake_hold,
	.release = fake_release,
	.free = fake_free,
	.now = fake_now,
	.timer_start = fake_timer_start,
	.timer_stop = fake_timer_stop,
	.timer_active = fake_timer_active,
	.hook_configured = fake_hook_configured,
	.hook_run = fake_hook_run,
	.hook_cancel_all = fake_hook_cancel_all,
	.publish = fake_publish,
	.publish_pid = fake_publish_pid,
};

static void
arbiter_stopped(UNUSED struct watcher *w)
{
}

static void
arbiter_freed(UNUSED struct watcher *w)
{
}

/* ---- driving ---- */

/* An operation completed: its name, error, reason and result. */
static void
op_done(struct watcher *w, void *ctx, json_t *result, int error)
{
	struct world *x = world_of(w);
	char *text = result != NULL ? json_dumps(result, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;

	trace(x, "done %s%s%s%s%s%s", (const char *)ctx, error ? " error" : "",
	    w->op_error != NULL ? " failed: " : "", w->op_error != NULL ?
	    w->op_error : "", text != NULL ? " " : "", text != NULL ? text : "");
	free(text);
}

/* Loop turns until nothing is left to do now: obeyed signals end their
 * processes, timers due now fire. */
static void
settle(struct world *x)
{
	struct process *p;
	pid_t pid;
	int code;

	for (;;) {
		note_state(x);
		if (x->nexits > 0) {
			pid = x->exits[0];
			code = x->exit_codes[0];
			x->nexits--;
			memmove(x->exits, x->exits + 1, x->nexits *
			    sizeof *x->exits);
			memmove(x->exit_codes, x->exit_codes + 1, x->nexits *
			    sizeof *x->exit_codes);
			p = find_proc(x, pid);
			if (p != NULL && p->state != PROCESS_EXITED)
				fake_exit(x, p, code);
			continue;
		}
		if (!fire_timer(x, x->now))
			break;
	}
}

static void
queue_op(struct world *x, const char *what)
{
	struct watcher_op *op = NULL;

	if (strcmp(what, "start") == 0)
		op = watcher_op_new(WOP_START, op_done, (void *)"start");
	else if (strcmp(what, "stop") == 0)
		op = watcher_op_new(WOP_STOP, op_done, (void *)"stop");
	else if (strcmp(what, "restart") == 0)
		op = watcher_op_new(WOP_RESTART, op_done, (void *)"restart");
	else if (strncmp(what, "reload", 6) == 0) {
		op = watcher_op_new(WOP_RELOAD, op_done, (void *)"reload");
		op->sequential = strcmp(what, "reload-seq") == 0;
		op->graceful = strcmp(what, "reload-hard") != 0;
	} else if (strcmp(what, "killall") == 0) {
		op = watcher_op_new(WOP_KILL, op_done, (void *)"kill");
		op->signum = 9;
		op->timeout_s = x->w->cfg->graceful_timeout;
	} else if (strcmp(what, "incr") == 0 || strcmp(what, "decr") == 0) {
		x->w->cfg->numprocesses += what[0] == 'i' ? 1 : -1;
		op = watcher_op_new(WOP_SCALE, op_done, (void *)"scale");
	} else {
		fail_msg("unknown step '%s'", what);
		return;
	}
	watcher_queue(x->w, op);
}

static void
answer_hook(struct world *x, const char *name, bool ok)
{
	struct fake_hook h;

	assert_true(x->nhooks > 0);
	h = x->hooks[0];
	assert_string_equal(h.name, name);
	x->nhooks--;
	memmove(x->hooks, x->hooks + 1, x->nhooks * sizeof *x->hooks);
	json_decref(h.args);
	x->in_reap++;		/* a hook's end is its process's reap */
	h.done(x->w, h.ctx, ok);
	x->in_reap--;
}

static void
run_step(struct world *x, char *step)
{
	struct notify_msg m = { .ready = true };
	struct process *p;
	char what[32], arg[32];
	int i1 = 0, i2 = 0;
	double d = 0;
	ev_tstamp until;

	what[0] = arg[0] = '\0';
	sscanf(step, "%31s %31s", what, arg);
	if (strcmp(what, "exit") == 0 || strcmp(what, "ready") == 0) {
		assert_true(sscanf(step, "%*s %d %d", &i1, &i2) >= 1);
		p = find_proc(x, i1);
		assert_non_null(p);
		if (what[0] == 'e')
			fake_exit(x, p, i2);
		else
			watcher_process_notify(x->w, p, &m);
	} else if (strcmp(what, "hook") == 0) {
		assert_true(sscanf(step, "%*s %*s %31s", what) == 1);
		answer_hook(x, arg, strcmp(what, "yes") == 0);
	} else if (strcmp(what, "tick") == 0) {
		assert_true(sscanf(arg, "%lf", &d) == 1);
		until = x->now + d;
		while (fire_timer(x, until))
			settle(x);
		x->now = until;
	} else if (strcmp(what, "failspawn") == 0)
		x->fail_spawns = atoi(arg);
	else
		queue_op(x, what);
	settle(x);
}

/* TEST_WATCHER_DUMP=1: print each trace as the C text of its case, to
 * read (and check!) when writing a case, instead of comparing. */
static void
dump(const struct wcase *c, const char *t)
{
	const char *nl;

	printf("\t/* %s: %s */\n", c->name, c->steps);
	for (; (nl = strchr(t, '\n')) != NULL; t = nl + 1) {
		printf("\t    \"");
		for (; t < nl; t++)
			printf(*t == '"' ? "\\\"" : "%c", *t);
		printf("\\n\"\n");
	}
}

static struct watcher_cfg *
case_watcher_cfg(const struct case_cfg *cc)
{
	struct watcher_cfg *c = watcher_cfg_new_add("web", "/bin/true");

	c->numprocesses = cc->n > 0 ? cc->n : 1;
	c->graceful_timeout = cc->graceful > 0 ? cc->graceful : 5;
	c->readiness = cc->notify ? READINESS_NOTIFY : READINESS_NONE;
	if (cc->ready_timeout > 0)
		c->readiness_timeout = cc->ready_timeout;
	c->rolling = cc->rolling > 0 ? cc->rolling : 1;
	c->max_age = cc->max_age;
	c->max_age_variance = 0;
	c->warmup_delay = cc->warmup;
	c->send_hup = cc->send_hup;
	if (cc->max_retry != 0)
		c->max_retry = cc->max_retry == -2 ? 0 : cc->max_retry;
	return c;
}

static void
run_case(void **state)
{
	const struct wcase *c = *state;
	struct world *x = xcalloc(1, sizeof *x);
	char *steps, *step, *save = NULL;

	x->cc = &c->cfg;
	x->next_pid = 101;
	x->now = 1000;
	x->cfg.circus.backoff_min_s = 0.1;
	x->cfg.circus.backoff_factor = 2;
	x->cfg.circus.backoff_max_s = 30;
	x->cfg.circus.backoff_reset_s = 10;
	x->a.cfg = &x->cfg;
	x->a.watcher_env = &fake_env;
	x->a.watcher_stopped = arbiter_stopped;
	x->a.watcher_freed = arbiter_freed;
	TAILQ_INIT(&x->a.watchers);
	TAILQ_INIT(&x->a.removed);
	x->w = watcher_new(&x->a, case_watcher_cfg(&c->cfg), NULL);
	assert_non_null(x->w);
	assert_ptr_equal(x->w->env, &fake_env);
	steps = xstrdup(c->steps);
	for (step = strtok_r(steps, ";", &save); step != NULL;
	    step = strtok_r(NULL, ";", &save)) {
		while (*step == ' ')
			step++;
		run_step(x, step);
	}
	free(steps);
	trace(x, "= %s, %zu running", watcher_state_name(x->w->state),
	    watcher_active_count(x->w));
	if (getenv("TEST_WATCHER_DUMP") != NULL)
		dump(c, x->trace);
	else if (strcmp(x->trace, c->want) != 0)
		fail_msg("case '%s': want\n%sgot\n%s", c->name, c->want,
		    x->trace);
	/* freeing it frees every process and stops every timer */
	watcher_free(x->w);
	assert_int_equal(x->nprocs, 0);
	assert_int_equal(x->ntimers, 0);
	free(x);
}

/* ---- the cases ---- */


static const struct wcase cases[] = {
	{ "start", { .n = 2 },
	    "start",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "stop", { .n = 2 },
	    "start; stop",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "kill 102 15 at 0\n"
	    "exit 101 -15\n"
	    "exit 102 -15\n"
	    "event reap 101 -15\n"
	    "event reap 102 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "stop escalates to SIGKILL after graceful_timeout", { .stubborn = true, .graceful = 5 },
	    "start; stop; tick 4.9; tick 0.2",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "kill 101 9 at 5\n"
	    "exit 101 -9\n"
	    "event reap 101 -9\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "restart", { .n = 2 },
	    "start; restart",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "kill 102 15 at 0\n"
	    "exit 101 -15\n"
	    "exit 102 -15\n"
	    "event reap 101 -15\n"
	    "event reap 102 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "state starting\n"
	    "spawn 103 wid 1 at 0\n"
	    "event spawn 103\n"
	    "spawn 104 wid 2 at 0\n"
	    "event spawn 104\n"
	    "state active\n"
	    "event start\n"
	    "done restart {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "graceful reload", { .n = 2 },
	    "start; reload",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "spawn 104 wid 4 at 0\n"
	    "event spawn 104\n"
	    "kill 102 15 at 0\n"
	    "kill 101 15 at 0\n"
	    "exit 102 -15\n"
	    "exit 101 -15\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "sequential reload", { .n = 2 },
	    "start; reload-seq",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "spawn 103 wid 1 at 0\n"
	    "event spawn 103\n"
	    "kill 102 15 at 0\n"
	    "exit 102 -15\n"
	    "event reap 102 -15\n"
	    "spawn 104 wid 2 at 0\n"
	    "event spawn 104\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "sequential reload, stubborn", { .n = 2, .stubborn = true },
	    "start; reload-seq; tick 5; tick 5",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "kill 101 15 at 0\n"
	    "kill 101 9 at 5\n"
	    "exit 101 -9\n"
	    "event reap 101 -9\n"
	    "spawn 103 wid 1 at 5\n"
	    "event spawn 103\n"
	    "kill 102 15 at 5\n"
	    "kill 102 9 at 10\n"
	    "exit 102 -9\n"
	    "event reap 102 -9\n"
	    "spawn 104 wid 2 at 10\n"
	    "event spawn 104\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "hard reload", { .n = 1 },
	    "start; reload-hard",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "state starting\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[102],\"stopped\":[101]}}\n"
	    "= active, 1 running\n" },
	{ "reload with send_hup", { .n = 2, .send_hup = true },
	    "start; reload",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "signal 101 1\n"
	    "signal 102 1\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[101,102],\"started\":[],\"stopped\":[]}}\n"
	    "= active, 2 running\n" },
	{ "incr and decr", { .n = 1 },
	    "start; incr; decr",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "done scale {\"numprocesses\":2}\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "done scale {\"numprocesses\":1}\n"
	    "= active, 1 running\n" },
	{ "crash back-off", { .n = 1 },
	    "start; exit 101 1; exit 102 1; tick 0.05; tick 0.05; exit 103 1; tick 0.1; tick 0.1",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 1\n"
	    "event reap 101 1\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "exit 102 1\n"
	    "event reap 102 1\n"
	    "spawn 103 wid 1 at 0.1\n"
	    "event spawn 103\n"
	    "exit 103 1\n"
	    "event reap 103 1\n"
	    "spawn 104 wid 1 at 0.3\n"
	    "event spawn 104\n"
	    "= active, 1 running\n" },
	{ "long life resets back-off", { .n = 1 },
	    "start; exit 101 1; exit 102 1; tick 0.1; tick 20; exit 103 1",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 1\n"
	    "event reap 101 1\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "exit 102 1\n"
	    "event reap 102 1\n"
	    "spawn 103 wid 1 at 0.1\n"
	    "event spawn 103\n"
	    "exit 103 1\n"
	    "event reap 103 1\n"
	    "spawn 104 wid 1 at 20.1\n"
	    "event spawn 104\n"
	    "= active, 1 running\n" },
	{ "max_age", { .max_age = 60 },
	    "start; tick 59; tick 1",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "kill 101 15 at 60\n"
	    "exit 101 -15\n"
	    "spawn 102 wid 1 at 60\n"
	    "event spawn 102\n"
	    "= active, 1 running\n" },
	{ "warmup_delay", { .n = 3, .warmup = 1 },
	    "start; tick 1; tick 1",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 1\n"
	    "event spawn 102\n"
	    "spawn 103 wid 3 at 2\n"
	    "event spawn 103\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102,103]}}\n"
	    "= active, 3 running\n" },
	{ "before_start veto", { .hooks = "before_start" },
	    "start; hook before_start no",
	    "hook before_start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[]}}\n"
	    "= stopped, 0 running\n" },
	{ "before_start and after_start", { .hooks = "before_start after_start" },
	    "start; hook before_start yes; hook after_start yes",
	    "hook before_start\n"
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "hook after_start\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "= active, 1 running\n" },
	{ "after_start veto", { .hooks = "after_start" },
	    "start; hook after_start no",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "hook after_start\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[]}}\n"
	    "= stopped, 0 running\n" },
	{ "before_spawn veto", { .hooks = "before_spawn" },
	    "start; hook before_spawn no",
	    "state starting\n"
	    "hook before_spawn\n"
	    "state stopped\n"
	    "event stop\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[]}}\n"
	    "= stopped, 0 running\n" },
	{ "after_spawn veto", { .hooks = "after_spawn" },
	    "start; hook after_spawn no",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "hook after_spawn\n"
	    "kill 101 15 at 0\n"
	    "state stopping\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[]}}\n"
	    "= stopped, 0 running\n" },
	{ "stop hooks", { .hooks = "before_stop after_stop" },
	    "start; stop; hook before_stop yes; hook after_stop yes",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "hook before_stop\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "hook after_stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "reap hooks", { .hooks = "before_reap after_reap" },
	    "start; exit 101 3; hook before_reap yes; hook after_reap yes",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 3\n"
	    "hook before_reap\n"
	    "event reap 101 3\n"
	    "hook after_reap\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "= active, 1 running\n" },
	{ "ops queue", { .hooks = "before_start" },
	    "start; stop; hook before_start yes",
	    "hook before_start\n"
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "stop during back-off", { .n = 1 },
	    "start; exit 101 1; exit 102 1; stop; tick 1",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 1\n"
	    "event reap 101 1\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "exit 102 1\n"
	    "event reap 102 1\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "spawn failures give up", { .max_retry = 2 },
	    "failspawn 5; start; tick 1; tick 1",
	    "state starting\n"
	    "spawn failed at 0\n"
	    "spawn failed at 0.1\n"
	    "spawn failed at 0.3\n"
	    "state stopped\n"
	    "event stop\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[]}}\n"
	    "= stopped, 0 running\n" },
	{ "readiness gates start", { .n = 2, .notify = true },
	    "start; ready 101; ready 102",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "readiness timeout", { .notify = true, .ready_timeout = 5 },
	    "start; tick 5",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "event unhealthy 101\n"
	    "kill 101 15 at 5\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "spawn 102 wid 1 at 5\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[102]}}\n"
	    "= active, 1 running\n" },
	{ "rolling restart", { .n = 2, .notify = true },
	    "start; ready 101; ready 102; restart; ready 103; ready 104",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "event ready 103\n"
	    "kill 101 15 at 0\n"
	    "event rolling 1/2\n"
	    "exit 101 -15\n"
	    "spawn 104 wid 1 at 0\n"
	    "event spawn 104\n"
	    "event ready 104\n"
	    "kill 102 15 at 0\n"
	    "event rolling 2/2\n"
	    "exit 102 -15\n"
	    "done restart {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "rolling reload by 2", { .n = 2, .notify = true, .rolling = 2 },
	    "start; ready 101; ready 102; reload; ready 103; ready 104",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "spawn 104 wid 4 at 0\n"
	    "event spawn 104\n"
	    "event ready 103\n"
	    "event ready 104\n"
	    "kill 101 15 at 0\n"
	    "kill 102 15 at 0\n"
	    "event rolling 2/2\n"
	    "exit 101 -15\n"
	    "exit 102 -15\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "rollback on exit", { .n = 2, .notify = true },
	    "start; ready 101; ready 102; restart; exit 103 3",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "exit 103 3\n"
	    "event reap 103 3\n"
	    "event rollback: process 103 exited with code 3 after 0.000s\n"
	    "done restart failed: rolled back: process 103 exited with code 3 after 0.000s (0 of 2 processes replaced before)\n"
	    "= active, 2 running\n" },
	{ "rollback on readiness timeout", { .n = 2, .notify = true, .ready_timeout = 5 },
	    "start; ready 101; ready 102; restart; ready 103; tick 5",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "event ready 103\n"
	    "kill 101 15 at 0\n"
	    "event rolling 1/2\n"
	    "exit 101 -15\n"
	    "spawn 104 wid 1 at 0\n"
	    "event spawn 104\n"
	    "event unhealthy 104\n"
	    "kill 104 15 at 5\n"
	    "exit 104 -15\n"
	    "event rollback: process 104 was not ready after 5s (readiness_timeout)\n"
	    "done restart failed: rolled back: process 104 was not ready after 5s (readiness_timeout) (1 of 2 processes replaced before)\n"
	    "= active, 2 running\n" },
	{ "rollback on spawn failure", { .n = 2, .notify = true },
	    "start; ready 101; ready 102; failspawn 1; restart",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn failed at 0\n"
	    "event rollback: error in 'web': [Errno 2] No such file or directory: '/bin/nope'\n"
	    "done restart failed: rolled back: error in 'web': [Errno 2] No such file or directory: '/bin/nope' (0 of 2 processes replaced before)\n"
	    "= active, 2 running\n" },
	{ "stop interrupts rolling", { .n = 2, .notify = true },
	    "start; ready 101; ready 102; restart; stop",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "event ready 101\n"
	    "event ready 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "spawn 103 wid 3 at 0\n"
	    "event spawn 103\n"
	    "kill 103 15 at 0\n"
	    "exit 103 -15\n"
	    "event rollback: interrupted by a stop\n"
	    "done restart failed: rolled back: interrupted by a stop (0 of 2 processes replaced before)\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "kill 102 15 at 0\n"
	    "exit 101 -15\n"
	    "exit 102 -15\n"
	    "event reap 101 -15\n"
	    "event reap 102 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
	{ "restart through every operation hook", { .hooks = "before_stop after_stop before_start after_start" },
	    "start; hook before_start yes; hook after_start yes; restart; hook before_stop yes; hook after_stop yes; hook before_start yes; hook after_start yes",
	    "hook before_start\n"
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "hook after_start\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "hook before_stop\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "hook after_stop\n"
	    "hook before_start\n"
	    "state starting\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "hook after_start\n"
	    "state active\n"
	    "event start\n"
	    "done restart {\"info\":{\"kept\":[],\"started\":[102],\"stopped\":[101]}}\n"
	    "= active, 1 running\n" },
	{ "after_reap alone", { .hooks = "after_reap" },
	    "start; exit 101 3; hook after_reap yes",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 3\n"
	    "event reap 101 3\n"
	    "hook after_reap\n"
	    "spawn 102 wid 1 at 0\n"
	    "event spawn 102\n"
	    "= active, 1 running\n" },
	{ "sequential reload waits for the reap hooks", { .n = 2, .hooks = "before_reap" },
	    "start; reload-seq; hook before_reap yes; hook before_reap yes",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "hook before_reap\n"
	    "event reap 101 -15\n"
	    "spawn 103 wid 1 at 0\n"
	    "event spawn 103\n"
	    "kill 102 15 at 0\n"
	    "exit 102 -15\n"
	    "hook before_reap\n"
	    "event reap 102 -15\n"
	    "spawn 104 wid 2 at 0\n"
	    "event spawn 104\n"
	    "event reload\n"
	    "done reload {\"info\":{\"kept\":[],\"started\":[103,104],\"stopped\":[101,102]}}\n"
	    "= active, 2 running\n" },
	{ "kill command", { .n = 2 },
	    "start; killall",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "spawn 102 wid 2 at 0\n"
	    "event spawn 102\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101,102]}}\n"
	    "kill 101 9 at 0\n"
	    "kill 102 9 at 0\n"
	    "exit 101 -9\n"
	    "exit 102 -9\n"
	    "done kill\n"
	    "spawn 103 wid 1 at 0\n"
	    "event spawn 103\n"
	    "spawn 104 wid 2 at 0\n"
	    "event spawn 104\n"
	    "= active, 2 running\n" },
	{ "after_spawn veto of a respawn", { .hooks = "after_spawn" },
	    "start; hook after_spawn yes; exit 101 1; hook after_spawn no",
	    "state starting\n"
	    "spawn 101 wid 1 at 0\n"
	    "hook after_spawn\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "exit 101 1\n"
	    "event reap 101 1\n"
	    "spawn 102 wid 1 at 0\n"
	    "hook after_spawn\n"
	    "kill 102 15 at 0\n"
	    "state stopping\n"
	    "exit 102 -15\n"
	    "event reap 102 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "= stopped, 0 running\n" },
	{ "stop while a spawn hook runs", { .hooks = "before_spawn" },
	    "start; stop; hook before_spawn yes",
	    "state starting\n"
	    "hook before_spawn\n"
	    "spawn 101 wid 1 at 0\n"
	    "event spawn 101\n"
	    "state active\n"
	    "event start\n"
	    "done start {\"info\":{\"kept\":[],\"started\":[101]}}\n"
	    "state stopping\n"
	    "kill 101 15 at 0\n"
	    "exit 101 -15\n"
	    "event reap 101 -15\n"
	    "state stopped\n"
	    "event stop\n"
	    "done stop {\"info\":null}\n"
	    "= stopped, 0 running\n" },
};

static void
real_timer_cb(UNUSED struct ev_loop *loop, UNUSED ev_timer *t,
    UNUSED int revents)
{
}

/* The daemon's environment reads the loop's clock and arms the loop's
 * timers (the glue the fake cases do not go through). */
static void
test_real_env(UNUSED void **state)
{
	struct arbiter a;
	struct watcher w;
	ev_timer t;

	memset(&a, 0, sizeof a);
	memset(&w, 0, sizeof w);
	a.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(a.loop);
	w.arbiter = &a;
	assert_true(watcher_env_real.now(&w, false) == ev_now(a.loop));
	assert_true(watcher_env_real.now(&w, true) == ev_now(a.loop));
	ev_timer_init(&t, real_timer_cb, 0., 0.);
	assert_false(watcher_env_real.timer_active(&w, &t));
	watcher_env_real.timer_start(&w, &t, 5.);
	assert_true(watcher_env_real.timer_active(&w, &t));
	assert_true(ev_timer_remaining(a.loop, &t) > 4.9);
	watcher_env_real.timer_start(&w, &t, 1.);	/* re-arms */
	assert_true(ev_timer_remaining(a.loop, &t) < 1.1);
	watcher_env_real.timer_stop(&w, &t);
	assert_false(watcher_env_real.timer_active(&w, &t));
	ev_loop_destroy(a.loop);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof cases / sizeof cases[0] + 1];
	size_t i, n = sizeof cases / sizeof cases[0];

	log_level_current = LOG_LEVEL_CRITICAL;
	for (i = 0; i < n; i++) {
		memset(&tests[i], 0, sizeof tests[i]);
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	memset(&tests[n], 0, sizeof tests[n]);
	tests[n].name = "the daemon's environment";
	tests[n].test_func = test_real_env;
	return _cmocka_run_group_tests("watcher", tests, n + 1, NULL, NULL);
}
