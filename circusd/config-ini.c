/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Circus ini line reader (doc/design.md §17.5): sections in order of first
 * appearance, first definition wins, continuation lines, the ';' inline
 * comment rule, no line length limit. Also Python int()/float() of values.
 * Knows nothing about what the sections mean.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "util.h"
#include "pyjson.h"
#include "xmalloc.h"

static void	 ini_error(json_t *, const char *, int, const char *, ...)
		     PRINTFLIKE(4, 5);

/* Record a parse error "file:line: message" (see ini_error_add). */
static void
ini_error(json_t *errors, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = xstrdup("out of memory");
	va_end(ap);
	ini_error_add(errors, file, line, msg);
	free(msg);
}

/* Append {"file", "line", "text": "file:line: msg"} to errors. */
void
ini_error_add(json_t *errors, const char *file, int line, const char *msg)
{
	json_t	*e;
	char	*full;

	full = xprintf("%s:%d: %s", file, line, msg);
	e = json_object();
	ini_jset(e, "file", ini_jstr(file));
	ini_jset(e, "line", json_integer(line));
	ini_jset(e, "text", ini_jstr(full));
	json_array_append_new(errors, e);
	free(full);
}

/* Is the whole string whitespace? */
static bool
ini_blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isspace((unsigned char)*s))
			return (false);
	}
	return (true);
}

/* Copy of s[0..len) with surrounding whitespace removed. */
char *
ini_strip(const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return (xstrndup(s, len));
}

/* A JSON string, even for invalid UTF-8. */
json_t *
ini_jstr(const char *s)
{
	json_t	*v;

	if ((v = json_string(s)) == NULL)
		v = json_string_nocheck(s);
	return (v);
}

/* Set obj[key] = v (stolen), even for an invalid UTF-8 key. (Not with
 * json_object_set_new() first: it frees v when it refuses the key.) */
void
ini_jset(json_t *obj, const char *key, json_t *v)
{
	if (json_object_set(obj, key, v) == -1)
		json_object_set_nocheck(obj, key, v);
	json_decref(v);
}

/* Find a section by exact name. */
struct ini_sect *
ini_find(struct ini *ini, const char *name)
{
	size_t	 i;

	for (i = 0; i < ini->nsects; i++) {
		if (strcmp(ini->sects[i]->name, name) == 0)
			return (ini->sects[i]);
	}
	return (NULL);
}

/* Find an option of a section, or NULL. */
struct ini_opt *
ini_get(const struct ini_sect *s, const char *name)
{
	size_t	 i;

	if (s == NULL)
		return (NULL);
	for (i = 0; i < s->nopts; i++) {
		if (strcmp(s->opts[i].name, name) == 0)
			return (&s->opts[i]);
	}
	return (NULL);
}

/* Free everything the reader allocated. */
void
ini_free(struct ini *ini)
{
	struct ini_sect	*s;
	size_t		 i, j;

	for (i = 0; i < ini->nsects; i++) {
		s = ini->sects[i];
		for (j = 0; j < s->nopts; j++) {
			free(s->opts[j].name);
			free(s->opts[j].value);
		}
		free(s->opts);
		free(s->name);
		free(s);
	}
	free(ini->sects);
	for (i = 0; i < ini->nfiles; i++)
		free(ini->files[i]);
	free(ini->files);
	memset(ini, 0, sizeof *ini);
}

/* Cut an option value at its inline comment, as Circus's reader does. */
static size_t
ini_value_len(const char *v, size_t len)
{
	const char	*semi;
	char		 before;

	if ((semi = memchr(v, ';', len)) == NULL)
		return (len);
	/* Python's optval[pos - 1] wraps around to the last character. */
	before = semi == v ? v[len - 1] : semi[-1];
	if (isspace((unsigned char)before))
		return (semi - v);
	return (len);
}

/*
 * Parse one file into the section namespace. Returns -1 if it cannot be
 * opened (errno set); bad lines are appended to errors.
 */
