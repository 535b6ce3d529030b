/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon and tool logging: levels, stderr/file/syslog outputs, Circus format. */
#ifndef CIRCUS_LOG_H
#define CIRCUS_LOG_H

#include "compat.h"

enum log_level {
	LOG_LEVEL_CRITICAL = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

extern enum log_level log_level_current;

/* Parse "debug", "INFO"... ; unknown gives info. */
enum log_level log_level_parse(const char *name);
/* Set output: "-"/"stdout"/"stderr" (stderr), a file path, or syslog://.
 * Returns 0, or -1 with *cause set (allocated). */
int log_open(const char *name, const char *output, char **cause);
/* Reopen a file output (after rotation); no-op otherwise. */
void log_reopen(void);
void log_close(void);

void log_msg(enum log_level, const char *fmt, ...) PRINTFLIKE(2, 3);
#define log_enabled(l) ((l) <= log_level_current)
#define log_debug(...) \
	do { \
		if (log_enabled(LOG_LEVEL_DEBUG)) \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
/* log_warn appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void fatal(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;
void fatalx(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;

#endif
