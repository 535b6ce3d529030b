/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The circusctl command table: one grammar line per command, parsed once,
 * that builds requests, shows synopses and feeds completion. Also the
 * client-side value conversions of `set` (doc/design.md §17.6: Circus's
 * "circusctl conversion"). No I/O here.
 *
 * Grammar tokens after the command name:
 *   <p> [<p>]      positional filling property p; ":int" converts with int()
 *   <p...>         the remaining words joined by spaces
 *   <p+>           the remaining words as an array
 *   <p:pairs>      "key value ..." converted into an object (set)
 *   [...]          extra words are accepted and ignored
 *   [--f]          flag sent as property f (false when absent)
 *   [--f?]         flag sent only when given; [--f!] accepted, never sent
 *   [--f=!p]       flag sent as property p, negated; [--f=p?] renamed
 *   [--o <m>]      option with a value, sent only when given
 *   [--o <m>=d]    option with a value, default d, always sent
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "circusctl.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

static const char ctl_argerr[] = "Invalid number of arguments";

const struct ctl_entry ctl_table[] = {
	{
		.name = "add",
		.grammar = "add <name> <cmd...> [--start]",
		.title = "Add a watcher",
		.argerr = ctl_argerr,
		.help = "Creates a watcher at run time. The command line is "
		    "every word after the\nname, joined by spaces (put it "
		    "in quotes, or after --, when it has options\nof its "
		    "own). The new watcher is stopped unless --start is "
		    "given.",
		.message = "{\"command\": \"add\", \"properties\": "
		    "{\"name\": \"web\", \"cmd\": \"python3 -m http.server\", "
		    "\"start\": false}}",
		.print = print_default,
	},
	{
		.name = "decr",
		.grammar = "decr <name> [<nb:int>] [--waiting]",
		.title = "Decrement the number of processes in a watcher",
		.argerr = ctl_argerr,
		.help = "Lowers the number of processes of a watcher by <nb> "
		    "(default 1); the oldest\nprocesses are stopped. With "
		    "--waiting, prints the new number once they are\ngone.",
		.message = "{\"command\": \"decr\", \"properties\": "
		    "{\"name\": \"web\", \"nb\": 1, \"waiting\": false}}",
		.print = print_incr,
	},
	{
		.name = "dstats",
		.grammar = "dstats",
		.title = "Get circusd stats",
		.argerr = "Invalid message",
		.help = "Shows the resource usage of the circusd process "
		    "itself: pid, command, user,\nnice, resident and "
		    "virtual memory, CPU %, memory % and CPU time.",
		.message = "{\"command\": \"dstats\", \"properties\": {}}",
		.print = print_dstats,
	},
	{
		.name = "get",
		.grammar = "get <name> <keys+>",
		.title = "Get the value of specific watcher options",
		.argerr = ctl_argerr,
		.help = "Prints \"key: value\" for each option asked, in the "
		    "order asked. An unknown\noption makes the whole "
		    "request fail.",
		.message = "{\"command\": \"get\", \"properties\": "
		    "{\"name\": \"web\", \"keys\": [\"numprocesses\", "
		    "\"env\"]}}",
		.print = print_options,
	},
	{
		.name = "globaloptions",
		.grammar = "globaloptions [<option>] [...]",
		.title = "Get the arbiter options",
		.argerr = ctl_argerr,
		.help = "Prints the daemon-wide options (endpoint, "
		    "pubsub_endpoint, stats_endpoint,\ncheck_delay, "
		    "multicast_endpoint), or only the one named.",
		.message = "{\"command\": \"globaloptions\", \"properties\": "
		    "{\"option\": \"endpoint\"}}",
		.print = print_globaloptions,
	},
	{
		.name = "incr",
		.grammar = "incr <name> [<nb:int>] [--waiting]",
		.title = "Increment the number of processes in a watcher",
		.argerr = ctl_argerr,
		.help = "Raises the number of processes of a watcher by <nb> "
		    "(default 1) and starts\nthe new ones. With --waiting, "
		    "prints the new number once they run.",
		.message = "{\"command\": \"incr\", \"properties\": "
		    "{\"name\": \"web\", \"nb\": 1, \"waiting\": false}}",
		.print = print_incr,
	},
	{
		.name = "ipython",
		.grammar = "ipython",
		.title = "Create shell into circusd process",
		.argerr = "Invalid message",
		.help = "Circus opens an IPython kernel inside its daemon; "
		    "circusd in C has none and\nsays so.",
		.message = "{\"command\": \"ipython\", \"properties\": {}}",
		.print = print_ipython,
	},
	{
		.name = "keygen",
		.grammar = "keygen <path>",
		.title = "Make a CurveZMQ key pair (local, no daemon)",
		.argerr = ctl_argerr,
		.help = "Writes a czmq certificate pair: <path> (the public "
		    "key, to give to the\nother side) and <path>_secret "
		    "(mode 0600, to keep), and prints the public\nkey. "
		    "Nothing is sent to circusd. Use it for the daemon's "
		    "curve_server_cert\nand for each client's --client_cert "
		    "(README, \"Securing the control channel\").",
		.message = "(none: runs locally)",
		.print = print_default,
		.flags = CTL_LOCAL,
	},
	{
		.name = "kill",
		.grammar = "kill <name> [<pid>] [--waiting!] "
		    "[--signum <signum>] "
		    "[--graceful_timeout <graceful_timeout>]",
		.title = "Kill a specific process",
		.argerr = ctl_argerr,
		.help = "Stops one process (<pid>) or every process of a "
		    "watcher without stopping the\nwatcher, which starts "
		    "replacements. --signum overrides the stop signal,\n"
		    "--graceful_timeout the delay before SIGKILL. --waiting "
		    "is accepted and not\nsent, as in Circus.",
		.message = "{\"command\": \"kill\", \"properties\": "
		    "{\"name\": \"web\", \"pid\": \"1234\", \"signum\": "
		    "\"TERM\"}}",
		.print = print_default,
	},
	{
		.name = "list",
		.grammar = "list [<name>]",
		.title = "Get list of watchers or processes in a watcher",
		.argerr = ctl_argerr,
		.help = "Without a name, prints the watcher names; with one, "
		    "the pids of its\nprocesses. Comma-separated, on one "
		    "line.",
		.message = "{\"command\": \"list\", \"properties\": "
		    "{\"name\": \"web\"}}",
		.print = print_list,
	},
	{
		.name = "listen",
		.grammar = "listen [<topic+>]",
		.title = "Subscribe to a watcher event",
		.argerr = ctl_argerr,
		.help = "Subscribes to the event channel (--endpoint is then "
		    "the pub/sub endpoint,\ndefault tcp://127.0.0.1:5556) "
		    "and prints \"<topic>: <json>\" for every event\nwhose "
		    "topic starts with one of the given prefixes (all "
		    "events without one),\nuntil interrupted. With --json, "
		    "one JSON object per line:\n{\"topic\": ..., \"data\": "
		    "...}.\n\nTopics are watcher.<name>.<event>, <name> in "
		    "lower case, <event> one of\nspawn, reap, kill, start, "
		    "stop, reload, updated, add, remove, hook_success,\n"
		    "hook_failure. A topic argument is a prefix: "
		    "\"watcher.web.\" is every event of\nweb, "
		    "\"watcher.web.reap\" its exits, \"watcher.\" every "
		    "watcher's events.\nExample: circusctl --endpoint "
		    "tcp://127.0.0.1:5556 listen watcher.web.",
		.message = "(none: a SUB socket subscribed to each topic, "
		    "e.g. \"watcher.web.\")",
		.print = print_default,
		.flags = CTL_SUB,
	},
	{
		.name = "listsockets",
		.grammar = "listsockets [...]",
		.title = "Get the list of sockets",
		.argerr = ctl_argerr,
		.help = "Prints one line per socket circusd holds: "
		    "\"<fd>:socket '<name>' at <address>\".",
		.message = "{\"command\": \"listsockets\", \"properties\": {}}",
		.print = print_listsockets,
	},
	{
		.name = "numprocesses",
		.grammar = "numprocesses [<name>]",
		.title = "Get the number of processes",
		.argerr = "message invalid",
		.help = "Prints the number of processes of a watcher, or of "
		    "all watchers.",
		.message = "{\"command\": \"numprocesses\", \"properties\": "
		    "{\"name\": \"web\"}}",
		.print = print_number,
	},
	{
		.name = "numwatchers",
		.grammar = "numwatchers",
		.title = "Get the number of watchers",
		.argerr = ctl_argerr,
		.help = "Prints the number of watchers, plugins and "
		    "circusd-stats included.",
		.message = "{\"command\": \"numwatchers\", \"properties\": {}}",
		.print = print_number,
	},
	{
		.name = "options",
		.grammar = "options <name> [...]",
		.title = "Get the value of all options for a watcher",
		.argerr = "number of arguments invalid",
		.help = "Prints \"key: value\" for every option of a watcher, "
		    "sorted by key.",
		.message = "{\"command\": \"options\", \"properties\": "
		    "{\"name\": \"web\"}}",
		.print = print_options,
	},
	{
		.name = "quit",
		.grammar = "quit [--waiting] [...]",
		.title = "Quit the arbiter immediately",
		.argerr = ctl_argerr,
		.help = "Stops every watcher and makes circusd exit. With "
		    "--waiting, the reply comes\nonce everything is "
		    "stopped. In the interactive shell this also stops the\n"
		    "daemon: leave the shell with exit or Ctrl-D.",
		.message = "{\"command\": \"quit\", \"properties\": "
		    "{\"waiting\": false}}",
		.print = print_default,
	},
	{
		.name = "reload",
		.grammar = "reload [<name>] [--terminate=!graceful] "
		    "[--waiting] [--sequential] [--rolling!]",
		.title = "Reload the arbiter or a watcher",
		.argerr = "invalid number of arguments",
		.help = "Replaces the processes of one watcher, or of all: new "
		    "ones start, then the\nold ones stop. --sequential "
		    "replaces them one at a time, --terminate stops\nthem "
		    "first (a plain restart).",
		.message = "{\"command\": \"reload\", \"properties\": "
		    "{\"name\": \"web\", \"graceful\": true, \"waiting\": "
		    "false, \"sequential\": false}}",
		.print = print_default,
	},
	{
		.name = "reloadconfig",
		.grammar = "reloadconfig [--waiting] [--dry-run=dry_run?] [...]",
		.title = "Reload the configuration file",
		.argerr = ctl_argerr,
		.help = "Re-reads circusd's configuration file and applies the "
		    "differences: new\nwatchers start, removed ones stop, "
		    "changed ones restart. --dry-run prints\nthe plan "
		    "without changing anything.",
		.message = "{\"command\": \"reloadconfig\", \"properties\": "
		    "{\"waiting\": false, \"dry_run\": true}}",
		.print = print_reloadconfig,
	},
	{
		.name = "restart",
		.grammar = "restart [<name>] [--waiting] "
		    "[--match <simple|glob|regex>=glob] [--rolling!]",
		.title = "Restart the arbiter or a watcher",
		.argerr = ctl_argerr,
		.help = "Stops then starts the watchers matching <name> "
		    "(a glob by default, see\n--match), or restarts the "
		    "whole daemon when no name is given.",
		.message = "{\"command\": \"restart\", \"properties\": "
		    "{\"name\": \"web\", \"waiting\": false, \"match\": "
		    "\"glob\"}}",
		.print = print_default,
	},
	{
		.name = "rm",
		.grammar = "rm <name> [--waiting!] [--nostop!]",
		.title = "Remove a watcher",
		.argerr = ctl_argerr,
		.help = "Removes a watcher and stops its processes. --waiting "
		    "and --nostop are\naccepted and not sent, as in Circus.",
		.message = "{\"command\": \"rm\", \"properties\": "
		    "{\"name\": \"web\"}}",
		.print = print_default,
	},
	{
		.name = "set",
		.grammar = "set <name> <options:pairs> [--waiting?]",
		.title = "Set a watcher option",
		.order = "name waiting options",
		.argerr = ctl_argerr,
		.help = "Changes options of a watcher; keys are converted "
		    "client-side (numbers,\nbooleans, signal names). env "
		    "takes K=V[,K=V...]; hooks takes\nname:target[,"
		    "name:target...]. Changes that need it reload the "
		    "watcher.",
		.message = "{\"command\": \"set\", \"properties\": "
		    "{\"name\": \"web\", \"options\": {\"numprocesses\": 3}}}",
		.print = print_default,
	},
	{
		.name = "signal",
		.grammar = "signal <name> [<pid:int>] <signum> [--children] "
		    "[--recursive]",
		.title = "Send a signal",
		.order = "name children recursive signum pid",
		.argerr = ctl_argerr,
		.help = "Sends a signal (a number or a name such as HUP) to "
		    "every process of a\nwatcher, or to <pid> only; "
		    "--children signals their children instead,\n"
		    "--recursive the processes and all their descendants.",
		.message = "{\"command\": \"signal\", \"properties\": "
		    "{\"name\": \"web\", \"children\": false, \"recursive\": "
		    "false, \"signum\": \"HUP\"}}",
		.print = print_default,
	},
	{
		.name = "start",
		.grammar = "start [<name>] [--waiting] "
		    "[--match <simple|glob|regex>=glob]",
		.title = "Start the arbiter or a watcher",
		.argerr = ctl_argerr,
		.help = "Starts the watchers matching <name> (a glob by "
		    "default, see --match), or\nevery watcher with "
		    "autostart when no name is given.",
		.message = "{\"command\": \"start\", \"properties\": "
		    "{\"name\": \"web\", \"waiting\": false, \"match\": "
		    "\"glob\"}}",
		.print = print_default,
	},
	{
		.name = "stats",
		.grammar = "stats [<name>] [<process:int>] [--extended]",
		.title = "Get process infos",
		.argerr = "message invalid",
		.help = "Prints resource usage per process: of every watcher, "
		    "of one, or of one\nprocess. Each line: pid, command, "
		    "user, nice, resident and virtual\nmemory, CPU %, "
		    "memory %, CPU time.",
		.message = "{\"command\": \"stats\", \"properties\": "
		    "{\"name\": \"web\", \"extended\": false}}",
		.print = print_stats,
	},
	{
		.name = "status",
		.grammar = "status [<name>] [--verbose!]",
		.title = "Get the status of a watcher or all watchers",
		.argerr = "message invalid",
		.help = "Prints the state of one watcher (active, stopped, "
		    "starting, stopping), or\n\"name: state\" for every "
		    "watcher. With --verbose, also why a watcher is\n"
		    "backing off (its last quick death and the next spawn) "
		    "or why it gave up.",
		.message = "{\"command\": \"status\", \"properties\": "
		    "{\"name\": \"web\"}}",
		.print = print_status,
		.print_verbose = print_status_verbose,
	},
	{
		.name = "stop",
		.grammar = "stop [<name>] [...] [--waiting] "
		    "[--match <simple|glob|regex>=glob]",
		.title = "Stop watchers",
		.argerr = ctl_argerr,
		.help = "Stops the watchers matching <name> (a glob by "
		    "default, see --match), or\nevery watcher when no name "
		    "is given; circusd keeps running.",
		.message = "{\"command\": \"stop\", \"properties\": "
		    "{\"name\": \"web\", \"waiting\": false, \"match\": "
		    "\"glob\"}}",
		.print = print_default,
	},
};
const size_t ctl_table_size = nitems(ctl_table);

