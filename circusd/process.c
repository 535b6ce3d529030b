/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One worker process: build argv/env/fd plan in the parent, vfork, apply
 * the Circus spawn contract in the child with async-signal-safe calls only,
 * exec, and learn about failures through a close-on-exec pipe. Reaping is
 * libev's (ev_child); this file never calls waitpid().
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "circusd.h"
#include "procinfo.h"
#include "log.h"
#include "pyjson.h"
#include "forkexec.h"
#include "util.h"
#include "xmalloc.h"

static void process_kill_timeout_cb(struct ev_loop *, ev_timer *, int);

/* The arbiter's bound sockets as one process gets them (doc/design.md
 * §3): sock[i] with the daemon's fd[i] (its own, or a fresh so_reuseport
 * copy when cmd names it); a use_sockets process has it at fd 3 + i
 * (LISTEN_FDS) and also at fd[i] when that lies above them. num[i] is
 * $(circus.sockets.NAME): a number where the process has the socket. */
struct spawn_socks {
	struct csocket	*sock[SPAWN_MAX_FDS];
	int		 fd[SPAWN_MAX_FDS];
	bool		 copy[SPAWN_MAX_FDS];	/* fd[i] is ours to close */
	char		 num[SPAWN_MAX_FDS][16];
	int		 n;
};

/* Lookup for spawn-time substitution: wid, env.*, sockets.*, options. */
struct spawn_subst_ctx {
	struct watcher		*watcher;
	char			 wid[16];
	char			*tmp;
	const struct spawn_socks *socks;
};

/* Resolve one $(circus.KEY) at spawn time. */
static const char *
spawn_subst_lookup(void *arg, const char *key)
{
	struct spawn_subst_ctx *sc = arg;
	struct watcher *w = sc->watcher;
	struct csocket *s;
	const char *k;
	json_t *v;
	char *cause = NULL;
	int i;

	if (strcmp(key, "wid") == 0)
		return sc->wid;
	if (strncmp(key, "env.", 4) == 0 && w->cfg->env != NULL) {
		json_object_foreach(w->cfg->env, k, v) {
			if (strcasecmp(k, key + 4) == 0 && json_is_string(v))
				return json_string_value(v);
		}
		return NULL;
	}
	if (strncmp(key, "sockets.", 8) == 0) {
		s = csocket_find(w->arbiter, key + 8);
		for (i = 0; s != NULL && i < sc->socks->n; i++)
			if (sc->socks->sock[i] == s)
				return sc->socks->num[i];
		return NULL;
	}
	if (strcmp(key, "use_fds") == 0)
		return w->cfg->use_sockets ? "True" : "False";
	v = watcher_cfg_get(w->cfg, key, &cause);
	free(cause);
	if (v == NULL)
		return NULL;
	free(sc->tmp);
	sc->tmp = pyjson_str(v);
	json_decref(v);
	return sc->tmp;
}

/* Substitute if the text mentions circus at all (fast path otherwise). */
static char *
spawn_subst(struct spawn_subst_ctx *sc, const char *in)
{
	if (strcasestr(in, "circus.") == NULL)
		return xstrdup(in);
	return subst_circus(in, spawn_subst_lookup, sc);
}

