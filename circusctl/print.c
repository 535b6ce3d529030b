/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain-text rendering of replies, identical to Circus's circusctl
 * (doc/design.md §17.6), and of
 * events for `listen`. Every printer returns an allocated string without
 * the final newline; it never writes to a stream itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "circusctl.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

/* jansson's iterators take non-const objects; we only read. */
#define JSON_MUT(v) ((json_t *)(uintptr_t)(v))

static FILE	*print_open(char **, size_t *);
static char	*print_close(FILE *, char **);
static char	*print_error(const json_t *);
static bool	 print_status_is(const json_t *, const char *);
static void	 print_str(FILE *, const json_t *);
static void	 print_infoline(FILE *, const json_t *);
static void	 print_info(FILE *, const json_t *);
static int	 print_key_compare(const void *, const void *);
static char	**print_sorted_keys(const json_t *, size_t *);
static void	 print_plan_value(FILE *, const json_t *);

/* Open a memory stream to build a string. */
static FILE *
print_open(char **buf, size_t *len)
{
	FILE	*f;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (f == NULL)
		fatal("open_memstream");
	return f;
}

/* Close a memory stream and return its contents. */
static char *
print_close(FILE *f, char **buf)
{
	if (fclose(f) != 0)
		fatal("fclose");
	return *buf;
}

/* Is the reply's status the string s? */
static bool
print_status_is(const json_t *reply, const char *s)
{
	const json_t	*st = json_object_get(reply, "status");

	return st != NULL && json_is_string(st) &&
	    strcmp(json_string_value(st), s) == 0;
}

/* Does the reply report an error (status "error")? */
bool
print_is_error(const json_t *reply)
{
	return print_status_is(reply, "error");
}

/* Circus console_error: "error: <reason>". */
static char *
print_error(const json_t *reply)
{
	char	*reason, *out;

	reason = pyjson_str(json_object_get(reply, "reason"));
	out = xprintf("error: %s", reason);
	free(reason);
	return out;
}

/* Write Python str() of v. */
static void
print_str(FILE *f, const json_t *v)
{
	char	*s = pyjson_str(v);

	fputs(s, f);
	free(s);
}

/* Render an option value as circusctl's convert_opt does. */
char *
print_opt_value(const char *key, const json_t *v)
{
	char	**keys, *out, *buf;
	size_t	  n, i, len;
	FILE	 *f;

	if (v == NULL || json_is_null(v))
		return xstrdup("");
	if (strcmp(key, "env") != 0 || !json_is_object(v))
		return pyjson_str(v);
	keys = print_sorted_keys(v, &n);
	f = print_open(&buf, &len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		fprintf(f, "%s=", keys[i]);
		print_str(f, json_object_get(v, keys[i]));
	}
	free(keys);
	out = print_close(f, &buf);
	return out;
}

/* qsort comparator: byte order, like Python's sorted() on str. */
static int
print_key_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of an object, sorted; the array is allocated, keys borrowed. */
static char **
print_sorted_keys(const json_t *obj, size_t *n)
{
	const char	 *key;
	json_t		 *v;
	char		**keys;
	size_t		  i = 0;

	*n = json_object_size(obj);
	keys = xcalloc(*n + 1, sizeof *keys);
	json_object_foreach(JSON_MUT(obj), key, v) {
		if (i < *n)
			keys[i++] = (char *)(uintptr_t)key;
	}
	*n = i;
	qsort(keys, *n, sizeof *keys, print_key_compare);
	return keys;
}

/* Default printer: "ok", or "error: <reason>". */
char *
print_default(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	if (print_status_is(reply, "ok"))
		return xstrdup("ok");
	return print_error(reply);
}

