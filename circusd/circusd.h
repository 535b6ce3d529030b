/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusd private header: every type of the daemon, then one prototype
 * section per file. Dependencies point one way: cmd-* -> arbiter ->
 * watcher -> process; only events.c publishes and only controller.c
 * talks to the control socket.
 */
#ifndef CIRCUSD_H
#define CIRCUSD_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>
#include <ev.h>
#include <jansson.h>

#include "compat.h"
#include "config.h"
#include "stream.h"

struct arbiter;
struct watcher;
struct process;
struct pidset;
struct cmd_ctx;
struct arbiter_commands;
struct hook_job;

/* ---- process.c ---- */

enum process_state {
	PROCESS_RUNNING = 0,
	PROCESS_STOPPING,	/* stop signal sent, waiting for exit */
	PROCESS_EXITED,		/* reaped by the kernel, not yet removed */
};

/* Why circusd is killing a process: decides which events follow. */
enum process_kill_reason {
	KILL_NONE = 0,
	KILL_STOP,		/* watcher stop: reap events, then stop */
	KILL_TRIM,		/* decr, max_age, reload, kill cmd: no reap event */
	KILL_SEQUENTIAL,	/* sequential reload: reap event, then respawn */
};

/* Where a process's exit is reported: registered by its watcher. */
typedef void (*process_exit_cb)(struct watcher *, struct process *);

struct process {
	TAILQ_ENTRY(process)	 entry;		/* watcher's table, spawn order */
	struct watcher		*watcher;
	process_exit_cb		 on_exit;	/* exit known, group gone */
	pid_t			 pid;
	int			 wid;
	double			 started;	/* wall clock, for messages */
	ev_tstamp		 started_mono;	/* ev_now at spawn */
	enum process_state	 state;
	enum process_kill_reason kill_reason;
	int			 exit_code;	/* valid when EXITED */
	bool			 exit_known;
	ev_child		 child_w;
	ev_timer		 kill_timer;	/* graceful_timeout -> SIGKILL */
	ev_timer		 age_timer;	/* max_age expiry */
	struct outpipe		*out;
	struct outpipe		*err;
	/* cpu sampling for stats */
	uint64_t		 last_cpu_ticks;
	double			 last_cpu_time;
	/* hooks in flight (doc/design.md §9): exit handling waits for them */
	int			 holds;
	bool			 exit_deferred;
	int			 sig_signum;	/* signal being sent */
	double			 sig_timeout;	/* then graceful timeout */
	bool			 sig_escalate;	/* SIGKILL after the timeout */
	bool			 sig_sent;	/* publish kill for the pid */
	pid_t			*sig_kids;	/* signalled too: kill events */
	size_t			 sig_nkids;
	/* readiness (doc/design.md §18) */
	unsigned		 generation;	/* w->generation at spawn */
	bool			 ready;		/* READY=1 seen, or readiness none */
	bool			 notified_stopping; /* STOPPING=1 seen */
	char			*notify_status;	/* last STATUS=, or NULL */
	char			*fail_reason;	/* why it was found unhealthy */
	char			*err_tail;	/* last stderr lines, at exit */
	ev_timer		 ready_timer;	/* readiness_timeout */
	ev_timer		 watchdog_timer;	/* watchdog */
};

/* Spawn one process for w with worker id wid; on_exit is called from the
 * loop once it is gone. NULL + *cause on a spawn failure (missing binary,
 * bad working_dir, unknown user...). */
struct process *process_spawn(struct watcher *, int wid,
    process_exit_cb on_exit, char **cause);
/* Send signum to the process (and its group/children as asked). */
int process_signal(struct process *, int signum);
/* The signal command: before_signal, signal, tree (owned), after_signal. */
void process_signal_command(struct process *, int signum, pid_t *tree,
    size_t ntree);
/* Begin a graceful kill: stop signal, then SIGKILL after timeout_s. */
void process_kill(struct process *, int signum, double timeout_s,
    enum process_kill_reason);
/* Direct children of pid (from /proc). Caller frees *out. */
size_t process_children(pid_t pid, pid_t **out);
/* All descendants of pid. Caller frees *out. */
size_t process_descendants(pid_t pid, pid_t **out);
/* Free a process that has been removed from its watcher. */
void process_free(struct process *);
/* Keep a process in its table while a hook refers to it; the release
 * handles an exit that happened meanwhile. */
void process_hold(struct process *);
void process_release(struct process *);

/* ---- watcher.c ---- */

/* A hook's result (hooks.c): true also for a hook that is not configured,
 * or that failed while in the ignore list. */
