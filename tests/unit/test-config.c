/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the ini loader (circusd/config.c) and the option table
 * (circusd/options-table.c), against the fixtures in tests/config/. Run
 * from the repository root.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "pyjson.h"
#include "xmalloc.h"

#define FIX "tests/config/"

/* Load a fixture, failing with the loader's errors if it is refused. */
static struct config *
load_ok(const char *path)
{
	struct config	*cfg;
	char		*errors = NULL;

	cfg = config_load(path, &errors);
	if (cfg == NULL)
		fail_msg("%s refused:\n%s", path, errors);
	assert_null(errors);
	return (cfg);
}

/* Load a fixture that must be refused; return the error text. */
static char *
load_fail(const char *path)
{
	struct config	*cfg;
	char		*errors = NULL;

	cfg = config_load(path, &errors);
	assert_null(cfg);
	assert_non_null(errors);
	return (errors);
}

/* Find a watcher by exact name, or NULL. */
static struct watcher_cfg *
find_watcher(struct config *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; i < cfg->nwatchers; i++) {
		if (strcmp(cfg->watchers[i]->name, name) == 0)
			return (cfg->watchers[i]);
	}
	return (NULL);
}

/* Find a watcher that must exist. */
static struct watcher_cfg *
watcher(struct config *cfg, const char *name)
{
	struct watcher_cfg	*w;

	if ((w = find_watcher(cfg, name)) == NULL)
		fail_msg("no watcher %s", name);
	return (w);
}

/* Find a socket that must exist. */
static struct socket_cfg *
socket_named(struct config *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; i < cfg->nsockets; i++) {
		if (strcmp(cfg->sockets[i]->name, name) == 0)
			return (cfg->sockets[i]);
	}
	fail_msg("no socket %s", name);
	return (NULL);
}

/* Python json.dumps of a watcher option, for compact comparisons. */
static void
check_opt(const struct watcher_cfg *w, const char *key, const char *want)
{
	json_t	*v;
	char	*cause = NULL, *s;

	v = watcher_cfg_get(w, key, &cause);
	if (v == NULL)
		fail_msg("get %s: %s", key, cause);
	s = pyjson_dumps(v);
	if (strcmp(s, want) != 0)
		fail_msg("%s: got %s, want %s", key, s, want);
	free(s);
	json_decref(v);
}

/* String value of a key in a JSON object, or NULL. */
static const char *
jget(const json_t *obj, const char *key)
{
	return (json_string_value(json_object_get(obj, key)));
}

/* Does some string of arr contain needle? */
static bool
has_text(const json_t *arr, const char *needle)
{
	size_t	 i;

	for (i = 0; i < json_array_size(arr); i++) {
		if (strstr(json_string_value(json_array_get(arr, i)), needle))
			return (true);
	}
	return (false);
}

