/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for circusctl's printers, completion and help columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "circusctl.h"

static void	check_print(const char *, const char *, const char *);
static void	check_complete(const char *, const char *, const char *);

/* Assert the printer of command renders the reply JSON as want. */
static void
check_print(const char *command, const char *reply, const char *want)
{
	const struct ctl_entry	*e = ctl_find(command);
	json_error_t		 err;
	json_t			*v;
	char			*out;

	assert_non_null(e);
	v = json_loads(reply, 0, &err);
	assert_non_null(v);
	out = e->print(e, v);
	assert_string_equal(out, want);
	free(out);
	json_decref(v);
}

/* Completion of the last word of line (shell mode, nothing live),
 * candidates joined by spaces. */
static void
check_complete(const char *line, const char *current, const char *want)
{
	struct ctl_ctx	 ctx;
	struct ctl_globals g;
	char		*copy = strdup(line), *words[16], *last, *w, **c;
	char		 got[1024] = "";
	int		 n = 0;
	size_t		 i;

	memset(&g, 0, sizeof g);
	g.timeout_s = 1;
	ctl_ctx_init(&ctx, &g);
	for (w = strtok_r(copy, " ", &last); w != NULL && n < 16;
	    w = strtok_r(NULL, " ", &last))
		words[n++] = w;
	c = complete_words(&ctx, n, words, current, true);
	for (i = 0; c[i] != NULL; i++) {
		size_t len = strlen(got);

		snprintf(got + len, sizeof got - len, "%s%s", i > 0 ? " " : "",
		    c[i]);
	}
	assert_string_equal(got, want);
	complete_free(c);
	free(copy);
	ctx.globals.endpoint = NULL;
	ctl_ctx_clear(&ctx);
}

/* Default, status, list and number printers. */
static void
test_simple_printers(void **state)
{
	(void)state;
	check_print("stop", "{\"status\": \"ok\"}", "ok");
	check_print("stop", "{\"status\": \"error\", \"reason\": \"boom\"}",
	    "error: boom");
	check_print("stop", "{\"status\": \"error\"}", "error: None");
	check_print("status", "{\"status\": \"ok\", \"statuses\": "
	    "{\"b\": \"active\", \"B\": \"stopped\", \"_\": \"x\"}}",
	    "B: stopped\n_: x\nb: active");
	check_print("status", "{\"status\": \"active\"}", "active");
	check_print("status", "{\"status\": \"error\", \"reason\": \"x\"}",
	    "error");
	check_print("list", "{\"status\": \"ok\", \"pids\": [1, 2]}", "1,2");
	check_print("list", "{\"status\": \"ok\", \"watchers\": []}", "");
	check_print("list", "{\"status\": \"ok\"}", "error: Response doesn't "
	    "contain 'pids' nor 'watchers'.");
	check_print("numwatchers", "{\"status\": \"ok\", \"numwatchers\": 4}",
	    "4");
	check_print("numprocesses", "{\"status\": \"ok\"}", "None");
	check_print("incr", "{\"status\": \"ok\"}", "ok");
	check_print("incr", "{\"status\": \"ok\", \"numprocesses\": 3}", "3");
	check_print("decr", "{\"status\": \"ok\", \"numprocesses\": 1, "
	    "\"singleton\": true}", "This watcher is a Singleton - not "
	    "changing the number of processes");
	check_print("ipython", "{\"status\": \"ok\", \"shell\": false}",
	    "error: Could not start ipython kernel");
	check_print("globaloptions", "{\"status\": \"error\", \"reason\": "
	    "\"'x' not an existing option\"}", "'x' not an existing option");
}

/* Option values rendered as Circus's convert_opt. */
static void
test_options_printer(void **state)
{
	char	*s;
	json_t	*v;

	(void)state;
	check_print("options", "{\"status\": \"ok\", \"options\": "
	    "{\"env\": {\"b\": \"1\", \"A\": \"x\"}, \"uid\": null, "
	    "\"shell\": false, \"graceful_timeout\": 30.0, \"n\": 2, "
	    "\"conf\": {\"filename\": \"it's\", \"x\": [1, null]}}}",
	    "env: A=x,b=1\nuid: \nshell: False\ngraceful_timeout: 30.0\n"
	    "n: 2\nconf: {'filename': \"it's\", 'x': [1, None]}");
	check_print("get", "{\"status\": \"ok\"}", "");
	v = json_null();
	s = print_opt_value("env", v);
	assert_string_equal(s, "");
	free(s);
	json_decref(v);
	v = json_object();
	s = print_opt_value("env", v);
	assert_string_equal(s, "");
	free(s);
	json_decref(v);
}