typedef void (*hook_done_cb)(struct watcher *, void *ctx, bool result);

/*
 * Everything a watcher does to the world outside its own state
 * (doc/design.md §21): create, signal and free processes, the clock and
 * timers, hooks, events. The daemon's is watcher_env_real (process.c,
 * hooks.c, events.c and libev); tests/unit/test-watcher.c drives the same
 * state machine with a fake one (no fork, no sleep) through
 * arbiter->watcher_env.
 */
struct watcher_env {
	struct process	*(*spawn)(struct watcher *, int wid,
			    process_exit_cb on_exit, char **cause);
	/* begin a graceful kill (process_kill): no libc name, the fuzz
	 * harness defines kill() as a macro */
	void		 (*stop)(struct process *, int signum, double timeout_s,
			    enum process_kill_reason);
	int		 (*signal)(struct process *, int signum);
	void		 (*hold)(struct process *);
	void		 (*release)(struct process *);
	void		 (*free)(struct process *);
	/* the loop's time; update: read the clock again first */
	ev_tstamp	 (*now)(const struct watcher *, bool update);
	/* a one-shot timer (initialised with its callback) after `after` s */
	void		 (*timer_start)(struct watcher *, ev_timer *,
			    ev_tstamp after);
	void		 (*timer_stop)(struct watcher *, ev_timer *);
	bool		 (*timer_active)(struct watcher *, const ev_timer *);
	bool		 (*hook_configured)(const struct watcher *,
			    const char *hook);
	void		 (*hook_run)(struct watcher *, const char *hook,
			    json_t *args, hook_done_cb, void *ctx);
	void		 (*hook_cancel_all)(struct watcher *);
	void		 (*publish)(struct arbiter *, struct watcher *,
			    const char *event, json_t *body);
	void		 (*publish_pid)(struct arbiter *, struct watcher *,
			    const char *event, pid_t, double when);
};
/* The daemon's: the real processes, loop, hooks and PUB socket. */
extern const struct watcher_env watcher_env_real;

enum watcher_state {
	WATCHER_STOPPED = 0,
	WATCHER_STARTING,
	WATCHER_ACTIVE,
	WATCHER_STOPPING,
};

typedef void (*watcher_done_cb)(struct watcher *, void *ctx, json_t *result,
    int error);

enum watcher_op_type {
	WOP_START,
	WOP_STOP,
	WOP_RESTART,
	WOP_RELOAD,
	WOP_SCALE,		/* incr/decr/set numprocesses: wait until reached */
	WOP_KILL,		/* kill command */
	WOP_CALL,		/* run a function in queue order */
};

/*
 * Where the running operation stands, besides the watcher's state: its
 * phase is the row of watcher.c's table (doc/design.md §22) that takes
 * the next event.
 */
enum watcher_phase {
	PH_NONE = 0,		/* not begun */
	/* stop (§8), also the first half of a restart */
	PH_STOP_HOOK,		/* before_stop asked */
	PH_STOP_KILL,		/* stop signal to all, once no spawn waits */
	PH_STOP_WAIT,		/* until every process is gone and reaped */
	PH_STOP_AFTER,		/* after_stop asked */
	PH_STOP_DONE,		/* complete, or start (restart) */
	/* start (§7) */
	PH_START_BEGIN,
	PH_START_HOOK,		/* before_start asked */
	PH_START_SPAWN,		/* it said yes: starting, spawn */
	PH_START_SKIP,		/* it said no: complete, nothing started */
	PH_START_WAIT,		/* until all are there (and ready) */
	PH_START_AFTER,		/* after_start asked */
	PH_START_ACTIVE,	/* it said yes: active, start event */
	/* graceful reload: a new set, then the old ones trimmed */
	PH_RELOAD_SPAWN,
	PH_RELOAD_TRIM,
	/* sequential reload: stop one, spawn its replacement, next */
	PH_SEQ_WAIT,
	PH_SEQ_NEXT,
	PH_SCALE_WAIT,		/* incr/decr/set: until numprocesses */
	PH_KILL_WAIT,		/* kill command: until they are gone */
	/* rolling replace (§18) */
	PH_ROLL_SPAWN,
	PH_ROLL_READY,
	PH_ROLL_DRAIN,
	PH_ROLL_BACK,
	PH_COUNT
};