/* Build argv from cmd/args/shell options. Returns 0 or -1 + *cause. */
static int
spawn_build_argv(struct watcher *w, struct spawn_subst_ctx *sc, char ***argvp,
    char **cause)
{
	struct watcher_cfg *cfg = w->cfg;
	char **argv = NULL, *s, *joined, *q;
	size_t argc = 0, i, len;
	json_t *a;

	s = spawn_subst(sc, cfg->cmd != NULL ? cfg->cmd : "");
	if (shlex_split(s, &argv, &argc, cause) == -1) {
		free(s);
		argv_free(argv);
		return -1;
	}
	free(s);
	if (json_is_string(cfg->args)) {
		s = spawn_subst(sc, json_string_value(cfg->args));
		if (shlex_split(s, &argv, &argc, cause) == -1) {
			free(s);
			argv_free(argv);
			return -1;
		}
		free(s);
	} else if (json_is_array(cfg->args)) {
		json_array_foreach(cfg->args, i, a) {
			if (!json_is_string(a))
				continue;
			argv = xreallocarray(argv, argc + 2, sizeof *argv);
			argv[argc++] = spawn_subst(sc, json_string_value(a));
			argv[argc] = NULL;
		}
	}
	if (argc == 0) {
		argv_free(argv);
		*cause = xstrdup("empty command");
		return -1;
	}
	if (cfg->shell) {
		len = 1;
		for (i = 0; i < argc; i++)
			len += 3 * strlen(argv[i]) + 3;
		joined = xcalloc(1, len);
		for (i = 0; i < argc; i++) {
			q = shlex_quote(argv[i]);
			if (i > 0)
				strlcat(joined, " ", len);
			strlcat(joined, q, len);
			free(q);
		}
		argv_free(argv);
		argv = xcalloc(4, sizeof *argv);
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = joined;
		argc = 3;
		if (cfg->shell_args != NULL) {
			s = spawn_subst(sc, cfg->shell_args);
			if (shlex_split(s, &argv, &argc, cause) == -1) {
				free(s);
				argv_free(argv);
				return -1;
			}
			free(s);
		}
	}
	*argvp = argv;
	return 0;
}

/* The variables of socket activation, set by circusd alone. */
static bool
spawn_is_listen_var(const char *k)
{
	return strcmp(k, "LISTEN_FDS") == 0 || strcmp(k, "LISTEN_PID") == 0 ||
	    strcmp(k, "LISTEN_FDNAMES") == 0;
}

#define LISTEN_PID_VAR		"LISTEN_PID="
#define LISTEN_PID_DIGITS	24

/* Build "K=V" strings from the watcher env (NULL env = empty); with
 * sockets, LISTEN_FDS, LISTEN_FDNAMES and a LISTEN_PID whose value the
 * child writes into plan->pid_slot (doc/design.md §3). */
static char **
spawn_build_envp(const json_t *env, const struct spawn_socks *socks,
    struct spawn_plan *plan)
{
	const char *k;
	json_t *v;
	char **envp, *names, *p;
	size_t n = 0, len;
	int i;

	envp = xcalloc(json_object_size(env) + 4, sizeof *envp);
	json_object_foreach((json_t *)env, k, v) {
		if (socks != NULL && spawn_is_listen_var(k))
			continue;
		if (json_is_string(v))
			envp[n++] = xprintf("%s=%s", k, json_string_value(v));
	}
	if (socks != NULL && socks->n > 0) {
		envp[n++] = xprintf("LISTEN_FDS=%d", socks->n);
		for (len = 0, i = 0; i < socks->n; i++)
			len += strlen(socks->sock[i]->cfg->name) + 1;
		names = p = xmalloc(sizeof "LISTEN_FDNAMES=" + len);
		p += strlcpy(p, "LISTEN_FDNAMES=", sizeof "LISTEN_FDNAMES=");
		for (i = 0; i < socks->n; i++) {
			if (i > 0)
				*p++ = ':';
			len = strlen(socks->sock[i]->cfg->name);
			memcpy(p, socks->sock[i]->cfg->name, len);
			p += len;
		}
		*p = '\0';
		envp[n++] = names;
		envp[n] = xcalloc(1, sizeof LISTEN_PID_VAR + LISTEN_PID_DIGITS);
		memcpy(envp[n], LISTEN_PID_VAR, sizeof LISTEN_PID_VAR - 1);
		plan->pid_slot = envp[n] + sizeof LISTEN_PID_VAR - 1;
		plan->pid_slot_len = LISTEN_PID_DIGITS;
		n++;
	}
	envp[n] = NULL;
	return envp;
}

