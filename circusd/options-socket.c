/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The [socket:*] option table: one line per option of struct socket_cfg,
 * in the order the loader checks them, saying its type and range, whether
 * a bad value refuses the file (the booleans Circus converts while
 * loading) or only skips the socket, and whether reloadconfig could apply
 * a change live. None can: a changed socket is closed, bound again and
 * the watchers using it restarted (doc/design.md §12). The loader
 * (config.c) and the comparison reloadconfig makes read it.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "util.h"
#include "xmalloc.h"

enum sopt_type {
	SOPT_STRING,		/* char *, NULL = unset */
	SOPT_BOOL,
	SOPT_INT,		/* decimal in [min, max] */
	SOPT_FAMILY,		/* AF_INET, AF_INET6, AF_UNIX */
	SOPT_TYPE,		/* SOCK_STREAM ... */
	SOPT_PROTO,		/* a name of /etc/protocols */
};

#define SOPT_FATAL	0x1	/* a bad value refuses the file */
#define SOPT_LIVE	0x2	/* reloadconfig applies a change in place */

struct sopt_entry {
	const char	*name;
	enum sopt_type	 type;
	size_t		 offset;	/* into struct socket_cfg */
	int		 flags;
	long long	 min, max;	/* SOPT_INT */
};

#define S(f) offsetof(struct socket_cfg, f)

static const struct sopt_entry sopt_table[] = {
	{ "so_reuseport", SOPT_BOOL, S(so_reuseport), SOPT_FATAL, 0, 0 },
	{ "replace", SOPT_BOOL, S(replace), SOPT_FATAL, 0, 0 },
	{ "host", SOPT_STRING, S(host), 0, 0, 0 },
	{ "path", SOPT_STRING, S(path), 0, 0, 0 },
	{ "interface", SOPT_STRING, S(interface), 0, 0, 0 },
	{ "port", SOPT_INT, S(port), 0, 0, 65535 },
	{ "backlog", SOPT_INT, S(backlog), 0, 0, 1 << 30 },
	/* decimal, like Circus: "022" is 22 */
	{ "umask", SOPT_INT, S(umask), 0, 0, 07777 },
	{ "blocking", SOPT_BOOL, S(blocking), 0, 0, 0 },
	{ "family", SOPT_FAMILY, S(family), 0, 0, 0 },
	{ "type", SOPT_TYPE, S(type), 0, 0, 0 },
	{ "proto", SOPT_PROTO, S(proto), 0, 0, 0 },
};

static const struct {
	const char	*name;
	int		 value;
} sopt_families[] = {
	{ "AF_INET", AF_INET }, { "AF_INET6", AF_INET6 },
	{ "AF_UNIX", AF_UNIX },
}, sopt_types[] = {
	{ "SOCK_STREAM", SOCK_STREAM }, { "SOCK_DGRAM", SOCK_DGRAM },
	{ "SOCK_RAW", SOCK_RAW }, { "SOCK_RDM", SOCK_RDM },
	{ "SOCK_SEQPACKET", SOCK_SEQPACKET },
};

static void *
sopt_field(const struct socket_cfg *sc, const struct sopt_entry *e)
{
	return ((char *)sc + e->offset);
}

/* Convert v into e's field; -1 if v is not a valid value. */
static int
sopt_set(struct socket_cfg *sc, const struct sopt_entry *e, const char *v)
{
	struct protoent	*pe;
	long long	 n;
	bool		 b;
	size_t		 i;
	char		**sp;

	switch (e->type) {
	case SOPT_STRING:
		sp = sopt_field(sc, e);
		free(*sp);
		*sp = xstrdup(v);
		return (0);
	case SOPT_BOOL:
		if (util_parse_bool(v, &b) == -1)
			return (-1);
		*(bool *)sopt_field(sc, e) = b;
		return (0);
	case SOPT_INT:
		if (config_parse_int(v, &n) == -1 || n < e->min || n > e->max)
			return (-1);
		*(int *)sopt_field(sc, e) = (int)n;
		return (0);
	case SOPT_FAMILY:
		for (i = 0; i < nitems(sopt_families); i++)
			if (strcasecmp(v, sopt_families[i].name) == 0) {
				*(int *)sopt_field(sc, e) =
				    sopt_families[i].value;
				return (0);
			}
		return (-1);
	case SOPT_TYPE:
		for (i = 0; i < nitems(sopt_types); i++)
			if (strcasecmp(v, sopt_types[i].name) == 0) {
				*(int *)sopt_field(sc, e) = sopt_types[i].value;
				return (0);
			}
		return (-1);
	case SOPT_PROTO:
		if ((pe = getprotobyname(v)) == NULL)
			return (-1);
		*(int *)sopt_field(sc, e) = pe->p_proto;
		return (0);
	}
	return (-1);
}

/*
 * Fill sc's options from the section's values (strings). 0; or -1 with
 * *bad naming the option when a value is invalid, *fatal telling whether
 * that refuses the file (the last bad fatal one is named) or only skips
 * the socket (the first bad one, nothing after it is read).
 */
int
socket_cfg_read(struct socket_cfg *sc, const json_t *vals, const char **bad,
    bool *fatal)
{
	const struct sopt_entry	*e;
	const char		*v;
	size_t			 i;

	*bad = NULL;
	*fatal = true;
	for (i = 0; i < nitems(sopt_table); i++) {
		e = &sopt_table[i];
		if (!(e->flags & SOPT_FATAL))
			continue;
		v = json_string_value(json_object_get(vals, e->name));
		if (v != NULL && sopt_set(sc, e, v) == -1)
			*bad = e->name;
	}
	if (*bad != NULL)
		return (-1);
	*fatal = false;
	for (i = 0; i < nitems(sopt_table); i++) {
		e = &sopt_table[i];
		if (e->flags & SOPT_FATAL)
			continue;
		v = json_string_value(json_object_get(vals, e->name));
		if (v != NULL && sopt_set(sc, e, v) == -1) {
			*bad = e->name;
			return (-1);
		}
	}
	return (0);
}

/* Does option e differ between a and b? */
static bool
sopt_differs(const struct socket_cfg *a, const struct socket_cfg *b,
    const struct sopt_entry *e)
{
	void	*fa = sopt_field(a, e), *fb = sopt_field(b, e);

	switch (e->type) {
	case SOPT_STRING:
		return (!cfg_streq(*(char **)fa, *(char **)fb));
	case SOPT_BOOL:
		return (*(bool *)fa != *(bool *)fb);
	case SOPT_INT:
	case SOPT_FAMILY:
	case SOPT_TYPE:
	case SOPT_PROTO:
		return (*(int *)fa != *(int *)fb);
	}
	return (false);
}

/* True when reloadconfig must bind b in place of a: another name, an
 * option that cannot change live, or any key as read. */
bool
socket_cfg_changed(const struct socket_cfg *a, const struct socket_cfg *b)
{
	size_t	i;

	if (!cfg_streq(a->name, b->name))
		return (true);
	for (i = 0; i < nitems(sopt_table); i++)
		if (!(sopt_table[i].flags & SOPT_LIVE) &&
		    sopt_differs(a, b, &sopt_table[i]))
			return (true);
	return (!json_equal(a->raw, b->raw));
}