/* Help lines of command options, by option name. */
static const struct {
	const char	*option;
	const char	*help;
} ctl_option_helps[] = {
	{ "children", "signal the children of the processes instead" },
	{ "dry-run", "print what would change, change nothing" },
	{ "extended", "include the extended_stats hook's data" },
	{ "graceful_timeout", "seconds before SIGKILL (overrides the "
	    "watcher's)" },
	{ "match", "how <name> matches watchers: simple, glob or regex" },
	{ "nostop", "accepted for compatibility, not sent" },
	{ "recursive", "signal the processes and all their descendants" },
	{ "sequential", "replace processes one at a time" },
	{ "rolling", "on a fleet: host by host, each back to full strength "
	    "first" },
	{ "signum", "signal to send (number or name)" },
	{ "start", "start the watcher once added" },
	{ "terminate", "stop the processes first (no graceful reload)" },
	{ "verbose", "also why a watcher backs off or gave up (not sent)" },
	{ "waiting", "reply only when the operation is complete" },
};

/* Option keys of a watcher (the `options` key set), for completion. */
const char *const ctl_option_keys[] = {
	"args", "close_child_stderr", "close_child_stdin",
	"close_child_stdout", "cmd", "copy_env", "env", "executable", "gid",
	"graceful_timeout", "max_age", "max_age_variance", "max_retry",
	"numprocesses", "on_demand", "priority", "readiness",
	"readiness_timeout", "respawn", "rolling", "send_hup",
	"shell", "shell_args", "singleton", "stderr_stream_conf",
	"stdout_stream_conf", "stop_children", "stop_signal", "uid",
	"use_sockets", "warmup_delay", "watchdog", "working_dir", NULL
};

