/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each watcher in a cgroup of its own when circusd can make a cgroup v2
 * subtree (root, or a delegated subtree): <own cgroup>/circusd-<pid>/
 * <n>-<watcher>. A process joins it between vfork and exec (lib/forkexec),
 * so its whole tree is the cgroup's membership whatever it forks and
 * however it detaches; what is left there when the watcher has stopped
 * gets the stop signal and cgroup.kill after graceful_timeout. Elsewhere
 * the tree is the process group (doc/design.md §8, §20).
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup2.h"
#include "forkexec.h"
#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* A watcher's cgroup and its leftovers after a stop. */
struct wcgroup {
	struct watcher	*w;
	struct cg2	*cg;
	ev_timer	 kill_w;	/* graceful_timeout -> cgroup.kill */
	pid_t		*left;		/* signalled at the stop */
	size_t		 nleft;
	bool		 killed;	/* cgroup.kill was used on cg */
};

static struct cg2	*cgroup_root;
static char		*cgroup_why;	/* why not, when not */
static unsigned		 cgroup_seq;
/* cgroups of freed watchers whose killed members had not exited yet */
static struct cg2	**cgroup_dead;
static size_t		 cgroup_ndead;

/* Make circusd's subtree when enabled; log which way trees are found. */
/* auto: can a process be created in a cgroup under root (clone3)? */
static int
cgroup_probe(struct cg2 *root, char **why)
{
	struct cg2 *probe;
	char *cause = NULL;
	int rc;

	if ((probe = cg2_child(root, "probe", &cause)) == NULL) {
		*why = xprintf("[circus] cgroups = auto: %s", cause);
		free(cause);
		return -1;
	}
	if ((rc = spawn_probe_into_cgroup(probe->dirfd)) == -1)
		*why = xprintf("[circus] cgroups = auto: no process can be "
		    "created in a cgroup here (clone3: %s), and moving each "
		    "one in costs 6-9 ms a spawn", strerror(errno));
	(void)cg2_remove(probe);
	return rc;
}

void
cgroup_start(enum cgroups_mode mode)
{
	char name[64];
	size_t n;

	if (cgroup_root != NULL || cgroup_why != NULL)
		return;
	if (mode == CGROUPS_OFF)
		cgroup_why = xstrdup("[circus] cgroups = false");
	else if (mode == CGROUPS_AUTO && !spawn_into_cgroup_built())
		cgroup_why = xstrdup("[circus] cgroups = auto: this build "
		    "cannot create a process in a cgroup (clone3)");
	else {
		snprintf(name, sizeof name, "circusd-%d", (int)getpid());
		cgroup_root = cg2_open_root(name, &cgroup_why);
		if (cgroup_root != NULL && mode == CGROUPS_AUTO &&
		    cgroup_probe(cgroup_root, &cgroup_why) == -1) {
			(void)cg2_remove(cgroup_root);
			cgroup_root = NULL;
		}
	}
	if (cgroup_root != NULL) {
		log_info("cgroups: each watcher in its own cgroup under %s%s",
		    cgroup_root->path, cg2_has_kill(cgroup_root) ? "" :
		    " (no cgroup.kill: leftovers are killed one by one)");
		if ((n = cg2_sweep_stale(cgroup_root, "circusd-")) > 0)
			log_info("cgroups: removed %zu empty subtree(s) of "
			    "daemons that are gone", n);
	}
	else
		log_info("cgroups: not used (%s): a process's tree is its "
		    "process group", cgroup_why);
}

void
cgroup_stop(void)
{
	pid_t *pids;
	size_t i, n;
	int tries;

	free(cgroup_why);
	cgroup_why = NULL;
	for (i = 0; i < cgroup_ndead; i++) {
		for (tries = 0; tries < 100; tries++) {
			n = cg2_members(cgroup_dead[i], &pids);
			free(pids);
			if (n == 0)
				break;
			usleep(10000);
		}
		if (cg2_remove(cgroup_dead[i]) == -1)
			log_warn("cgroups: cannot remove a cgroup of a removed "
			    "watcher");
	}
	free(cgroup_dead);
	cgroup_dead = NULL;
	cgroup_ndead = 0;
	if (cgroup_root == NULL)
		return;
	if (cg2_remove(cgroup_root) == -1)
		log_warn("cgroups: cannot remove %s", cgroup_root->path);
	cgroup_root = NULL;
}