/* Write content to a new file in a temporary directory; caller frees. */
static char *
write_tmp(const char *dir, const char *name, const char *content)
{
	FILE	*f;
	char	*path;

	if (asprintf(&path, "%s/%s", dir, name) == -1)
		fail();
	assert_non_null(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
	return (path);
}

/* Make a temporary directory; caller frees and removes. */
static char *
tmpdir(void)
{
	char	 tmpl[] = "/tmp/circus-c-test-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return (strdup(tmpl));
}

/* Remove a file and free its name. */
static void
rm_tmp(char *path)
{
	unlink(path);
	free(path);
}

/* [circus] only: verbatim relative values and all the defaults. */
static void
test_circus_defaults(void **state)
{
	struct config	*cfg;
	struct circus_cfg *c;

	(void)state;
	cfg = load_ok(FIX "circus.ini");
	c = &cfg->circus;
	assert_string_equal(c->pidfile, "run/circusd.pid");
	assert_string_equal(c->loglevel, "debug");
	assert_string_equal(c->logoutput, "logs/circusd.log");
	assert_string_equal(c->endpoint, "tcp://127.0.0.1:5555");
	assert_string_equal(c->pubsub_endpoint, "tcp://127.0.0.1:5556");
	assert_string_equal(c->stats_endpoint, "tcp://127.0.0.1:5557");
	assert_string_equal(c->multicast_endpoint,
	    "udp://237.219.251.97:12027");
	assert_null(c->endpoint_owner);
	assert_null(c->loggerconfig);
	assert_false(c->statsd);
	assert_true(c->check_delay == 5.0);
	assert_int_equal(c->warmup_delay, 0);
	assert_int_equal(c->umask, -1);
	assert_string_equal(c->httpd_host, "localhost");
	assert_int_equal(c->httpd_port, 8080);
	assert_true(c->backoff_min_s == 0.1);
	assert_true(c->backoff_factor == 2.0);
	assert_true(c->backoff_max_s == 30.0);
	assert_true(c->backoff_reset_s == 10.0);
	assert_string_equal(jget(c->raw, "loglevel"), "debug");
	assert_int_equal(cfg->nwatchers, 0);
	assert_int_equal(cfg->nsockets, 0);
	assert_int_equal(cfg->nplugins, 0);
	assert_int_equal(json_array_size(cfg->warnings), 0);
	config_free(cfg);
}

/* Comments, rem, headers with trailing text, octal umask, empty values. */
static void
test_parser_circus(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	assert_true(cfg->circus.check_delay == 10.5);
	assert_int_equal(cfg->circus.warmup_delay, 3);
	assert_int_equal(cfg->circus.umask, 027);
	assert_int_equal(cfg->circus.httpd_port, 9090);
	assert_string_equal(cfg->circus.multicast_endpoint, "");
	/* [watcher:a]b] is "a]b"; [Watcher:x] and [unknown] are ignored. */
	assert_int_equal(cfg->nwatchers, 2);
	assert_string_equal(cfg->watchers[0]->name, "a]b");
	assert_string_equal(cfg->watchers[1]->name, "values");
	config_free(cfg);
}

/* Option values: ';' rule, '#', "", quotes, %, duplicates, continuations. */
static void
test_parser_values(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	w = watcher(cfg, "values");
	check_opt(w, "cmd", "\"/bin/bash -c 'exit 0'\"");
	check_opt(w, "args", "\"-q  # not a comment\"");
	check_opt(w, "semi", "\"a;b c ;d\"");
	check_opt(w, "semi_cut", "\"value\"");
	check_opt(w, "semi_first", "\"x\"");
	check_opt(w, "empty", "\"\"");
	check_opt(w, "quoted", "\"'%Y/%m/%d | %H:%M:%S'\"");
	check_opt(w, "percent", "\"100%\"");
	check_opt(w, "remove", "\"not a rem comment\"");
	check_opt(w, "colon", "\"value with = inside\"");
	check_opt(w, "first", "\"one\"");
	check_opt(w, "multi",
	    "\"line1\\nline2\\nline3\\nkey = indented continuation\"");
	check_opt(w, "Case", "\"upper\"");
	check_opt(w, "case", "\"lower\"");
	check_opt(w, "flapping.max_retry", "\"3\"");
	check_opt(w, "check_flapping", "false");
	assert_string_equal(jget(w->raw, "numprocesses"), "100");
	assert_string_equal(jget(w->raw, "env"), "ignored");
	assert_null(json_object_get(w->freeform, "env"));
	assert_null(json_object_get(w->freeform, "key"));
	assert_string_equal(w->file, FIX "values.ini");
	assert_int_equal(w->line, 12);
	config_free(cfg);
}

/* Typed watcher options from the ini. */
static void
test_watcher_typed(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	w = watcher(cfg, "values");
	check_opt(w, "numprocesses", "100");
	check_opt(w, "graceful_timeout", "30.0");
	check_opt(w, "warmup_delay", "2");
	check_opt(w, "stop_signal", "2");
	check_opt(w, "stop_children", "true");
	check_opt(w, "uid", "\"me\"");
	check_opt(w, "gid", "\"me\"");
	/* resolved once at load: no user or group "me", each spawn says so */
	assert_true(w->ids.bad_uid && w->ids.bad_gid);
	assert_false(w->ids.set_uid || w->ids.set_gid || w->ids.set_groups);
	check_opt(w, "max_retry", "-1");
	check_opt(w, "priority", "7");
	check_opt(w, "close_child_stdin", "false");
	check_opt(w, "close_child_stdout", "true");
	check_opt(w, "respawn", "false");
	check_opt(w, "env", "{}");
	assert_false(w->autostart);
	assert_int_equal(json_integer_value(json_object_get(w->rlimits,
	    "nofile")), 1024);
	assert_int_equal(json_integer_value(json_object_get(w->rlimits,
	    "core")), -1);
	config_free(cfg);
}

/* The `options` key set, order and JSON types of an ini watcher. */
static void
test_options_keyset(void **state)
{
	static const char *const keys[] = {
		"args", "close_child_stderr", "close_child_stdin",
		"close_child_stdout", "cmd", "copy_env", "env", "executable",
		"gid", "graceful_timeout", "max_age", "max_age_variance",
		"max_retry", "numprocesses", "on_demand", "priority",
		"respawn", "send_hup", "shell", "shell_args", "singleton",
		"stderr_stream_conf", "stdout_stream_conf", "stop_children",
		"stop_signal", "uid", "use_sockets", "warmup_delay",
		"working_dir",
	};
	struct config	*cfg;
	json_t		*o;
	char		*s;
	const char	*k;
	json_t		*v;
	size_t		 i = 0;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	o = watcher_cfg_options(watcher(cfg, "a]b"));
	json_object_foreach(o, k, v) {
		assert_true(i < sizeof keys / sizeof keys[0]);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof keys / sizeof keys[0]);
	json_object_del(o, "working_dir");
	s = pyjson_dumps(o);
	assert_string_equal(s, "{\"args\": \"\", \"close_child_stderr\": "
	    "false, \"close_child_stdin\": true, \"close_child_stdout\": "
	    "false, \"cmd\": \"/bin/true\", \"copy_env\": false, \"env\": {}, "
	    "\"executable\": null, \"gid\": null, \"graceful_timeout\": 30.0, "
	    "\"max_age\": 0, \"max_age_variance\": 30, \"max_retry\": 5, "
	    "\"numprocesses\": 1, \"on_demand\": false, \"priority\": 0, "
	    "\"respawn\": true, \"send_hup\": false, \"shell\": false, "
	    "\"shell_args\": null, \"singleton\": false, "
	    "\"stderr_stream_conf\": {}, \"stdout_stream_conf\": {}, "
	    "\"stop_children\": false, \"stop_signal\": 15, \"uid\": null, "
	    "\"use_sockets\": false, \"warmup_delay\": 0}");
	free(s);
	json_decref(o);

	/* Free-form keys are listed too, sorted with the rest. */
	o = watcher_cfg_options(watcher(cfg, "values"));
	assert_non_null(json_object_get(o, "flapping.max_retry"));
	assert_non_null(json_object_get(o, "Case"));
	assert_string_equal(json_object_iter_key(json_object_iter(o)), "Case");
	assert_null(json_object_get(o, "autostart"));
	assert_null(json_object_get(o, "hooks"));
	assert_null(json_object_get(o, "rlimits"));
	json_decref(o);
	config_free(cfg);
}

/* A 4 KiB+ cmd line loads exactly. */
static void
test_long_line(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			 want[8192], *p = want;
	int			 i;

	(void)state;
	p += sprintf(p, "/bin/echo");
	for (i = 0; i < 400; i++)
		p += sprintf(p, "%sargument%04d", i == 0 ? " " : " ", i);
	assert_true(strlen(want) > 4096);
	cfg = load_ok(FIX "long_line.ini");
	w = watcher(cfg, "long");
	assert_string_equal(w->cmd, want);
	check_opt(w, "numprocesses", "1");
	config_free(cfg);
}

/* Every bad line is listed with file:line, not just the first. */
static void
test_bad_lines(void **state)
{
	char	*errors;

	(void)state;
	errors = load_fail(FIX "bad_lines.ini");
	assert_string_equal(errors,
	    FIX "bad_lines.ini:3: cannot parse line: "
	    "'this line has no delimiter'\n"
	    FIX "bad_lines.ini:7: cannot parse line: '[]'\n"
	    FIX "bad_lines.ini:8: cannot parse line: 'another bad line'");
	free(errors);
}

/* Options before any section. */
static void
test_missing_header(void **state)
{
	char	*errors;

	(void)state;
	errors = load_fail(FIX "no_header.ini");
	assert_string_equal(errors, FIX "no_header.ini:1: missing section "
	    "header: 'key = value'");
	free(errors);
}

/* Typed conversion errors are fatal and all listed. */
/*
 * What --check fails on (config_problems): dropped watchers (no cmd, a
 * negative numprocesses), a plugin, a header missing its ']'; each with
 * file:line. statsd runs circusd-stats, so it is no problem. A clean file
 * has none.
 */
static void
test_problems(void **state)
{
	struct config	*cfg;
	json_t		*p;
	char		*dir, *path;

	(void)state;
	dir = tmpdir();
	path = write_tmp(dir, "p.ini",
	    "[circus]\n"
	    "statsd = true\n"
	    "[watcher:nocmd]\n"
	    "numprocesses = 2\n"
	    "[watcher:neg]\n"
	    "cmd = /bin/true\n"
	    "numprocesses = -3\n"
	    "[watcher:ok]\n"
	    "cmd = /bin/true\n"
	    "[watcher:b\n"
	    "[plugin:p]\n"
	    "use = circus.plugins.flapping.Flapping\n");
	cfg = load_ok(path);
	/* ok, circusd-stats and plugin:p */
	assert_int_equal(cfg->nwatchers, 3);
	p = config_problems(cfg);
	assert_int_equal(json_array_size(p), 3);
	assert_true(has_text(p, "p.ini:3: watcher 'nocmd': no cmd; watcher "
	    "skipped"));
	assert_true(has_text(p, "p.ini:7: watcher 'neg': numprocesses = -3 "
	    "is negative"));
	assert_false(has_text(p, "statsd"));
	assert_true(has_text(p, "p.ini:10: a section header missing its ']' "
	    "is read as option '[watcher' of section [watcher:ok]"));
	assert_false(has_text(p, "plugin"));	/* plugins run */
	json_decref(p);
	p = config_not_run(cfg);
	assert_int_equal(json_array_size(p), 1);
	json_decref(p);
	config_free(cfg);
	rm_tmp(path);

	path = write_tmp(dir, "ok.ini", "[watcher:ok]\ncmd = /bin/true\n");
	cfg = load_ok(path);
	p = config_problems(cfg);
	assert_int_equal(json_array_size(p), 0);
	json_decref(p);
	config_free(cfg);
	rm_tmp(path);
	rmdir(dir);
	free(dir);
}

static void
test_bad_values(void **state)
{
	char	*errors;

	(void)state;
	errors = load_fail(FIX "bad_values.ini");
	assert_string_equal(errors,
	    FIX "bad_values.ini:2: [circus] warmup_delay = '1.5' is not an "
	    "integer\n"
	    FIX "bad_values.ini:6: watcher 'one': numprocesses = 'many' is "
	    "not an integer\n"
	    FIX "bad_values.ini:7: watcher 'one': shell = 'perhaps' is not a "
	    "boolean\n"
	    FIX "bad_values.ini:11: watcher 'two': stop_signal = 'SIGNOPE': "
	    "signal invalid\n"
	    FIX "bad_values.ini:12: watcher 'two': graceful_timeout = 'soon' "
	    "is not a number\n"
	    FIX "bad_values.ini:13: watcher 'two': rlimit_nofile = 'lots' is "
	    "not an integer\n"
	    FIX "bad_values.ini:16: socket 's': so_reuseport = 'sometimes' is "
	    "not a boolean\n"
	    FIX "bad_values.ini:20: plugin 'p': priority = 'high' is not an "
	    "integer\n"
	    FIX "bad_values.ini:24: watcher 'three': hooks.before_start: "
	    "'maybe' is not a boolean");
	free(errors);
}

/*
 * Parse errors and typed conversion errors together (doc/design.md §13): the
 * parsed lines are still converted, and every error is listed in line
 * order per file (files in read order); lenient loading refuses too.
 */
static void
test_mixed_errors(void **state)
{
	static const char want[] =
	    FIX "mixed_errors.ini:2: [circus] warmup_delay = '1.5' is not an "
	    "integer\n"
	    FIX "mixed_errors.ini:6: watcher 'a': numprocesses = 'many' is "
	    "not an integer\n"
	    FIX "mixed_errors.ini:10: cannot parse line: 'this line has no "
	    "delimiter'\n"
	    FIX "mixed_errors.ini:11: watcher 'b': graceful_timeout = 'soon' "
	    "is not a number\n"
	    FIX "mixed_errors.ini:14: socket 's': so_reuseport = 'sometimes' "
	    "is not a boolean\n"
	    FIX "mixed_errors.ini:17: watcher 'a': shell = 'perhaps' is not a "
	    "boolean";
	char	*errors, *dir, *a, *b, *text;

	(void)state;
	errors = load_fail(FIX "mixed_errors.ini");
	assert_string_equal(errors, want);
	free(errors);
	errors = NULL;
	assert_null(config_load_lenient(FIX "mixed_errors.ini", &errors));
	assert_non_null(errors);
	assert_string_equal(errors, want);
	free(errors);

	/* Across an include: the main file first, each file by line. */
	dir = tmpdir();
	a = write_tmp(dir, "main.ini",
	    "[circus]\ninclude = other.ini\n\n"
	    "[watcher:w]\ncmd = /bin/true\nno delimiter here\n"
	    "stop_signal = SIGNOPE\n");
	b = write_tmp(dir, "other.ini",
	    "[watcher:x]\ncmd = /bin/true\nnumprocesses = 1.5\n"
	    "bad line\n\n[watcher:w]\nmax_retry = often\n");
	errors = load_fail(a);
	if (asprintf(&text, "%s:6: cannot parse line: 'no delimiter here'\n"
	    "%s:7: watcher 'w': stop_signal = 'SIGNOPE': signal invalid\n"
	    "%s:3: watcher 'x': numprocesses = '1.5' is not an integer\n"
	    "%s:4: cannot parse line: 'bad line'\n"
	    "%s:7: watcher 'w': max_retry = 'often' is not an integer",
	    a, a, b, b, b) == -1)
		fail();
	assert_string_equal(errors, text);
	free(text);
	free(errors);
	rm_tmp(a);
	rm_tmp(b);
	rmdir(dir);
	free(dir);
}

/* A missing file. */
static void
test_missing_file(void **state)
{
	char	*errors;

	(void)state;
	errors = load_fail(FIX "no-such.ini");
	assert_string_equal(errors, FIX "no-such.ini:0: the configuration "
	    "file '" FIX "no-such.ini' does not exist");
	free(errors);
	errors = load_fail("tests/config");
	assert_string_equal(errors, "tests/config:0: the configuration file "
	    "'tests/config' is a directory");
	free(errors);
}

/* include + include_dir, first definition wins across files. */
static void
test_include(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;

	(void)state;
	cfg = load_ok(FIX "include.ini");
	assert_int_equal(cfg->nwatchers, 5);
	assert_string_equal(cfg->watchers[0]->name, "bar");
	assert_string_equal(cfg->watchers[1]->name, "barbaz");
	assert_string_equal(cfg->watchers[2]->name, "foo");
	assert_string_equal(cfg->watchers[3]->name, "foobar");
	assert_string_equal(cfg->watchers[4]->name, "main");
	/* check_delay from an included [circus]. */
	assert_true(cfg->circus.check_delay == 2.0);
	/* main's cmd wins; numprocesses only exists in the include. */
	w = watcher(cfg, "main");
	assert_string_equal(w->cmd, "/bin/true");
	assert_int_equal(w->numprocesses, 9);
	check_opt(watcher(cfg, "foo"), "numprocesses", "5");
	assert_string_equal(watcher(cfg, "barbaz")->file,
	    FIX "included/barbaz.ini");
	/* include inside an included file is not followed. */
	assert_int_equal(json_array_size(cfg->warnings), 0);
	config_free(cfg);

	cfg = load_ok(FIX "include_dir.ini");
	assert_int_equal(cfg->nwatchers, 3);
	assert_string_equal(cfg->watchers[0]->name, "bar");
	assert_string_equal(cfg->watchers[1]->name, "foo");
	assert_string_equal(cfg->watchers[2]->name, "main");
	assert_string_equal(cfg->watchers[2]->cmd, "/bin/false");
	config_free(cfg);
}

/* Patterns matching nothing only warn. */
static void
test_empty_include(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "empty_include.ini");
	assert_int_equal(cfg->nwatchers, 1);
	assert_int_equal(json_array_size(cfg->warnings), 2);
	assert_string_equal(json_string_value(json_array_get(cfg->warnings,
	    0)), FIX "empty_include.ini:2: '" FIX "no-such-file-*.ini' does "
	    "not lead to any config. Make sure include paths are relative to "
	    "the main config file");
	assert_string_equal(json_string_value(json_array_get(cfg->warnings,
	    1)), FIX "empty_include.ini:3: '" FIX "no-such-dir/*.ini' does "
	    "not lead to any config. Make sure include paths are relative to "
	    "the main config file");
	config_free(cfg);
}