/* Set K=V in a NULL-terminated envp built by spawn_build_envp. */
static char **
spawn_env_set(char **envp, const char *k, const char *v)
{
	size_t n, klen = strlen(k);

	for (n = 0; envp[n] != NULL; n++) {
		if (strncmp(envp[n], k, klen) == 0 && envp[n][klen] == '=') {
			free(envp[n]);
			envp[n] = xprintf("%s=%s", k, v);
			return envp;
		}
	}
	envp = xreallocarray(envp, n + 2, sizeof *envp);
	envp[n] = xprintf("%s=%s", k, v);
	envp[n + 1] = NULL;
	return envp;
}

/* NOTIFY_SOCKET and WATCHDOG_USEC for a watcher with readiness or a
 * watchdog (doc/design.md §18), replacing any inherited ones. */
static int
spawn_env_readiness(struct watcher *w, char ***envp, char **cause)
{
	const char *addr;
	char usec[32];

	if (w->cfg->readiness != READINESS_NOTIFY && w->cfg->watchdog <= 0)
		return 0;
	if (w->arbiter->notify == NULL) {
		*cause = xprintf("no notify socket (%s)",
		    w->arbiter->notify_error != NULL ?
		    w->arbiter->notify_error : "not opened");
		return -1;
	}
	addr = notify_address(w->arbiter->notify);
	*envp = spawn_env_set(*envp, "NOTIFY_SOCKET", addr);
	if (w->cfg->watchdog > 0) {
		snprintf(usec, sizeof usec, "%llu",
		    (unsigned long long)(w->cfg->watchdog * 1e6));
		*envp = spawn_env_set(*envp, "WATCHDOG_USEC", usec);
	}
	return 0;
}

/* Find the program in the child's PATH (fallback /bin:/usr/bin). */
static char *
spawn_find_program(const char *prog, const json_t *env)
{
	const char *path = NULL, *p, *e;
	json_t *v;
	char *cand;

	if (strchr(prog, '/') != NULL)
		return xstrdup(prog);
	if (env != NULL && (v = json_object_get(env, "PATH")) != NULL &&
	    json_is_string(v))
		path = json_string_value(v);
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path;; p = e + 1) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		cand = xprintf("%.*s%s%s", (int)(e - p), p,
		    e > p ? "/" : "./", prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (*e == '\0')
			break;
	}
	return NULL;
}

_Static_assert(CFG_MAX_GROUPS <= SPAWN_MAX_GROUPS, "group list fits a plan");

/* The ids resolved when the options were set (config.h struct cfg_ids);
 * -1 + *cause for a name that did not resolve then. */
static int
spawn_ids_plan(const struct watcher_cfg *cfg, struct spawn_plan *plan,
    char **cause)
{
	const struct cfg_ids *ids = &cfg->ids;

	if (ids->bad_uid) {
		*cause = xprintf("unknown user '%s'", json_is_string(cfg->uid) ?
		    json_string_value(cfg->uid) : "?");
		return -1;
	}
	if (ids->bad_gid) {
		*cause = xprintf("unknown group '%s'",
		    json_string_value(cfg->gid));
		return -1;
	}

	plan->set_uid = ids->set_uid;
	plan->uid = ids->uid;
	plan->set_gid = ids->set_gid;
	plan->gid = ids->gid;
	plan->set_groups = ids->set_groups;
	plan->ngroups = ids->ngroups;
	memcpy(plan->groups, ids->groups,
	    (size_t)ids->ngroups * sizeof plan->groups[0]);
	return 0;
}

/* Fill the rlimit table of the plan. */
static int
spawn_rlimits_plan(struct watcher *w, struct spawn_plan *plan, char **cause)
{
	const char *k;
	json_t *v;
	int res;
	json_int_t n;

	if (w->cfg->rlimits == NULL)
		return 0;
	json_object_foreach(w->cfg->rlimits, k, v) {
		if ((res = config_rlimit_resource(k)) == -1) {
			*cause = xprintf("unknown rlimit 'rlimit_%s'", k);
			return -1;
		}
		if (plan->nrl == SPAWN_MAX_RLIM)
			break;
		n = json_is_integer(v) ? json_integer_value(v) : -1;
		plan->rl_res[plan->nrl] = res;
		plan->rl_val[plan->nrl] = n < 0 ? RLIM_INFINITY : (rlim_t)n;
		plan->nrl++;
	}
	return 0;
}