/* Keys `set` accepts (prefix forms end with '.' or '_'). */
const char *const ctl_set_keys[] = {
	"args", "close_child_stderr", "close_child_stdin",
	"close_child_stdout", "cmd", "copy_env", "env", "gid",
	"graceful_timeout", "hooks", "hooks.", "max_age", "max_age_variance",
	"max_retry", "numprocesses", "readiness", "readiness_timeout",
	"respawn", "retry_in", "rlimit_", "rolling",
	"send_hup", "shell", "singleton", "stderr_stream.", "stdout_stream.",
	"stop_children", "stop_signal", "uid", "warmup_delay", "watchdog",
	"working_dir", NULL
};

/* Hook names (doc/design.md §17.5). */
const char *const ctl_hook_names[] = {
	"before_start", "after_start", "before_stop", "after_stop",
	"before_spawn", "after_spawn", "before_signal", "after_signal",
	"before_reap", "after_reap", "extended_stats", NULL
};

/* globaloptions option names. */
const char *const ctl_globaloption_names[] = {
	"endpoint", "stats_endpoint", "pubsub_endpoint", "check_delay",
	"multicast_endpoint", NULL
};

static struct ctl_grammar	ctl_grammars[nitems(ctl_table)];
static bool			ctl_grammars_done[nitems(ctl_table)];