/* Two wildcard levels; the main file's [env:server] wins. */
static void
test_multiple_wildcard(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;

	(void)state;
	cfg = load_ok(FIX "multiple_wildcard.ini");
	assert_int_equal(cfg->nwatchers, 3);
	assert_string_equal(cfg->watchers[0]->name, "first");
	assert_string_equal(cfg->watchers[1]->name, "second");
	assert_string_equal(cfg->watchers[2]->name, "server");
	assert_true(cfg->circus.check_delay == 555.0);
	w = watcher(cfg, "server");
	assert_string_equal(jget(w->env, "INI"), "private.ini");
	assert_string_equal(jget(w->env, "EXTRA"), "from-include");
	config_free(cfg);
}

/* Empty sections create nothing; a leading blank line is fine. */
static void
test_empty_section(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "empty_section.ini");
	assert_int_equal(cfg->nwatchers, 0);
	assert_int_equal(cfg->nsockets, 0);
	assert_int_equal(cfg->nplugins, 0);
	assert_true(cfg->circus.check_delay == 1.0);
	config_free(cfg);
}

/* $(circus.env.X) from [env] in [circus], sockets and plugins. */
static void
test_env_everywhere(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "env_everywhere.ini");
	assert_string_equal(cfg->circus.endpoint, "tcp://127.0.0.1:1234");
	assert_int_equal(cfg->nsockets, 1);
	assert_string_equal(cfg->sockets[0]->path,
	    "/tmp/circus-c-test/web.sock");
	assert_int_equal(cfg->sockets[0]->family, AF_UNIX);
	assert_int_equal(cfg->nplugins, 1);
	assert_string_equal(cfg->plugins[0]->name, "flap");
	assert_string_equal(cfg->plugins[0]->use,
	    "circus.plugins.flapping.Flapping");
	assert_string_equal(jget(cfg->global_env, "PORT"), "1234");
	config_free(cfg);
}

/* [env], [env:w1], [env:w1,w2], [env:w?], [env:*] combine per watcher. */
static void
test_env_section(void **state)
{
	struct config	*cfg;
	char		*s;

	(void)state;
	cfg = load_ok(FIX "env_section.ini");
	s = pyjson_dumps(watcher(cfg, "w1")->env);
	assert_string_equal(s, "{\"GLOBAL\": \"g\", \"ONLY1\": \"one\", "
	    "\"ORDER\": \"second\", \"PAIR\": \"shared\", \"QMARK\": \"q\", "
	    "\"STAR\": \"everywhere\"}");
	free(s);
	s = pyjson_dumps(watcher(cfg, "w2")->env);
	assert_string_equal(s, "{\"GLOBAL\": \"g\", \"ONLY2\": \"two\", "
	    "\"PAIR\": \"shared\", \"ORDER\": \"second\", \"QMARK\": \"q\", "
	    "\"STAR\": \"everywhere\"}");
	free(s);
	s = pyjson_dumps(watcher(cfg, "other")->env);
	assert_string_equal(s, "{\"GLOBAL\": \"g\", \"STAR\": "
	    "\"everywhere\"}");
	free(s);
	config_free(cfg);
}

/* Variable names keep their case. */
static void
test_env_sensecase(void **state)
{
	struct config	*cfg;
	json_t		*env;

	(void)state;
	cfg = load_ok(FIX "env_sensecase.ini");
	env = watcher(cfg, "case")->env;
	assert_string_equal(jget(env, "http_proxy"), "http://lower");
	assert_string_equal(jget(env, "HTTPS_PROXY"), "http://upper");
	assert_string_equal(jget(env, "FunKy_soUl"), "mixed");
	assert_null(json_object_get(env, "HTTP_PROXY"));
	config_free(cfg);
}

/* $NAME expansion from circusd's environment, with Circus's quirks. */
static void
test_env_dollar(void **state)
{
	struct config	*cfg;
	json_t		*env;
	char		 want[4096];

	(void)state;
	unsetenv("H");
	unsetenv("CIRCUS_C_SURELY_UNSET_VAR");
	cfg = load_ok(FIX "env_var.ini");
	env = watcher(cfg, "my_app")->env;
	snprintf(want, sizeof want, "%s:/bin", getenv("PATH"));
	assert_string_equal(jget(env, "PATH"), want);
	assert_string_equal(jget(env, "HOMEISH"), "ome");
	assert_string_equal(jget(env, "BRACES"), "${HOME}");
	assert_string_equal(jget(env, "LOWER"), "$home");
	assert_string_equal(jget(env, "UNSET"), "[]");
	assert_string_equal(jget(env, "SPACES"), "padded");
	assert_null(json_object_get(env, "HOME"));
	config_free(cfg);
}

/* copy_env: only watcher2 sees the OS environment; both get [env]. */
static void
test_copy_env(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w1, *w2;
	char			*s;

	(void)state;
	setenv("CIRCUS_C_TEST_OS_VAR", "os-value", 1);
	cfg = load_ok(FIX "copy_env.ini");
	assert_true(cfg->circus.statsd);
	w1 = watcher(cfg, "watcher1");
	w2 = watcher(cfg, "watcher2");
	json_object_del(w1->env, "PATH");
	s = pyjson_dumps(w1->env);
	assert_string_equal(s, "{\"SHARED\": \"from-env-section\", \"BOTH\": "
	    "\"yes\", \"GLOB\": \"star\", \"ANY\": \"all\"}");
	free(s);
	assert_string_equal(jget(w2->env, "CIRCUS_C_TEST_OS_VAR"), "os-value");
	assert_string_equal(jget(w2->env, "SHARED"), "from-env-section");
	assert_string_equal(jget(w2->env, "BOTH"), "yes");
	assert_string_equal(jget(w2->env, "ANY"), "all");
	assert_string_equal(jget(w2->env, "HOME"), getenv("HOME"));
	check_opt(w2, "copy_env", "true");
	config_free(cfg);
	unsetenv("CIRCUS_C_TEST_OS_VAR");
}

/* statsd adds the circusd-stats watcher with Circus's command line; a
 * metrics_endpoint forces it on and is passed along; none without. */