/* status: one state, or "name: state" lines sorted by name. */
char *
print_status(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	 *statuses = json_object_get(reply, "statuses");
	char		**keys, *buf;
	size_t		  n, i, len;
	FILE		 *f;

	if (statuses != NULL && json_is_object(statuses)) {
		keys = print_sorted_keys(statuses, &n);
		f = print_open(&buf, &len);
		for (i = 0; i < n; i++) {
			fprintf(f, "%s%s: ", i > 0 ? "\n" : "", keys[i]);
			print_str(f, json_object_get(statuses, keys[i]));
		}
		free(keys);
		return print_close(f, &buf);
	}
	if (json_object_get(reply, "status") != NULL)
		return pyjson_str(json_object_get(reply, "status"));
	return print_error(reply);
}

/* The reasons of one watcher for status --verbose: ", backing off: ..."
 * and ", gave up: ..." from its "backoff" object and "gave_up" text. */
static void
print_status_reasons(FILE *f, const json_t *backoff, const json_t *gave_up)
{
	const json_t	*reason = json_object_get(backoff, "reason");

	if (json_is_object(backoff)) {
		fprintf(f, ", backing off: next spawn in %.2fs (delay %.2fs, "
		    "%" JSON_INTEGER_FORMAT " quick deaths in a row)",
		    json_number_value(json_object_get(backoff,
		    "next_spawn_in")),
		    json_number_value(json_object_get(backoff, "delay")),
		    json_integer_value(json_object_get(backoff, "crashes")));
		if (json_is_string(reason))
			fprintf(f, "; last: %s", json_string_value(reason));
	}
	if (json_is_string(gave_up))
		fprintf(f, ", gave up: %s", json_string_value(gave_up));
}

/* status --verbose: the plain output, each state followed by why the
 * watcher backs off or gave up (replies of this daemon only). */
char *
print_status_verbose(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	 *statuses = json_object_get(reply, "statuses");
	const json_t	 *backoff = json_object_get(reply, "backoff");
	const json_t	 *gave_up = json_object_get(reply, "gave_up");
	char		**keys, *buf;
	size_t		  n, i, len;
	FILE		 *f;

	if (print_is_error(reply))
		return print_error(reply);
	f = print_open(&buf, &len);
	if (statuses != NULL && json_is_object(statuses)) {
		keys = print_sorted_keys(statuses, &n);
		for (i = 0; i < n; i++) {
			fprintf(f, "%s%s: ", i > 0 ? "\n" : "", keys[i]);
			print_str(f, json_object_get(statuses, keys[i]));
			print_status_reasons(f, json_object_get(backoff,
			    keys[i]), json_object_get(gave_up, keys[i]));
		}
		free(keys);
	} else {
		print_str(f, json_object_get(reply, "status"));
		print_status_reasons(f, backoff, gave_up);
	}
	return print_close(f, &buf);
}

/* list: pids or watcher names joined by ",". */
char *
print_list(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*items;
	char		*buf;
	size_t		 i, len;
	FILE		*f;

	items = json_object_get(reply, "pids");
	if (items == NULL)
		items = json_object_get(reply, "watchers");
	if (items == NULL) {
		if (json_object_get(reply, "reason") == NULL)
			return xstrdup("error: Response doesn't contain "
			    "'pids' nor 'watchers'.");
		return print_error(reply);
	}
	f = print_open(&buf, &len);
	for (i = 0; i < json_array_size(items); i++) {
		if (i > 0)
			fputc(',', f);
		print_str(f, json_array_get(items, i));
	}
	return print_close(f, &buf);
}

/* get, options: "key: value" lines in reply order. */
char *
print_options(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*options;
	const char	*key;
	json_t		*v;
	char		*buf, *s;
	size_t		 len;
	FILE		*f;
	bool		 first = true;

	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	options = json_object_get(reply, "options");
	f = print_open(&buf, &len);
	if (options != NULL && json_is_object(options)) {
		json_object_foreach(JSON_MUT(options), key, v) {
			s = print_opt_value(key, v);
			fprintf(f, "%s%s: %s", first ? "" : "\n", key, s);
			free(s);
			first = false;
		}
	}
	return print_close(f, &buf);
}