struct watcher_op {
	TAILQ_ENTRY(watcher_op)	 entry;
	enum watcher_op_type	 type;
	bool			 close_streams;
	bool			 graceful;
	bool			 sequential;
	bool			 replace;	/* reload: new processes even
						 * with send_hup */
	pid_t			 pid;		/* WOP_KILL: 0 = all */
	int			 signum;	/* WOP_KILL */
	double			 timeout_s;	/* WOP_KILL */
	void			(*call)(struct watcher *, void *);
	watcher_done_cb		 done;
	void			*ctx;
	char			*error;		/* why it failed, or NULL */
	/* in-flight bookkeeping */
	struct pidset		*before;	/* pids before, for info */
	json_t			*stopped_pids;	/* restart: pids stopped */
	enum watcher_phase	 phase;		/* where it stands */
	struct process		*seq_current;	/* sequential reload */
	size_t			 seq_index;
	pid_t			*seq_pids;
	size_t			 seq_npids;
	size_t			 nspawned;	/* graceful reload spawns */
	bool			 abort_start;	/* start stopping itself */
	/* rolling replace (doc/design.md §18) */
	unsigned		 roll_gen;	/* processes of this or later
						 * generation are the new ones */
	int			 roll_batch;	/* old ones stopped this batch */
	int			 roll_replaced;
	int			 roll_total;
	char			*roll_error;	/* why it rolls back, or NULL */
	bool			 roll_back_begun;
};

struct watcher {
	TAILQ_ENTRY(watcher)	 entry;		/* arbiter list, load order */
	struct arbiter		*arbiter;
	const struct watcher_env *env;		/* the world it acts on */
	struct watcher_cfg	*cfg;		/* current options (owned) */
	char			*name;		/* display name (cfg->name) */
	char			*lname;		/* lower-cased, for lookup/list */
	char			*topic;		/* lname with ' ' -> '_' */
	enum watcher_state	 state;
	TAILQ_HEAD(, process)	 processes;
	size_t			 nprocesses;
	json_t			*pids_json;	/* watcher_pids' last array */
	TAILQ_HEAD(, watcher_op) ops;		/* FIFO; head is running */
	bool			 op_running;
	bool			 removed;	/* rm: free when idle */
	bool			 is_stats;
	int			 order;		/* load order for ties */
	/* spawning */
	ev_timer		 spawn_timer;	/* warmup_delay / back-off */
	ev_tstamp		 last_spawn;
	int			 spawn_failures;	/* consecutive, vs max_retry */
	/* crash back-off (doc/design.md §5) */
	double			 backoff_s;	/* current delay, 0 = none */
	int			 crashes;	/* consecutive quick deaths */
	char			*backoff_reason;
	/* why a client stopped it (`stop` with a "reason", e.g. the flapping
	 * plugin); shown by status and stats until the next start */
	char			*client_stop_reason;
	ev_tstamp		 backoff_until;
	bool			 gave_up;	/* spawn failed max_retry times */
	char			*spawn_error;	/* last spawn failure, or NULL */
	char			*gave_up_reason; /* why it stopped by itself */
	bool			 socket_event;	/* on_demand start allowed */
	struct stream		*stdout_stream;
	struct stream		*stderr_stream;
	/* sinks replaced by set, until the processes writing to them exit */
	struct stream		**retired;
	size_t			 nretired;
	/* stop bookkeeping */
	TAILQ_HEAD(, process)	 dead;		/* exited during stop, for reap events */
	/* hooks (hooks.c): one program at a time per watcher, in order */
	TAILQ_HEAD(, hook_job)	 hook_jobs;
	struct hook_job		*hook_cursor;	/* last added by a callback */
	bool			 hook_in_cb;	/* a job's callback is running */
	bool			*hook_alive;	/* cleared when w is freed */
	bool			 spawning;	/* a spawn waits for its hooks */
	bool			 spawn_from_some; /* started by spawn_some */
	TAILQ_HEAD(, process)	 reaps;		/* reaps waiting for hooks */
	bool			 vetoed;	/* a spawn hook said no */
	/* during an operation's done callback: why it failed, or NULL */
	const char		*op_error;
	/* rolling replace (doc/design.md §18) */
	unsigned		 generation;	/* bumped by each rolling replace */
	struct watcher_op	*rolling_op;	/* the one running, or NULL */
	char			*last_rollback;	/* why the last one rolled back */
	struct wcgroup		*cgroup;	/* cgroup.c; NULL: none yet */
};

struct watcher *watcher_new(struct arbiter *, struct watcher_cfg *cfg,
    char **cause);
void watcher_free(struct watcher *);
const char *watcher_state_name(enum watcher_state);
/* Queue an operation; it runs when those before it are done. */
void watcher_queue(struct watcher *, struct watcher_op *);
/* Fail every queued operation, calling their callbacks (teardown). */
void watcher_cancel_ops(struct watcher *);
struct watcher_op *watcher_op_new(enum watcher_op_type, watcher_done_cb,
    void *ctx);