static void
test_stats_watcher(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			*dir, *path, *errors;

	(void)state;
	dir = tmpdir();
	path = write_tmp(dir, "s.ini", "[circus]\nstatsd = true\n"
	    "endpoint = ipc:///tmp/c s.sock\nloglevel = debug\n"
	    "[watcher:a]\ncmd = /bin/true\n[watcher:z]\ncmd = /bin/true\n");
	cfg = load_ok(path);
	assert_int_equal(cfg->nwatchers, 3);
	w = cfg->watchers[1];	/* sorted between a and z */
	assert_string_equal(w->name, "circusd-stats");
	assert_non_null(strstr(w->cmd, "/circusd-stats --endpoint "
	    "'ipc:///tmp/c s.sock' --pubsub tcp://127.0.0.1:5556 "
	    "--statspoint tcp://127.0.0.1:5557 --log-level debug"));
	assert_null(strstr(w->cmd, "--metrics"));
	assert_true(w->singleton && w->use_sockets && w->copy_env &&
	    w->copy_path);
	assert_int_equal(w->priority, 0);
	assert_string_equal(jget(w->env, "HOME"), getenv("HOME"));
	config_free(cfg);
	rm_tmp(path);

	path = write_tmp(dir, "m.ini", "[circus]\n"
	    "metrics_endpoint = 127.0.0.1:9100\n[watcher:a]\ncmd = x\n");
	cfg = load_ok(path);
	assert_true(cfg->circus.statsd);
	w = watcher(cfg, "circusd-stats");
	assert_non_null(strstr(w->cmd, " --metrics 127.0.0.1:9100"));
	config_free(cfg);
	rm_tmp(path);

	path = write_tmp(dir, "bad.ini", "[circus]\n\n"
	    "metrics_endpoint = localhost\n[watcher:a]\ncmd = x\n");
	errors = load_fail(path);
	assert_non_null(strstr(errors, "bad.ini:3: [circus] metrics_endpoint "
	    "= 'localhost' is not HOST:PORT"));
	free(errors);
	rm_tmp(path);

	path = write_tmp(dir, "n.ini", "[circus]\n[watcher:a]\ncmd = x\n");
	cfg = load_ok(path);
	assert_int_equal(cfg->nwatchers, 1);
	assert_null(find_watcher(cfg, "circusd-stats"));
	config_free(cfg);
	rm_tmp(path);
	rmdir(dir);
	free(dir);
}

/* $(circus.env.*) from [env:*] in stream options and cmd. */
static void
test_expand_vars(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;

	(void)state;
	cfg = load_ok(FIX "expand_vars.ini");
	w = watcher(cfg, "echo");
	assert_string_equal(w->cmd, "/bin/echo hello");
	assert_string_equal(jget(w->stdout_stream, "class"), "FileStream");
	assert_string_equal(jget(w->stdout_stream, "filename"),
	    "/var/tmp/circus-logs/echo.log");
	check_opt(w, "stdout_stream_conf", "{\"filename\": "
	    "\"/var/tmp/circus-logs/echo.log\", \"max_bytes\": \"1024\", "
	    "\"backup_count\": \"3\"}");
	check_opt(w, "stderr_stream_conf", "{}");
	assert_null(w->stderr_stream);
	config_free(cfg);
}

/* Hooks gather into name -> [target, flag]; Python names skip. */
static void
test_hooks(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			*s;

	(void)state;
	cfg = load_ok(FIX "hooks.ini");
	assert_int_equal(cfg->nwatchers, 1);
	w = watcher(cfg, "hooked");
	s = pyjson_dumps(w->hooks);
	assert_string_equal(s, "{\"before_start\": [\"/usr/bin/true\", "
	    "false], \"after_start\": [\"./hooks/after.sh\", true], "
	    "\"before_stop\": [\"/bin/true\", false]}");
	free(s);
	assert_int_equal(json_array_size(cfg->warnings), 1);
	assert_string_equal(json_string_value(json_array_get(cfg->warnings,
	    0)), FIX "hooks.ini:10: watcher 'pythonic': hook before_start "
	    "'mypackage.hooks.check' is a Python name; give the path of an "
	    "executable instead; watcher skipped");
	assert_int_equal(json_array_size(cfg->invalid), 1);
	config_free(cfg);
}

/* stop_signal names and numbers. */
static void
test_signals(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "signals.ini");
	assert_int_equal(watcher(cfg, "quit")->stop_signal, 3);
	assert_int_equal(watcher(cfg, "sigterm")->stop_signal, 15);
	assert_int_equal(watcher(cfg, "number")->stop_signal, 9);
	assert_int_equal(watcher(cfg, "rtmin")->stop_signal, SIGRTMIN + 2);
	config_free(cfg);
}

/* shell_args is kept; without shell it only warns. */
static void
test_shell(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "shell.ini");
	assert_int_equal(cfg->nwatchers, 3);
	check_opt(watcher(cfg, "with_args"), "shell_args", "\"bar baz qux\"");
	check_opt(watcher(cfg, "with_args"), "shell", "true");
	check_opt(watcher(cfg, "plain"), "shell_args", "null");
	check_opt(watcher(cfg, "ignored_args"), "shell", "false");
	assert_true(has_text(cfg->warnings, "shell.ini:12: watcher "
	    "'ignored_args': shell_args is ignored"));
	assert_int_equal(json_array_size(cfg->invalid), 0);
	config_free(cfg);
}

/* Sockets: defaults, names, the decimal umask quirk, skipped ones. */
static void
test_sockets(void **state)
{
	struct config		*cfg;
	struct socket_cfg	*s;

	(void)state;
	cfg = load_ok(FIX "sockets.ini");
	assert_int_equal(cfg->nsockets, 6);
	assert_string_equal(cfg->sockets[0]->name, "default");
	assert_string_equal(cfg->sockets[1]->name, "six");
	assert_string_equal(cfg->sockets[2]->name, "some-socket");
	assert_string_equal(cfg->sockets[3]->name, "unix");
	assert_string_equal(cfg->sockets[4]->name, "web");
	assert_string_equal(cfg->sockets[5]->name, "zero");

	s = socket_named(cfg, "web");
	assert_string_equal(s->host, "127.0.0.1");
	assert_int_equal(s->port, 8888);
	assert_int_equal(s->family, AF_INET);
	assert_int_equal(s->type, SOCK_STREAM);
	assert_int_equal(s->backlog, 2048);
	assert_int_equal(s->umask, 8);
	assert_false(s->replace);
	assert_false(s->blocking);

	s = socket_named(cfg, "default");
	assert_string_equal(s->host, "localhost");
	assert_int_equal(s->port, 8080);

	s = socket_named(cfg, "unix");
	assert_int_equal(s->family, AF_UNIX);
	assert_string_equal(s->path, "/tmp/circus-c.sock");
	assert_int_equal(s->umask, 22);		/* decimal, like Circus */
	assert_true(s->replace);
	assert_int_equal(socket_named(cfg, "zero")->umask, 0);

	s = socket_named(cfg, "six");
	assert_int_equal(s->family, AF_INET6);
	assert_int_equal(s->type, SOCK_DGRAM);
	assert_int_equal(s->proto, 17);
	assert_int_equal(s->backlog, 10);
	assert_int_equal(s->port, 0);
	assert_true(s->blocking);
	assert_true(s->so_reuseport);
	assert_string_equal(s->interface, "lo");

	assert_true(has_text(cfg->invalid, "sockets.ini:29: Failed to create "
	    "socket 'badfamily'"));
	assert_true(has_text(cfg->invalid, "sockets.ini:32: Failed to create "
	    "socket 'badproto'"));
	/* Socket references stay for spawn time. */
	assert_string_equal(watcher(cfg, "user")->cmd, "foo --fd "
	    "$(circus.sockets.web) $(circus.sockets.some-socket)");
	check_opt(watcher(cfg, "user"), "use_sockets", "true");
	config_free(cfg);
}

/* Sockets sort by name. */
static void
test_reuseport(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = load_ok(FIX "reuseport.ini");
	assert_int_equal(cfg->nsockets, 2);
	assert_string_equal(cfg->sockets[0]->name, "noreuseport");
	assert_false(cfg->sockets[0]->so_reuseport);
	assert_string_equal(cfg->sockets[1]->name, "reuseport");
	assert_true(cfg->sockets[1]->so_reuseport);
	config_free(cfg);
}

/* Plugins: sorted, priority default 1, every key kept; each one is also
 * the watcher plugin:NAME Circus builds (doc/design.md §11). */