/* stats, dstats and listsockets lines. */
static void
test_process_printers(void **state)
{
	static const char info[] = "{\"mem_info1\": \"1M\", \"mem_info2\": "
	    "\"2M\", \"cpu\": 0.0, \"mem\": 0.5, \"ctime\": \"0:00.0\", "
	    "\"pid\": 7, \"username\": \"u\", \"nice\": 0, \"cmdline\": \"sh\", "
	    "\"children\": []}";
	char	*reply;

	(void)state;
	reply = NULL;
	assert_true(asprintf(&reply, "{\"status\": \"ok\", \"name\": \"w\", "
	    "\"info\": {\"7\": %s, \"8\": \"No such process (stopped?)\"}}",
	    info) > 0);
	check_print("stats", reply, "w:\n7: 7  sh u 0 1M 2M 0.0 0.5 0:00.0\n"
	    "8: No such process (stopped?)");
	free(reply);
	assert_true(asprintf(&reply, "{\"status\": \"ok\", \"process\": 7, "
	    "\"info\": %s}", info) > 0);
	check_print("stats", reply, "7: 7  sh u 0 1M 2M 0.0 0.5 0:00.0\n");
	free(reply);
	assert_true(asprintf(&reply, "{\"status\": \"ok\", \"info\": %s}",
	    info) > 0);
	check_print("dstats", reply, "Main Process:\n"
	    "    7  sh u 0 1M 2M 0.0 0.5 0:00.0");
	free(reply);
	check_print("listsockets", "{\"status\": \"ok\", \"sockets\": ["
	    "{\"fd\": 3, \"name\": \"a\", \"host\": \"127.0.0.1\", "
	    "\"port\": 80}, {\"fd\": 4, \"name\": \"b\", \"path\": \"/s\"}]}",
	    "3:socket 'a' at 127.0.0.1:80\n4:socket 'b' at /s");
	check_print("reloadconfig", "{\"status\": \"ok\", \"time\": 1.0, "
	    "\"id\": \"x\"}", "ok");
	check_print("reloadconfig", "{\"status\": \"ok\", \"plan\": "
	    "{\"start\": [\"a\", \"b\"], \"stop\": []}, \"changed\": true}",
	    "start: a, b\nstop: -\nchanged: True");
}

/* listen lines, plain and JSON. */
static void
test_event_lines(void **state)
{
	char	*s;

	(void)state;
	s = print_event("watcher.a.spawn", 15, "{\"process_pid\":1,"
	    "\"time\":2.5}", 28, false);
	assert_string_equal(s, "watcher.a.spawn: {\"process_pid\": 1, "
	    "\"time\": 2.5}");
	free(s);
	s = print_event("t", 1, "bad\n\xff", 5, false);
	assert_string_equal(s, "t: bad\\n\\xff");
	free(s);
	s = print_event("t", 1, "[1]", 3, true);
	assert_string_equal(s, "{\"topic\": \"t\", \"data\": [1]}");
	free(s);
	s = print_event("t", 1, "x", 1, true);
	assert_string_equal(s, "{\"topic\": \"t\", \"data\": \"x\"}");
	free(s);
}

/* Completion that needs no daemon. */
static void
test_completion(void **state)
{
	(void)state;
	check_complete("", "st", "start stats status stop");
	check_complete("", "he", "help");
	check_complete("", "e", "exit");
	check_complete("help", "li", "list listen listsockets");
	check_complete("help list", "", "");
	check_complete("kill web", "--", "--graceful_timeout --help "
	    "--signum --waiting");
	check_complete("kill web --signum", "TE", "TERM");
	check_complete("kill web --signum", "sigte", "sigterm");
	check_complete("restart --match", "", "glob regex simple");
	check_complete("restart", "--match=s", "--match=simple");
	check_complete("get web", "stop_", "stop_children stop_signal");
	check_complete("set web", "close", "close_child_stderr "
	    "close_child_stdin close_child_stdout");
	check_complete("set web rlimit_", "", "");
	check_complete("set web", "rlimit_no", "rlimit_nofile");
	check_complete("set web send_hup", "", "false true");
	check_complete("set web stop_signal", "KI", "KILL");
	check_complete("set web hooks", "after_st", "after_start: after_stop:");
	check_complete("globaloptions", "", "check_delay endpoint "
	    "multicast_endpoint pubsub_endpoint stats_endpoint");
	check_complete("nope", "", "");
	check_complete("status web", "", "");
	ctl_grammars_free();
}

/* Help columns as Python's cmd.Cmd.columnize. */
static void
test_columnize(void **state)
{
	static const char *const names[] = { "add", "decr", "dstats", "exit",
	    "get", "globaloptions", "help", "incr", "ipython", "kill", "list",
	    "listen", "listsockets", "numprocesses", "numwatchers", "options",
	    "quit", "reload", "reloadconfig", "restart", "rm", "set", "signal",
	    "start", "stats", "status", "stop" };
	static const char *const three[] = { "a", "bb", "ccc" };
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	(void)state;
	f = open_memstream(&buf, &len);
	shell_columnize(f, names, nitems(names), 79);
	shell_columnize(f, three, 3, 5);
	shell_columnize(f, three, 1, 5);
	shell_columnize(f, three, 0, 5);
	fclose(f);
	assert_string_equal(buf,
	    "add     get            ipython  listsockets   quit          "
	    "rm      stats \n"
	    "decr    globaloptions  kill     numprocesses  reload        "
	    "set     status\n"
	    "dstats  help           list     numwatchers   reloadconfig  "
	    "signal  stop  \n"
	    "exit    incr           listen   options       restart       "
	    "start \n"
	    "a\nbb\nccc\n"
	    "a\n"
	    "<empty>\n");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_printers),
		cmocka_unit_test(test_options_printer),
		cmocka_unit_test(test_process_printers),
		cmocka_unit_test(test_event_lines),
		cmocka_unit_test(test_completion),
		cmocka_unit_test(test_columnize),
	};
	int	rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ctl_grammars_free();
	return rc;
}