/* Spawn missing / trim surplus now (no queueing). */
void watcher_manage(struct watcher *);
/* Number of processes that are running (not stopping, not exited). */
size_t watcher_active_count(const struct watcher *);
/* Pids of active processes, spawn order. Caller owns. */
json_t *watcher_pids(struct watcher *);
struct process *watcher_find_process(struct watcher *, pid_t);
/* A process sent a NOTIFY_SOCKET datagram (notify.c). */
struct notify_msg;
void watcher_process_notify(struct watcher *, struct process *,
    const struct notify_msg *);
/* Processes running and ready / running and not yet ready. */
size_t watcher_ready_count(const struct watcher *);
size_t watcher_unready_count(const struct watcher *);
/* Rolling replace progress for status, or NULL. Caller owns. */
json_t *watcher_rolling_json(const struct watcher *);
/* Apply a new set of options (reloadconfig numprocesses-only change). */
void watcher_set_numprocesses(struct watcher *, int n);
/* Open/close stream sinks. */
int watcher_open_streams(struct watcher *, char **cause);
void watcher_close_streams(struct watcher *);
/* New sinks after a stream option changed: processes spawned from now
 * on use them, the running ones keep the old ones until they exit.
 * -1 (cause set) if one cannot be opened: nothing changed. */
int watcher_renew_streams(struct watcher *, char **cause);
/* Back-off state for status/stats: NULL when not backing off. Caller owns. */
json_t *watcher_backoff_json(const struct watcher *);
/* Why the watcher stopped by itself (gave up, vetoed), or NULL. */
const char *watcher_gave_up_reason(const struct watcher *);
/* Signal every process (signal command), with options. */
int watcher_signal(struct watcher *, int signum, pid_t pid, pid_t childpid,
    bool children, bool recursive, char **cause);

/* ---- hooks.c ---- */


/* Is the hook configured for the watcher? (build args only then) */
bool hook_configured(const struct watcher *, const char *hook);
/* Run hook with args (an object or NULL, stolen). Not configured: done
 * runs now; otherwise always later, from the loop, after the program
 * exits, in request order among the watcher's hooks. */
void hook_run(struct watcher *, const char *hook, json_t *args,
    hook_done_cb done, void *ctx);
/* The same, capturing the program's stdout (up to 64 KiB; "" when the
 * hook is not configured) for the callback. */
typedef void (*hook_output_cb)(struct watcher *, void *ctx, bool result,
    const char *output);
void hook_run_output(struct watcher *, const char *hook, json_t *args,
    hook_output_cb done, void *ctx);
/* Kill and forget every hook of the watcher; no callback runs. */
void hook_cancel_all(struct watcher *);

/* ---- sockets.c ---- */

struct csocket {
	TAILQ_ENTRY(csocket)	 entry;
	struct socket_cfg	*cfg;		/* owned */
	int			 fd;		/* -1 until bound */
	unsigned long		 seq;		/* creation order */
	char			*bound_host;	/* after getsockname */
	int			 bound_port;
	ev_io			 ondemand_w;
};

struct csocket *csocket_new(struct socket_cfg *);
/* Bind and listen. -1 + *cause naming the socket. */
int csocket_bind(struct csocket *, char **cause);
/* A fresh bound socket for so_reuseport (per process); -1 on error. */
int csocket_bind_reuseport(struct csocket *, char **cause);
void csocket_close(struct csocket *);
/* True when both configs name the same address (a restart keeps its fd). */
bool csocket_same_address(const struct socket_cfg *, const struct socket_cfg *);
/* Take over old's bound fd (restart); listen again with s's backlog. */
void csocket_adopt(struct csocket *s, struct csocket *old);
void csocket_free(struct csocket *);
json_t *csocket_json(const struct csocket *);

/* ---- notify.c ---- */
/* What one datagram at NOTIFY_SOCKET said (sd_notify(3)). */
struct notify_msg {
	bool		 ready;		/* READY=1 */
	bool		 stopping;	/* STOPPING=1 */
	bool		 watchdog;	/* WATCHDOG=1 */
	bool		 watchdog_trigger; /* WATCHDOG=trigger */
	const char	*status;	/* STATUS=..., or NULL */
};
struct notify;
typedef void (*notify_cb)(void *ctx, pid_t sender, const struct notify_msg *);
/* Open the socket; each datagram goes to cb with the sender's pid. NULL +
 * *cause if it cannot be opened. */
