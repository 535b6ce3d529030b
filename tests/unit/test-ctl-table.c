/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for circusctl's grammar table, request builder, converters. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "circusctl.h"
#include "pyjson.h"

static void	check_request(const char *, const char *);
static void	check_failure(const char *, int, const char *);
static int	build(const char *, struct ctl_request *, char **);
static int	globals(const char *, struct ctl_globals *, int *, char **);
static void	check_convert(const char *, const char *, const char *);

/* Split a space-separated line (no quoting) and build its request. */
static int
build(const char *line, struct ctl_request *req, char **cause)
{
	char	*copy = strdup(line), *argv[32], *last, *w;
	int	 argc = 0, rc;
	const struct ctl_entry *e;

	for (w = strtok_r(copy, " ", &last); w != NULL && argc < 32;
	    w = strtok_r(NULL, " ", &last))
		argv[argc++] = w;
	e = ctl_find(argv[0]);
	assert_non_null(e);
	*cause = NULL;
	rc = ctl_parse_command(e, argc - 1, argv + 1, req, cause);
	free(copy);
	return rc;
}

/* Assert that line builds exactly the request body want (without id). */
static void
check_request(const char *line, const char *want)
{
	struct ctl_request	 req;
	char			*cause, *got;

	assert_int_equal(build(line, &req, &cause), CTL_EXIT_OK);
	assert_null(cause);
	got = pyjson_dumps(req.message);
	assert_string_equal(got, want);
	free(got);
	ctl_request_clear(&req);
}

/* Assert that line fails with rc and the message want. */
static void
check_failure(const char *line, int rc, const char *want)
{
	struct ctl_request	 req;
	char			*cause;

	assert_int_equal(build(line, &req, &cause), rc);
	if (want != NULL) {
		assert_non_null(cause);
		assert_string_equal(cause, want);
	}
	free(cause);
	ctl_request_clear(&req);
}

/* The table: sorted, unique, complete, grammars parse. */
static void
test_table_shape(void **state)
{
	const struct ctl_grammar	*g;
	size_t				 i, n;

	(void)state;
	assert_int_equal(ctl_table_size, 26);	/* Circus's 25 and keygen */
	for (i = 0; i < ctl_table_size; i++) {
		const struct ctl_entry *e = &ctl_table[i];

		if (i > 0)
			assert_true(strcmp(ctl_table[i - 1].name, e->name) < 0);
		n = strlen(e->name);
		assert_true(strncmp(e->grammar, e->name, n) == 0);
		assert_true(e->grammar[n] == '\0' || e->grammar[n] == ' ');
		assert_non_null(e->title);
		assert_non_null(e->help);
		assert_non_null(e->argerr);
		assert_non_null(e->message);
		assert_non_null(e->print);
		g = ctl_grammar(e);
		assert_non_null(g);
		assert_ptr_equal(ctl_find(e->name), e);
	}
	assert_null(ctl_find("nope"));
	assert_null(ctl_find("LIST"));
	ctl_grammars_free();
}

/* The grammar parser: slot kinds, markers and errors. */
static void
test_grammar_parse(void **state)
{
	struct ctl_grammar	 g;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(ctl_grammar_parse("x <a> [<b:int>] <c...> "
	    "[--f] [--g?] [--h!] [--no-i=!i] [--j-k=jk?] [--o <m>] "
	    "[--p <a|b>=a]", &g, &cause), 0);
	assert_int_equal(g.nslots, 10);
	assert_int_equal(g.slots[0].kind, CTL_SLOT_POS);
	assert_false(g.slots[0].optional);
	assert_string_equal(g.slots[0].prop, "a");
	assert_true(g.slots[1].optional);
	assert_true(g.slots[1].is_int);
	assert_int_equal(g.slots[2].kind, CTL_SLOT_REST);
	assert_int_equal(g.slots[3].kind, CTL_SLOT_FLAG);
	assert_int_equal(g.slots[3].send, CTL_SEND_ALWAYS);
	assert_int_equal(g.slots[4].send, CTL_SEND_IF_SET);
	assert_int_equal(g.slots[5].send, CTL_SEND_NEVER);
	assert_true(g.slots[6].negate);
	assert_string_equal(g.slots[6].option, "no-i");
	assert_string_equal(g.slots[6].prop, "i");
	assert_string_equal(g.slots[7].prop, "jk");
	assert_int_equal(g.slots[7].send, CTL_SEND_IF_SET);
	assert_int_equal(g.slots[8].kind, CTL_SLOT_VALUE);
	assert_int_equal(g.slots[8].send, CTL_SEND_IF_SET);
	assert_string_equal(g.slots[8].meta, "m");
	assert_string_equal(g.slots[9].defval, "a");
	assert_string_equal(g.slots[9].meta, "a|b");
	assert_int_equal(g.npos_required, 2);
	assert_int_equal(g.npos_optional, 1);
	assert_true(g.rest);
	ctl_grammar_free(&g);

	assert_int_equal(ctl_grammar_parse("x <a:float>", &g, &cause), -1);
	assert_string_equal(cause, "bad type 'float'");
	free(cause);
	assert_int_equal(ctl_grammar_parse("x [<a>", &g, &cause), -1);
	free(cause);
	assert_int_equal(ctl_grammar_parse("x word", &g, &cause), -1);
	assert_string_equal(cause, "bad token 'word'");
	free(cause);
	assert_int_equal(ctl_grammar_parse("x <a...> <b+>", &g, &cause), -1);
	free(cause);
	assert_int_equal(ctl_grammar_parse("x [--o <m]", &g, &cause), -1);
	free(cause);
}