/* The group of a stopped process is empty: now it counts as gone. */
static void
process_group_poll_cb(struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct process *p = container_of(t, struct process, age_timer);

	if (kill(-p->pid, 0) == 0 || errno == EPERM)
		return;
	ev_timer_stop(loop, t);
	ev_timer_stop(loop, &p->kill_timer);
	p->on_exit(p->watcher, p);
}

/* The process exited (status known): hand it over to the watcher
 * (doc/design.md §8: a stopped process counts as gone only when its whole
 * process group is). */
static void
process_exited(struct process *p)
{
	struct ev_loop *loop = p->watcher->arbiter->loop;

	if (p->kill_reason == KILL_STOP && kill(-p->pid, 0) == 0) {
		/* Leftovers of its tree: ask them to stop too, and SIGKILL
		 * them when the graceful timeout runs out. */
		log_debug("%s: process %d exited, its group is still alive",
		    p->watcher->name, (int)p->pid);
		kill(-p->pid, p->watcher->cfg->stop_signal);
		if (!ev_is_active(&p->kill_timer)) {
			ev_timer_set(&p->kill_timer, 0., 0.);
			ev_timer_start(loop, &p->kill_timer);
		}
		ev_timer_init(&p->age_timer, process_group_poll_cb, 0.02, 0.05);
		ev_timer_start(loop, &p->age_timer);
		return;
	}
	ev_timer_stop(loop, &p->kill_timer);
	p->on_exit(p->watcher, p);
}

/* Child exited: record its status; its fate waits for hooks about it. */
static void
process_child_cb(struct ev_loop *loop, ev_child *cw, UNUSED int revents)
{
	struct process *p = container_of(cw, struct process, child_w);
	int status = cw->rstatus;

	ev_child_stop(loop, cw);
	if (WIFEXITED(status))
		p->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		p->exit_code = -WTERMSIG(status);
	else
		return;
	p->exit_known = true;
	p->state = PROCESS_EXITED;
	ev_timer_stop(loop, &p->age_timer);
	ev_timer_stop(loop, &p->ready_timer);
	ev_timer_stop(loop, &p->watchdog_timer);
	if (p->out != NULL) {
		outpipe_close(p->out);
		p->out = NULL;
	}
	if (p->err != NULL) {
		outpipe_drain(p->err);
		p->err_tail = outpipe_tail(p->err, 3);
		outpipe_close(p->err);
		p->err = NULL;
	}
	if (p->holds > 0) {
		p->exit_deferred = true;
		return;
	}
	process_exited(p);
}

/* A hook refers to the process: keep it in its table. */
void
process_hold(struct process *p)
{
	p->holds++;
}

/* Drop a hold; an exit seen meanwhile is handled now. */
void
process_release(struct process *p)
{
	if (--p->holds > 0 || !p->exit_deferred)
		return;
	p->exit_deferred = false;
	process_exited(p);
}

/* The error of a spawn that did not run the program, worded as Circus's
 * (a child that never ran the program is not a crash: doc/design.md §4). */
static char *
process_spawn_cause(const struct spawn_error *se, const char *path,
    const char *cwd)
{
	if (se->step == SPAWN_EXEC || se->step == SPAWN_CHDIR)
		return xprintf("[Errno %d] %s: '%s'", se->err,
		    strerror(se->err), se->step == SPAWN_EXEC ? path : cwd);
	return xprintf("%s: [Errno %d] %s", se->step == SPAWN_PIPE ?
	    "pipe2 (exec status)" : spawn_step_name(se->step), se->err,
	    strerror(se->err));
}

/* The bound sockets in the arbiter's order; an so_reuseport socket (whose
 * master stays unbound) gets a fresh per-process copy when cmd names it,
 * and only then: a copy in a process that never accepts on it would take
 * its share of the port's connections and leave them waiting. The numbers $(circus.sockets.NAME)
 * gives: the daemon's fd, unless a use_sockets process cannot keep it
 * (it lies among 3 .. 2 + n, where LISTEN_FDS puts the sockets): then
 * 3 + i (doc/design.md §3). */