static void
test_plugins(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			**argv = NULL, *cause = NULL;
	size_t			 argc = 0;

	(void)state;
	setenv("CIRCUS_PLUGIN_DIR", "/opt/plug ins", 1);
	cfg = load_ok(FIX "plugins.ini");
	unsetenv("CIRCUS_PLUGIN_DIR");
	assert_true(cfg->circus.check_delay == -1.0);
	assert_int_equal(cfg->nplugins, 2);
	assert_int_equal(cfg->nwatchers, 4);
	assert_string_equal(cfg->plugins[0]->name, "alpha");
	assert_string_equal(cfg->plugins[0]->use, "/bin/true");
	assert_string_equal(cfg->plugins[0]->program, "/bin/true");
	assert_string_equal(cfg->plugins[1]->program,
	    "/opt/plug ins/circus-plugin-flapping");

	/* The executable named by `use` gets Circus's flags, no class. */
	w = watcher(cfg, "plugin:alpha");
	assert_string_equal(w->cmd, "/bin/true --endpoint "
	    "tcp://127.0.0.1:5555 --pubsub tcp://127.0.0.1:5556 --config "
	    "__name__:plugin:alpha:::active:false:::name:plugin:alpha");
	assert_true(w->singleton);
	assert_true(w->copy_env);
	assert_true(w->copy_path);
	assert_true(w->close_child_stdout);
	assert_true(w->close_child_stderr);
	assert_int_equal(w->priority, 1);
	assert_string_equal(jget(w->freeform, "active"), "false");
	assert_string_equal(jget(w->freeform, "use"), "/bin/true");

	/* The bundled program; the quoted cmd splits back into the argv. */
	w = watcher(cfg, "plugin:zeta");
	assert_int_equal(w->priority, 30);
	assert_int_equal(w->max_retry, 2);
	assert_string_equal(jget(w->freeform, "retry_in"), "3");
	assert_int_equal(shlex_split(w->cmd, &argv, &argc, &cause), 0);
	assert_int_equal(argc, 8);
	assert_string_equal(argv[0], "/opt/plug ins/circus-plugin-flapping");
	assert_string_equal(argv[6], "__name__:plugin:zeta:::max_retry:2:::"
	    "name:plugin:zeta:::priority:30:::retry_in:3");
	assert_string_equal(argv[7], "circus.plugins.flapping.Flapping");
	argv_free(argv);
	assert_int_equal(cfg->plugins[0]->priority, 1);
	assert_string_equal(jget(cfg->plugins[0]->raw, "active"), "false");
	assert_string_equal(cfg->plugins[1]->name, "zeta");
	assert_int_equal(cfg->plugins[1]->priority, 30);
	assert_string_equal(jget(cfg->plugins[1]->raw, "retry_in"), "3");
	assert_int_equal(watcher(cfg, "twenty")->priority, 20);
	config_free(cfg);
}

/* A `use` that names no bundled plugin and no executable refuses the
 * file with file:line (doc/design.md §11); lenient loading drops only those. */
static void
test_plugin_unknown(void **state)
{
	struct config	*cfg;
	char		*errors = NULL;

	(void)state;
	errors = load_fail(FIX "plugin_unknown.ini");
	assert_string_equal(errors,
	    FIX "plugin_unknown.ini:9: plugin 'thirdparty': use = "
	    "mycompany.plugins.Custom names no plugin of this build (bundled: "
	    "circus.plugins.flapping.Flapping, "
	    "circus.plugins.statsd.StatsdEmitter, "
	    "circus.plugins.statsd.FullStats, "
	    "circus.plugins.watchdog.WatchDog, "
	    "circus.plugins.command_reloader.CommandReloader, "
	    "circus.plugins.resource_watcher.ResourceWatcher, "
	    "circus.plugins.http_observer.HttpObserver, "
	    "circus.plugins.redis_observer.RedisObserver; or give the "
	    "path of an "
	    "executable)\n"
	    FIX "plugin_unknown.ini:12: plugin 'missing': use = "
	    "/nonexistent/plugin-program: No such file or directory");
	free(errors);
	cfg = config_load_lenient(FIX "plugin_unknown.ini", &errors);
	assert_non_null(cfg);
	assert_int_equal(cfg->nplugins, 1);
	assert_non_null(find_watcher(cfg, "plugin:good"));
	assert_null(find_watcher(cfg, "plugin:thirdparty"));
	assert_non_null(find_watcher(cfg, "w"));
	config_free(cfg);
}

/* Watchers that fail creation are dropped with a warning. */
static void
test_skipped(void **state)
{
	struct config	*cfg;
	char		*s;

	(void)state;
	cfg = load_ok(FIX "skipped.ini");
	assert_int_equal(cfg->nwatchers, 5);
	assert_string_equal(cfg->watchers[0]->name, "dotted");
	assert_string_equal(cfg->watchers[1]->name, "good");
	assert_string_equal(cfg->watchers[2]->name, "implied");
	assert_string_equal(cfg->watchers[3]->name, "okay_single");
	assert_string_equal(cfg->watchers[4]->name, "zero");
	assert_int_equal(json_array_size(cfg->invalid), 7);
	assert_true(has_text(cfg->invalid, "skipped.ini:7: watcher 'single': "
	    "Cannot have 2 processes with a singleton  watcher; watcher "
	    "skipped"));
	assert_true(has_text(cfg->invalid, "watcher 'badage': max_age = "
	    "'1.5' is not an integer"));
	assert_true(has_text(cfg->invalid, "watcher 'copypath': copy_env and "
	    "copy_path must have the same value"));
	assert_true(has_text(cfg->invalid, "watcher 'venv': copy_env must be "
	    "True"));
	assert_true(has_text(cfg->invalid, "watcher 'venv_copy': "
	    "/nonexistent/venv/lib/python3.3/site-packages"));
	assert_true(has_text(cfg->invalid, "watcher 'badclass': unknown "
	    "stream class 'my.custom.Stream'"));
	assert_true(has_text(cfg->invalid, "watcher 'noclass': stream "
	    "configuration invalid"));
	assert_true(has_text(cfg->warnings, "Non-singleton watcher zero with "
	    "numprocesses=0 won't start any process"));
	assert_string_equal(jget(watcher(cfg, "implied")->stdout_stream,
	    "class"), "FileStream");
	check_opt(watcher(cfg, "implied"), "stdout_stream_conf",
	    "{\"filename\": \"/tmp/implied.log\"}");
	s = pyjson_dumps(watcher(cfg, "dotted")->stdout_stream);
	assert_string_equal(s, "{\"class\": \"circus.stream.StdoutStream\"}");
	free(s);
	config_free(cfg);
}

/* Lenient loading (reloadconfig) drops only the broken sections. */
static void
test_lenient(void **state)
{
	struct config	*cfg;
	char		*dir, *path, *errors = NULL;

	(void)state;
	dir = tmpdir();
	path = write_tmp(dir, "lenient.ini",
	    "[watcher:ok]\ncmd = /bin/true\n\n"
	    "[watcher:bad]\ncmd = /bin/true\nnumprocesses = x\n\n"
	    "[socket:bad]\nreplace = maybe\n\n"
	    "[socket:good]\nport = 1\n");
	assert_null(config_load(path, &errors));
	assert_non_null(strstr(errors, "lenient.ini:6: watcher 'bad': "
	    "numprocesses = 'x' is not an integer"));
	assert_non_null(strstr(errors, "lenient.ini:9: socket 'bad'"));
	free(errors);
	errors = NULL;
	cfg = config_load_lenient(path, &errors);
	assert_non_null(cfg);
	assert_int_equal(cfg->nwatchers, 1);
	assert_string_equal(cfg->watchers[0]->name, "ok");
	assert_int_equal(cfg->nsockets, 1);
	assert_int_equal(json_array_size(cfg->invalid), 2);
	assert_true(has_text(cfg->invalid, "lenient.ini:6: watcher 'bad': "
	    "numprocesses = 'x' is not an integer; watcher skipped"));
	assert_true(has_text(cfg->invalid, "; socket skipped"));
	config_free(cfg);
	rm_tmp(path);
	rmdir(dir);
	free(dir);
}

/* First definition wins, and continuations of a duplicate join it. */
static void
test_duplicates(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			*dir, *a, *b;

	(void)state;
	dir = tmpdir();
	a = write_tmp(dir, "main.ini",
	    "[circus]\ninclude = other.ini\n\n"
	    "[watcher:w]\ncmd = first\ncmd = second\n  continued\n"
	    "args = a\n[watcher:w]\nargs = b\nshell = true\n");
	b = write_tmp(dir, "other.ini",
	    "[watcher:w]\ncmd = third\nnumprocesses = 4\n"
	    "[watcher:W]\ncmd = upper\n"
	    "[watcher:b]\ncmd = lower\n");
	cfg = load_ok(a);
	w = watcher(cfg, "w");
	assert_string_equal(w->cmd, "first\ncontinued");
	check_opt(w, "args", "\"a\"");
	assert_true(w->shell);
	assert_int_equal(w->numprocesses, 4);
	/* Byte order: upper case first. */
	assert_int_equal(cfg->nwatchers, 3);
	assert_string_equal(cfg->watchers[0]->name, "W");
	assert_string_equal(cfg->watchers[1]->name, "b");
	assert_string_equal(cfg->watchers[2]->name, "w");
	config_free(cfg);
	rm_tmp(a);
	rm_tmp(b);
	rmdir(dir);
	free(dir);
}

/* Odd lines: CRLF, ';' first in a value, bare delimiters, no newline. */
static void
test_odd_lines(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			*dir, *a;

	(void)state;
	dir = tmpdir();
	a = write_tmp(dir, "odd.ini",
	    "[watcher:odd]\r\ncmd = crlf\r\n"
	    "first_semi = ;kept\n"
	    "first_semi_cut = ;gone \n"
	    "= nameless\n"
	    "empty =\n  continued\n"
	    "tab\t=\ttabbed\t\n"
	    "last = no newline ;x");
	cfg = load_ok(a);
	w = watcher(cfg, "odd");
	assert_string_equal(w->cmd, "crlf");
	check_opt(w, "first_semi", "\";kept\"");
	check_opt(w, "first_semi_cut", "\"\"");
	check_opt(w, "", "\"nameless\"");
	check_opt(w, "empty", "\"\\ncontinued\"");
	check_opt(w, "tab", "\"tabbed\"");
	check_opt(w, "last", "\"no newline\"");
	config_free(cfg);
	rm_tmp(a);
	rmdir(dir);
	free(dir);
}