/* Requests as Circus's circusctl builds them (doc/design.md §17.6). */
static void
test_requests(void **state)
{
	(void)state;
	check_request("add web python3 -m http.server",
	    "{\"command\": \"add\", \"properties\": {\"name\": \"web\", "
	    "\"cmd\": \"python3 -m http.server\", \"start\": false}}");
	check_request("add --start web sleep 10",
	    "{\"command\": \"add\", \"properties\": {\"name\": \"web\", "
	    "\"cmd\": \"sleep 10\", \"start\": true}}");
	check_request("add web sleep 10 --start",
	    "{\"command\": \"add\", \"properties\": {\"name\": \"web\", "
	    "\"cmd\": \"sleep 10\", \"start\": true}}");
	check_request("decr web",
	    "{\"command\": \"decr\", \"properties\": {\"name\": \"web\", "
	    "\"waiting\": false}}");
	check_request("incr web 3 --waiting",
	    "{\"command\": \"incr\", \"properties\": {\"name\": \"web\", "
	    "\"nb\": 3, \"waiting\": true}}");
	check_request("incr --wait web -2",
	    "{\"command\": \"incr\", \"properties\": {\"name\": \"web\", "
	    "\"nb\": -2, \"waiting\": true}}");
	check_request("dstats", "{\"command\": \"dstats\", \"properties\": {}}");
	check_request("get web numprocesses env",
	    "{\"command\": \"get\", \"properties\": {\"name\": \"web\", "
	    "\"keys\": [\"numprocesses\", \"env\"]}}");
	check_request("globaloptions",
	    "{\"command\": \"globaloptions\", \"properties\": {}}");
	check_request("globaloptions endpoint extra",
	    "{\"command\": \"globaloptions\", \"properties\": "
	    "{\"option\": \"endpoint\"}}");
	check_request("kill web",
	    "{\"command\": \"kill\", \"properties\": {\"name\": \"web\"}}");
	check_request("kill web 12 --waiting --signum KILL "
	    "--graceful_timeout=3",
	    "{\"command\": \"kill\", \"properties\": {\"name\": \"web\", "
	    "\"pid\": \"12\", \"signum\": \"KILL\", "
	    "\"graceful_timeout\": \"3\"}}");
	check_request("kill --signum -9 web",
	    "{\"command\": \"kill\", \"properties\": {\"name\": \"web\", "
	    "\"signum\": \"-9\"}}");
	check_request("list", "{\"command\": \"list\", \"properties\": {}}");
	check_request("list web",
	    "{\"command\": \"list\", \"properties\": {\"name\": \"web\"}}");
	check_request("listsockets a b",
	    "{\"command\": \"listsockets\", \"properties\": {}}");
	check_request("numprocesses web",
	    "{\"command\": \"numprocesses\", \"properties\": "
	    "{\"name\": \"web\"}}");
	check_request("numwatchers",
	    "{\"command\": \"numwatchers\", \"properties\": {}}");
	check_request("options web",
	    "{\"command\": \"options\", \"properties\": {\"name\": \"web\"}}");
	check_request("quit", "{\"command\": \"quit\", \"properties\": "
	    "{\"waiting\": false}}");
	check_request("quit --waiting", "{\"command\": \"quit\", "
	    "\"properties\": {\"waiting\": true}}");
	check_request("reload",
	    "{\"command\": \"reload\", \"properties\": {\"graceful\": true, "
	    "\"waiting\": false, \"sequential\": false}}");
	check_request("reload --s --term",
	    "{\"command\": \"reload\", \"properties\": {\"graceful\": false, "
	    "\"waiting\": false, \"sequential\": true}}");
	check_request("reload web --terminate --sequential --waiting",
	    "{\"command\": \"reload\", \"properties\": {\"name\": \"web\", "
	    "\"graceful\": false, \"waiting\": true, \"sequential\": true}}");
	check_request("reloadconfig",
	    "{\"command\": \"reloadconfig\", \"properties\": "
	    "{\"waiting\": false}}");
	check_request("reloadconfig --dry-run",
	    "{\"command\": \"reloadconfig\", \"properties\": "
	    "{\"waiting\": false, \"dry_run\": true}}");
	check_request("restart",
	    "{\"command\": \"restart\", \"properties\": {\"waiting\": false, "
	    "\"match\": \"glob\"}}");
	check_request("restart web* --match regex --waiting",
	    "{\"command\": \"restart\", \"properties\": {\"name\": \"web*\", "
	    "\"waiting\": true, \"match\": \"regex\"}}");
	check_request("rm web --waiting --nostop",
	    "{\"command\": \"rm\", \"properties\": {\"name\": \"web\"}}");
	check_request("set web numprocesses 3",
	    "{\"command\": \"set\", \"properties\": {\"name\": \"web\", "
	    "\"options\": {\"numprocesses\": 3}}}");
	check_request("set web --waiting GRACEFUL_TIMEOUT 2 send_hup yes",
	    "{\"command\": \"set\", \"properties\": {\"name\": \"web\", "
	    "\"waiting\": true, \"options\": {\"graceful_timeout\": 2.0, "
	    "\"send_hup\": true}}}");
	check_request("signal web HUP",
	    "{\"command\": \"signal\", \"properties\": {\"name\": \"web\", "
	    "\"children\": false, \"recursive\": false, \"signum\": "
	    "\"HUP\"}}");
	check_request("signal web 42 9 --recursive",
	    "{\"command\": \"signal\", \"properties\": {\"name\": \"web\", "
	    "\"children\": false, \"recursive\": true, \"signum\": \"9\", "
	    "\"pid\": 42}}");
	check_request("start",
	    "{\"command\": \"start\", \"properties\": {\"waiting\": false, "
	    "\"match\": \"glob\"}}");
	check_request("start web --match=simple",
	    "{\"command\": \"start\", \"properties\": {\"name\": \"web\", "
	    "\"waiting\": false, \"match\": \"simple\"}}");
	check_request("stats",
	    "{\"command\": \"stats\", \"properties\": {\"extended\": false}}");
	check_request("stats web 7 --extended",
	    "{\"command\": \"stats\", \"properties\": {\"name\": \"web\", "
	    "\"process\": 7, \"extended\": true}}");
	check_request("status", "{\"command\": \"status\", \"properties\": "
	    "{}}");
	check_request("stop web extra",
	    "{\"command\": \"stop\", \"properties\": {\"name\": \"web\", "
	    "\"waiting\": false, \"match\": \"glob\"}}");
	check_request("add web -- ls -l",
	    "{\"command\": \"add\", \"properties\": {\"name\": \"web\", "
	    "\"cmd\": \"ls -l\", \"start\": false}}");
}

