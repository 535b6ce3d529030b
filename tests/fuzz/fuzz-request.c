/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the control channel's request path: every input
 * is a session of requests, one per line, each run through
 * controller_handle_request() (JSON -> command lookup -> required
 * properties -> watcher lookup -> exec -> reply envelope), exactly as the
 * ROUTER path does, against a fresh arbiter built from a small config.
 *
 * The arbiter's world is fake (fuzz-shim.c): vfork() creates nothing, a
 * fatal signal makes a fake process die, and the harness feeds the death
 * to the process's ev_child watcher, so stop/restart/reload/quit/rm run
 * to completion. Lines starting with '!' drive the world: "!d" crashes
 * the oldest living process, "!f" makes the next three spawns fail.
 * After the session the arbiter quits like circusd's main loop and is
 * freed; LeakSanitizer checks that nothing a request allocated survives.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "circusd.h"
#include "log.h"
#include "fuzz-shim.h"

#define MAX_LINES	24
#define MAX_ROUNDS	64

static struct ev_loop	*loop;
static char		 scratch[] = "/tmp/circus-fuzz-req-XXXXXX";
static char		 cfgpath[PATH_MAX];

static const char config_fmt[] =
    "[circus]\n"
    "endpoint = ipc://%s/ctl.sock\n"
    "pubsub_endpoint = ipc://%s/pub.sock\n"
    "multicast_endpoint =\n"
    "check_delay = 0\n"
    "backoff_min = 0.01\n"
    "\n"
    "[watcher:idle]\n"
    "cmd = /bin/true\n"
    "numprocesses = 0\n"
    "\n"
    "[watcher:web]\n"
    "cmd = /bin/sleep 1000 $(circus.wid)\n"
    "numprocesses = 2\n"
    "priority = 2\n"
    "graceful_timeout = 0.1\n"
    "stdout_stream.class = FileStream\n"
    "stdout_stream.filename = %s/web.log\n"
    "stderr_stream.class = StdoutStream\n"
    "\n"
    "[watcher:Tree Mixed]\n"
    "cmd = /bin/sleep\n"
    "args = 1000\n"
    "numprocesses = 1\n"
    "max_retry = 2\n"
    "\n"
    "[watcher:lazy]\n"
    "cmd = /bin/true\n"
    "autostart = false\n"
    "singleton = true\n"
    "\n"
    "[socket:sock]\n"
    "host = 127.0.0.1\n"
    "port = 0\n"
    "\n"
    "[env:web]\n"
    "FOO = bar\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc;
	(void)argv;
	if (mkdtemp(scratch) == NULL) {
		perror("fuzz-request: scratch directory");
		exit(1);
	}
	/* a small, fixed environment: every watcher copies it */
	clearenv();
	setenv("PATH", "/usr/bin:/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("CIRCUS_FUZZ", "fuzz value", 1);
	fuzz_fake_set_root(scratch);
	snprintf(cfgpath, sizeof cfgpath, "%s/circus.ini", scratch);
	if ((f = fopen(cfgpath, "w")) == NULL ||
	    fprintf(f, config_fmt, scratch, scratch, scratch) < 0 ||
	    fclose(f) != 0) {
		perror("fuzz-request: config");
		exit(1);
	}
	log_level_current = getenv("FUZZ_VERBOSE") != NULL ?
	    LOG_LEVEL_DEBUG : LOG_LEVEL_CRITICAL;
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	return 0;
}

/* Find the supervised process with this pid, in any watcher. */
static struct process *
find_process(struct arbiter *a, pid_t pid)
{
	struct watcher *w;
	struct process *p;

	TAILQ_FOREACH(w, &a->watchers, entry) {
		TAILQ_FOREACH(p, &w->processes, entry)
			if (p->pid == pid && p->state != PROCESS_EXITED)
				return p;
	}
	return NULL;
}

/* Run what is due and deliver fake deaths until nothing moves. */
static void
settle(struct arbiter *a)
{
	struct process *p;
	pid_t pid;
	int status, round;

	for (round = 0; round < MAX_ROUNDS; round++) {
		ev_run(loop, EVRUN_NOWAIT);
		if (!fuzz_fake_next_dead(&pid, &status))
			break;
		do {
			p = find_process(a, pid);
			if (p != NULL && ev_is_active(&p->child_w)) {
				p->child_w.rpid = pid;
				p->child_w.rstatus = status;
				ev_feed_event(loop, &p->child_w, EV_CHILD);
			}
		} while (fuzz_fake_next_dead(&pid, &status));
		ev_invoke_pending(loop);
	}
}

/* One request line, or a '!' directive. */
static void
one_line(struct arbiter *a, const char *line, size_t len)
{
	static const char identity[] = "fuzz-client-0001";

	if (len >= 2 && line[0] == '!') {
		if (line[1] == 'd')
			(void)fuzz_fake_crash();
		else if (line[1] == 'f')
			fuzz_fake_fail_vforks(3);
	} else
		controller_handle_request(a, identity, sizeof identity - 1,
		    line, len);
	settle(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arbiter *a;
	struct config *cfg;
	struct watcher **list;
	const char *p = (const char *)data, *end = p + size, *nl;
	char *errors = NULL, *cause = NULL;
	size_t n;
	int lines = 0, round;

	fuzz_fake_reset();
	cfg = config_load(cfgpath, &errors);
	if (cfg == NULL) {
		fprintf(stderr, "fuzz-request: config refused: %s\n", errors);
		abort();
	}
	a = arbiter_new(loop, cfg, cfgpath, &cmd_commands, &cause);
	/* arbiter_start without the sockets, signals and control channel */
	list = arbiter_sorted(a, false, &n);
	arbiter_start_watchers(a, list, n, NULL, NULL);
	free(list);
	settle(a);

	while (p < end && lines++ < MAX_LINES) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		one_line(a, p, (size_t)(nl - p));
		p = nl + 1;
	}

	/* quit as circusd does, processes dying as they are told to */
	if (!a->stopping)
		arbiter_quit(a, NULL, NULL);
	for (round = 0; round < MAX_ROUNDS && !a->done; round++) {
		settle(a);
		fuzz_fake_kill_all();
	}
	settle(a);
	arbiter_free(a);
	fuzz_fake_reset();
	return 0;
}
