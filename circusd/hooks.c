/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hooks as programs (lifecycle.md §16.2, DECISIONS 5). A configured hook
 * runs its target with the JSON arguments on stdin and CIRCUS_* variables
 * in its environment; exit 0 is true, 1 is false, anything else (exec
 * failure, signal, timeout) means the hook "raised". The loop never waits
 * for one: the caller's callback runs when the program is done.
 *
 * Each watcher runs its hooks one at a time, in the order asked, so the
 * events keep Circus's order (where hooks run inline). A hook asked for
 * by a hook's callback runs before those queued earlier: a chain such as
 * before_signal -> after_signal -> kill stays together.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "circusd.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define HOOK_OUTPUT_MAX	65536	/* bytes of a hook's stdout kept */

#ifndef HOOK_TIMEOUT
#define HOOK_TIMEOUT	30.0	/* seconds; then SIGKILL, and it "raised" */
#endif

/* Hooks whose failure never vetoes (lifecycle.md §16.1). */
static const char *const hook_ignored[] = { "before_stop", "after_stop",
	"before_signal", "after_signal", "extended_stats" };

/* Signals the daemon may have changed, reset in the child. */
static const int hook_reset_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
	SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2, SIGWINCH, SIGXFSZ, SIGALRM };

struct hook_job {
	TAILQ_ENTRY(hook_job)	 entry;
	struct watcher		*watcher;
	char			*name;
	char			*target;
	bool			 ignore;	/* failure counts as true */
	json_t			*args;
	hook_done_cb		 done;
	hook_output_cb		 done_out;	/* instead of done: stdout too */
	void			*ctx;
	bool			 started;
	pid_t			 pid;
	char			*error;		/* could not start */
	char			*input;		/* JSON for stdin */
	size_t			 inlen, inoff;
	int			 infd;
	ev_io			 in_w;
	int			 outfd;		/* its stdout (done_out only) */
	char			*out;
	size_t			 outlen;
	ev_io			 out_w;
	ev_child		 child_w;
	ev_timer		 timer_w;
};

/* What the child needs, prepared before vfork. */
struct hook_plan {
	const char	*path;
	char		*const *argv;
	char		*const *envp;
	const char	*cwd;
	int		 infd;
	int		 outfd;		/* -1: circusd's stdout */
	int		 errfd;
};

static void hook_next(struct watcher *);

/* The configured [target, ignore] of a hook, or NULL. */
static const char *
hook_target(const struct watcher *w, const char *hook, bool *ignore)
{
	json_t *h;
	const char *target;

	if (w->cfg->hooks == NULL || json_object_size(w->cfg->hooks) == 0)
		return NULL;
	if ((h = json_object_get(w->cfg->hooks, hook)) == NULL)
		return NULL;
	*ignore = false;
	if (json_is_string(h))
		target = json_string_value(h);
	else {
		target = json_string_value(json_array_get(h, 0));
		*ignore = json_is_true(json_array_get(h, 1));
	}
	if (target == NULL || *target == '\0')
		return NULL;
	return target;
}

/* Is the hook configured for the watcher? */
bool
hook_configured(const struct watcher *w, const char *hook)
{
	bool ignore;

	return hook_target(w, hook, &ignore) != NULL;
}

/* Report a failed step to the parent and exit. */
static void NORETURN
hook_child_fail(const struct hook_plan *plan, int step)
{
	int msg[2] = { step, errno };

	(void)!write(plan->errfd, msg, sizeof msg);
	_exit(127);
}

/* The child between vfork and exec: async-signal-safe calls only. */
static void NORETURN __attribute__((noinline))
hook_child(const struct hook_plan *plan)
{
	struct sigaction sa;
	sigset_t empty;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < nitems(hook_reset_sigs); i++)
		sigaction(hook_reset_sigs[i], &sa, NULL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	if (dup2(plan->infd, 0) == -1)
		hook_child_fail(plan, 0);
	if (plan->outfd != -1 && dup2(plan->outfd, 1) == -1)
		hook_child_fail(plan, 0);
	if (plan->cwd != NULL && chdir(plan->cwd) == -1)
		hook_child_fail(plan, 1);
	(void)setsid();
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1) {
		for (i = 3; i < 65536; i++)
			(void)fcntl((int)i, F_SETFD, FD_CLOEXEC);
	}
	execve(plan->path, plan->argv, plan->envp);
	hook_child_fail(plan, 2);
}

/* vfork in its own frame; the child never returns from here. */
static pid_t __attribute__((noinline))
hook_vfork(const struct hook_plan *plan)
{
	pid_t pid = vfork();

	if (pid == 0)
		hook_child(plan);
	return pid;
}