static int
spawn_socks_build(struct watcher *w, struct spawn_socks *ss, char **cause)
{
	struct watcher_cfg *cfg = w->cfg;
	struct csocket *s;
	char ref[300];
	int i, fd;

	TAILQ_FOREACH(s, &w->arbiter->sockets, entry) {
		if (ss->n == SPAWN_MAX_FDS)
			break;
		fd = s->fd;
		snprintf(ref, sizeof ref, "circus.sockets.%s", s->cfg->name);
		if (s->cfg->so_reuseport && cfg->cmd != NULL &&
		    strstr(cfg->cmd, ref) != NULL) {
			if ((fd = csocket_bind_reuseport(s, cause)) == -1)
				return -1;
			ss->copy[ss->n] = true;
		}
		if (fd == -1)
			continue;
		ss->sock[ss->n] = s;
		ss->fd[ss->n++] = fd;
	}
	for (i = 0; i < ss->n; i++)
		snprintf(ss->num[i], sizeof ss->num[i], "%d", cfg->use_sockets &&
		    ss->fd[i] < 3 + ss->n ? 3 + i : ss->fd[i]);
	return 0;
}

/* A use_sockets process: the sockets at 3, 4, ... (LISTEN_FDS), and at
 * the daemon's numbers above those, as Circus hands them over. */
static void
spawn_socks_plan(struct arbiter *a, const struct spawn_socks *ss,
    struct spawn_plan *plan)
{
	struct csocket *s;
	int i;

	for (i = 0; i < ss->n; i++)
		plan->listen[plan->nlisten++] = ss->fd[i];
	TAILQ_FOREACH(s, &a->sockets, entry)
		if (s->fd >= 3 + ss->n && plan->nkeep < SPAWN_MAX_FDS)
			plan->keep[plan->nkeep++] = s->fd;
	for (i = 0; i < ss->n; i++)
		if (ss->copy[i] && ss->fd[i] >= 3 + ss->n &&
		    plan->nkeep < SPAWN_MAX_FDS)
			plan->keep[plan->nkeep++] = ss->fd[i];
}

static void
spawn_socks_close(struct spawn_socks *ss)
{
	int i;

	for (i = 0; i < ss->n; i++)
		if (ss->copy[i])
			close(ss->fd[i]);
	ss->n = 0;
}