/* globaloptions: like options, but an error is the bare reason. */
char *
print_globaloptions(const struct ctl_entry *e, const json_t *reply)
{
	if (!print_status_is(reply, "ok"))
		return pyjson_str(json_object_get(reply, "reason"));
	return print_options(e, reply);
}

/* incr, decr: the new count, "ok", or the singleton notice. */
char *
print_incr(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*n;

	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	if (json_object_get(reply, "singleton") != NULL)
		return xstrdup("This watcher is a Singleton - not changing "
		    "the number of processes");
	n = json_object_get(reply, "numprocesses");
	if (n == NULL)
		return xstrdup("ok");
	return pyjson_str(n);
}

/* numprocesses, numwatchers: the value of the key named as the command. */
char *
print_number(const struct ctl_entry *e, const json_t *reply)
{
	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	return pyjson_str(json_object_get(reply, e->name));
}

/* ipython: the C daemon has no kernel to attach to. */
char *
print_ipython(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	return xstrdup("error: Could not start ipython kernel");
}

/* listsockets: "<fd>:socket '<name>' at <host>:<port>|<path>". */
char *
print_listsockets(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*sockets = json_object_get(reply, "sockets"), *s;
	char		*buf;
	size_t		 i, len;
	FILE		*f;

	if (sockets == NULL)
		return print_error(reply);
	f = print_open(&buf, &len);
	for (i = 0; i < json_array_size(sockets); i++) {
		s = json_array_get(sockets, i);
		if (i > 0)
			fputc('\n', f);
		print_str(f, json_object_get(s, "fd"));
		fputs(":socket '", f);
		print_str(f, json_object_get(s, "name"));
		fputs("' at ", f);
		if (json_object_get(s, "path") != NULL)
			print_str(f, json_object_get(s, "path"));
		else {
			print_str(f, json_object_get(s, "host"));
			fputc(':', f);
			print_str(f, json_object_get(s, "port"));
		}
	}
	return print_close(f, &buf);
}

/* Write the process info template (two spaces after the pid). */
static void
print_infoline(FILE *f, const json_t *info)
{
	static const char *const fields[] = { "cmdline", "username", "nice",
	    "mem_info1", "mem_info2", "cpu", "mem", "ctime" };
	size_t	i;

	print_str(f, json_object_get(info, "pid"));
	fputc(' ', f);
	for (i = 0; i < nitems(fields); i++) {
		fputc(' ', f);
		print_str(f, json_object_get(info, fields[i]));
	}
}

/* stats: an info object with its children, or a string as is. */
static void
print_info(FILE *f, const json_t *info)
{
	const json_t	*children;
	size_t		 i;

	if (!json_is_object(info)) {
		print_str(f, info);
		return;
	}
	print_infoline(f, info);
	children = json_object_get(info, "children");
	for (i = 0; i < json_array_size(children); i++) {
		fputs("\n   ", f);
		print_infoline(f, json_array_get(children, i));
	}
}

/* stats: per watcher, per process, or one process. */
char *
print_stats(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*infos, *wi, *info;
	const char	*wname, *pid;
	json_t		*v, *pv;
	char		*buf;
	size_t		 len;
	FILE		*f;
	bool		 first = true;

	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	f = print_open(&buf, &len);
	if (json_object_get(reply, "name") != NULL) {
		print_str(f, json_object_get(reply, "name"));
		fputc(':', f);
		info = json_object_get(reply, "info");
		json_object_foreach(JSON_MUT(info), pid, v) {
			fprintf(f, "\n%s: ", pid);
			print_info(f, v);
		}
	} else if ((infos = json_object_get(reply, "infos")) != NULL) {
		json_object_foreach(JSON_MUT(infos), wname, pv) {
			fprintf(f, "%s%s:", first ? "" : "\n", wname);
			first = false;
			wi = pv;
			json_object_foreach(JSON_MUT(wi), pid, v) {
				fprintf(f, "\n%s: ", pid);
				print_info(f, v);
			}
		}
	} else {
		print_str(f, json_object_get(reply, "process"));
		fputs(": ", f);
		print_info(f, json_object_get(reply, "info"));
		fputc('\n', f);
	}
	return print_close(f, &buf);
}

