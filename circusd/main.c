/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusd: command line, daemonization, pidfile, logging, and the main
 * loop (re-created in place for a full `restart`). Exits 0 after quit,
 * 1 when it cannot start (doc/design.md §15).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "circusd.h"
#include "log.h"
#include "stats.h"
#include "xmalloc.h"

/* Where startup errors go: stderr, or with --daemon the pipe to the
 * process that was started, which prints them and exits 1. */
static FILE *errout;

/* Print usage. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: circusd [-h] [--log-level LEVEL] [--log-output "
	    "LOGOUTPUT]\n               [--logger-config LOGGERCONFIG] "
	    "[--daemon] [--pidfile PIDFILE]\n               [--version] "
	    "[--check] [config]\n\nRun programs.\n\npositional arguments:\n"
	    "  config                configuration file\n\noptions:\n"
	    "  -h, --help            show this help message and exit\n"
	    "  --log-level LEVEL     log level (critical, error, warning, "
	    "info, debug)\n"
	    "  --log-output LOGOUTPUT\n"
	    "                        '-', a file, or syslog://...\n"
	    "  --logger-config LOGGERCONFIG\n"
	    "                        only 'default' is supported\n"
	    "  --daemon              start circusd in the background\n"
	    "  --pidfile PIDFILE     pidfile path\n"
	    "  --check               validate the configuration and exit\n"
	    "  --version             display version and exit\n");
}

/* The started process (--daemon): wait for the daemon to be loaded and
 * bound. It writes its startup errors to the pipe, then closes it; a NUL
 * byte at the end means it runs. Exit 0 then, else 1 with the errors. */
