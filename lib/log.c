/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging in Circus's format: "%Y-%m-%d %H:%M:%S circus[pid] [LEVEL] msg".
 * Outputs: stderr ("-", "stdout", "stderr"), a file (reopened when moved),
 * or syslog://host[:port]?facility / syslog:///dev/log?facility.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum log_level log_level_current = LOG_LEVEL_INFO;

static const char *log_names[] = { "CRITICAL", "ERROR", "WARNING", "INFO",
	"DEBUG" };
static const int log_syslog_prio[] = { LOG_CRIT, LOG_ERR, LOG_WARNING,
	LOG_INFO, LOG_DEBUG };

static char log_name[32] = "circus";
static char *log_path;		/* file output, or NULL */
static int log_fd = 2;		/* stderr, a file, or a syslog socket */
static int log_syslog_facility = -1;
static dev_t log_dev;
static ino_t log_ino;

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
	{ "daemon", LOG_DAEMON }, { "ftp", LOG_FTP }, { "kern", LOG_KERN },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "syslog", LOG_SYSLOG }, { "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* Parse a level name; unknown names give INFO as in Circus. */
enum log_level
log_level_parse(const char *name)
{
	size_t i;

	if (name == NULL)
		return LOG_LEVEL_INFO;
	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcasecmp(name, log_names[i]) == 0)
			return (enum log_level)i;
	if (strcasecmp(name, "warn") == 0)
		return LOG_LEVEL_WARNING;
	return LOG_LEVEL_INFO;
}

/* Open the file output and remember its identity. */
static int
log_open_file(char **cause)
{
	struct stat st;
	int fd;

	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		if (cause != NULL && asprintf(cause, "cannot open log file %s: %s",
		    log_path, strerror(errno)) < 0)
			*cause = NULL;
		return -1;
	}
	if (fstat(fd, &st) == 0) {
		log_dev = st.st_dev;
		log_ino = st.st_ino;
	}
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

/* Connect a datagram socket to a syslog URL. */
static int
log_open_syslog(const char *url, char **cause)
{
	char *spec, *q, *host, *port = NULL;
	struct addrinfo hints, *res = NULL;
	int fd = -1;
	size_t i;

	spec = strdup(url + strlen("syslog://"));
	if (spec == NULL)
		return -1;
	log_syslog_facility = LOG_USER;
	if ((q = strchr(spec, '?')) != NULL) {
		*q++ = '\0';
		for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]);
		    i++)
			if (strcasecmp(q, log_facilities[i].name) == 0)
				log_syslog_facility = log_facilities[i].value;
	}
	if (spec[0] == '/') {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", spec);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd != -1 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
			close(fd);
			fd = -1;
		}
	} else {
		host = spec;
		if ((port = strrchr(spec, ':')) != NULL)
			*port++ = '\0';
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_DGRAM;
		if (getaddrinfo(host[0] ? host : "localhost",
		    port ? port : "514", &hints, &res) == 0) {
			fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (fd != -1 &&
			    connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
				close(fd);
				fd = -1;
			}
			freeaddrinfo(res);
		}
	}
	if (fd == -1) {
		if (cause != NULL && asprintf(cause, "cannot open syslog %s: %s",
		    url, strerror(errno)) < 0)
			*cause = NULL;
		free(spec);
		return -1;
	}
	free(spec);
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

/* Choose the log output. */
int
log_open(const char *name, const char *output, char **cause)
{
	if (name != NULL)
		snprintf(log_name, sizeof log_name, "%s", name);
	free(log_path);
	log_path = NULL;
	log_syslog_facility = -1;
	if (output == NULL || strcmp(output, "-") == 0 ||
	    strcmp(output, "stdout") == 0 || strcmp(output, "stderr") == 0) {
		if (log_fd > 2)
			close(log_fd);
		log_fd = 2;
		return 0;
	}
	if (strncmp(output, "syslog://", 9) == 0)
		return log_open_syslog(output, cause);
	log_path = strdup(output);
	if (log_path == NULL)
		return -1;
	return log_open_file(cause);
}

/* Reopen a file output, e.g. after logrotate moved it. */
void
log_reopen(void)
{
	if (log_path != NULL)
		(void)log_open_file(NULL);
}

/* Close the output and free its state. */
void
log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
	free(log_path);
	log_path = NULL;
}

/* Reopen the file if someone moved or removed it. */
static void
log_check_moved(void)
{
	struct stat st;

	if (log_path == NULL)
		return;
	if (stat(log_path, &st) == -1 || st.st_dev != log_dev ||
	    st.st_ino != log_ino)
		(void)log_open_file(NULL);
}

/* Format and write one record. */
static void
log_vwrite(enum log_level level, const char *fmt, va_list ap, int err)
{
	char buf[8192], when[64];
	struct tm tm;
	time_t now;
	int n, m;

	now = time(NULL);
	localtime_r(&now, &tm);
	if (log_syslog_facility >= 0) {
		strftime(when, sizeof when, "%b %d %H:%M:%S", &tm);
		n = snprintf(buf, sizeof buf, "<%d>%s %s[%d]: [%s] ",
		    log_syslog_facility | log_syslog_prio[level], when,
		    log_name, (int)getpid(), log_names[level]);
	} else {
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(buf, sizeof buf, "%s %s[%d] [%s] ", when, log_name,
		    (int)getpid(), log_names[level]);
	}
	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (m < 0)
		m = 0;
	n = (size_t)(n + m) >= sizeof buf - 2 ? (int)sizeof buf - 2 : n + m;
	if (err != 0) {
		m = snprintf(buf + n, sizeof buf - n, ": %s", strerror(err));
		if (m > 0)
			n = (size_t)(n + m) >= sizeof buf - 2 ?
			    (int)sizeof buf - 2 : n + m;
	}
	if (log_syslog_facility < 0)
		buf[n++] = '\n';
	log_check_moved();
	if (write(log_fd, buf, n) < 0 && log_fd != 2)
		(void)!write(2, buf, n);
}

/* Log a message at a level. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap, 0);
	va_end(ap);
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	if (!log_enabled(LOG_LEVEL_WARNING))
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARNING, fmt, ap, err);
	va_end(ap);
}

/* Log a critical message with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_CRITICAL, fmt, ap, err);
	va_end(ap);
	exit(1);
}

/* Log a critical message and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_CRITICAL, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