/* `add` constructor defaults. */
static void
test_new_add(void **state)
{
	struct watcher_cfg	*w;
	json_t			*o;
	char			*s;

	(void)state;
	w = watcher_cfg_new_add("new1", "sleep 300");
	assert_true(w->from_add);
	o = watcher_cfg_options(w);
	assert_non_null(jget(o, "working_dir"));
	json_object_del(o, "working_dir");
	s = pyjson_dumps(o);
	assert_string_equal(s, "{\"args\": null, \"close_child_stderr\": "
	    "false, \"close_child_stdin\": true, \"close_child_stdout\": "
	    "false, \"cmd\": \"sleep 300\", \"copy_env\": false, \"env\": "
	    "null, \"executable\": null, \"gid\": null, \"graceful_timeout\": "
	    "30.0, \"max_age\": 0, \"max_age_variance\": 30, \"max_retry\": 5, "
	    "\"numprocesses\": 1, \"on_demand\": false, \"priority\": 0, "
	    "\"respawn\": true, \"send_hup\": false, \"shell\": false, "
	    "\"shell_args\": null, \"singleton\": false, "
	    "\"stderr_stream_conf\": null, \"stdout_stream_conf\": null, "
	    "\"stop_children\": false, \"stop_signal\": 15, \"uid\": null, "
	    "\"use_sockets\": false, \"warmup_delay\": 0.0}");
	free(s);
	json_decref(o);
	watcher_cfg_free(w);
	watcher_cfg_free(NULL);
}

/* `add` options as Circus's constructor takes them. */
static void
test_add_options(void **state)
{
	struct watcher_cfg	*w;
	json_t			*opts;
	char			*cause = NULL, *s;

	(void)state;
	w = watcher_cfg_new_add("new1", "sleep 300");
	opts = json_pack("{s:i s:f s:s s:n s:i s:f s:{s:s s:s} "
	    "s:{s:[s b]} s:s s:b s:{s:s}}",
	    "numprocesses", 3, "graceful_timeout", 2.5, "uid", "nobody",
	    "rlimit_nofile", "rlimit_core", 0, "retry_in", 1.5,
	    "stdout_stream", "class", "FileStream", "filename", "/tmp/o.log",
	    "hooks", "before_start", "/bin/true", 1,
	    "stdout_stream.filename", "/tmp/x", "copy_env", 0,
	    "env", "A", "b");
	assert_int_equal(watcher_cfg_add_options(w, opts, &cause), 0);
	json_decref(opts);
	check_opt(w, "numprocesses", "3");
	check_opt(w, "graceful_timeout", "2.5");
	check_opt(w, "uid", "\"nobody\"");
	check_opt(w, "retry_in", "1.5");
	check_opt(w, "stdout_stream.filename", "\"/tmp/x\"");
	check_opt(w, "stdout_stream_conf", "{\"filename\": \"/tmp/o.log\"}");
	check_opt(w, "env", "{\"A\": \"b\"}");
	s = pyjson_dumps(w->rlimits);
	assert_string_equal(s, "{\"nofile\": -1, \"core\": 0}");
	free(s);
	s = pyjson_dumps(w->hooks);
	assert_string_equal(s, "{\"before_start\": [\"/bin/true\", true]}");
	free(s);
	watcher_cfg_free(w);

	w = watcher_cfg_new_add("s", "x");
	opts = json_pack("{s:b s:i}", "singleton", 1, "numprocesses", 2);
	assert_int_equal(watcher_cfg_add_options(w, opts, &cause), -1);
	assert_string_equal(cause, "Cannot have 2 processes with a singleton "
	    " watcher");
	free(cause);
	json_decref(opts);
	watcher_cfg_free(w);

	w = watcher_cfg_new_add("h", "x");
	opts = json_pack("{s:{s:s}}", "hooks", "before_start", "/bin/true");
	assert_int_equal(watcher_cfg_add_options(w, opts, &cause), -1);
	free(cause);
	json_decref(opts);
	watcher_cfg_free(w);
}

/* Validate key/value and compare the reason (NULL = valid). */
static void
check_validate(const char *key, const char *json, const char *want)
{
	json_error_t	 err;
	json_t		*v;
	char		*cause = NULL;
	int		 rc;

	v = json_loads(json, JSON_DECODE_ANY, &err);
	assert_non_null(v);
	rc = watcher_opt_validate(key, v, &cause);
	json_decref(v);
	if (want == NULL) {
		if (rc != 0)
			fail_msg("%s=%s rejected: %s", key, json, cause);
		return;
	}
	assert_int_equal(rc, -1);
	assert_string_equal(cause, want);
	free(cause);
}

/* set/add validation reasons, exactly as Circus words them. */
static void
test_validate(void **state)
{
	(void)state;
	check_validate("numprocesses", "2", NULL);
	check_validate("numprocesses", "\"2\"",
	    "'numprocesses' isn't an integer");
	check_validate("numprocesses", "true",
	    "'numprocesses' isn't an integer");
	check_validate("numprocesses", "2.0",
	    "'numprocesses' isn't an integer");
	check_validate("stop_signal", "\"INT\"",
	    "'stop_signal' isn't an integer");
	check_validate("max_age", "null", "'max_age' isn't an integer");
	check_validate("warmup_delay", "1", NULL);
	check_validate("graceful_timeout", "\"3\"",
	    "'graceful_timeout' isn't a number");
	check_validate("retry_in", "0.5", NULL);
	check_validate("uid", "\"www\"", NULL);
	check_validate("gid", "1.5", "'gid' isn't an integer or string");
	check_validate("shell", "1", "'shell' isn't a valid boolean");
	check_validate("close_child_stdin", "false", NULL);
	check_validate("env", "[]", "'env' isn't a valid object");
	check_validate("env", "{\"A\": 1}", "'A' isn't a string");
	check_validate("stdout_stream", "{\"filename\": \"x\"}",
	    "'stdout_stream' must have a 'class' key");
	check_validate("stderr_stream", "\"x\"",
	    "'stderr_stream' isn't a valid object");
	check_validate("hooks", "\"x\"", "'x' isn't a valid hook dict");
	check_validate("hooks", "{\"foo\": \"x\"}",
	    "Unknown hook {'foo': 'x'}");
	check_validate("hooks", "{\"after_reap\": \"/x\"}", NULL);
	check_validate("rlimit_NOFILE", "10", NULL);
	check_validate("rlimit_core", "null", NULL);
	check_validate("rlimit_foo", "1",
	    "'rlimit_foo' isn't a valid rlimit setting");
	check_validate("rlimit_nofile", "\"abc\"",
	    "'abc' rlimit value isn't a valid int");
	check_validate("stdout_stream.filename", "3", NULL);
	check_validate("hooks.before_start", "\"x\"", NULL);
	check_validate("cmd", "3", NULL);
	check_validate("priority", "1", "unknown key 'priority'");
	check_validate("use_sockets", "true", "unknown key 'use_sockets'");
	check_validate("autostart", "true", "unknown key 'autostart'");
	check_validate("shell_args", "\"x\"", "unknown key 'shell_args'");
	check_validate("nope", "1", "unknown key 'nope'");
	check_validate("it's", "1", "unknown key \"it's\"");
}

/* Apply one set and return its action. */
static enum opt_action
set_ok(struct watcher_cfg *w, const char *key, const char *json)
{
	enum opt_action	 action;
	json_error_t	 err;
	json_t		*v;
	char		*cause = NULL;

	v = json_loads(json, JSON_DECODE_ANY, &err);
	assert_non_null(v);
	assert_int_equal(watcher_opt_validate(key, v, &cause), 0);
	if (watcher_cfg_set(w, key, v, &action, &cause) != 0)
		fail_msg("set %s=%s: %s", key, json, cause);
	json_decref(v);
	return (action);
}

/* Apply one set that must fail; return the cause. */
static char *
set_fail(struct watcher_cfg *w, const char *key, const char *json)
{
	enum opt_action	 action;
	json_error_t	 err;
	json_t		*v;
	char		*cause = NULL;

	v = json_loads(json, JSON_DECODE_ANY, &err);
	assert_non_null(v);
	assert_int_equal(watcher_cfg_set(w, key, v, &action, &cause), -1);
	json_decref(v);
	assert_non_null(cause);
	return (cause);
}