static int	 ctl_parse_positional(const char *, size_t, bool,
		     struct ctl_slot *, char **);
static int	 ctl_parse_option(const char *, size_t, struct ctl_slot *,
		     char **);
static bool	 ctl_is_negative_number(const char *);
static int	 ctl_match_option(const struct ctl_grammar *, const char *,
		     size_t, const struct ctl_slot **, char **);
static json_t	*ctl_positional_value(const struct ctl_slot *, const char *,
		     char **);
static json_t	*ctl_reorder(json_t *, const char *);
static bool	 ctl_in_list(const char *const *, const char *);
static int	 ctl_convert_hooks(const char *, json_t **, char **);
static int	 ctl_convert_env(const char *, json_t **, char **);

/* Find a command by exact name. */
const struct ctl_entry *
ctl_find(const char *name)
{
	size_t	i;

	for (i = 0; i < ctl_table_size; i++) {
		if (strcmp(ctl_table[i].name, name) == 0)
			return &ctl_table[i];
	}
	return NULL;
}

/* Parse the inside of "<...>" (len bytes at s) into a positional slot. */
static int
ctl_parse_positional(const char *s, size_t len, bool optional,
    struct ctl_slot *slot, char **cause)
{
	char	*body = xstrndup(s, len), *colon;
	size_t	 blen = len;

	slot->kind = CTL_SLOT_POS;
	slot->optional = optional;
	if (blen > 3 && strcmp(body + blen - 3, "...") == 0) {
		slot->kind = CTL_SLOT_REST;
		body[blen -= 3] = '\0';
	} else if (blen > 1 && body[blen - 1] == '+') {
		slot->kind = CTL_SLOT_LIST;
		body[--blen] = '\0';
	}
	colon = strchr(body, ':');
	if (colon != NULL) {
		*colon++ = '\0';
		if (strcmp(colon, "int") == 0 && slot->kind == CTL_SLOT_POS)
			slot->is_int = true;
		else if (strcmp(colon, "pairs") == 0 &&
		    slot->kind == CTL_SLOT_POS)
			slot->kind = CTL_SLOT_PAIRS;
		else {
			*cause = xprintf("bad type '%s'", colon);
			free(body);
			return -1;
		}
	}
	if (*body == '\0') {
		*cause = xstrdup("empty placeholder");
		free(body);
		return -1;
	}
	slot->prop = xstrdup(body);
	slot->meta = body;
	return 0;
}

/* Parse "--opt..." (len bytes at s, without brackets) into an option. */
static int
ctl_parse_option(const char *s, size_t len, struct ctl_slot *slot,
    char **cause)
{
	char	*text = xstrndup(s + 2, len - 2), *name, *space, *eq, *p;
	size_t	 n;

	name = text;
	slot->kind = CTL_SLOT_FLAG;
	slot->send = CTL_SEND_ALWAYS;
	space = strchr(name, ' ');
	if (space != NULL) {
		/* Value option: "--o <meta>" or "--o <meta>=default". */
		*space++ = '\0';
		slot->kind = CTL_SLOT_VALUE;
		slot->send = CTL_SEND_IF_SET;
		p = strchr(space, '>');
		if (*space != '<' || p == NULL) {
			*cause = xprintf("bad option value in '%s'", s);
			free(text);
			return -1;
		}
		slot->meta = xstrndup(space + 1, (size_t)(p - space - 1));
		if (p[1] == '=') {
			slot->defval = xstrdup(p + 2);
			slot->send = CTL_SEND_ALWAYS;
		} else if (p[1] != '\0') {
			*cause = xprintf("junk after option value in '%s'", s);
			free(text);
			return -1;
		}
	}
	n = strlen(name);
	if (n > 0 && (name[n - 1] == '?' || name[n - 1] == '!')) {
		slot->send = name[n - 1] == '?' ? CTL_SEND_IF_SET :
		    CTL_SEND_NEVER;
		name[--n] = '\0';
	}
	eq = strchr(name, '=');
	if (eq != NULL) {
		*eq++ = '\0';
		if (*eq == '!') {
			slot->negate = true;
			eq++;
		}
		slot->prop = xstrdup(eq);
	} else {
		slot->prop = xstrdup(name);
		for (p = slot->prop; *p != '\0'; p++) {
			if (*p == '-')
				*p = '_';
		}
	}
	if (*name == '\0' || *slot->prop == '\0') {
		*cause = xprintf("bad option '%s'", s);
		free(text);
		return -1;
	}
	slot->option = xstrdup(name);
	free(text);
	return 0;
}