/* Spawn one process. */
struct process *
process_spawn(struct watcher *w, int wid, process_exit_cb on_exit,
    char **cause)
{
	struct arbiter *a = w->arbiter;
	struct watcher_cfg *cfg = w->cfg;
	struct spawn_subst_ctx sc;
	struct spawn_plan plan;
	struct process *p;
	struct csocket *s;
	char **argv = NULL, **envp = NULL, *path = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct spawn_socks socks;
	int devnull = -1, i;
	struct spawn_error se;
	pid_t pid;
	double started;
	const char *what = "spawn";

	spawn_plan_init(&plan);
	memset(&socks, 0, sizeof socks);
	memset(&sc, 0, sizeof sc);
	sc.watcher = w;
	snprintf(sc.wid, sizeof sc.wid, "%d", wid);

	if (spawn_socks_build(w, &socks, cause) == -1)
		goto fail;
	sc.socks = &socks;
	if (spawn_build_argv(w, &sc, &argv, cause) == -1)
		goto fail;
	envp = spawn_build_envp(cfg->env, cfg->use_sockets ? &socks : NULL,
	    &plan);
	if (spawn_env_readiness(w, &envp, cause) == -1)
		goto fail;
	if (cfg->executable != NULL && cfg->executable[0] != '\0')
		path = xstrdup(cfg->executable);
	else if ((path = spawn_find_program(argv[0], cfg->env)) == NULL) {
		*cause = xprintf("[Errno 2] No such file or directory: '%s'",
		    argv[0]);
		goto fail;
	}
	if (spawn_ids_plan(cfg, &plan, cause) == -1 ||
	    spawn_rlimits_plan(w, &plan, cause) == -1)
		goto fail;
	if (cfg->close_child_stdin || cfg->close_child_stdout ||
	    cfg->close_child_stderr) {
		what = "open /dev/null";
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull == -1)
			goto fail_errno;
	}
	if (cfg->close_child_stdin)
		plan.fd0 = devnull;
	if (cfg->stdin_socket != NULL) {
		s = csocket_find(a, cfg->stdin_socket);
		if (s != NULL && s->fd != -1)
			plan.fd0 = s->fd;
	}
	if (cfg->close_child_stdout)
		plan.fd1 = devnull;
	else if (w->stdout_stream != NULL) {
		what = "pipe2 (stdout stream)";
		if (pipe2(outp, O_CLOEXEC) == -1)
			goto fail_errno;
		plan.fd1 = outp[1];
	}
	if (cfg->close_child_stderr)
		plan.fd2 = devnull;
	else if (w->stderr_stream != NULL) {
		what = "pipe2 (stderr stream)";
		if (pipe2(errp, O_CLOEXEC) == -1)
			goto fail_errno;
		plan.fd2 = errp[1];
	}
	if (cfg->use_sockets)
		spawn_socks_plan(a, &socks, &plan);
	plan.path = path;
	plan.argv = argv;
	plan.envp = envp;
	plan.cwd = cfg->working_dir;
	/* doc/design.md §20 */
	cgroup_spawn_fds(w, &plan.cgroup_fd, &plan.cgroup_dir);

	started = util_wallclock();
	if ((pid = spawn_run(&plan, &se)) == -1) {
		*cause = process_spawn_cause(&se, path, cfg->working_dir);
		goto fail;
	}

	p = xcalloc(1, sizeof *p);
	p->watcher = w;
	p->on_exit = on_exit;
	p->pid = pid;
	p->wid = wid;
	p->started = started;
	p->started_mono = ev_now(a->loop);
	p->state = PROCESS_RUNNING;
	ev_child_init(&p->child_w, process_child_cb, pid, 0);
	ev_child_start(a->loop, &p->child_w);
	ev_timer_init(&p->kill_timer, process_kill_timeout_cb, 0, 0);
	ev_timer_init(&p->age_timer, NULL, 0, 0);
	ev_timer_init(&p->ready_timer, NULL, 0, 0);
	ev_timer_init(&p->watchdog_timer, NULL, 0, 0);
	if (outp[0] != -1) {
		close(outp[1]);
		p->out = outpipe_new(a->loop, outp[0], w->stdout_stream, pid);
	}
	if (errp[0] != -1) {
		close(errp[1]);
		p->err = outpipe_new(a->loop, errp[0], w->stderr_stream, pid);
	}
	spawn_socks_close(&socks);
	if (devnull != -1)
		close(devnull);
	free(sc.tmp);
	free(path);
	argv_free(argv);
	argv_free(envp);
	return p;

fail_errno:
	/* name the call: "vfork: [Errno 11] Resource temporarily ..." */
	*cause = xprintf("%s: [Errno %d] %s", what, errno, strerror(errno));
fail:
	for (i = 0; i < 2; i++) {
		if (outp[i] != -1)
			close(outp[i]);
		if (errp[i] != -1)
			close(errp[i]);
	}
	spawn_socks_close(&socks);
	if (devnull != -1)
		close(devnull);
	free(sc.tmp);
	free(path);
	argv_free(argv);
	argv_free(envp);
	return NULL;
}

/* Send a signal to the process itself. */
int
process_signal(struct process *p, int signum)
{
	if (p->state == PROCESS_EXITED)
		return -1;
	return kill(p->pid, signum);
}

/* Direct children of pid: lib/procinfo's children index, the daemon's
 * one /proc reader (kept by the kernel's process events when circusd can
 * follow them, else one scan). */