/* The watcher's environment plus the CIRCUS_* variables of this hook. */
static char **
hook_envp(struct hook_job *job)
{
	struct watcher *w = job->watcher;
	const json_t *env = w->cfg->env;
	const char *k;
	json_t *v;
	char **envp;
	size_t n = 0;

	envp = xcalloc(json_object_size(env) + 5, sizeof *envp);
	json_object_foreach((json_t *)env, k, v) {
		if (!json_is_string(v) || strcmp(k, "CIRCUS_HOOK") == 0 ||
		    strcmp(k, "CIRCUS_WATCHER") == 0 ||
		    strcmp(k, "CIRCUS_PID") == 0 ||
		    strcmp(k, "CIRCUS_SIGNUM") == 0)
			continue;
		envp[n++] = xprintf("%s=%s", k, json_string_value(v));
	}
	envp[n++] = xprintf("CIRCUS_HOOK=%s", job->name);
	envp[n++] = xprintf("CIRCUS_WATCHER=%s", w->name);
	if ((v = json_object_get(job->args, "pid")) == NULL)
		v = json_object_get(job->args, "process_pid");
	if (json_is_integer(v))
		envp[n++] = xprintf("CIRCUS_PID=%lld",
		    (long long)json_integer_value(v));
	if (json_is_integer(v = json_object_get(job->args, "signum")))
		envp[n++] = xprintf("CIRCUS_SIGNUM=%lld",
		    (long long)json_integer_value(v));
	envp[n] = NULL;
	return envp;
}

/* Free a job whose watchers are stopped. */
static void
hook_job_free(struct hook_job *job)
{
	free(job->name);
	free(job->target);
	free(job->error);
	free(job->input);
	free(job->out);
	json_decref(job->args);
	free(job);
}

/* Stop the job's loop watchers and close its stdin pipe. */
static void
hook_job_stop(struct hook_job *job)
{
	struct ev_loop *loop = job->watcher->arbiter->loop;

	ev_child_stop(loop, &job->child_w);
	ev_timer_stop(loop, &job->timer_w);
	ev_io_stop(loop, &job->in_w);
	ev_io_stop(loop, &job->out_w);
	if (job->infd != -1) {
		close(job->infd);
		job->infd = -1;
	}
	if (job->outfd != -1) {
		close(job->outfd);
		job->outfd = -1;
	}
}

/* Read what the program wrote on stdout (kept up to HOOK_OUTPUT_MAX). */
static void
hook_read_out(struct hook_job *job)
{
	char buf[4096];
	ssize_t n;
	size_t keep;

	while (job->outfd != -1) {
		n = read(job->outfd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			ev_io_stop(job->watcher->arbiter->loop, &job->out_w);
			close(job->outfd);
			job->outfd = -1;
			return;
		}
		keep = job->outlen + (size_t)n > HOOK_OUTPUT_MAX ?
		    HOOK_OUTPUT_MAX - job->outlen : (size_t)n;
		job->out = xrealloc(job->out, job->outlen + keep + 1);
		memcpy(job->out + job->outlen, buf, keep);
		job->outlen += keep;
		job->out[job->outlen] = '\0';
	}
}

static void
hook_out_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	hook_read_out(container_of(io, struct hook_job, out_w));
}

/* The job is over: events, log, callback, then the next job. */
static void
hook_finish(struct hook_job *job, int verdict, const char *error)
{
	struct watcher *w = job->watcher;
	struct hook_job *saved_cursor = w->hook_cursor;
	bool result, alive = true, saved_in_cb = w->hook_in_cb;
	bool *saved_alive = w->hook_alive;

	hook_read_out(job);	/* what is left in the pipe */
	hook_job_stop(job);
	if (error != NULL) {
		log_errorx("Hook '%s' failed: %s", job->name, error);
		events_publish(w->arbiter, w, "hook_failure",
		    json_pack("{s:s, s:f, s:s}", "name", job->name, "time",
		    util_wallclock(), "error", error));
		result = job->ignore;
	} else {
		log_debug("%s: hook '%s' returned %s", w->name, job->name,
		    verdict ? "true" : "false");
		events_publish(w->arbiter, w, "hook_success",
		    json_pack("{s:s, s:f}", "name", job->name, "time",
		    util_wallclock()));
		result = verdict != 0;
	}
	TAILQ_REMOVE(&w->hook_jobs, job, entry);

	/* Hooks asked for by the callback go first; w may be freed. */
	w->hook_in_cb = true;
	w->hook_cursor = NULL;
	w->hook_alive = &alive;
	if (job->done_out != NULL)
		job->done_out(w, job->ctx, result, job->out != NULL ?
		    job->out : "");
	else
		job->done(w, job->ctx, result);
	if (alive) {
		w->hook_in_cb = saved_in_cb;
		w->hook_cursor = saved_cursor;
		w->hook_alive = saved_alive;
		hook_next(w);
	} else if (saved_alive != NULL)
		*saved_alive = false;
	hook_job_free(job);
}