struct notify *notify_open(struct ev_loop *, notify_cb, void *ctx,
    char **cause);
/* The NOTIFY_SOCKET value ("@..."). */
const char *notify_address(const struct notify *);
void notify_free(struct ev_loop *, struct notify *);
/* ---- endpoint.c ---- */

/* Bind sock to endpoint, the value of [circus] option field: its ipc
 * directory made, CURVE on tcp:// when on (old's certificate during a
 * full restart), an ipc socket file owner-only. -1 + *cause. */
int endpoint_bind(struct arbiter *, const struct arbiter *old, void *sock,
    const char *field, const char *endpoint, char **cause);
/* The inode of an ipc:// endpoint's socket file (0: none). */
ino_t endpoint_ipc_ino(const char *endpoint);
/* Remove the socket file of an ipc:// endpoint we closed, unless another
 * daemon has bound that path since. */
void endpoint_ipc_unlink(const char *endpoint, ino_t ino);
/* chown an ipc socket file to endpoint_owner (name or number). */
int endpoint_chown(const char *path, const char *owner, char **cause);

/* ---- events.c ---- */

/* Bind the PUB socket on the pubsub endpoint unless a shares it with old
 * (NULL: bind it if not bound yet); -1 + *cause. */
int events_bind(struct arbiter *, const struct arbiter *old, char **cause);
/* Move old's PUB to next where next did not bind its own. */
void events_handover(struct arbiter *old, struct arbiter *next);
void events_close(struct arbiter *);

/* Publish watcher.<topic>.<event> with body (stolen). */
void events_publish(struct arbiter *, struct watcher *, const char *event,
    json_t *body);
void events_pid(struct arbiter *, struct watcher *, const char *event,
    pid_t pid, double when);

/* ---- arbiter.c ---- */

struct pending_reply;
struct group_op;

struct arbiter {
	struct ev_loop		*loop;
	/* what its watchers act through (NULL: watcher_env_real) */
	const struct watcher_env *watcher_env;
	/* what every watcher tells its arbiter (registered by arbiter_new):
	 * it entered STOPPED; it is about to be freed */
	void			(*watcher_stopped)(struct watcher *);
	void			(*watcher_freed)(struct watcher *);
	/* the commands above it (given to arbiter_new, doc/design.md §10) */
	const struct arbiter_commands *commands;
	struct config		*cfg;		/* the loaded file (owned) */
	char			*config_path;
	TAILQ_HEAD(, watcher)	 watchers;	/* load order */
	TAILQ_HEAD(, watcher)	 removed;	/* rm'd, finishing their ops */
	size_t			 nwatchers;
	int			 next_order;
	TAILQ_HEAD(, csocket)	 sockets;	/* sorted by name */
	void			*router;	/* zsock_t * */
	void			*pub;		/* zsock_t * */
	void			*router_raw;	/* zmq socket handle */
	void			*pub_raw;
	ino_t			 router_ino;	/* ipc socket files we created, */
	ino_t			 pub_ino;	/* removed when we close them */
	ev_io			 router_w;
	ev_prepare		 router_prepare;
	ev_timer		 trim_w;	/* a second trim after a burst */
	/* auth.c: CURVE server certificate and the ZAP handler */
	struct _zcert_t		*server_cert;	/* NULL: CURVE off */
	void			*zap;		/* zsock_t * */
	void			*zap_raw;
	ev_io			 zap_w;
	ev_prepare		 zap_prepare;
	ev_signal		 sig_w[8];
	int			 nsig;
	ev_timer		 tick;
	int			 mcast_fd;
	ev_io			 mcast_w;
	bool			 stopping;
	bool			 restarting;
	int			 exit_code;
	char			*pidfile;
	char			*cwd;
	TAILQ_HEAD(, cmd_ctx)	 parked;	/* replies waiting for completion */
	TAILQ_HEAD(, group_op)	 groups;	/* multi-watcher ops in flight */
	bool			 restart_requested;	/* full restart after loop */
	bool			 quit_requested;	/* wins over a restart */
	bool			 done;			/* loop may end */
	/* full restart: the arbiter of the re-read file, bound where its
	 * endpoints differ; main() hands the rest over and starts it */
	struct arbiter		*successor;
	struct notify		*notify;	/* NOTIFY_SOCKET, or NULL */
	char			*notify_error;	/* why it could not be opened */
	/* controller.c: request bytes read since the last malloc_trim(); a
	 * reply was sent since a drain last reached EAGAIN (the send may
	 * have consumed the ZMQ_FD edge of a request that came meanwhile) */
	size_t			 ctl_untrimmed;
	/* what every request would otherwise allocate and free again
	 * (controller.c): the last context done, the empty properties
	 * object, the reply buffer */
	struct cmd_ctx		*ctl_spare;
	json_t			*ctl_noprops;
	char			*ctl_out;
	size_t			 ctl_out_size;
	bool			 ctl_sent;
	/* dstats: circusd's previous CPU sample (0: none yet) */
	uint64_t		 dstats_ticks;
	double			 dstats_time;
};

