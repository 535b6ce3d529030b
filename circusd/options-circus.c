/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The [circus] option table: one line per option of struct circus_cfg,
 * saying its type, where `globaloptions` reports it (Circus's five keys,
 * in Circus's order) and whether reloadconfig applies a change at once
 * (live) or only a full restart does (doc/design.md §12). The comparison
 * of two sections, `globaloptions` and the arbiter's live reload read
 * it; config.c's loader fills the fields.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "xmalloc.h"

enum copt_type {
	COPT_STRING,		/* char *, NULL = unset */
	COPT_BOOL,
	COPT_INT,
	COPT_FLOAT,
};

#define COPT_LIVE	0x1	/* reloadconfig applies a change at once */

struct copt_entry {
	const char	*name;		/* the ini key */
	enum copt_type	 type;
	size_t		 offset;	/* into struct circus_cfg */
	int		 flags;
	int		 global;	/* place in globaloptions, 0 = absent */
};

#define C(f) offsetof(struct circus_cfg, f)
#define LIVE COPT_LIVE

/* The options a full restart applies come in the order the reloadconfig
 * warning names them; curve_server_cert and plaintext_tcp close it. */
static const struct copt_entry copt_table[] = {
	{ "endpoint", COPT_STRING, C(endpoint), 0, 1 },
	{ "stats_endpoint", COPT_STRING, C(stats_endpoint), 0, 2 },
	{ "pubsub_endpoint", COPT_STRING, C(pubsub_endpoint), 0, 3 },
	{ "check_delay", COPT_FLOAT, C(check_delay), LIVE, 4 },
	{ "multicast_endpoint", COPT_STRING, C(multicast_endpoint), 0, 5 },
	{ "endpoint_owner", COPT_STRING, C(endpoint_owner), 0, 0 },
	{ "statsd", COPT_BOOL, C(statsd), 0, 0 },
	{ "metrics_endpoint", COPT_STRING, C(metrics_endpoint), 0, 0 },
	{ "httpd", COPT_BOOL, C(httpd), 0, 0 },
	{ "httpd_host", COPT_STRING, C(httpd_host), 0, 0 },
	{ "httpd_port", COPT_INT, C(httpd_port), 0, 0 },
	{ "pidfile", COPT_STRING, C(pidfile), 0, 0 },
	{ "debug", COPT_BOOL, C(debug), 0, 0 },
	{ "loggerconfig", COPT_STRING, C(loggerconfig), 0, 0 },
	{ "fqdn_prefix", COPT_STRING, C(fqdn_prefix), 0, 0 },
	{ "curve_server_cert", COPT_STRING, C(curve_server_cert), 0, 0 },
	{ "plaintext_tcp", COPT_BOOL, C(plaintext_tcp), 0, 0 },
	/* the key directories are read at every handshake (auth.c) */
	{ "curve_clients", COPT_STRING, C(curve_clients), LIVE, 0 },
	{ "curve_readonly_clients", COPT_STRING, C(curve_readonly_clients),
	  LIVE, 0 },
	{ "warmup_delay", COPT_INT, C(warmup_delay), LIVE, 0 },
	{ "umask", COPT_INT, C(umask), LIVE, 0 },
	{ "loglevel", COPT_STRING, C(loglevel), LIVE, 0 },
	{ "logoutput", COPT_STRING, C(logoutput), LIVE, 0 },
	{ "backoff_min", COPT_FLOAT, C(backoff_min_s), LIVE, 0 },
	{ "backoff_factor", COPT_FLOAT, C(backoff_factor), LIVE, 0 },
	{ "backoff_max", COPT_FLOAT, C(backoff_max_s), LIVE, 0 },
	{ "backoff_reset", COPT_FLOAT, C(backoff_reset_s), LIVE, 0 },
};

#define GLOBALOPTIONS	5

static const struct copt_entry *
copt_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(copt_table); i++)
		if (strcmp(copt_table[i].name, name) == 0)
			return (&copt_table[i]);
	return (NULL);
}

static void *
copt_field(const struct circus_cfg *c, const struct copt_entry *e)
{
	return ((char *)c + e->offset);
}