/* Parse one grammar line into g. Returns 0, or -1 with *cause set. */
int
ctl_grammar_parse(const char *line, struct ctl_grammar *g, char **cause)
{
	const char	*p = line, *start, *close;
	struct ctl_slot	*slot;
	size_t		 len;
	int		 depth;
	char		*err = NULL;

	memset(g, 0, sizeof *g);
	while (*p != '\0' && *p != ' ')	/* the command name */
		p++;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		if (*p == '[') {
			depth = 0;
			for (; *p != '\0'; p++) {
				if (*p == '[')
					depth++;
				else if (*p == ']' && --depth == 0)
					break;
			}
			if (*p != ']') {
				err = xprintf("unbalanced [ at '%s'", start);
				goto fail;
			}
			close = p++;
		} else {
			while (*p != '\0' && *p != ' ')
				p++;
			close = p;
		}
		g->slots = xreallocarray(g->slots, g->nslots + 1,
		    sizeof *g->slots);
		slot = &g->slots[g->nslots++];
		memset(slot, 0, sizeof *slot);
		if (*start == '[') {
			len = (size_t)(close - start - 1);
			if (len == 3 && strncmp(start + 1, "...", 3) == 0) {
				slot->kind = CTL_SLOT_IGNORE;
				g->ignore_extra = true;
				continue;
			}
			if (len > 2 && strncmp(start + 1, "--", 2) == 0) {
				if (ctl_parse_option(start + 1, len, slot,
				    &err) != 0)
					goto fail;
				continue;
			}
			if (len > 2 && start[1] == '<' &&
			    start[len] == '>') {
				if (ctl_parse_positional(start + 2, len - 2,
				    true, slot, &err) != 0)
					goto fail;
			} else {
				err = xprintf("bad token '%.*s'",
				    (int)(close - start + 1), start);
				goto fail;
			}
		} else if (*start == '<' && close[-1] == '>' &&
		    close - start > 2) {
			if (ctl_parse_positional(start + 1,
			    (size_t)(close - start - 2), false, slot,
			    &err) != 0)
				goto fail;
		} else {
			err = xprintf("bad token '%.*s'",
			    (int)(close - start), start);
			goto fail;
		}
		if (slot->kind != CTL_SLOT_POS) {
			if (g->rest) {
				err = xstrdup("two rest placeholders");
				goto fail;
			}
			g->rest = true;
		}
		if (slot->optional)
			g->npos_optional++;
		else if (slot->kind == CTL_SLOT_PAIRS)
			g->npos_required += 2;
		else
			g->npos_required++;
	}
	return 0;
fail:
	*cause = err;
	ctl_grammar_free(g);
	return -1;
}

/* Free a parsed grammar. */
void
ctl_grammar_free(struct ctl_grammar *g)
{
	size_t	i;

	for (i = 0; i < g->nslots; i++) {
		free(g->slots[i].option);
		free(g->slots[i].prop);
		free(g->slots[i].meta);
		free(g->slots[i].defval);
	}
	free(g->slots);
	memset(g, 0, sizeof *g);
}

/* The parsed grammar of a table entry (parsed on first use). */
const struct ctl_grammar *
ctl_grammar(const struct ctl_entry *e)
{
	size_t	 i = (size_t)(e - ctl_table);
	char	*cause;

	if (!ctl_grammars_done[i]) {
		if (ctl_grammar_parse(e->grammar, &ctl_grammars[i],
		    &cause) != 0)
			fatalx("grammar of %s: %s", e->name, cause);
		ctl_grammars_done[i] = true;
	}
	return &ctl_grammars[i];
}

/* Free every cached grammar (at exit, for leak checkers). */
void
ctl_grammars_free(void)
{
	size_t	i;

	for (i = 0; i < ctl_table_size; i++) {
		if (ctl_grammars_done[i])
			ctl_grammar_free(&ctl_grammars[i]);
		ctl_grammars_done[i] = false;
	}
}

/* The help line of an option name, or "". */
const char *
ctl_option_help(const char *option)
{
	size_t	i;

	for (i = 0; i < nitems(ctl_option_helps); i++) {
		if (strcmp(ctl_option_helps[i].option, option) == 0)
			return ctl_option_helps[i].help;
	}
	return "";
}

/* Human synopsis of a command: "kill <name> [<pid>] [--signum <signum>]". */
char *
ctl_synopsis(const struct ctl_entry *e)
{
	const struct ctl_grammar	*g = ctl_grammar(e);
	const struct ctl_slot		*s;
	char				*out = xstrdup(e->name), *next, *item;
	size_t				 i;

	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		switch (s->kind) {
		case CTL_SLOT_POS:
			item = xprintf("<%s>", s->meta);
			break;
		case CTL_SLOT_REST:
		case CTL_SLOT_LIST:
			item = xprintf("<%s>...", s->meta);
			break;
		case CTL_SLOT_PAIRS:
			item = xstrdup("<key> <value> [<key> <value>...]");
			break;
		case CTL_SLOT_IGNORE:
			continue;
		case CTL_SLOT_FLAG:
			item = xprintf("--%s", s->option);
			break;
		case CTL_SLOT_VALUE:
			item = xprintf("--%s <%s>", s->option, s->meta);
			break;
		default:
			continue;
		}
		if (s->optional || s->kind == CTL_SLOT_FLAG ||
		    s->kind == CTL_SLOT_VALUE)
			next = xprintf("%s [%s]", out, item);
		else
			next = xprintf("%s %s", out, item);
		free(item);
		free(out);
		out = next;
	}
	return out;
}

/* argparse-style usage of a command: "... kill [-h] [--signum SIGNUM]". */
char *
ctl_sub_usage(const struct ctl_entry *e)
{
	const struct ctl_grammar	*g = ctl_grammar(e);
	const struct ctl_slot		*s;
	char				*out, *next, *upper, *p;
	size_t				 i;

	out = xprintf("%s %s [-h]", CTL_USAGE, e->name);
	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		if (s->kind == CTL_SLOT_FLAG)
			next = xprintf("%s [--%s]", out, s->option);
		else if (s->kind == CTL_SLOT_VALUE) {
			upper = xstrdup(s->option);
			for (p = upper; *p != '\0'; p++)
				*p = (char)toupper((unsigned char)*p);
			next = xprintf("%s [--%s %s]", out, s->option, upper);
			free(upper);
		} else
			continue;
		free(out);
		out = next;
	}
	return out;
}