/* The program exited: exit 0 true, 1 false, anything else raised. */
static void
hook_child_cb(UNUSED struct ev_loop *loop, ev_child *cw, UNUSED int revents)
{
	struct hook_job *job = container_of(cw, struct hook_job, child_w);
	int status = cw->rstatus;
	char *error = NULL;

	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1) {
		hook_finish(job, WEXITSTATUS(status) == 0, NULL);
		return;
	}
	if (WIFEXITED(status))
		error = xprintf("exited with %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		error = xprintf("killed by signal %d", WTERMSIG(status));
	else
		return;		/* stopped or continued: wait on */
	hook_finish(job, 0, error);
	free(error);
}

/* Timeout (or a start failure, reported from the loop). */
static void
hook_timer_cb(UNUSED struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct hook_job *job = container_of(t, struct hook_job, timer_w);
	char *error;

	if (job->error != NULL) {
		hook_finish(job, 0, job->error);
		return;
	}
	kill(-job->pid, SIGKILL);
	kill(job->pid, SIGKILL);
	error = xprintf("timed out after %gs", (double)HOOK_TIMEOUT);
	hook_finish(job, 0, error);
	free(error);
}

/* Feed stdin without blocking; a program that does not read is fine. */
static void
hook_write_cb(struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	struct hook_job *job = container_of(io, struct hook_job, in_w);
	ssize_t n;

	while (job->inoff < job->inlen) {
		n = write(job->infd, job->input + job->inoff,
		    job->inlen - job->inoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!ev_is_active(io)) {
				ev_io_set(io, job->infd, EV_WRITE);
				ev_io_start(loop, io);
			}
			return;
		}
		if (n <= 0)
			break;
		job->inoff += (size_t)n;
	}
	ev_io_stop(loop, io);
	close(job->infd);
	job->infd = -1;
}