size_t
process_children(pid_t pid, pid_t **out)
{
	struct procinfo_batch *b = procinfo_batch_new();
	size_t n;

	n = procinfo_batch_children(b, pid, out);
	procinfo_batch_free(b);
	return n;
}

/* All descendants of pid (breadth first), from one index. */
size_t
process_descendants(pid_t pid, pid_t **out)
{
	struct procinfo_batch *b = procinfo_batch_new();
	size_t n;

	n = procinfo_batch_descendants(b, pid, out);
	procinfo_batch_free(b);
	return n;
}

/* Arguments of the signal hooks, only when one is configured. */
static json_t *
process_signal_args(struct process *p, const char *hook)
{
	if (!hook_configured(p->watcher, hook))
		return NULL;
	return json_pack("{s:i, s:i}", "pid", (int)p->pid, "signum",
	    p->sig_signum);
}

/* after_signal ran: kill events, then the graceful timer. */
static void
process_after_signal_done(struct watcher *w, void *ctx, UNUSED bool ok)
{
	struct process *p = ctx;
	struct arbiter *a = w->arbiter;
	size_t i;

	if (p->sig_sent)
		events_pid(a, w, "kill", p->pid, util_wallclock());
	for (i = 0; i < p->sig_nkids; i++)
		events_pid(a, w, "kill", p->sig_kids[i], util_wallclock());
	free(p->sig_kids);
	p->sig_kids = NULL;
	p->sig_nkids = 0;
	if (!p->sig_escalate && p->state == PROCESS_STOPPING) {
		ev_timer_init(&p->kill_timer, process_kill_timeout_cb,
		    p->sig_timeout > 0 ? p->sig_timeout : 0.0, 0.);
		ev_timer_start(a->loop, &p->kill_timer);
	}
	process_release(p);
}

/* Signal what the list holds; keep those that got it. */
static void
process_signal_list(struct process *p, pid_t *list, size_t n, int signum)
{
	size_t i;

	p->sig_kids = list;
	p->sig_nkids = 0;
	for (i = 0; i < n; i++)
		if (kill(list[i], signum) == 0)
			list[p->sig_nkids++] = list[i];
}

/* before_signal ran: send the signal (a veto holds back all but
 * SIGKILL), signal the children, then after_signal. */
static void
process_before_signal_done(struct watcher *w, void *ctx, bool ok)
{
	struct process *p = ctx;
	pid_t *kids = NULL;
	size_t n = 0;

	if (p->state == PROCESS_EXITED) {
		/* gone meanwhile: nothing to signal, no kill event */
		process_release(p);
		return;
	}
	if (p->sig_escalate) {
		/* Find the tree first: once the leader dies its children
		 * are reparented and no longer look like its tree. */
		n = process_descendants(p->pid, &kids);
		kill(p->pid, SIGKILL);
		p->sig_sent = true;
		kill(-p->pid, SIGKILL);
	} else {
		if (w->cfg->stop_children)
			n = process_children(p->pid, &kids);
		if (ok || p->sig_signum == SIGKILL)
			p->sig_sent = kill(p->pid, p->sig_signum) == 0;
		else {
			log_debug("%s: before_signal hook said no: signal %d "
			    "not sent to %d", w->name, p->sig_signum,
			    (int)p->pid);
			p->sig_sent = true;
		}
	}
	process_signal_list(p, kids, n, p->sig_signum);
	hook_run(w, "after_signal", process_signal_args(p, "after_signal"),
	    process_after_signal_done, p);
}

/* Signal the process through the before_signal/after_signal hooks. */
static void
process_signal_hooked(struct process *p, int signum, bool escalate)
{
	p->sig_signum = signum;
	p->sig_escalate = escalate;
	p->sig_sent = false;
	process_hold(p);
	hook_run(p->watcher, "before_signal",
	    process_signal_args(p, "before_signal"),
	    process_before_signal_done, p);
}

/* The signal command's signal to one process, between its hooks. */
struct process_sigcmd {
	struct process	*p;
	int		 signum;
	pid_t		*tree;		/* descendants (recursive), owned */
	size_t		 ntree;
};