static void
daemon_wait(int rfd)
{
	char buf[4096];
	ssize_t n;
	bool ready = false;

	for (;;) {
		n = read(rfd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ready = buf[n - 1] == '\0';
		(void)!write(2, buf, ready ? (size_t)n - 1 : (size_t)n);
	}
	if (!ready)
		fprintf(stderr, "circusd: the daemon could not start\n");
	_exit(ready ? 0 : 1);
}

/* Fork twice, detach, point stdio at /dev/null (doc/design.md §15); startup
 * errors go to the started process through a pipe (daemon_ready). */
static void
daemonize(void)
{
	struct rlimit rl;
	rlim_t max, fd;
	int nul, p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		fprintf(stderr, "circusd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	if (fork() != 0) {
		close(p[1]);
		daemon_wait(p[0]);
	}
	close(p[0]);
	setsid();
	if (fork() != 0)
		_exit(0);
	max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		max = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
	for (fd = 0; fd < max; fd++)
		if ((int)fd != p[1])
			close((int)fd);
	nul = open("/dev/null", O_RDWR);
	if (nul == 0) {
		(void)!dup2(0, 1);
		(void)!dup2(0, 2);
	}
	if ((errout = fdopen(p[1], "w")) == NULL)
		errout = stderr;
}

/* Loaded and bound: the started process may exit 0 (--daemon). */
static void
daemon_ready(void)
{
	if (errout == stderr)
		return;
	fputc('\0', errout);
	fclose(errout);
	errout = stderr;
}

/* Create the pidfile; -1 (message printed) if in use or impossible. */
static int
pidfile_create(const char *path)
{
	char buf[32], *dir, *copy;
	ssize_t n;
	long pid;
	int fd;

	copy = xstrdup(path);
	dir = dirname(copy);
	if (access(dir, F_OK) == -1) {
		fprintf(errout, "%s doesn't exist. Can't create pidfile\n", dir);
		free(copy);
		return -1;
	}
	free(copy);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			pid = strtol(buf, NULL, 10);
			if (pid > 0 && pid != getpid() &&
			    (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
				fprintf(errout, "circusd: pidfile '%s' is in "
				    "use: pid %ld is running\n", path, pid);
				return -1;
			}
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		fprintf(errout, "circusd: cannot create pidfile %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || fsync(fd) == -1) {
		fprintf(errout, "circusd: cannot write pidfile %s: %s\n", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* Remove the pidfile if it still holds our pid. */
static void
pidfile_remove(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		if (strtol(buf, NULL, 10) == getpid())
			unlink(path);
	}
}

/* Load and report a config; NULL (message printed) on error. */
static struct config *
load_config(const char *path)
{
	struct config *cfg;
	char *errors = NULL;

	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		fprintf(errout, "circusd: configuration refused:\n%s%s",
		    errors != NULL ? errors : "unknown error",
		    errors != NULL && errors[0] != '\0' &&
		    errors[strlen(errors) - 1] == '\n' ? "" : "\n");
		free(errors);
		return NULL;
	}
	arbiter_log_warnings(cfg);
	return cfg;
}

/* --check: what the daemon would refuse, skip or misread, file:line
 * each on stderr. 1 if there is any. */
static int
check_report(const struct config *cfg)
{
	json_t *problems = config_problems(cfg);
	size_t i, n = json_array_size(problems);

	if (n > 0)
		fprintf(stderr, "circusd: the configuration would not run as "
		    "written:\n");
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s\n", json_string_value(json_array_get(
		    problems, i)));
	json_decref(problems);
	return n > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-output", required_argument, NULL, 'o' },
		{ "logger-config", required_argument, NULL, 'g' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *loglevel = NULL, *logoutput = NULL, *pidfile = NULL;
	const char *level;
	char *pidfile_owned = NULL;
	bool daemon_mode = false, check = false, pid_created = false;
	struct ev_loop *loop;
	struct arbiter *a, *next;
	sigset_t all;
	struct config *cfg;
	char *cause = NULL, *path;
	int ch, rc = 0;

	errout = stderr;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			loglevel = optarg;
			if (strcasecmp(optarg, "critical") != 0 &&
			    strcasecmp(optarg, "error") != 0 &&
			    strcasecmp(optarg, "warning") != 0 &&
			    strcasecmp(optarg, "info") != 0 &&
			    strcasecmp(optarg, "debug") != 0) {
				usage(stderr);
				fprintf(stderr, "circusd: error: argument "
				    "--log-level: invalid choice: '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'o':
			logoutput = optarg;
			break;
		case 'g':
			break;
		case 'd':
			daemon_mode = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'V':
			printf("%s\n", CIRCUS_VERSION);
			return 0;
		case 'c':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	path = argv[optind];
	if (check) {
		cfg = load_config(path);
		if (cfg == NULL)
			return 1;
		rc = check_report(cfg);
		if (rc == 0)
			printf("%s: OK (%zu watchers, %zu sockets, %zu plugins)\n",
			    path, cfg->nwatchers, cfg->nsockets, cfg->nplugins);
		config_free(cfg);
		return rc;
	}
	if (daemon_mode)
		daemonize();
	/* One malloc arena: libzmq's I/O thread would otherwise get its own
	 * (megabytes of RSS for a few small buffers). */
	mallopt(M_ARENA_MAX, 1);
	zsys_handler_set(NULL);
	zsys_set_linger(0);
	loop = ev_default_loop(EVFLAG_AUTO);
	cfg = load_config(path);
	if (cfg == NULL) {
		rc = 1;
		goto out;
	}
	a = NULL;	/* created once logging is set up; then successors */
	for (;;) {
		if (a != NULL)
			cfg = a->cfg;
		level = loglevel != NULL ? loglevel : cfg->circus.loglevel;
		log_level_current = log_level_parse(level);
		if (log_open("circus", logoutput != NULL ? logoutput :
		    cfg->circus.logoutput, &cause) == -1) {
			fprintf(errout, "circusd: %s\n", cause);
			free(cause);
			goto fail;
		}
		if (cfg->circus.httpd) {
			fprintf(errout, "You need to install circus-web\n");
			goto fail;
		}
		if (cfg->circus.umask >= 0)
			umask((mode_t)cfg->circus.umask);
		if (!pid_created) {
			if (pidfile == NULL && cfg->circus.pidfile != NULL)
				pidfile = pidfile_owned =
				    xstrdup(cfg->circus.pidfile);
			if (pidfile != NULL && pidfile_create(pidfile) == -1)
				goto fail;
			pid_created = pidfile != NULL;
		}
		log_info("Starting master on pid %d", (int)getpid());
		stats_tree_start();
		cgroup_start(cfg->circus.cgroups);
		if (a == NULL)
			a = arbiter_new(loop, cfg, path, &cmd_commands,
			    &cause);
		if (arbiter_start(a, &cause) == -1) {
			log_msg(LOG_LEVEL_CRITICAL, "%s", cause);
			fprintf(errout, "circusd: %s\n", cause);
			free(cause);
			goto fail;
		}
		daemon_ready();
		ev_run(loop, 0);
		/* a full restart: the next arbiter takes over the sockets it
		 * shares with this one, then this one goes */
		next = a->restart_requested && !a->quit_requested ?
		    a->successor : NULL;
		if (next != NULL) {
			a->successor = NULL;
			arbiter_handover(a, next);
		}
		arbiter_free(a);	/* and a successor a quit made useless */
		if (next == NULL)
			goto out;
		log_info("restarting");
		a = next;
	}
fail:
	if (a != NULL)
		arbiter_free(a);
	else
		config_free(cfg);
	rc = 1;
out:
	if (pid_created)
		pidfile_remove(pidfile);
	free(pidfile_owned);
	stats_tree_stop();
	cgroup_stop();
	procinfo_cache_free();
	ev_loop_destroy(loop);
	/* zmq_ctx_term gives up with EINTR when a signal arrives, and czmq
	 * does not call it again: the last replies and events still
	 * lingering would be dropped */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	zsys_shutdown();
	log_close();
	if (errout != stderr)
		fclose(errout);	/* EOF without NUL: the started process exits 1 */
	return rc;
}