struct arbiter *arbiter_new(struct ev_loop *, struct config *,
    const char *config_path, const struct arbiter_commands *,
    char **cause);
/* Bind everything and schedule start of all watchers. */
int arbiter_start(struct arbiter *, char **cause);
void arbiter_free(struct arbiter *);
/* Log the warnings of a loaded config, one a line. */
void arbiter_log_warnings(const struct config *);
/* Full restart: the arbiter of the re-read file with every socket old does
 * not share bound; NULL + *cause (old untouched) if it cannot be. */
struct arbiter *arbiter_successor(struct arbiter *old, char **cause);
/* Move old's sockets that next shares to next (old is freed next). */
void arbiter_handover(struct arbiter *old, struct arbiter *next);
struct watcher *arbiter_find_watcher(struct arbiter *, const char *name);
/* The process of that pid in any watcher, or NULL. */
struct process *arbiter_find_process(struct arbiter *, pid_t);
/* reloadconfig: apply the [circus] options of n that can change live
 * (options-circus.c); log those only a full restart applies. */
void arbiter_apply_circus(struct arbiter *, const struct circus_cfg *n);
/* The arbiter's socket of that name (any case), or NULL. */
struct csocket *csocket_find(struct arbiter *, const char *name);
/* Add a watcher (already created) in order. */
void arbiter_add_watcher(struct arbiter *, struct watcher *);
/* Remove from lists; caller stops/frees. */
void arbiter_remove_watcher(struct arbiter *, struct watcher *);
/* A watcher is being freed: forget it in the operations in flight. */
/* Watchers sorted by priority (desc, ties by order). Caller frees array. */
struct watcher **arbiter_sorted(struct arbiter *, bool ascending, size_t *n);

typedef void (*arbiter_done_cb)(struct arbiter *, void *ctx, int error);
/* Start (in priority order, autostart only) / stop a set of watchers. */
void arbiter_start_watchers(struct arbiter *, struct watcher **, size_t,
    arbiter_done_cb, void *ctx);
void arbiter_stop_watchers(struct arbiter *, struct watcher **, size_t,
    bool close_streams, arbiter_done_cb, void *ctx);
void arbiter_restart_watchers(struct arbiter *, struct watcher **, size_t,
    arbiter_done_cb, void *ctx);
void arbiter_reload_all(struct arbiter *, bool graceful, bool sequential,
    arbiter_done_cb, void *ctx);
void arbiter_quit(struct arbiter *, arbiter_done_cb, void *ctx);
/* Reopen logs and stream files (SIGUSR1). */
void arbiter_reopen(struct arbiter *);

/* ---- reload.c ---- */

/* What reloadconfig does to one running watcher (doc/design.md §12). */
enum reload_action {
	RELOAD_KEEP,		/* unchanged, or its section is invalid now */
	RELOAD_STOP,		/* gone from the file: stopped and freed */
	RELOAD_RESTART,		/* stopped, freed, created again */
	RELOAD_REPLACE,		/* new config in place, processes replaced */
	RELOAD_ADJUST,		/* only numprocesses changed */
};

struct reload_step {
	struct watcher		*watcher;
	enum reload_action	 action;
};

struct reload_names {
	const char		**v;	/* borrowed */
	size_t			  n;
};

/* The diff between the running arbiter and its file read again. */
struct reload_plan {
	struct config		*cfg;		/* the file read again (owned) */
	bool			 circus_changed; /* restart every watcher */
	struct reload_step	*steps;		/* every watcher, in order */
	size_t			 nsteps;
	struct reload_names	 starts;	/* the file's, not running */
	struct reload_names	 sockets_add;
	struct reload_names	 sockets_remove;
	struct reload_names	 sockets_rebind;
};

/* The plan from a's running config to ncfg (which the plan then owns). */
struct reload_plan *arbiter_reload_plan(struct arbiter *, struct config *ncfg);
/* Apply a plan (freed); done(a, ctx, error) once all it started is over,
 * possibly before this returns. */
void arbiter_reload_apply(struct arbiter *, struct reload_plan *,
    arbiter_done_cb, void *ctx);