/* Does s look like a negative number (argparse: then it is positional)? */
static bool
ctl_is_negative_number(const char *s)
{
	const char	*p = s + 1;
	bool		 digits = false, dot = false;

	if (s[0] != '-' || *p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p))
			digits = true;
		else if (*p == '.' && !dot)
			dot = true;
		else
			return false;
	}
	/* "-5" or "-.5" / "-1.5" */
	return digits && (!dot || p[-1] != '.');
}

/*
 * Match "--name" (len bytes of name) against the command's options: exact
 * name first, then a unique prefix. Returns 1 and *found (NULL for the
 * built-in --help), 0 if unknown, -1 if ambiguous (*cause set).
 */
static int
ctl_match_option(const struct ctl_grammar *g, const char *name, size_t len,
    const struct ctl_slot **found, char **cause)
{
	const struct ctl_slot	*hit = NULL;
	char			*list = NULL, *next;
	size_t			 i, nhits = 0;
	bool			 help_hit;

	*found = NULL;
	if (len == 4 && strncmp(name, "help", 4) == 0)
		return 1;
	for (i = 0; i < g->nslots; i++) {
		const struct ctl_slot *s = &g->slots[i];

		if (s->option == NULL)
			continue;
		if (strlen(s->option) == len &&
		    strncmp(s->option, name, len) == 0) {
			*found = s;
			return 1;
		}
	}
	help_hit = len <= 4 && strncmp("help", name, len) == 0;
	if (help_hit) {
		list = xstrdup("--help");
		nhits++;
	}
	for (i = 0; i < g->nslots; i++) {
		const struct ctl_slot *s = &g->slots[i];

		if (s->option == NULL || strncmp(s->option, name, len) != 0)
			continue;
		hit = s;
		next = list == NULL ? xprintf("--%s", s->option) :
		    xprintf("%s, --%s", list, s->option);
		free(list);
		list = next;
		nhits++;
	}
	if (nhits == 1) {
		free(list);
		*found = hit;
		return 1;
	}
	if (nhits > 1) {
		*cause = xprintf("ambiguous option: --%.*s could match %s",
		    (int)len, name, list);
		free(list);
		return -1;
	}
	return 0;
}

/* Python int(): optional sign, digits with single '_' between, spaces. */
int
ctl_py_int(const char *s, json_int_t *out)
{
	json_int_t	 v = 0;
	int		 neg = 0, digits = 0, d;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = (*s++ == '-');
	for (; *s != '\0'; s++) {
		if (*s == '_' && digits > 0 && isdigit((unsigned char)s[1]))
			continue;
		if (!isdigit((unsigned char)*s))
			break;
		d = *s - '0';
		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		digits++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (digits == 0 || *s != '\0')
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* Python float() restricted to finite values. */
int
ctl_py_float(const char *s, double *out)
{
	char		*clean, *q, *end;
	const char	*p;
	size_t		 mant = 0;
	bool		 seen_dot = false, seen_exp = false;
	double		 d;

	while (isspace((unsigned char)*s))
		s++;
	clean = xmalloc(strlen(s) + 1);
	q = clean;
	p = s;
	if (*p == '+' || *p == '-')
		*q++ = *p++;
	for (; *p != '\0' && !isspace((unsigned char)*p); p++) {
		if (isdigit((unsigned char)*p)) {
			if (!seen_exp)
				mant++;
			*q++ = *p;
		} else if (*p == '_' && p != s && isdigit((unsigned char)p[-1])
		    && isdigit((unsigned char)p[1]))
			continue;
		else if (*p == '.' && !seen_dot && !seen_exp) {
			seen_dot = true;
			*q++ = *p;
		} else if ((*p == 'e' || *p == 'E') && !seen_exp && mant > 0) {
			seen_exp = true;
			*q++ = *p;
			if (p[1] == '+' || p[1] == '-')
				*q++ = *++p;
			if (!isdigit((unsigned char)p[1]))
				break;
		} else
			break;
	}
	*q = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' || mant == 0) {
		free(clean);
		return -1;
	}
	errno = 0;
	d = strtod(clean, &end);
	if (*end != '\0' || !isfinite(d)) {
		free(clean);
		return -1;
	}
	free(clean);
	*out = d;
	return 0;
}

/* Is s in the NULL-terminated list? */
static bool
ctl_in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, s) == 0)
			return true;
	}
	return false;
}

/* "name:target,name2:target2" into {"name": "target", ...}. */
static int
ctl_convert_hooks(const char *value, json_t **out, char **cause)
{
	char	*copy = xstrdup(value), *item, *next, *colon;
	json_t	*obj = json_object();

	for (item = copy; item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		if (*item == '\0')
			continue;
		colon = strchr(item, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL) {
			*cause = xprintf("invalid hook '%s': expected "
			    "<hook name>:<target>", item);
			goto fail;
		}
		*colon++ = '\0';
		if (!ctl_in_list(ctl_hook_names, item)) {
			*cause = xprintf("unknown hook '%s'", item);
			goto fail;
		}
		json_object_set_new(obj, item, json_string(colon));
	}
	free(copy);
	*out = obj;
	return 0;
fail:
	free(copy);
	json_decref(obj);
	return -1;
}