/* listen: topics, "" when none. */
static void
test_listen_topics(void **state)
{
	struct ctl_request	 req;
	char			*cause, *s;

	(void)state;
	assert_int_equal(build("listen", &req, &cause), CTL_EXIT_OK);
	assert_null(req.message);
	s = pyjson_dumps(req.topics);
	assert_string_equal(s, "[\"\"]");
	free(s);
	ctl_request_clear(&req);
	assert_int_equal(build("listen watcher.a. watcher.b", &req, &cause),
	    CTL_EXIT_OK);
	s = pyjson_dumps(req.topics);
	assert_string_equal(s, "[\"watcher.a.\", \"watcher.b\"]");
	free(s);
	ctl_request_clear(&req);
}

/* Builder errors (exit 1) and argparse errors (exit 2). */
static void
test_errors(void **state)
{
	(void)state;
	check_failure("add web", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("decr", CTL_EXIT_FAILURE, "Invalid number of arguments");
	check_failure("decr web x", CTL_EXIT_FAILURE,
	    "invalid <nb>: 'x' is not an integer");
	check_failure("dstats x", CTL_EXIT_FAILURE, "Invalid message");
	check_failure("get web", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("ipython x", CTL_EXIT_FAILURE, "Invalid message");
	check_failure("kill a b c", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("list a b", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("numprocesses a b", CTL_EXIT_FAILURE,
	    "message invalid");
	check_failure("numwatchers a", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("options", CTL_EXIT_FAILURE,
	    "number of arguments invalid");
	check_failure("reload a b", CTL_EXIT_FAILURE,
	    "invalid number of arguments");
	check_failure("restart a b", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("rm", CTL_EXIT_FAILURE, "Invalid number of arguments");
	check_failure("set web numprocesses", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("set web numprocesses 1 shell", CTL_EXIT_FAILURE,
	    "List of key/values is invalid");
	check_failure("set web foo 1", CTL_EXIT_FAILURE,
	    "unknown key 'foo'");
	check_failure("set web warmup_delay x", CTL_EXIT_FAILURE,
	    "invalid value for warmup_delay: 'x' is not a number");
	check_failure("signal web", CTL_EXIT_FAILURE,
	    "Invalid number of arguments");
	check_failure("signal web x HUP", CTL_EXIT_FAILURE,
	    "invalid <pid>: 'x' is not an integer");
	check_failure("stats a 1 2", CTL_EXIT_FAILURE, "message invalid");
	check_failure("status a b", CTL_EXIT_FAILURE, "message invalid");

	check_failure("list --json", CTL_EXIT_USAGE,
	    "unrecognized arguments: --json");
	check_failure("list -x web -y", CTL_EXIT_USAGE,
	    "unrecognized arguments: -x -y");
	check_failure("kill web --signum", CTL_EXIT_USAGE,
	    "argument --signum: expected one argument");
	check_failure("kill web --signum --waiting", CTL_EXIT_USAGE,
	    "argument --signum: expected one argument");
	check_failure("quit --waiting=yes", CTL_EXIT_USAGE,
	    "argument --waiting: ignored explicit argument 'yes'");
	check_failure("status -h", CTL_EXIT_HELP, NULL);
	check_failure("status --he", CTL_EXIT_HELP, NULL);
	check_failure("kill --h", CTL_EXIT_HELP, NULL);
}

/* Python int() and float() parsing. */
static void
test_py_numbers(void **state)
{
	json_int_t	i;
	double		d;

	(void)state;
	assert_int_equal(ctl_py_int("42", &i), 0);
	assert_int_equal(i, 42);
	assert_int_equal(ctl_py_int("  -7 ", &i), 0);
	assert_int_equal(i, -7);
	assert_int_equal(ctl_py_int("+1_000", &i), 0);
	assert_int_equal(i, 1000);
	assert_int_equal(ctl_py_int("1__0", &i), -1);
	assert_int_equal(ctl_py_int("_1", &i), -1);
	assert_int_equal(ctl_py_int("1_", &i), -1);
	assert_int_equal(ctl_py_int("", &i), -1);
	assert_int_equal(ctl_py_int("2.5", &i), -1);
	assert_int_equal(ctl_py_int("0x10", &i), -1);
	assert_int_equal(ctl_py_int("99999999999999999999", &i), -1);

	assert_int_equal(ctl_py_float("2.5", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(ctl_py_float(" 3 ", &d), 0);
	assert_true(d == 3.0);
	assert_int_equal(ctl_py_float(".5", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(ctl_py_float("1e3", &d), 0);
	assert_true(d == 1000.0);
	assert_int_equal(ctl_py_float("-1_0.5", &d), 0);
	assert_true(d == -10.5);
	assert_int_equal(ctl_py_float("5.", &d), 0);
	assert_true(d == 5.0);
	assert_int_equal(ctl_py_float("x", &d), -1);
	assert_int_equal(ctl_py_float("1e", &d), -1);
	assert_int_equal(ctl_py_float("e5", &d), -1);
	assert_int_equal(ctl_py_float("0x1p3", &d), -1);
	assert_int_equal(ctl_py_float("inf", &d), -1);
	assert_int_equal(ctl_py_float("nan", &d), -1);
	assert_int_equal(ctl_py_float("1e999", &d), -1);
	assert_int_equal(ctl_py_float("", &d), -1);
}

/* Assert convert_option(key, value) encodes as want (NULL: failure). */
static void
check_convert(const char *key, const char *value, const char *want)
{
	json_t	*v;
	char	*cause = NULL, *s;
	int	 rc;

	rc = ctl_convert_option(key, value, &v, &cause);
	if (want == NULL) {
		assert_int_equal(rc, -1);
		assert_non_null(cause);
		free(cause);
		return;
	}
	assert_int_equal(rc, 0);
	s = pyjson_dumps(v);
	assert_string_equal(s, want);
	free(s);
	json_decref(v);
}

/* set's client-side conversions (doc/design.md §17.6). */
static void
test_convert_option(void **state)
{
	(void)state;
	check_convert("numprocesses", "3", "3");
	check_convert("max_retry", "-1", "-1");
	check_convert("max_age", "x", NULL);
	check_convert("rlimit_nofile", "1024", "1024");
	check_convert("warmup_delay", "1", "1.0");
	check_convert("graceful_timeout", "2.5", "2.5");
	check_convert("retry_in", "nope", NULL);
	check_convert("send_hup", "yes", "true");
	check_convert("shell", " OFF ", "false");
	check_convert("close_child_stdout", "1", "true");
	check_convert("respawn", "maybe", NULL);
	check_convert("stop_signal", "TERM", "15");
	check_convert("stop_signal", "sigkill", "9");
	check_convert("stop_signal", "2", "2");
	check_convert("stop_signal", "NOPE", NULL);
	check_convert("env", "A=1, B = two ,C=", "{\"A\": \"1\", \"B\": "
	    "\"two\", \"C\": \"\"}");
	check_convert("env", "oops", NULL);
	check_convert("hooks", "before_start:/bin/true,after_stop:/bin/x",
	    "{\"before_start\": \"/bin/true\", \"after_stop\": \"/bin/x\"}");
	check_convert("hooks", "before_start", NULL);
	check_convert("hooks", "nope:x", NULL);
	check_convert("hooks", "before_start:a:b", NULL);
	check_convert("hooks.after_spawn", "/bin/true,true",
	    "\"/bin/true,true\"");
	check_convert("hooks.nope", "x", NULL);
	check_convert("stdout_stream.filename", "/tmp/x.log",
	    "\"/tmp/x.log\"");
	check_convert("stderr_stream.max_bytes", "100", "100");
	check_convert("stdout_stream.backup_count", "x", NULL);
	check_convert("working_dir", "/srv", "\"/srv\"");
	check_convert("uid", "nobody", "\"nobody\"");
	check_convert("cmd", "sleep 1", "\"sleep 1\"");
	check_convert("args", "--x", "\"--x\"");
	check_convert("priority", "1", NULL);
}

/* Synopses and argparse-style usage lines. */
static void
test_synopsis(void **state)
{
	char	*s;

	(void)state;
	s = ctl_synopsis(ctl_find("kill"));
	assert_string_equal(s, "kill <name> [<pid>] [--waiting] "
	    "[--signum <signum>] [--graceful_timeout <graceful_timeout>]");
	free(s);
	s = ctl_synopsis(ctl_find("set"));
	assert_string_equal(s, "set <name> <key> <value> [<key> <value>...] "
	    "[--waiting]");
	free(s);
	s = ctl_synopsis(ctl_find("add"));
	assert_string_equal(s, "add <name> <cmd>... [--start]");
	free(s);
	s = ctl_sub_usage(ctl_find("add"));
	assert_string_equal(s, "circusctl [options] command [args] add [-h] "
	    "[--start]");
	free(s);
	s = ctl_sub_usage(ctl_find("start"));
	assert_string_equal(s, "circusctl [options] command [args] start [-h] "
	    "[--waiting] [--match MATCH]");
	free(s);
	assert_string_equal(ctl_option_help("nope"), "");
	assert_true(strlen(ctl_option_help("waiting")) > 0);
	ctl_grammars_free();
}

/* Parse a space-separated global option line. */
static int
globals(const char *line, struct ctl_globals *g, int *idx, char **cause)
{
	char	*copy = strdup(line), *argv[16], *last, *w;
	int	 argc = 0, rc;

	for (w = strtok_r(copy, " ", &last); w != NULL && argc < 16;
	    w = strtok_r(NULL, " ", &last))
		argv[argc++] = w;
	*cause = NULL;
	rc = ctl_parse_globals(argc, argv, g, idx, cause);
	free(copy);
	return rc;
}

/* Global options: argparse prefixes, values, errors. */
static void
test_globals(void **state)
{
	struct ctl_globals	 g;
	char			*cause = NULL;
	int			 idx;

	(void)state;
	assert_int_equal(globals("--end ipc:///x --time=3 --json --pre list "
	    "--json", &g, &idx, &cause), CTL_EXIT_OK);
	assert_int_equal(idx, 5);
	assert_string_equal(g.endpoint, "ipc:///x");
	assert_int_equal(g.timeout_s, 3);
	assert_true(g.json);
	assert_true(g.prettify);
	ctl_globals_clear(&g);

	assert_int_equal(globals("--timeout 2.5 list", &g, &idx, &cause),
	    CTL_EXIT_USAGE);
	assert_string_equal(cause, "argument --timeout: invalid int value: "
	    "'2.5'");
	free(cause);
	assert_int_equal(globals("foo", &g, &idx, &cause), CTL_EXIT_USAGE);
	assert_string_equal(cause, "unrecognized arguments: foo");
	free(cause);
	assert_int_equal(globals("foo list", &g, &idx, &cause),
	    CTL_EXIT_USAGE);
	assert_true(strncmp(cause, "argument command: invalid choice: 'foo' "
	    "(choose from 'add', ", 59) == 0);
	free(cause);
	assert_int_equal(globals("--s x list", &g, &idx, &cause),
	    CTL_EXIT_USAGE);
	assert_string_equal(cause, "ambiguous option: --s could match "
	    "--server_key, --ssh, --ssh_keyfile");
	free(cause);
	assert_int_equal(globals("--json", &g, &idx, &cause), CTL_EXIT_OK);
	assert_int_equal(idx, -1);
	assert_int_equal(g.timeout_s, 5);
	ctl_globals_clear(&g);
	assert_int_equal(globals("--version --bogus", &g, &idx, &cause),
	    CTL_EXIT_OK);
	assert_true(g.version);
	ctl_globals_clear(&g);
	assert_int_equal(globals("--endpoint", &g, &idx, &cause),
	    CTL_EXIT_USAGE);
	assert_string_equal(cause, "argument --endpoint: expected one "
	    "argument");
	free(cause);
	/* a Z85 key may start with '-': it is still --server_key's value */
	assert_int_equal(globals("--server_key "
	    "-0000000000000000000000000000000000000a0 status", &g, &idx,
	    &cause), CTL_EXIT_OK);
	assert_string_equal(g.server_key,
	    "-0000000000000000000000000000000000000a0");
	assert_int_equal(idx, 2);
	ctl_globals_clear(&g);
	assert_int_equal(globals("--server_key -bogus status", &g, &idx,
	    &cause), CTL_EXIT_USAGE);
	assert_string_equal(cause, "argument --server_key: expected one "
	    "argument");
	free(cause);
	assert_int_equal(globals("--endpoint "
	    "-0000000000000000000000000000000000000a0 status", &g, &idx,
	    &cause), CTL_EXIT_USAGE);
	free(cause);
	assert_int_equal(globals("-h list", &g, &idx, &cause),
	    CTL_EXIT_USAGE);
	assert_string_equal(cause, "unrecognized arguments: -h");
	free(cause);
	assert_int_equal(globals("--ssh u@h:22 --ssh_k /k --timeout -1 status",
	    &g, &idx, &cause), CTL_EXIT_OK);
	assert_string_equal(g.ssh, "u@h:22");
	assert_string_equal(g.ssh_keyfile, "/k");
	assert_int_equal(g.timeout_s, -1);
	ctl_globals_clear(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_shape),
		cmocka_unit_test(test_grammar_parse),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_listen_topics),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_py_numbers),
		cmocka_unit_test(test_convert_option),
		cmocka_unit_test(test_synopsis),
		cmocka_unit_test(test_globals),
	};
	int	rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ctl_grammars_free();
	return rc;
}
