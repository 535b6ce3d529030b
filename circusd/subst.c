/* SPDX-License-Identifier: Apache-2.0 */
/*
 * $(circus.KEY) / ((circus.KEY)) substitution and POSIX shell word
 * splitting and quoting (Python's shlex). Pure string functions: the
 * caller supplies the key lookup; nothing here knows about watchers.
 */

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "xmalloc.h"

struct subst_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

/* Append len bytes to a growing buffer. */
static void
subst_buf_add(struct subst_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->size) {
		while (b->len + len + 1 > b->size)
			b->size = b->size == 0 ? 64 : b->size * 2;
		b->s = xrealloc(b->s, b->size);
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

/* Append one byte to a growing buffer. */
static void
subst_buf_addc(struct subst_buf *b, char c)
{
	subst_buf_add(b, &c, 1);
}

/* Is c in Python's [\w.-] (non-ASCII bytes count as word characters)? */
static bool
subst_is_key_char(unsigned char c)
{
	return (isalnum(c) || c == '_' || c == '.' || c == '-' || c >= 0x80);
}

/*
 * Try to match a reference at p: "$(circus.KEY)" or "((circus.KEY))".
 * Returns the length of the whole reference and the key span, or 0.
 */
static size_t
subst_match(const char *p, const char **key, size_t *keylen)
{
	const char	*k, *e;
	bool		 dollar;

	if (p[0] == '$' && p[1] == '(')
		dollar = true;
	else if (p[0] == '(' && p[1] == '(')
		dollar = false;
	else
		return (0);
	if (strncasecmp(p + 2, "circus.", 7) != 0)
		return (0);
	k = p + 9;
	for (e = k; subst_is_key_char((unsigned char)*e); e++)
		;
	if (e == k)
		return (0);
	if (dollar) {
		if (e[0] != ')')
			return (0);
		e += 1;
	} else {
		if (e[0] != ')' || e[1] != ')')
			return (0);
		e += 2;
	}
	*key = k;
	*keylen = (size_t)(e - k) - (dollar ? 1 : 2);
	return ((size_t)(e - p));
}

/* Replace $(circus.KEY) and ((circus.KEY)); unknown keys stay verbatim. */
char *
subst_circus(const char *in, subst_lookup_fn lookup, void *ctx)
{
	struct subst_buf	 b = { NULL, 0, 0 };
	const char		*p, *key, *value;
	char			*lower, *name;
	size_t			 n, keylen, i;

	subst_buf_add(&b, "", 0);
	for (p = in; *p != '\0';) {
		n = subst_match(p, &key, &keylen);
		if (n == 0) {
			subst_buf_addc(&b, *p++);
			continue;
		}
		lower = xstrndup(key, keylen);
		for (i = 0; i < keylen; i++)
			lower[i] = tolower((unsigned char)lower[i]);
		/*
		 * Circus prefixes the key with "circus." unless it already
		 * starts with "circus": "$(circus.circus.wid)" is "wid",
		 * "$(circus.circusx)" is never known.
		 */
		name = lower;
		value = NULL;
		if (strncmp(lower, "circus", 6) != 0)
			value = lookup(ctx, name);
		else if (lower[6] == '.')
			value = lookup(ctx, name + 7);
		if (value != NULL)
			subst_buf_add(&b, value, strlen(value));
		else
			subst_buf_add(&b, p, n);
		free(lower);
		p += n;
	}
	return (b.s);
}

/* Append one word to a NULL-terminated argv. */
static void
shlex_push(char ***argv, size_t *argc, const char *word)
{
	*argv = xreallocarray(*argv, *argc + 2, sizeof **argv);
	(*argv)[(*argc)++] = xstrdup(word);
	(*argv)[*argc] = NULL;
}

/* Split like Python's shlex.split(s) (POSIX mode, no comments). */
int
shlex_split(const char *s, char ***argv, size_t *argc, char **cause)
{
	struct subst_buf	 w = { NULL, 0, 0 };
	const char		*p;
	bool			 inword = false;
	char			 q;
	size_t			 dummy = 0;

	if (argc == NULL) {
		argc = &dummy;
		if (*argv != NULL)
			while ((*argv)[dummy] != NULL)
				dummy++;
	}
	if (*argv == NULL) {
		*argv = xcalloc(1, sizeof **argv);
		*argc = 0;
	}
	subst_buf_add(&w, "", 0);
	for (p = s; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			if (inword) {
				shlex_push(argv, argc, w.s);
				w.len = 0;
				w.s[0] = '\0';
				inword = false;
			}
			continue;
		}
		inword = true;
		if (*p == '\\') {
			if (p[1] == '\0') {
				free(w.s);
				*cause = xstrdup("No escaped character");
				return (-1);
			}
			subst_buf_addc(&w, *++p);
			continue;
		}
		if (*p == '\'' || *p == '"') {
			q = *p++;
			for (;; p++) {
				if (*p == '\0') {
					free(w.s);
					*cause = xstrdup(
					    "No closing quotation");
					return (-1);
				}
				if (*p == q)
					break;
				if (q == '"' && *p == '\\' &&
				    (p[1] == '"' || p[1] == '\\')) {
					subst_buf_addc(&w, *++p);
					continue;
				}
				subst_buf_addc(&w, *p);
			}
			continue;
		}
		subst_buf_addc(&w, *p);
	}
	if (inword)
		shlex_push(argv, argc, w.s);
	free(w.s);
	return (0);
}

/* Quote one word for /bin/sh like Python's shlex.quote. */
char *
shlex_quote(const char *s)
{
	struct subst_buf	 b = { NULL, 0, 0 };
	const char		*p;
	bool			 safe = true;

	if (*s == '\0')
		return (xstrdup("''"));
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' &&
		    strchr("@%+=:,./-", *p) == NULL) {
			safe = false;
			break;
		}
	}
	if (safe)
		return (xstrdup(s));
	subst_buf_addc(&b, '\'');
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'')
			subst_buf_add(&b, "'\"'\"'", 5);
		else
			subst_buf_addc(&b, *p);
	}
	subst_buf_addc(&b, '\'');
	return (b.s);
}

/* Free a NULL-terminated argv. */
void
argv_free(char **argv)
{
	size_t	 i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