/* Start the job's program; a failure is reported from the loop. */
static void
hook_start(struct hook_job *job)
{
	struct watcher *w = job->watcher;
	struct ev_loop *loop = w->arbiter->loop;
	struct hook_plan plan;
	json_t *in, *v;
	const char *k;
	char *argv[2], **envp;
	int inp[2] = { -1, -1 }, errp[2] = { -1, -1 }, outp[2] = { -1, -1 };
	int msg[2];
	sigset_t all, old;
	ssize_t n;
	pid_t pid;

	job->started = true;
	in = json_pack("{s:s, s:s}", "hook", job->name, "watcher", w->name);
	json_object_foreach(job->args, k, v)
		json_object_set(in, k, v);
	job->input = json_dumps(in, JSON_COMPACT);
	json_decref(in);
	job->inlen = job->input != NULL ? strlen(job->input) : 0;

	if (pipe2(inp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1 ||
	    (job->done_out != NULL && pipe2(outp, O_CLOEXEC) == -1)) {
		job->error = xprintf("[Errno %d] %s", errno, strerror(errno));
		goto fail;
	}
	envp = hook_envp(job);
	argv[0] = job->target;
	argv[1] = NULL;
	plan.path = job->target;
	plan.argv = argv;
	plan.envp = envp;
	plan.cwd = w->cfg->working_dir;
	plan.infd = inp[0];
	plan.outfd = outp[1];
	plan.errfd = errp[1];

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = hook_vfork(&plan);
	sigprocmask(SIG_SETMASK, &old, NULL);
	argv_free(envp);
	close(inp[0]);
	close(errp[1]);
	inp[0] = errp[1] = -1;
	if (outp[1] != -1) {
		close(outp[1]);
		outp[1] = -1;
	}
	if (pid == -1) {
		job->error = xprintf("[Errno %d] %s", errno, strerror(errno));
		goto fail;
	}
	do
		n = read(errp[0], msg, sizeof msg);
	while (n == -1 && errno == EINTR);
	close(errp[0]);
	errp[0] = -1;
	if (n == (ssize_t)sizeof msg) {
		/* The child exits at once; libev reaps it. */
		job->error = xprintf("[Errno %d] %s: '%s'", msg[1],
		    strerror(msg[1]), msg[0] == 1 ? w->cfg->working_dir :
		    job->target);
		goto fail;
	}
	job->pid = pid;
	log_debug("%s: hook '%s' running %s (pid %d)", w->name, job->name,
	    job->target, (int)pid);
	ev_child_init(&job->child_w, hook_child_cb, pid, 0);
	ev_child_start(loop, &job->child_w);
	ev_timer_init(&job->timer_w, hook_timer_cb, (double)HOOK_TIMEOUT, 0.);
	ev_timer_start(loop, &job->timer_w);
	if (outp[0] != -1) {
		job->outfd = outp[0];
		outp[0] = -1;
		(void)fcntl(job->outfd, F_SETFL,
		    fcntl(job->outfd, F_GETFL) | O_NONBLOCK);
		ev_io_init(&job->out_w, hook_out_cb, job->outfd, EV_READ);
		ev_io_start(loop, &job->out_w);
	}
	job->infd = inp[1];
	(void)fcntl(job->infd, F_SETFL, fcntl(job->infd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&job->in_w, hook_write_cb, job->infd, EV_WRITE);
	hook_write_cb(loop, &job->in_w, EV_WRITE);
	return;

fail:
	if (outp[0] != -1)
		close(outp[0]);
	if (outp[1] != -1)
		close(outp[1]);
	if (inp[0] != -1)
		close(inp[0]);
	if (inp[1] != -1)
		close(inp[1]);
	if (errp[0] != -1)
		close(errp[0]);
	if (errp[1] != -1)
		close(errp[1]);
	ev_timer_init(&job->timer_w, hook_timer_cb, 0., 0.);
	ev_timer_start(loop, &job->timer_w);
}

/* Start the job at the head of the queue unless one runs. */
static void
hook_next(struct watcher *w)
{
	struct hook_job *job = TAILQ_FIRST(&w->hook_jobs);

	if (job != NULL && !job->started)
		hook_start(job);
}

/* Run a hook (done or done_out), or answer true at once when it is not
 * configured. */
static void
hook_run_job(struct watcher *w, const char *hook, json_t *args,
    hook_done_cb done, hook_output_cb done_out, void *ctx)
{
	struct hook_job *job;
	const char *target;
	bool ignore;
	size_t i;

	if ((target = hook_target(w, hook, &ignore)) == NULL) {
		json_decref(args);
		if (done_out != NULL)
			done_out(w, ctx, true, "");
		else
			done(w, ctx, true);
		return;
	}
	for (i = 0; i < nitems(hook_ignored); i++)
		if (strcmp(hook_ignored[i], hook) == 0)
			ignore = true;
	job = xcalloc(1, sizeof *job);
	job->watcher = w;
	job->name = xstrdup(hook);
	job->target = xstrdup(target);
	job->ignore = ignore;
	job->args = args != NULL ? args : json_object();
	job->done = done;
	job->done_out = done_out;
	job->ctx = ctx;
	job->infd = -1;
	job->outfd = -1;
	ev_init(&job->in_w, hook_write_cb);
	ev_init(&job->out_w, hook_out_cb);
	ev_init(&job->child_w, hook_child_cb);
	ev_init(&job->timer_w, hook_timer_cb);
	if (w->hook_in_cb) {
		if (w->hook_cursor == NULL)
			TAILQ_INSERT_HEAD(&w->hook_jobs, job, entry);
		else
			TAILQ_INSERT_AFTER(&w->hook_jobs, w->hook_cursor, job,
			    entry);
		w->hook_cursor = job;
	} else
		TAILQ_INSERT_TAIL(&w->hook_jobs, job, entry);
	hook_next(w);
}

/* Run a hook; done gets its result. */
void
hook_run(struct watcher *w, const char *hook, json_t *args, hook_done_cb done,
    void *ctx)
{
	hook_run_job(w, hook, args, done, NULL, ctx);
}

/* Run a hook; done gets its result and what it printed on stdout. */
void
hook_run_output(struct watcher *w, const char *hook, json_t *args,
    hook_output_cb done, void *ctx)
{
	hook_run_job(w, hook, args, NULL, done, ctx);
}

/* Kill and forget every hook of a watcher being freed. */
void
hook_cancel_all(struct watcher *w)
{
	struct hook_job *job;

	if (w->hook_alive != NULL) {
		*w->hook_alive = false;
		w->hook_alive = NULL;
	}
	while ((job = TAILQ_FIRST(&w->hook_jobs)) != NULL) {
		TAILQ_REMOVE(&w->hook_jobs, job, entry);
		if (job->pid > 0) {
			kill(-job->pid, SIGKILL);
			kill(job->pid, SIGKILL);
		}
		hook_job_stop(job);
		hook_job_free(job);
	}
	w->hook_cursor = NULL;
	w->hook_in_cb = false;
}