/* `set` effects and follow-up actions. */
static void
test_set(void **state)
{
	struct config		*cfg;
	struct watcher_cfg	*w;
	char			*cause;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	w = watcher(cfg, "a]b");
	assert_int_equal(set_ok(w, "numprocesses", "-3"), OPT_ACTION_MANAGE);
	check_opt(w, "numprocesses", "0");
	assert_int_equal(set_ok(w, "warmup_delay", "2"), OPT_ACTION_MANAGE);
	check_opt(w, "warmup_delay", "2.0");
	assert_int_equal(set_ok(w, "graceful_timeout", "3"),
	    OPT_ACTION_MANAGE);
	check_opt(w, "graceful_timeout", "3.0");
	assert_int_equal(set_ok(w, "cmd", "\"sleep 5\""), OPT_ACTION_RELOAD);
	check_opt(w, "cmd", "\"sleep 5\"");
	assert_int_equal(set_ok(w, "args", "[\"a\", \"b\"]"),
	    OPT_ACTION_RELOAD);
	check_opt(w, "args", "[\"a\", \"b\"]");
	assert_int_equal(set_ok(w, "working_dir", "\"/tmp\""),
	    OPT_ACTION_RELOAD);
	assert_int_equal(set_ok(w, "env", "{\"X\": \"1\"}"),
	    OPT_ACTION_RELOAD);
	check_opt(w, "env", "{\"X\": \"1\"}");
	assert_int_equal(set_ok(w, "shell", "true"), OPT_ACTION_RELOAD);
	assert_int_equal(set_ok(w, "max_age", "20"), OPT_ACTION_RELOAD);
	check_opt(w, "max_age", "20");
	assert_int_equal(set_ok(w, "stop_signal", "9"), OPT_ACTION_MANAGE);
	check_opt(w, "stop_signal", "9");
	/* Keys Circus ignores are applied here. */
	set_ok(w, "max_retry", "-1");
	check_opt(w, "max_retry", "-1");
	set_ok(w, "respawn", "false");
	check_opt(w, "respawn", "false");
	set_ok(w, "close_child_stdout", "true");
	check_opt(w, "close_child_stdout", "true");
	set_ok(w, "rlimit_nofile", "100");
	set_ok(w, "rlimit_core", "null");
	assert_int_equal(json_integer_value(json_object_get(w->rlimits,
	    "nofile")), 100);
	assert_int_equal(json_integer_value(json_object_get(w->rlimits,
	    "core")), -1);
	set_ok(w, "retry_in", "3");
	set_ok(w, "numprocesses", "2");
	set_ok(w, "singleton", "false");
	cause = set_fail(w, "singleton", "true");
	assert_string_equal(cause, "Cannot have 2 processes with a singleton "
	    " watcher");
	free(cause);
	set_ok(w, "numprocesses", "1");
	set_ok(w, "singleton", "true");
	cause = set_fail(w, "numprocesses", "2");
	assert_string_equal(cause, "Singleton watcher has a single process");
	free(cause);
	check_opt(w, "numprocesses", "1");
	/* uid/gid resolve to numbers. */
	assert_int_equal(set_ok(w, "uid", "\"root\""), OPT_ACTION_RELOAD);
	check_opt(w, "uid", "0");
	assert_true(w->ids.set_uid && w->ids.set_gid && w->ids.set_groups);
	assert_int_equal(w->ids.uid, 0);
	assert_int_equal(w->ids.gid, 0);	/* root's primary group */
	assert_true(w->ids.ngroups >= 1);
	assert_false(w->ids.bad_uid || w->ids.bad_gid);
	set_ok(w, "gid", "\"0\"");
	check_opt(w, "gid", "0");
	cause = set_fail(w, "uid", "\"no-such-user-circus\"");
	assert_string_equal(cause,
	    "'no-such-user-circus' isn't a valid user name");
	free(cause);
	cause = set_fail(w, "gid", "\"no-such-group-circus\"");
	assert_string_equal(cause, "No such group: 'no-such-group-circus'");
	free(cause);
	/* a refused set leaves the resolved ids as they were */
	assert_true(w->ids.set_uid && w->ids.set_gid);
	assert_int_equal(w->ids.uid, 0);
	assert_int_equal(w->ids.gid, 0);
	/* Streams: dotted keys build or update the conf. */
	assert_int_equal(set_ok(w, "stdout_stream.filename", "\"/tmp/a\""),
	    OPT_ACTION_RELOAD);
	assert_string_equal(jget(w->stdout_stream, "class"), "FileStream");
	assert_int_equal(set_ok(w, "stdout_stream.filename", "\"/tmp/b\""),
	    OPT_ACTION_MANAGE);
	check_opt(w, "stdout_stream_conf", "{\"filename\": \"/tmp/b\"}");
	cause = set_fail(w, "stderr_stream.time_format", "\"%H\"");
	assert_string_equal(cause, "stream configuration invalid");
	free(cause);
	assert_null(w->stderr_stream);
	cause = set_fail(w, "stdout_stream", "{\"class\": \"StdoutStream\"}");
	assert_string_equal(cause, "list index out of range");
	free(cause);
	/* Hooks. */
	set_ok(w, "hooks.after_stop", "\"/bin/true, true\"");
	set_ok(w, "hooks", "{\"before_stop\": \"/bin/false\"}");
	assert_true(json_is_true(json_array_get(json_object_get(w->hooks,
	    "after_stop"), 1)));
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    w->hooks, "before_stop"), 0)), "/bin/false");
	cause = set_fail(w, "hooks.before_start", "\"pkg.mod.fn\"");
	assert_string_equal(cause, "hook before_start 'pkg.mod.fn' is a "
	    "Python name; give the path of an executable instead");
	free(cause);
	config_free(cfg);

	/* A free-form option of that exact name is replaced. */
	cfg = load_ok(FIX "values.ini");
	w = watcher(cfg, "values");
	check_opt(w, "first", "\"one\"");
	json_object_set_new(w->freeform, "retry_in", json_string("1"));
	set_ok(w, "retry_in", "7");
	check_opt(w, "retry_in", "7");
	config_free(cfg);
}

/* `get` of options, free-form keys and unknown keys. */
static void
test_get(void **state)
{
	struct config	*cfg;
	char		*cause = NULL;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	check_opt(watcher(cfg, "values"), "stdout_stream_conf", "{}");
	check_opt(watcher(cfg, "values"), "flapping.max_retry", "\"3\"");
	assert_null(watcher_cfg_get(watcher(cfg, "values"), "autostart",
	    &cause));
	assert_string_equal(cause, "'autostart' option not found");
	free(cause);
	assert_null(watcher_cfg_get(watcher(cfg, "values"), "stdout_stream",
	    &cause));
	assert_string_equal(cause, "'stdout_stream' option not found");
	free(cause);
	config_free(cfg);
}

/* `globaloptions`: five keys in Circus order. */
static void
test_globaloptions(void **state)
{
	struct config	*cfg;
	json_t		*o;
	char		*s;

	(void)state;
	cfg = load_ok(FIX "values.ini");
	o = circus_cfg_globaloptions(&cfg->circus);
	s = pyjson_dumps(o);
	assert_string_equal(s, "{\"endpoint\": \"tcp://127.0.0.1:5555\", "
	    "\"stats_endpoint\": \"tcp://127.0.0.1:5557\", "
	    "\"pubsub_endpoint\": \"tcp://127.0.0.1:5556\", "
	    "\"check_delay\": 10.5, \"multicast_endpoint\": \"\"}");
	free(s);
	json_decref(o);
	config_free(cfg);
}

/* The [circus] table (options-circus.c): which options differ, live or
 * for a full restart, copying one over, the names the warning lists. */
static void
test_circus_table(void **state)
{
	struct config	*a, *b;
	json_t		*live, *restart;
	char		*s, *names;

	(void)state;
	a = load_ok(FIX "values.ini");
	b = load_ok(FIX "values.ini");
	live = circus_cfg_diff(&a->circus, &b->circus, true);
	restart = circus_cfg_diff(&a->circus, &b->circus, false);
	assert_int_equal(json_array_size(live), 0);
	assert_int_equal(json_array_size(restart), 0);
	json_decref(live);
	json_decref(restart);
	assert_false(circus_cfg_changed(&a->circus, &b->circus));

	b->circus.check_delay = 1.5;
	free(b->circus.loglevel);
	b->circus.loglevel = xstrdup("debug");
	free(b->circus.fqdn_prefix);
	b->circus.fqdn_prefix = xstrdup("web");
	b->circus.plaintext_tcp = !a->circus.plaintext_tcp;
	assert_true(circus_cfg_changed(&a->circus, &b->circus));
	live = circus_cfg_diff(&a->circus, &b->circus, true);
	s = pyjson_dumps(live);
	assert_string_equal(s, "[\"check_delay\", \"loglevel\"]");
	free(s);
	json_decref(live);
	restart = circus_cfg_diff(&a->circus, &b->circus, false);
	s = pyjson_dumps(restart);
	assert_string_equal(s, "[\"fqdn_prefix\", \"plaintext_tcp\"]");
	free(s);
	json_decref(restart);

	assert_int_equal(circus_cfg_take(&a->circus, &b->circus, "check_delay"),
	    0);
	assert_true(a->circus.check_delay == 1.5);
	assert_int_equal(circus_cfg_take(&a->circus, &b->circus, "loglevel"), 0);
	assert_string_equal(a->circus.loglevel, "debug");
	assert_ptr_not_equal(a->circus.loglevel, b->circus.loglevel);
	assert_int_equal(circus_cfg_take(&a->circus, &b->circus, "nope"), -1);
	live = circus_cfg_diff(&a->circus, &b->circus, true);
	assert_int_equal(json_array_size(live), 0);
	json_decref(live);
	assert_int_equal(circus_cfg_take(&a->circus, &b->circus, "fqdn_prefix"),
	    0);
	assert_int_equal(circus_cfg_take(&a->circus, &b->circus,
	    "plaintext_tcp"), 0);
	assert_false(circus_cfg_changed(&a->circus, &b->circus));
	/* a key written with its default value still counts */
	json_object_set_new(b->circus.raw, "debug", json_string("false"));
	assert_true(circus_cfg_changed(&a->circus, &b->circus));

	names = circus_cfg_restart_names();
	assert_non_null(strstr(names, "endpoint, stats_endpoint, "));
	assert_null(strstr(names, "check_delay"));
	assert_null(strstr(names, "backoff"));
	assert_int_equal(strcmp(names + strlen(names) -
	    strlen("curve_server_cert and plaintext_tcp"),
	    "curve_server_cert and plaintext_tcp"), 0);
	free(names);
	config_free(a);
	config_free(b);
}