int
ini_read(struct ini *ini, const char *path, json_t *errors)
{
	struct ini_sect	*cur = NULL;
	struct ini_opt	*o;
	FILE		*f;
	char		*line = NULL, *name, *value, *tmp, *r;
	const char	*file, *delim, *end, *v;
	size_t		 cap = 0, len, i;
	ssize_t		 n, optidx = -1;
	int		 lineno = 0;
	bool		 header_error = false;

	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	ini->files = xreallocarray(ini->files, ini->nfiles + 1,
	    sizeof *ini->files);
	file = ini->files[ini->nfiles++] = xstrdup(path);

	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';

		/* Blank lines and comments. */
		if (ini_blank(line) || line[0] == '#' || line[0] == ';')
			continue;
		if ((line[0] == 'r' || line[0] == 'R') &&
		    strncasecmp(line, "rem", 3) == 0 &&
		    (line[3] == '\0' || isspace((unsigned char)line[3])))
			continue;

		/* Continuation of the current option. */
		if (isspace((unsigned char)line[0]) && cur != NULL &&
		    optidx != -1) {
			value = ini_strip(line, len);
			if (*value != '\0') {
				o = &cur->opts[optidx];
				tmp = xprintf("%s\n%s", o->value, value);
				free(o->value);
				o->value = tmp;
			}
			free(value);
			continue;
		}

		/* Section header: up to the last ']'. */
		if (line[0] == '[' && (end = strrchr(line, ']')) != NULL &&
		    end > line + 1) {
			name = xstrndup(line + 1, end - line - 1);
			if ((cur = ini_find(ini, name)) == NULL) {
				cur = xcalloc(1, sizeof *cur);
				cur->name = name;
				cur->file = file;
				cur->line = lineno;
				ini->sects = xreallocarray(ini->sects,
				    ini->nsects + 1, sizeof *ini->sects);
				ini->sects[ini->nsects++] = cur;
			} else
				free(name);
			optidx = -1;
			continue;
		}
		if (cur == NULL) {
			if (!header_error) {
				r = pyjson_str_repr(line);
				ini_error(errors, file, lineno,
				    "missing section header: %s", r);
				free(r);
			}
			header_error = true;
			continue;
		}

		/* Option: name, first '=' or ':', value. */
		if ((delim = strpbrk(line, "=:")) == NULL) {
			r = pyjson_str_repr(line);
			ini_error(errors, file, lineno, "cannot parse line: %s",
			    r);
			free(r);
			continue;
		}
		len = delim - line;
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			len--;
		name = xstrndup(line, len);
		for (i = 0; i < cur->nopts; i++) {
			if (strcmp(cur->opts[i].name, name) == 0)
				break;
		}
		if (i < cur->nopts) {
			/* First definition wins; continuations go to it. */
			free(name);
			optidx = *cur->opts[i].name != '\0' ? (ssize_t)i : -1;
			continue;
		}
		for (v = delim + 1; isspace((unsigned char)*v); v++)
			;
		value = ini_strip(v, ini_value_len(v, strlen(v)));
		if (strcmp(value, "\"\"") == 0)
			value[0] = '\0';
		cur->opts = xreallocarray(cur->opts, cur->nopts + 1,
		    sizeof *cur->opts);
		o = &cur->opts[cur->nopts];
		o->name = name;
		o->value = value;
		o->file = file;
		o->line = lineno;
		/* Like Python, an empty option name takes no continuation. */
		optidx = *name != '\0' ? (ssize_t)cur->nopts : -1;
		cur->nopts++;
	}
	free(line);
	fclose(f);
	return (0);
}

/* Python int() of a string (lib/util.c). */
int
config_parse_int(const char *s, long long *out)
{
	return (util_parse_int(s, out));
}

/* Python float() of a string (lib/util.c). */
int
config_parse_float(const char *s, double *out)
{
	return (util_parse_float(s, out));
}