static void
process_sigcmd_after_done(UNUSED struct watcher *w, void *ctx,
    UNUSED bool ok)
{
	struct process_sigcmd *sc = ctx;

	process_release(sc->p);
	free(sc->tree);
	free(sc);
}

/* before_signal said yes (or the signal is SIGKILL): send it, then to the
 * tree found beforehand; after_signal runs in any case. */
static void
process_sigcmd_before_done(struct watcher *w, void *ctx, bool ok)
{
	struct process_sigcmd *sc = ctx;
	struct process *p = sc->p;
	size_t i;

	if (p->state != PROCESS_EXITED) {
		if (ok || sc->signum == SIGKILL)
			kill(p->pid, sc->signum);
		else
			log_debug("%s: before_signal hook said no: signal %d "
			    "not sent to %d", w->name, sc->signum,
			    (int)p->pid);
		for (i = 0; i < sc->ntree; i++)
			kill(sc->tree[i], sc->signum);
	}
	hook_run(w, "after_signal", hook_configured(w, "after_signal") ?
	    json_pack("{s:i, s:i}", "pid", (int)p->pid, "signum", sc->signum) :
	    NULL, process_sigcmd_after_done, sc);
}

/* The `signal` command's path to a process (commands.md signal):
 * before_signal (vetoes all but SIGKILL), the signal, then the tree
 * (owned, may be NULL), then after_signal. No kill events. */
void
process_signal_command(struct process *p, int signum, pid_t *tree,
    size_t ntree)
{
	struct process_sigcmd *sc;

	sc = xcalloc(1, sizeof *sc);
	sc->p = p;
	sc->signum = signum;
	sc->tree = tree;
	sc->ntree = ntree;
	process_hold(p);
	hook_run(p->watcher, "before_signal",
	    hook_configured(p->watcher, "before_signal") ?
	    json_pack("{s:i, s:i}", "pid", (int)p->pid, "signum", signum) :
	    NULL, process_sigcmd_before_done, sc);
}

/* Graceful timeout expired: SIGKILL the process, its group and tree. */
static void
process_kill_timeout_cb(UNUSED struct ev_loop *loop, ev_timer *t,
    UNUSED int revents)
{
	struct process *p = container_of(t, struct process, kill_timer);
	struct watcher *w = p->watcher;

	if (p->state == PROCESS_EXITED) {
		/* the leader is gone but not its group */
		kill(-p->pid, SIGKILL);
		return;
	}
	log_info("%s: process %d still alive after graceful_timeout, "
	    "sending SIGKILL", w->name, (int)p->pid);
	process_signal_hooked(p, SIGKILL, true);
}

/* Start a graceful kill. */
void
process_kill(struct process *p, int signum, double timeout_s,
    enum process_kill_reason reason)
{
	if (p->state != PROCESS_RUNNING) {
		/* Already on its way out: only let a stop take it over. */
		if (reason == KILL_STOP && p->state == PROCESS_STOPPING)
			p->kill_reason = KILL_STOP;
		return;
	}
	p->kill_reason = reason;
	p->state = PROCESS_STOPPING;
	p->sig_timeout = timeout_s;
	process_signal_hooked(p, signum, false);
}

/* Free a removed process (its child watcher must be stopped). */
void
process_free(struct process *p)
{
	struct ev_loop *loop;

	if (p == NULL)
		return;
	loop = p->watcher->arbiter->loop;
	ev_child_stop(loop, &p->child_w);
	ev_timer_stop(loop, &p->kill_timer);
	ev_timer_stop(loop, &p->age_timer);
	ev_timer_stop(loop, &p->ready_timer);
	ev_timer_stop(loop, &p->watchdog_timer);
	free(p->notify_status);
	free(p->fail_reason);
	free(p->err_tail);
	if (p->out != NULL)
		outpipe_close(p->out);
	if (p->err != NULL)
		outpipe_close(p->err);
	free(p->sig_kids);
	free(p);
}