/* The [socket:*] table (options-socket.c): conversions, ranges, which bad
 * value refuses the file and which skips the socket, the comparison. */
static void
test_socket_table(void **state)
{
	struct socket_cfg	*sc, *d;
	json_t			*vals;
	const char		*bad;
	bool			 fatal;

	(void)state;
	sc = xcalloc(1, sizeof *sc);
	sc->name = xstrdup("web");
	sc->host = xstrdup("localhost");
	vals = json_pack("{s:s s:s s:s s:s s:s s:s s:s}", "host", "::1",
	    "port", "9000", "family", "af_inet6", "type", "SOCK_DGRAM",
	    "proto", "udp", "umask", "022", "blocking", "yes");
	assert_int_equal(socket_cfg_read(sc, vals, &bad, &fatal), 0);
	assert_string_equal(sc->host, "::1");
	assert_int_equal(sc->port, 9000);
	assert_int_equal(sc->family, AF_INET6);
	assert_int_equal(sc->type, SOCK_DGRAM);
	assert_int_equal(sc->proto, 17);
	assert_int_equal(sc->umask, 22);	/* decimal, as Circus */
	assert_true(sc->blocking);
	sc->raw = vals;

	d = socket_cfg_dup(sc);
	assert_false(socket_cfg_changed(sc, d));
	d->backlog = 5;
	assert_true(socket_cfg_changed(sc, d));
	socket_cfg_free(d);

	/* the first bad value skips the socket */
	vals = json_pack("{s:s s:s}", "port", "65536", "family", "AF_NOPE");
	assert_int_equal(socket_cfg_read(sc, vals, &bad, &fatal), -1);
	assert_string_equal(bad, "port");
	assert_false(fatal);
	json_decref(vals);
	vals = json_pack("{s:s}", "family", "AF_NOPE");
	assert_int_equal(socket_cfg_read(sc, vals, &bad, &fatal), -1);
	assert_string_equal(bad, "family");
	assert_false(fatal);
	json_decref(vals);
	/* a bad boolean Circus converts at load refuses the file */
	vals = json_pack("{s:s s:s s:s}", "so_reuseport", "nah", "replace",
	    "maybe", "port", "x");
	assert_int_equal(socket_cfg_read(sc, vals, &bad, &fatal), -1);
	assert_string_equal(bad, "replace");
	assert_true(fatal);
	json_decref(vals);
	socket_cfg_free(sc);
}

/* Copies compare equal; changes are detected the way reload needs. */
static void
test_changed(void **state)
{
	struct config		*a, *b, *c;
	struct watcher_cfg	*w, *d;
	struct socket_cfg	*s;
	struct plugin_cfg	*p;
	bool			 only;

	(void)state;
	a = load_ok(FIX "reload_base.ini");
	b = load_ok(FIX "reload_numprocesses.ini");
	c = load_ok(FIX "reload_changes.ini");

	d = watcher_cfg_dup(watcher(a, "test1"));
	assert_false(watcher_cfg_changed(watcher(a, "test1"), d, &only));
	assert_false(only);
	watcher_cfg_free(d);
	s = socket_cfg_dup(a->sockets[0]);
	assert_false(socket_cfg_changed(a->sockets[0], s));
	socket_cfg_free(s);
	assert_false(circus_cfg_changed(&a->circus, &b->circus));

	/* Only numprocesses. */
	assert_true(watcher_cfg_changed(watcher(a, "test1"), watcher(b, "test1"),
	    &only));
	assert_true(only);
	assert_false(watcher_cfg_changed(watcher(a, "test2"), watcher(b, "test2"),
	    &only));

	/* Adding max_age = 0 (the default) counts (doc/design.md §12). */
	w = watcher(c, "test1");
	assert_string_equal(w->name, "test1");
	assert_true(watcher_cfg_changed(watcher(a, "test1"), w, &only));
	assert_false(only);
	assert_true(watcher_cfg_changed(watcher(a, "test2"), watcher(c, "test2"),
	    &only));
	assert_false(only);
	assert_true(socket_cfg_changed(a->sockets[0], c->sockets[0]));
	assert_true(circus_cfg_changed(&a->circus, &c->circus));
	p = plugin_cfg_dup(a->plugins[0]);
	assert_false(plugin_cfg_changed(a->plugins[0], p));
	json_object_set_new(p->raw, "service", json_string("test1"));
	assert_true(plugin_cfg_changed(a->plugins[0], p));
	plugin_cfg_free(p);
	plugin_cfg_free(NULL);

	/* Ignored environment keys. */
	d = watcher_cfg_dup(a->watchers[1]);
	json_object_set_new(d->env, "PS1", json_string("$ "));
	assert_false(watcher_cfg_changed(a->watchers[1], d, &only));
	json_object_set_new(d->env, "OTHER", json_string("x"));
	assert_true(watcher_cfg_changed(a->watchers[1], d, &only));
	watcher_cfg_free(d);

	config_free(a);
	config_free(b);
	config_free(c);
	config_free(NULL);
}

/* Small helpers exported for other modules. */
static void
test_helpers(void **state)
{
	long long	 n;
	double		 d;
	char		*cause = NULL;

	(void)state;
	assert_int_equal(config_parse_int(" 42 ", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(config_parse_int("-1_000", &n), 0);
	assert_int_equal(n, -1000);
	assert_int_equal(config_parse_int("1.5", &n), -1);
	assert_int_equal(config_parse_int("", &n), -1);
	assert_int_equal(config_parse_int("0x10", &n), -1);
	assert_int_equal(config_parse_float("25.5", &d), 0);
	assert_true(d == 25.5);
	assert_int_equal(config_parse_float(" 30 ", &d), 0);
	assert_true(d == 30.0);
	assert_int_equal(config_parse_float("1e3", &d), 0);
	assert_int_equal(config_parse_float("0x10", &d), -1);
	assert_int_equal(config_parse_float("abc", &d), -1);
	assert_int_equal(config_rlimit_resource("nofile"), RLIMIT_NOFILE);
	assert_int_equal(config_rlimit_resource("CORE"), RLIMIT_CORE);
	assert_int_equal(config_rlimit_resource("foo"), -1);
	assert_int_equal(config_hook_check("x", "/bin/true", &cause), 0);
	assert_int_equal(config_hook_check("x", "./rel/hook", &cause), 0);
	assert_int_equal(config_hook_check("x", "a.b", &cause), -1);
	free(cause);
	assert_int_equal(watcher_opt_ini_kind("numprocesses"), OPT_INI_EARLY);
	assert_int_equal(watcher_opt_ini_kind("cmd"), OPT_INI_LATE);
	assert_int_equal(watcher_opt_ini_kind("max_age"), OPT_INI_LATE);
	assert_int_equal(watcher_opt_ini_kind("env"), OPT_INI_IGNORED);
	assert_int_equal(watcher_opt_ini_kind("retry_in"), OPT_INI_FREEFORM);
	assert_int_equal(watcher_opt_ini_kind("hooks"), OPT_INI_FREEFORM);
}

/* circusd's environment as JSON: the one builder behind [env] copy_env
 * and `set copy_env`, keeping values that are not UTF-8. */
static void
test_env_os(void **state)
{
	json_t	*env;

	(void)state;
	assert_int_equal(setenv("CIRCUS_UNIT_ENV", "a=b", 1), 0);
	assert_int_equal(setenv("CIRCUS_UNIT_LATIN1", "caf\xe9", 1), 0);
	env = config_env_os();
	assert_string_equal(json_string_value(json_object_get(env,
	    "CIRCUS_UNIT_ENV")), "a=b");
	assert_string_equal(json_string_value(json_object_get(env,
	    "CIRCUS_UNIT_LATIN1")), "caf\xe9");
	json_decref(env);
	unsetenv("CIRCUS_UNIT_ENV");
	unsetenv("CIRCUS_UNIT_LATIN1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_os),
		cmocka_unit_test(test_circus_defaults),
		cmocka_unit_test(test_parser_circus),
		cmocka_unit_test(test_parser_values),
		cmocka_unit_test(test_watcher_typed),
		cmocka_unit_test(test_options_keyset),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_missing_header),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_mixed_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_empty_include),
		cmocka_unit_test(test_multiple_wildcard),
		cmocka_unit_test(test_empty_section),
		cmocka_unit_test(test_env_everywhere),
		cmocka_unit_test(test_env_section),
		cmocka_unit_test(test_env_sensecase),
		cmocka_unit_test(test_env_dollar),
		cmocka_unit_test(test_copy_env),
		cmocka_unit_test(test_stats_watcher),
		cmocka_unit_test(test_expand_vars),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_shell),
		cmocka_unit_test(test_sockets),
		cmocka_unit_test(test_reuseport),
		cmocka_unit_test(test_plugins),
		cmocka_unit_test(test_plugin_unknown),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_odd_lines),
		cmocka_unit_test(test_new_add),
		cmocka_unit_test(test_add_options),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_globaloptions),
		cmocka_unit_test(test_circus_table),
		cmocka_unit_test(test_socket_table),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_problems),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