/* The plan as `reloadconfig` with dry_run answers it. */
json_t *reload_plan_json(const struct reload_plan *);
void reload_plan_free(struct reload_plan *);

/* ---- discovery.c ---- */

void discovery_open(struct arbiter *);
void discovery_close(struct arbiter *);
/* Move old's discovery socket to next when both use the same address. */
void discovery_handover(struct arbiter *old, struct arbiter *next);

/* ---- auth.c ---- */

/* Load the CURVE certificate, start the ZAP handler (when configured). */
int auth_open(struct arbiter *, char **cause);
/* Make an unbound zsock a CURVE server when CURVE is on and tcp://. */
void auth_apply(const struct arbiter *, void *zsock, const char *endpoint);
void auth_handover(struct arbiter *old, struct arbiter *next);
/* Server public key (Z85) when CURVE is on, else NULL. */
const char *auth_public_key(const struct arbiter *);
void auth_close(struct arbiter *);

/* ---- controller.c ---- */

enum cmd_status {
	CMD_OK = 0,		/* reply now with ctx->result */
	CMD_ERROR,		/* reply now with ctx->errnum / ctx->reason */
	CMD_WAIT,		/* parked: completed later by cmd_finish */
};

struct cmd_ctx {
	TAILQ_ENTRY(cmd_ctx)	 entry;
	struct arbiter		*arbiter;
	char			*identity;	/* ROUTER identity frame */
	size_t			 identity_len;
	json_t			*id;		/* echoed */
	const char		*id_str;	/* or this plain string, in raw */
	size_t			 id_len;
	json_t			*props;		/* properties object */
	char			*raw;		/* request body, for errno 5 texts */
	size_t			 raw_len;
	const char		*command;
	char			*command_buf;	/* the name, as sent */
	bool			 cast;
	bool			 waiting;
	bool			 internal;	/* from a signal: no reply */
	bool			 readonly;	/* CURVE read-only client key */
	bool			 parked;
	struct watcher		*watcher;	/* resolved "name" */
	json_t			*result;	/* object, or NULL */
	int			 errnum;
	char			*reason;
	int			 pending;	/* sub-operations outstanding */
	int			 failed;
	bool			 op_queued;	/* not waiting: op not done yet */
	/* parked on work of its own (a stats job): dropped at shutdown */
	void			(*abandon)(struct cmd_ctx *);
	void			*work;
	/* the result member of that name (a placeholder in result) is this
	 * JSON text (a big stats, written a piece per loop turn:
	 * doc/design.md §19); owned */
	char			*member_key;
	char			*member_text;	/* the text starts member_head */
	size_t			 member_head;	/* bytes in: the envelope is
						 * written there, no copy */
	size_t			 member_len;	/* of the text */
	/* last: not cleared for a new request (cmd_ctx_new). identity,
	 * raw and command_buf point here when they fit (a ZeroMQ identity
	 * always does) */
	char			 identity_buf[256];
	char			 raw_buf[512];
	char			 command_inline[32];
};

int controller_open(struct arbiter *, char **cause);
/* Bind the endpoints a does not share with old (NULL: all not bound). */
int controller_bind(struct arbiter *a, const struct arbiter *old,
    char **cause);
/* Move old's ROUTER/PUB to next where next did not bind its own. */
void controller_handover(struct arbiter *old, struct arbiter *next);
/* Run one request body from a ROUTER identity through the pipeline. */
void controller_handle_request(struct arbiter *, const char *identity,
    size_t idlen, const char *body, size_t len);
/* The same for a client whose CURVE key is read-only when readonly. */
void controller_handle_request_as(struct arbiter *, const char *identity,
    size_t idlen, const char *body, size_t len, bool readonly);
void controller_close(struct arbiter *);
/* Send the reply for a finished command and free ctx. */
void cmd_finish(struct cmd_ctx *);
/* Finish a parked command with an error reply (errno and reason). */
void cmd_finish_error(struct cmd_ctx *, int errnum, const char *reason);
/* Helpers for handlers. */
enum cmd_status cmd_error(struct cmd_ctx *, int errnum, const char *fmt, ...)
    PRINTFLIKE(3, 4);
/* errno 5 with Circus's "command b'...': <text>" prefix. */
enum cmd_status cmd_error5(struct cmd_ctx *, const char *fmt, ...)
    PRINTFLIKE(2, 3);
/* Park ctx until cmd_finish. */
enum cmd_status cmd_park(struct cmd_ctx *);
struct cmd_ctx *cmd_ctx_new(struct arbiter *);
void cmd_ctx_free(struct cmd_ctx *);
/* Fail every parked reply (shutdown). */
void controller_fail_parked(struct arbiter *);