/* "K=V,K2=V2" into {"K": "V", "K2": "V2"} (keys and values trimmed). */
static int
ctl_convert_env(const char *value, json_t **out, char **cause)
{
	char	*copy = xstrdup(value), *item, *next, *eq, *k, *v, *end;
	json_t	*obj = json_object();

	for (item = copy; item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		eq = strchr(item, '=');
		if (eq == NULL) {
			if (*item == '\0')
				continue;
			*cause = xprintf("invalid env item '%s': expected "
			    "NAME=value", item);
			free(copy);
			json_decref(obj);
			return -1;
		}
		*eq = '\0';
		for (k = item; isspace((unsigned char)*k); k++)
			;
		for (end = eq; end > k && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		for (end = v + strlen(v); end > v &&
		    isspace((unsigned char)end[-1]);)
			*--end = '\0';
		json_object_set_new(obj, k, json_string(v));
	}
	free(copy);
	*out = obj;
	return 0;
}

/*
 * Convert a `set` value for key (already lower-cased) as circusctl does.
 * Returns 0 with *out, or -1 with *cause (one line).
 */
int
ctl_convert_option(const char *key, const char *value, json_t **out,
    char **cause)
{
	static const char *const ints[] = { "numprocesses", "max_retry",
	    "max_age", "max_age_variance", "rolling", NULL };
	static const char *const floats[] = { "warmup_delay", "retry_in",
	    "graceful_timeout", "readiness_timeout", "watchdog", NULL };
	static const char *const bools[] = { "send_hup", "stop_children",
	    "shell", "copy_env", "respawn", "singleton", "close_child_stdin",
	    "close_child_stdout", "close_child_stderr", NULL };
	static const char *const strings[] = { "working_dir", "uid", "gid",
	    "cmd", "args", "readiness", NULL };
	const char	*sub;
	json_int_t	 i;
	double		 d;
	bool		 b;
	int		 sig;

	*out = NULL;
	if (ctl_in_list(ints, key) || strncmp(key, "rlimit_", 7) == 0) {
		if (ctl_py_int(value, &i) != 0)
			goto bad_int;
		*out = json_integer(i);
		return 0;
	}
	if (ctl_in_list(floats, key)) {
		if (ctl_py_float(value, &d) != 0) {
			*cause = xprintf("invalid value for %s: '%s' is not "
			    "a number", key, value);
			return -1;
		}
		*out = json_real(d);
		return 0;
	}
	if (ctl_in_list(bools, key)) {
		if (util_parse_bool(value, &b) != 0) {
			*cause = xprintf("invalid value for %s: '%s' is not "
			    "a boolean (use true/false, yes/no, on/off, 1/0)",
			    key, value);
			return -1;
		}
		*out = json_boolean(b);
		return 0;
	}
	if (strcmp(key, "stop_signal") == 0) {
		sig = util_parse_signal(value);
		if (sig < 0) {
			*cause = xprintf("invalid value for stop_signal: "
			    "'%s' is not a signal", value);
			return -1;
		}
		*out = json_integer(sig);
		return 0;
	}
	if (strcmp(key, "env") == 0)
		return ctl_convert_env(value, out, cause);
	if (strcmp(key, "hooks") == 0)
		return ctl_convert_hooks(value, out, cause);
	if (strncmp(key, "hooks.", 6) == 0) {
		if (!ctl_in_list(ctl_hook_names, key + 6)) {
			*cause = xprintf("unknown hook '%s'", key + 6);
			return -1;
		}
		*out = json_string(value);
		return 0;
	}
	if (strncmp(key, "stdout_stream.", 14) == 0 ||
	    strncmp(key, "stderr_stream.", 14) == 0) {
		sub = key + 14;
		if (strcmp(sub, "max_bytes") == 0 ||
		    strcmp(sub, "backup_count") == 0) {
			if (ctl_py_int(value, &i) != 0)
				goto bad_int;
			*out = json_integer(i);
		} else
			*out = json_string(value);
		return 0;
	}
	if (ctl_in_list(strings, key)) {
		*out = json_string(value);
		return 0;
	}
	*cause = xprintf("unknown key '%s'", key);
	return -1;
bad_int:
	*cause = xprintf("invalid value for %s: '%s' is not an integer", key,
	    value);
	return -1;
}

/* The JSON value of one positional word for slot s. */
static json_t *
ctl_positional_value(const struct ctl_slot *s, const char *word,
    char **cause)
{
	json_int_t	i;

	if (!s->is_int)
		return json_string(word);
	if (ctl_py_int(word, &i) != 0) {
		*cause = xprintf("invalid <%s>: '%s' is not an integer",
		    s->meta, word);
		return NULL;
	}
	return json_integer(i);
}

/* Rebuild obj with the keys named in order (space-separated) first. */
static json_t *
ctl_reorder(json_t *obj, const char *order)
{
	json_t		*out = json_object(), *v;
	char		*copy, *word, *last;
	const char	*key;

	copy = xstrdup(order);
	for (word = strtok_r(copy, " ", &last); word != NULL;
	    word = strtok_r(NULL, " ", &last)) {
		v = json_object_get(obj, word);
		if (v != NULL)
			json_object_set(out, word, v);
	}
	free(copy);
	json_object_foreach(obj, key, v) {
		if (json_object_get(out, key) == NULL)
			json_object_set(out, key, v);
	}
	json_decref(obj);
	return out;
}

/*
 * Parse the words after a command name (argparse rules for options, any
 * order) and build the request. Returns CTL_EXIT_OK; CTL_EXIT_HELP when
 * -h/--help was given; CTL_EXIT_USAGE with *cause = "argparse" text (the
 * caller adds the usage line); CTL_EXIT_FAILURE with *cause = the builder
 * error (printed alone).
 */
int
ctl_parse_command(const struct ctl_entry *e, int argc, char *const *argv,
    struct ctl_request *req, char **cause)
{
	const struct ctl_grammar	*g = ctl_grammar(e);
	const struct ctl_slot		*s, *opt;
	const char			**pos, **values;
	char				*extras = NULL, *next, *joined;
	bool				*given, dashdash = false, rest_started;
	json_t				*props, *v, *obj;
	size_t				 npos = 0, i, j, k, idx, len;
	size_t				 pre = 0;
	int				 a, rc = CTL_EXIT_OK, m;
	const char			*arg, *eq;

	memset(req, 0, sizeof *req);
	req->entry = e;
	pos = xcalloc((size_t)argc + 1, sizeof *pos);
	values = xcalloc(g->nslots + 1, sizeof *values);
	given = xcalloc(g->nslots + 1, sizeof *given);
	props = json_object();

	/* Positionals before a <p...> slot: after them, unknown options
	 * belong to the command line being collected (add). */
	pre = SIZE_MAX;
	for (i = 0, j = 0; i < g->nslots; i++) {
		if (g->slots[i].kind == CTL_SLOT_REST) {
			pre = j;
			break;
		}
		if (g->slots[i].kind == CTL_SLOT_POS)
			j++;
	}
	for (a = 0; a < argc; a++) {
		arg = argv[a];
		rest_started = pre != SIZE_MAX && npos > pre;
		if (dashdash || arg[0] != '-' || arg[1] == '\0' ||
		    ctl_is_negative_number(arg)) {
			pos[npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			rc = CTL_EXIT_HELP;
			goto out;
		}
		if (arg[1] != '-') {
			if (rest_started) {
				pos[npos++] = arg;
				continue;
			}
			goto extra;
		}
		eq = strchr(arg + 2, '=');
		len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		m = ctl_match_option(g, arg + 2, len, &opt, cause);
		if (m < 0) {
			rc = CTL_EXIT_USAGE;
			goto out;
		}
		if (m == 0) {
			if (rest_started) {
				pos[npos++] = arg;
				continue;
			}
			goto extra;
		}
		if (opt == NULL) {
			rc = CTL_EXIT_HELP;
			goto out;
		}
		idx = (size_t)(opt - g->slots);
		if (opt->kind == CTL_SLOT_FLAG) {
			if (eq != NULL) {
				*cause = xprintf("argument --%s: ignored "
				    "explicit argument '%s'", opt->option,
				    eq + 1);
				rc = CTL_EXIT_USAGE;
				goto out;
			}
			given[idx] = true;
			continue;
		}
		if (eq != NULL)
			values[idx] = eq + 1;
		else if (a + 1 < argc && (argv[a + 1][0] != '-' ||
		    ctl_is_negative_number(argv[a + 1]) ||
		    argv[a + 1][1] == '\0'))
			values[idx] = argv[++a];
		else {
			*cause = xprintf("argument --%s: expected one "
			    "argument", opt->option);
			rc = CTL_EXIT_USAGE;
			goto out;
		}
		given[idx] = true;
		continue;
extra:
		next = extras == NULL ? xstrdup(arg) :
		    xprintf("%s %s", extras, arg);
		free(extras);
		extras = next;
	}
	if (extras != NULL) {
		*cause = xprintf("unrecognized arguments: %s", extras);
		rc = CTL_EXIT_USAGE;
		goto out;
	}

	/* Positional count. */
	if (npos < g->npos_required || (!g->rest && !g->ignore_extra &&
	    npos > g->npos_required + g->npos_optional)) {
		*cause = xstrdup(e->argerr);
		rc = CTL_EXIT_FAILURE;
		goto out;
	}
	k = npos - g->npos_required;	/* optional positionals filled */
	if (k > g->npos_optional)
		k = g->npos_optional;

	j = 0;
	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		v = NULL;
		switch (s->kind) {
		case CTL_SLOT_POS:
			if (s->optional) {
				if (k == 0)
					break;
				k--;
			}
			v = ctl_positional_value(s, pos[j++], cause);
			if (v == NULL) {
				rc = CTL_EXIT_FAILURE;
				goto out;
			}
			break;
		case CTL_SLOT_REST:
			if (j >= npos)
				break;
			joined = xstrdup(pos[j++]);
			while (j < npos) {
				next = xprintf("%s %s", joined, pos[j++]);
				free(joined);
				joined = next;
			}
			v = json_string(joined);
			free(joined);
			break;
		case CTL_SLOT_LIST:
			if (j >= npos)
				break;
			v = json_array();
			while (j < npos)
				json_array_append_new(v,
				    json_string(pos[j++]));
			break;
		case CTL_SLOT_PAIRS:
			if ((npos - j) % 2 != 0) {
				*cause = xstrdup("List of key/values is "
				    "invalid");
				rc = CTL_EXIT_FAILURE;
				goto out;
			}
			obj = json_object();
			for (; j + 1 < npos; j += 2) {
				char *key = xstrdup(pos[j]), *p;

				for (p = key; *p != '\0'; p++)
					*p = (char)tolower((unsigned char)*p);
				if (ctl_convert_option(key, pos[j + 1], &v,
				    cause) != 0) {
					free(key);
					json_decref(obj);
					rc = CTL_EXIT_FAILURE;
					goto out;
				}
				json_object_set_new(obj, key, v);
				free(key);
			}
			v = obj;
			break;
		case CTL_SLOT_IGNORE:
			j = npos;
			break;
		case CTL_SLOT_FLAG:
			if (given[i] && strcmp(s->prop, "verbose") == 0)
				req->verbose = true;
			if (given[i] && strcmp(s->option, "rolling") == 0)
				req->rolling = true;
			if (s->send == CTL_SEND_NEVER ||
			    (s->send == CTL_SEND_IF_SET && !given[i]))
				break;
			v = json_boolean(s->negate ? !given[i] : given[i]);
			break;
		case CTL_SLOT_VALUE:
			if (s->send == CTL_SEND_NEVER)
				break;
			if (given[i])
				v = json_string(values[i]);
			else if (s->defval != NULL &&
			    s->send == CTL_SEND_ALWAYS)
				v = json_string(s->defval);
			break;
		}
		if (v != NULL)
			json_object_set_new(props, s->prop, v);
	}

	if (e->flags & CTL_SUB) {
		v = json_object_get(props, "topic");
		req->topics = v != NULL ? json_incref(v) : json_array();
		if (json_array_size(req->topics) == 0)
			json_array_append_new(req->topics, json_string(""));
		goto out;
	}
	if (e->order != NULL)
		props = ctl_reorder(props, e->order);
	req->message = json_object();
	json_object_set_new(req->message, "command", json_string(e->name));
	json_object_set(req->message, "properties", props);
out:
	json_decref(props);
	free(extras);
	free(pos);
	free(values);
	free(given);
	return rc;
}

/* Release what ctl_parse_command built. */
void
ctl_request_clear(struct ctl_request *req)
{
	json_decref(req->message);
	json_decref(req->topics);
	memset(req, 0, sizeof *req);
}