/* "cgroup" or "process-group": how a watcher's tree is known. */
const char *
cgroup_mode(void)
{
	return cgroup_root != NULL ? "cgroup" : "process-group";
}

/* The watcher's cgroup, made on first use; NULL when not in cgroup mode
 * or when it cannot be made (logged once per watcher). */
/* A new cgroup for w: a name the filesystem takes, the number keeps it
 * unique. */
static struct cg2 *
cgroup_make(struct watcher *w, char **cause)
{
	char name[96];
	const char *c;
	size_t n;

	n = (size_t)snprintf(name, sizeof name, "%u-", ++cgroup_seq);
	for (c = w->name; *c != '\0' && n + 1 < sizeof name; c++)
		name[n++] = isalnum((unsigned char)*c) || *c == '-' ||
		    *c == '_' ? *c : '_';
	name[n] = '\0';
	return cg2_child(cgroup_root, name, cause);
}

static struct wcgroup *
cgroup_get(struct watcher *w)
{
	struct wcgroup *wc;
	char *cause = NULL;

	if (cgroup_root == NULL)
		return NULL;
	if ((wc = w->cgroup) != NULL) {
		if (wc->cg == NULL)
			return NULL;
		if (cg2_wake(wc->cg, &cause) == -1) {
			log_warnx("%s: %s", w->name, cause);
			free(cause);
			return NULL;
		}
		return wc;
	}
	wc = w->cgroup = xcalloc(1, sizeof *wc);
	wc->w = w;
	ev_timer_init(&wc->kill_w, NULL, 0., 0.);
	if ((wc->cg = cgroup_make(w, &cause)) == NULL) {
		log_warn("%s: no cgroup (%s): its tree is its process groups",
		    w->name, cause);
		free(cause);
		return NULL;
	}
	return wc;
}

/*
 * After a cgroup.kill, a process created in that cgroup with clone3
 * (CLONE_INTO_CGROUP) is killed at birth on some kernels (6.18 here:
 * tests/unit/test-cgroup2.c shows it), while one that moves in through
 * cgroup.procs lives. So a killed cgroup, once empty, is replaced by a
 * fresh one; until then spawns join through cgroup.procs.
 */
static void
cgroup_renew(struct wcgroup *wc)
{
	struct cg2 *fresh;
	char *cause = NULL;
	pid_t *pids;
	size_t n;

	n = cg2_members(wc->cg, &pids);
	free(pids);
	if (n > 0)
		return;
	if ((fresh = cgroup_make(wc->w, &cause)) == NULL) {
		log_warnx("%s: %s", wc->w->name, cause);
		free(cause);
		return;
	}
	if (cg2_remove(wc->cg) == -1)
		log_warn("%s: cannot remove %s", wc->w->name, wc->cg->path);
	wc->cg = fresh;
	wc->killed = false;
}

/* The cgroup.procs a new process of w joins and the cgroup's directory
 * it can be created in (-1 and -1 without a cgroup). */
void
cgroup_spawn_fds(struct watcher *w, int *procs, int *dir)
{
	struct wcgroup *wc = cgroup_get(w);

	if (wc != NULL && wc->killed)
		cgroup_renew(wc);
	*procs = wc != NULL ? wc->cg->procs_fd : -1;
	*dir = wc != NULL && !wc->killed ? wc->cg->dirfd : -1;
}

/* The members of w's cgroup (sorted; caller frees): false when w has
 * none (not cgroup mode). */
bool
cgroup_members(struct watcher *w, pid_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (w->cgroup == NULL || cgroup_get(w) == NULL)
		return false;
	*n = cg2_members(w->cgroup->cg, out);
	return true;
}

/* The kernel's CPU time and memory for w's whole cgroup (memory -1 when
 * not counted): false when w has none. */
bool
cgroup_usage(struct watcher *w, uint64_t *cpu_usec, int64_t *memory)
{
	if (w->cgroup == NULL || cgroup_get(w) == NULL)
		return false;
	return cg2_usage(w->cgroup->cg, cpu_usec, memory) == 0;
}