/* ---- cmd.c ---- */

#define CMD_WATCHER	0x1	/* "name" required and resolved */
#define CMD_READONLY	0x4	/* changes nothing: read-only keys may run it */

struct cmd_entry {
	const char		 *name;
	const char		 *summary;
	const char *const	 *required;	/* NULL-terminated */
	int			  flags;
	/* Optional: checks of the properties alone, run before the watcher
	 * is looked up (Circus validates a message before executing it). */
	enum cmd_status		(*validate)(struct cmd_ctx *);
	enum cmd_status		(*exec)(struct cmd_ctx *);
};

/*
 * What the arbiter and its controller call above them (doc/design.md §10):
 * run a client's request (parsed into ctx; the status to reply with, or
 * CMD_WAIT once parked) and run a command with no reply path (signals).
 */
struct arbiter_commands {
	enum cmd_status	(*dispatch)(struct cmd_ctx *);
	void		(*run_internal)(struct arbiter *, const char *command,
			    json_t *props);
};
/* The commands of cmd_table, for arbiter_new. */
extern const struct arbiter_commands cmd_commands;

extern const struct cmd_entry *const cmd_table[];
extern const size_t cmd_table_len;
const struct cmd_entry *cmd_find(const char *name);
/* Watcher selection for start/stop/restart (match simple/glob/regex).
 * Returns array (caller frees) or NULL with an error set on ctx. */
struct watcher **cmd_select(struct cmd_ctx *, size_t *n);
/* Property helpers. */
bool cmd_prop_bool(struct cmd_ctx *, const char *key, bool dflt);
const char *cmd_prop_str(struct cmd_ctx *, const char *key);
/* Optional "name": false (error set) if given but unknown. */
bool cmd_watcher_opt(struct cmd_ctx *, struct watcher **);
/* Parse a signal property (int, numeric string or name); -1 if bad. */
int cmd_prop_signal(const json_t *v);
/* "SIGFOO" as Circus's error names an unknown signal. Caller frees. */
char *cmd_signal_attr(const char *s);

/* ---- cmd-ops.c ---- */

/* Completion callbacks that finish a parked command (or do nothing when
 * the reply was already sent). */
void cmd_op_done(struct watcher *, void *ctx, json_t *result, int error);
void cmd_op_done_info_toplevel(struct watcher *, void *ctx, json_t *result,
    int error);
void cmd_group_done(struct arbiter *, void *ctx, int error);
/* Queue op on w; park ctx if waiting, else reply at once. */
enum cmd_status cmd_queue(struct cmd_ctx *, struct watcher *,
    struct watcher_op *);

/* ---- stats.c ---- */

/* Process info object (doc/design.md §17.2) for pid; the string
 * "No such process (stopped?)" if gone. Caller owns. */
json_t *stats_process_info(pid_t pid, bool with_children,
    uint64_t *last_ticks, double *last_time);

/* ---- cgroup.c ---- */

/* A cgroup v2 subtree for the watchers when enabled and possible (logs
 * which way a watcher's tree is known); removed at shutdown. */
void cgroup_start(enum cgroups_mode);
void cgroup_stop(void);
/* "cgroup" or "process-group". */
const char *cgroup_mode(void);
/* The cgroup.procs a new process of the watcher joins and the cgroup's
 * directory it is created in (clone3), or -1 and -1. */
void cgroup_spawn_fds(struct watcher *, int *procs, int *dir);
/* CPU time and memory (-1: not counted) of the watcher's whole cgroup,
 * from the kernel: false when it has none. */
bool cgroup_usage(struct watcher *, uint64_t *cpu_usec, int64_t *memory);
/* Members of the watcher's cgroup: false when it has none. */
bool cgroup_members(struct watcher *, pid_t **out, size_t *n);
/* The same read in steps (lib/cgroup2.h); NULL when it has none. */
struct cg2_reader;
struct cg2_reader *cgroup_reader(struct watcher *);
/* The watcher stopped: leftovers get the stop signal, then cgroup.kill. */
void cgroup_watcher_stopped(struct watcher *);
/* The watcher is freed: kill what is left, remove its cgroup. */
void cgroup_watcher_free(struct watcher *);

/* ---- fdreserve.c ---- */

/* Keep a spare descriptor so the control channel sheds connections
 * instead of dying when RLIMIT_NOFILE is reached (circusd provides the
 * accept4() libzmq calls). */
void fdreserve_init(void);
/* Log the connections shed since the last call. */
void fdreserve_report(void);

#endif
