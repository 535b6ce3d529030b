/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Property helpers shared by the command handlers: Python truthiness for
 * flags, borrowed strings, and signal values (number, numeric string or
 * name). They read ctx->props and never set an error themselves.
 */
#include <limits.h>
#include <math.h>

#include <jansson.h>

#include "circusd.h"
#include "xmalloc.h"
#include "pyjson.h"
#include "util.h"

/* Property key as a bool with Python truthiness; dflt when absent. */
bool
cmd_prop_bool(struct cmd_ctx *ctx, const char *key, bool dflt)
{
	json_t *v;

	if ((v = json_object_get(ctx->props, key)) == NULL)
		return dflt;
	switch (json_typeof(v)) {
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		return false;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_STRING:
		return json_string_length(v) != 0;
	case JSON_ARRAY:
		return json_array_size(v) != 0;
	case JSON_OBJECT:
		return json_object_size(v) != 0;
	}
	return dflt;
}

/* Property key if it is a string (borrowed), else NULL. */
const char *
cmd_prop_str(struct cmd_ctx *ctx, const char *key)
{
	json_t *v;

	v = json_object_get(ctx->props, key);
	if (!json_is_string(v))
		return NULL;
	return json_string_value(v);
}

/* Signal from an integer, a float (truncated like int()), a numeric
 * string or a name (doc/design.md §17.5); -1 if none of those. */
int
cmd_prop_signal(const json_t *v)
{
	json_int_t i;
	double d;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i < 0 || i > INT_MAX)
			return -1;
		return (int)i;
	}
	if (json_is_real(v)) {
		d = trunc(json_real_value(v));
		if (!isfinite(d) || d < 0 || d > INT_MAX)
			return -1;
		return (int)d;
	}
	if (json_is_string(v))
		return util_parse_signal(json_string_value(v));
	return -1;
}

/* Resolve an optional "name" property. Absent: true with *wp NULL. Given
 * but matching no watcher: false, with Circus's errno-3 error set. */
bool
cmd_watcher_opt(struct cmd_ctx *ctx, struct watcher **wp)
{
	json_t *name = json_object_get(ctx->props, "name");
	char *text;

	*wp = NULL;
	if (name == NULL)
		return true;
	if (json_is_string(name))
		*wp = arbiter_find_watcher(ctx->arbiter, json_string_value(name));
	if (*wp != NULL)
		return true;
	text = json_is_string(name) ? xstrdup(json_string_value(name)) :
	    pyjson_str(name);
	cmd_error(ctx, 3, "program %s not found", text);
	free(text);
	return false;
}