/* A read of the members in steps (stats.c), or NULL when w has no
 * cgroup. */
struct cg2_reader *
cgroup_reader(struct watcher *w)
{
	if (w->cgroup == NULL || cgroup_get(w) == NULL)
		return NULL;
	return cg2_reader_open(w->cgroup->cg);
}

/* graceful_timeout after the stop: leftovers are killed; the whole
 * cgroup if the watcher is still stopped, else only those signalled. */
static void
cgroup_kill_cb(UNUSED struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct wcgroup *wc = container_of(t, struct wcgroup, kill_w);
	size_t i;

	if (wc->w->state == WATCHER_STOPPED) {
		if (cg2_kill(wc->cg) == -1)
			log_warn("%s: cannot kill what is left in %s",
			    wc->w->name, wc->cg->path);
		wc->killed = true;
		cg2_sleep(wc->cg);	/* a stopped watcher holds no fd */
	} else {
		for (i = 0; i < wc->nleft; i++)
			kill(wc->left[i], SIGKILL);
	}
	free(wc->left);
	wc->left = NULL;
	wc->nleft = 0;
}

/*
 * The watcher has stopped: every process it spawned is reaped and its
 * process group empty. Whatever is still in its cgroup left its group
 * (setsid, a daemon's double fork): the stop signal now, cgroup.kill
 * after graceful_timeout (doc/design.md §20).
 */
void
cgroup_watcher_stopped(struct watcher *w)
{
	struct wcgroup *wc = w->cgroup;
	size_t i;

	if (wc == NULL || wc->cg == NULL || ev_is_active(&wc->kill_w))
		return;
	free(wc->left);
	wc->nleft = cg2_members(wc->cg, &wc->left);
	if (wc->nleft == 0) {
		cg2_sleep(wc->cg);	/* a stopped watcher holds no fd */
		return;
	}
	log_info("%s: %zu process(es) left its cgroup's process groups: "
	    "signal %d, cgroup.kill after %.1f s", w->name, wc->nleft,
	    w->cfg->stop_signal, w->cfg->graceful_timeout);
	for (i = 0; i < wc->nleft; i++)
		kill(wc->left[i], w->cfg->stop_signal);
	ev_init(&wc->kill_w, cgroup_kill_cb);
	ev_timer_set(&wc->kill_w, w->cfg->graceful_timeout > 0 ?
	    w->cfg->graceful_timeout : 0., 0.);
	ev_timer_start(w->arbiter->loop, &wc->kill_w);
}

/*
 * The watcher is freed. Leftovers of its stop still waiting for their
 * cgroup.kill get it now; processes it keeps running (`rm` with nostop)
 * go back to circusd's own cgroup and stay. Then its cgroup goes.
 */
void
cgroup_watcher_free(struct watcher *w)
{
	struct wcgroup *wc = w->cgroup;
	char *cause = NULL;
	bool killed = false;
	pid_t *pids;
	size_t n;

	if (wc == NULL)
		return;
	w->cgroup = NULL;
	if (wc->cg != NULL && cg2_wake(wc->cg, &cause) == -1) {
		log_warnx("%s: %s", w->name, cause);
		free(cause);
	}
	if (ev_is_active(&wc->kill_w)) {
		ev_timer_stop(w->arbiter->loop, &wc->kill_w);
		killed = cg2_kill(wc->cg) == 0;
	}
	if (wc->cg != NULL) {
		if (!killed && cg2_release(cgroup_root, wc->cg) > 0)
			log_warn("%s: processes left in %s", w->name,
			    wc->cg->path);
		n = cg2_members(wc->cg, &pids);
		free(pids);
		if (n > 0) {
			/* killed ones leave it when they have exited: the
			 * directory goes at shutdown */
			cgroup_dead = xreallocarray(cgroup_dead,
			    cgroup_ndead + 1, sizeof *cgroup_dead);
			cgroup_dead[cgroup_ndead++] = wc->cg;
		} else if (cg2_remove(wc->cg) == -1)
			log_warn("%s: cannot remove its cgroup", w->name);
	}
	free(wc->left);
	free(wc);
}