/* dstats: "Main Process:" and circusd's info line, then its children. */
char *
print_dstats(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const json_t	*info, *children;
	char		*buf;
	size_t		 i, len;
	FILE		*f;

	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	info = json_object_get(reply, "info");
	f = print_open(&buf, &len);
	fputs("Main Process:\n    ", f);
	print_infoline(f, info);
	children = json_object_get(info, "children");
	if (json_array_size(children) > 0) {
		fputs("\nChildren:", f);
		for (i = 0; i < json_array_size(children); i++) {
			fputs("\n    ", f);
			print_infoline(f, json_array_get(children, i));
		}
	}
	return print_close(f, &buf);
}

/* One value of a reloadconfig plan: lists as "a, b", "-" when empty. */
static void
print_plan_value(FILE *f, const json_t *v)
{
	size_t	i;

	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			fputc('-', f);
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				fputs(", ", f);
			print_str(f, json_array_get(v, i));
		}
	} else
		print_str(f, v);
}

/*
 * reloadconfig: "ok", or with --dry-run the plan the daemon returned, one
 * "<what>: <watchers>" line per entry (nested objects indented).
 */
char *
print_reloadconfig(UNUSED const struct ctl_entry *e, const json_t *reply)
{
	const char	*key, *sub;
	json_t		*v, *sv;
	char		*buf;
	size_t		 len;
	FILE		*f;
	bool		 first = true;

	if (!print_status_is(reply, "ok"))
		return print_error(reply);
	f = print_open(&buf, &len);
	json_object_foreach(JSON_MUT(reply), key, v) {
		if (strcmp(key, "status") == 0 || strcmp(key, "time") == 0 ||
		    strcmp(key, "id") == 0)
			continue;
		if (json_is_object(v)) {
			json_object_foreach(v, sub, sv) {
				fprintf(f, "%s%s: ", first ? "" : "\n", sub);
				print_plan_value(f, sv);
				first = false;
			}
			continue;
		}
		fprintf(f, "%s%s: ", first ? "" : "\n", key);
		print_plan_value(f, v);
		first = false;
	}
	if (first)
		fputs("ok", f);
	return print_close(f, &buf);
}

/*
 * One event for listen: "<topic>: <json>" (the body re-encoded as circusd
 * encodes, or escaped if it is not JSON), or with json_mode the object
 * {"topic": ..., "data": ...}.
 */
char *
print_event(const char *topic, size_t tlen, const char *body, size_t blen,
    bool json_mode)
{
	json_error_t	 err;
	json_t		*data, *obj;
	char		*t, *b, *out;

	data = json_loadb(body, blen, JSON_DECODE_ANY, &err);
	if (json_mode) {
		obj = json_object();
		json_object_set_new(obj, "topic",
		    json_stringn_nocheck(topic, tlen));
		if (data == NULL)
			data = json_stringn_nocheck(body, blen);
		json_object_set_new(obj, "data", data);
		out = pyjson_dumps(obj);
		json_decref(obj);
		return out;
	}
	t = pyjson_bytes_repr(topic, tlen);
	if (data != NULL) {
		b = pyjson_dumps(data);
		json_decref(data);
	} else {
		char *r = pyjson_bytes_repr(body, blen);

		/* Strip the b'' wrapper: only the escaping is wanted. */
		r[strlen(r) - 1] = '\0';
		b = xstrdup(r + 2);
		free(r);
	}
	t[strlen(t) - 1] = '\0';
	out = xprintf("%s: %s", t + 2, b);
	free(t);
	free(b);
	return out;
}
