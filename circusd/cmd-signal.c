/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signal: send any signal to a watcher's processes, their children or
 * their whole trees. No graceful logic and no events; watcher_signal()
 * does the sending.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "xmalloc.h"

/*
 * The attribute Circus looks up for a signal name it cannot resolve:
 * the leading word characters, upper-cased, with "SIG" in front unless
 * already there ("foo+1" -> "SIGFOO"). Caller frees.
 */
char *
cmd_signal_attr(const char *s)
{
	char *name, *p;
	size_t len;

	for (len = 0; isalnum((unsigned char)s[len]) || s[len] == '_'; len++)
		;
	name = xprintf("SIG%.*s", (int)len, s);
	for (p = name; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (len >= 3 && name[3] == 'S' && name[4] == 'I' && name[5] == 'G')
		memmove(name, name + 3, len + 1);
	return name;
}

/* A pid property as watcher_signal takes it: 0 when falsy (all), -1
 * when it can match no process (strings never match, as in Circus). */
static pid_t
cmd_signal_pid(const json_t *v)
{
	json_int_t i;
	double d;

	if (v == NULL || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_integer(v)) {
		i = json_integer_value(v);
		return i >= INT32_MIN && i <= INT32_MAX ? (pid_t)i : -1;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (d == 0)
			return 0;
		if (d == (double)(pid_t)d)
			return (pid_t)d;
	}
	return -1;
}

/* Validate signum and the pid options, then signal the processes. */
static enum cmd_status
cmd_signal_exec(struct cmd_ctx *ctx)
{
	json_t *sigj, *pidj, *childj;
	pid_t pid, childpid;
	char *cause = NULL, *attr;
	int signum;
	bool children, recursive;

	pidj = json_object_get(ctx->props, "pid");
	childj = json_object_get(ctx->props, "childpid");
	if (childj != NULL && pidj == NULL)
		return cmd_error5(ctx, "cannot specify childpid without pid");

	sigj = json_object_get(ctx->props, "signum");
	if ((signum = cmd_prop_signal(sigj)) == -1) {
		if (!json_is_string(sigj))
			return cmd_error(ctx, 3, "signal invalid");
		attr = cmd_signal_attr(json_string_value(sigj));
		cmd_error5(ctx, "module 'signal' has no attribute '%s'", attr);
		free(attr);
		return CMD_ERROR;
	}

	pid = cmd_signal_pid(pidj);
	childpid = pid != 0 ? cmd_signal_pid(childj) : 0;
	children = cmd_prop_bool(ctx, "children", false);
	recursive = cmd_prop_bool(ctx, "recursive", false);
	if (watcher_signal(ctx->watcher, signum, pid, childpid, children,
	        recursive, &cause) != 0) {
		cmd_error5(ctx, "%s", cause != NULL ? cause : "signal failed");
		free(cause);
		return CMD_ERROR;
	}
	return CMD_OK;
}

static const char *const cmd_signal_required[] = { "name", "signum", NULL };

const struct cmd_entry cmd_signal_entry = {
	.name = "signal",
	.summary = "Send a signal",
	.required = cmd_signal_required,
	.flags = CMD_WATCHER,
	.exec = cmd_signal_exec,
};