/* Does option e differ between a and b? */
static bool
copt_differs(const struct circus_cfg *a, const struct circus_cfg *b,
    const struct copt_entry *e)
{
	void	*fa = copt_field(a, e), *fb = copt_field(b, e);

	switch (e->type) {
	case COPT_STRING:
		return (!cfg_streq(*(char **)fa, *(char **)fb));
	case COPT_BOOL:
		return (*(bool *)fa != *(bool *)fb);
	case COPT_INT:
		return (*(int *)fa != *(int *)fb);
	case COPT_FLOAT:
		return (*(double *)fa != *(double *)fb);
	}
	return (false);
}

/* True when two [circus] sections differ: any option, or any key as read
 * (adding or removing a key counts, doc/design.md §12). */
bool
circus_cfg_changed(const struct circus_cfg *a, const struct circus_cfg *b)
{
	size_t	i;

	for (i = 0; i < nitems(copt_table); i++)
		if (copt_differs(a, b, &copt_table[i]))
			return (true);
	return (a->raw != NULL && b->raw != NULL && !json_equal(a->raw, b->raw));
}

/* Names of the options of n that differ from o, one kind: the live ones
 * (live) or those only a full restart applies. New array. */
json_t *
circus_cfg_diff(const struct circus_cfg *o, const struct circus_cfg *n,
    bool live)
{
	json_t	*names = json_array();
	size_t	 i;

	for (i = 0; i < nitems(copt_table); i++) {
		if (((copt_table[i].flags & COPT_LIVE) != 0) != live)
			continue;
		if (copt_differs(o, n, &copt_table[i]))
			json_array_append_new(names,
			    json_string(copt_table[i].name));
	}
	return (names);
}

/* "a, b and c": the options only a full restart applies. New string. */
char *
circus_cfg_restart_names(void)
{
	char	*text = xstrdup(""), *t;
	size_t	 i, n = 0, last = 0;

	for (i = 0; i < nitems(copt_table); i++)
		if (!(copt_table[i].flags & COPT_LIVE))
			last = i;
	for (i = 0; i < nitems(copt_table); i++) {
		if (copt_table[i].flags & COPT_LIVE)
			continue;
		t = xprintf("%s%s%s", text, n == 0 ? "" : i == last ? " and " :
		    ", ", copt_table[i].name);
		free(text);
		text = t;
		n++;
	}
	return (text);
}

/* Copy option name from n into o (-1: no such option). */
int
circus_cfg_take(struct circus_cfg *o, const struct circus_cfg *n,
    const char *name)
{
	const struct copt_entry	*e;
	char			**so, *sn;

	if ((e = copt_find(name)) == NULL)
		return (-1);
	switch (e->type) {
	case COPT_STRING:
		so = copt_field(o, e);
		sn = *(char **)copt_field(n, e);
		if (!cfg_streq(*so, sn)) {
			free(*so);
			*so = sn != NULL ? xstrdup(sn) : NULL;
		}
		break;
	case COPT_BOOL:
		*(bool *)copt_field(o, e) = *(bool *)copt_field(n, e);
		break;
	case COPT_INT:
		*(int *)copt_field(o, e) = *(int *)copt_field(n, e);
		break;
	case COPT_FLOAT:
		*(double *)copt_field(o, e) = *(double *)copt_field(n, e);
		break;
	}
	return (0);
}

/* `globaloptions` object (Circus's five keys in Circus's order; an unset
 * string is ""). */
json_t *
circus_cfg_globaloptions(const struct circus_cfg *c)
{
	const struct copt_entry	*e;
	json_t			*obj = json_object();
	const char		*s;
	int			 k;
	size_t			 i;

	for (k = 1; k <= GLOBALOPTIONS; k++) {
		for (i = 0; i < nitems(copt_table); i++) {
			e = &copt_table[i];
			if (e->global != k)
				continue;
			switch (e->type) {
			case COPT_STRING:
				s = *(char **)copt_field(c, e);
				json_object_set_new(obj, e->name,
				    json_string(s != NULL ? s : ""));
				break;
			case COPT_BOOL:
				json_object_set_new(obj, e->name,
				    json_boolean(*(bool *)copt_field(c, e)));
				break;
			case COPT_INT:
				json_object_set_new(obj, e->name,
				    json_integer(*(int *)copt_field(c, e)));
				break;
			case COPT_FLOAT:
				json_object_set_new(obj, e->name,
				    json_real(*(double *)copt_field(c, e)));
				break;
			}
		}
	}
	return (obj);
}
