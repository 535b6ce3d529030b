/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Completion candidates for the shell (readline) and the bash hook, driven
 * by the grammar table: command names, options, option values, watcher
 * names and pids fetched live from circusd, option keys and signal names.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "circusctl.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

/* Live lookups must not make Tab feel stuck. */
#define COMPLETE_TIMEOUT_MS 1500

struct complete_list {
	char		**v;
	size_t		  n;
	const char	 *prefix;
};

static void	 complete_add(struct complete_list *, const char *);
static void	 complete_add_list(struct complete_list *,
		     const char *const *);
static void	 complete_signals(struct complete_list *);
static json_t	*complete_call(struct ctl_ctx *, const char *, const char *);
static void	 complete_watchers(struct complete_list *, struct ctl_ctx *,
		     const char *);
static void	 complete_pids(struct complete_list *, struct ctl_ctx *,
		     const char *);
static void	 complete_set_keys(struct complete_list *);
static void	 complete_slot(struct complete_list *, struct ctl_ctx *,
		     const struct ctl_slot *, char *const *, size_t, size_t);
static const struct ctl_slot *complete_value_option(const struct ctl_grammar *,
		     const char *);
static int	 complete_compare(const void *, const void *);

/* Add s if it starts with the prefix being completed. */
static void
complete_add(struct complete_list *l, const char *s)
{
	if (strncmp(s, l->prefix, strlen(l->prefix)) != 0)
		return;
	l->v = xreallocarray(l->v, l->n + 2, sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

/* Add every string of a NULL-terminated list. */
static void
complete_add_list(struct complete_list *l, const char *const *list)
{
	for (; *list != NULL; list++)
		complete_add(l, *list);
}

/* Signal names, in the case and SIG-prefix style of what was typed. */
static void
complete_signals(struct complete_list *l)
{
	const char	*name;
	char		 buf[32];
	bool		 lower, sig;
	size_t		 i;
	int		 n;

	lower = l->prefix[0] != '\0' && islower((unsigned char)l->prefix[0]);
	sig = strncasecmp(l->prefix, "sig", strlen(l->prefix) < 3 ?
	    strlen(l->prefix) : 3) == 0 && l->prefix[0] != '\0';
	for (n = 1; n < 65; n++) {
		name = util_signal_name(n);
		if (name == NULL)
			continue;
		snprintf(buf, sizeof buf, "%s%s", sig ? "SIG" : "", name);
		for (i = 0; lower && buf[i] != '\0'; i++)
			buf[i] = (char)tolower((unsigned char)buf[i]);
		complete_add(l, buf);
		if (sig) {
			/* "s" could also start a bare name (SEGV, STOP). */
			snprintf(buf, sizeof buf, "%s", name);
			for (i = 0; lower && buf[i] != '\0'; i++)
				buf[i] = (char)tolower((unsigned char)buf[i]);
			complete_add(l, buf);
		}
	}
}

/* Ask circusd (briefly); returns the reply or NULL. */
static json_t *
complete_call(struct ctl_ctx *ctx, const char *command, const char *name)
{
	json_t	*msg, *props, *reply = NULL;
	char	*cause = NULL;
	int	 timeout_ms = ctx->globals.timeout_s * 1000;

	if (timeout_ms > COMPLETE_TIMEOUT_MS || timeout_ms <= 0)
		timeout_ms = COMPLETE_TIMEOUT_MS;
	props = json_object();
	if (name != NULL)
		json_object_set_new(props, "name", json_string(name));
	msg = json_object();
	json_object_set_new(msg, "command", json_string(command));
	json_object_set_new(msg, "properties", props);
	if (ctl_call(ctx, msg, timeout_ms, &reply, &cause) != CLIENT_OK)
		reply = NULL;
	free(cause);
	json_decref(msg);
	return reply;
}

/* Watcher names from a live `list`, each with an optional prefix/suffix. */
static void
complete_watchers(struct complete_list *l, struct ctl_ctx *ctx,
    const char *format)
{
	json_t	*reply, *names;
	char	*s;
	size_t	 i;

	reply = complete_call(ctx, "list", NULL);
	names = json_object_get(reply, "watchers");
	for (i = 0; i < json_array_size(names); i++) {
		if (!json_is_string(json_array_get(names, i)))
			continue;
		if (format == NULL)
			complete_add(l, json_string_value(json_array_get(
			    names, i)));
		else {
			s = xprintf("watcher.%s.", json_string_value(
			    json_array_get(names, i)));
			complete_add(l, s);
			free(s);
		}
	}
	json_decref(reply);
}

/* Pids of a watcher from a live `list <name>`. */
static void
complete_pids(struct complete_list *l, struct ctl_ctx *ctx, const char *name)
{
	json_t	*reply, *pids;
	char	*s;
	size_t	 i;

	reply = complete_call(ctx, "list", name);
	pids = json_object_get(reply, "pids");
	for (i = 0; i < json_array_size(pids); i++) {
		s = pyjson_str(json_array_get(pids, i));
		complete_add(l, s);
		free(s);
	}
	json_decref(reply);
}

/* Keys accepted by `set`, with the prefix families expanded. */
static void
complete_set_keys(struct complete_list *l)
{
	static const char *const streams[] = { "class", "filename",
	    "max_bytes", "backup_count", "time_format", NULL };
	static const char *const rlimits[] = { "as", "core", "cpu", "data",
	    "fsize", "memlock", "nofile", "nproc", "rss", "stack", NULL };
	const char *const	*p;
	char			*s;
	size_t			 n;

	for (p = ctl_set_keys; *p != NULL; p++) {
		n = strlen(*p);
		if ((*p)[n - 1] != '.' && (*p)[n - 1] != '_')
			complete_add(l, *p);
	}
	for (p = ctl_hook_names; *p != NULL; p++) {
		s = xprintf("hooks.%s", *p);
		complete_add(l, s);
		free(s);
	}
	for (p = streams; *p != NULL; p++) {
		s = xprintf("stdout_stream.%s", *p);
		complete_add(l, s);
		free(s);
		s = xprintf("stderr_stream.%s", *p);
		complete_add(l, s);
		free(s);
	}
	for (p = rlimits; *p != NULL; p++) {
		s = xprintf("rlimit_%s", *p);
		complete_add(l, s);
		free(s);
	}
}

/*
 * Candidates for the positional slot s; pos holds the positional words
 * typed so far (npos of them) and off is the index within a rest slot.
 */
static void
complete_slot(struct complete_list *l, struct ctl_ctx *ctx,
    const struct ctl_slot *s, char *const *pos, size_t npos, size_t off)
{
	static const char *const bools[] = { "true", "false", NULL };
	static const char *const bool_keys[] = { "send_hup", "stop_children",
	    "shell", "copy_env", "respawn", "singleton", "close_child_stdin",
	    "close_child_stdout", "close_child_stderr", NULL };
	const char	*key, *const *p;
	char		*hook;

	if (strcmp(s->meta, "name") == 0)
		complete_watchers(l, ctx, NULL);
	else if (strcmp(s->meta, "signum") == 0)
		complete_signals(l);
	else if (strcmp(s->meta, "keys") == 0)
		complete_add_list(l, ctl_option_keys);
	else if (strcmp(s->meta, "option") == 0)
		complete_add_list(l, ctl_globaloption_names);
	else if (strcmp(s->meta, "topic") == 0) {
		complete_add(l, "watcher.");
		complete_watchers(l, ctx, "watcher.%s.");
	} else if ((strcmp(s->meta, "pid") == 0 ||
	    strcmp(s->meta, "process") == 0) && npos > 0)
		complete_pids(l, ctx, pos[0]);
	else if (s->kind == CTL_SLOT_PAIRS) {
		if (off % 2 == 0) {
			complete_set_keys(l);
			return;
		}
		key = pos[npos - 1];
		for (p = bool_keys; *p != NULL; p++) {
			if (strcasecmp(*p, key) == 0)
				complete_add_list(l, bools);
		}
		if (strcasecmp(key, "stop_signal") == 0)
			complete_signals(l);
		if (strcasecmp(key, "hooks") == 0) {
			for (p = ctl_hook_names; *p != NULL; p++) {
				hook = xprintf("%s:", *p);
				complete_add(l, hook);
				free(hook);
			}
		}
	}
}

/* The value option of g named by word ("--signum", "--sig"), or NULL. */
static const struct ctl_slot *
complete_value_option(const struct ctl_grammar *g, const char *word)
{
	const struct ctl_slot	*hit = NULL;
	size_t			 i, len, nhits = 0;

	if (strncmp(word, "--", 2) != 0 || strchr(word, '=') != NULL)
		return NULL;
	word += 2;
	len = strlen(word);
	for (i = 0; i < g->nslots; i++) {
		if (g->slots[i].option == NULL ||
		    strncmp(g->slots[i].option, word, len) != 0)
			continue;
		if (strlen(g->slots[i].option) == len) {
			hit = &g->slots[i];
			nhits = 1;
			break;
		}
		hit = &g->slots[i];
		nhits++;
	}
	if (nhits != 1 || hit->kind != CTL_SLOT_VALUE)
		return NULL;
	return hit;
}

/* qsort comparator for candidates. */
static int
complete_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Candidates for the word being typed (current), given the nwords words
 * before it (without the program name). In shell mode the first word is
 * the command and "help"/"exit" are commands too. Returns a sorted,
 * de-duplicated, NULL-terminated array (free with complete_free).
 */
char **
complete_words(struct ctl_ctx *ctx, int nwords, char *const *words,
    const char *current, bool shell)
{
	static const char *const globals[] = { "--client_cert",
	    "--discover", "--endpoint", "--fleet", "--help", "--json",
	    "--multicast", "--prettify", "--server_key", "--ssh",
	    "--ssh_keyfile", "--timeout", "--version", NULL };
	static const char *const values[] = { "--client_cert", "--endpoint",
	    "--fleet", "--multicast", "--server_key", "--ssh",
	    "--ssh_keyfile", "--timeout", NULL };
	struct complete_list		 l = { NULL, 0, current };
	const struct ctl_entry		*e = NULL;
	const struct ctl_grammar	*g;
	const struct ctl_slot		*s, *vopt = NULL;
	char				**pos, *opt, *choices, *c, *last;
	const char *const		*p;
	size_t				 npos = 0, i, j, k, n, before;
	int				 w = 0, cmd = -1;

	if (nwords < 0)
		nwords = 0;
	if (shell) {
		if (nwords > 0)
			cmd = 0;
	} else {
		for (w = 0; w < nwords; w++) {
			if (strncmp(words[w], "--", 2) == 0) {
				for (p = values; *p != NULL; p++) {
					if (strchr(words[w], '=') == NULL &&
					    strncmp(*p, words[w],
					    strlen(words[w])) == 0 &&
					    strlen(words[w]) > 3)
						break;
				}
				if (*p == NULL) {
					/* --endpoint=<value> */
					if (strncmp(words[w], "--endpoint=", 11)
					    == 0 && ctx->client == NULL) {
						free(ctx->endpoint);
						ctx->endpoint = xstrdup(words[w] +
						    11);
					}
					continue;
				}
				if (w + 1 >= nwords)
					goto done;	/* typing its value */
				if (strcmp(*p, "--endpoint") == 0 &&
				    ctx->client == NULL) {
					free(ctx->endpoint);
					ctx->endpoint = xstrdup(words[w + 1]);
				}
				w++;
				continue;
			}
			if (ctl_find(words[w]) != NULL) {
				cmd = w;
				break;
			}
		}
	}
	if (cmd < 0) {
		if (!shell && current[0] == '-') {
			complete_add_list(&l, globals);
			goto done;
		}
		for (i = 0; i < ctl_table_size; i++)
			complete_add(&l, ctl_table[i].name);
		if (shell) {
			complete_add(&l, "help");
			complete_add(&l, "exit");
		}
		goto done;
	}
	if (shell && strcmp(words[0], "help") == 0) {
		if (nwords == 1) {
			for (i = 0; i < ctl_table_size; i++)
				complete_add(&l, ctl_table[i].name);
			complete_add(&l, "help");
			complete_add(&l, "exit");
		}
		goto done;
	}
	e = ctl_find(words[cmd]);
	if (e == NULL)
		goto done;
	g = ctl_grammar(e);

	/* Sort the words after the command into positionals and options. */
	pos = xcalloc((size_t)nwords + 1, sizeof *pos);
	for (w = cmd + 1; w < nwords; w++) {
		if (vopt != NULL) {
			vopt = NULL;
			continue;
		}
		if (words[w][0] == '-' && words[w][1] != '\0' &&
		    !isdigit((unsigned char)words[w][1])) {
			vopt = complete_value_option(g, words[w]);
			continue;
		}
		pos[npos++] = words[w];
	}
	if (vopt != NULL) {
		/* Completing the value of an option. */
		if (strcmp(vopt->meta, "signum") == 0)
			complete_signals(&l);
		else if (strchr(vopt->meta, '|') != NULL) {
			choices = xstrdup(vopt->meta);
			for (c = strtok_r(choices, "|", &last); c != NULL;
			    c = strtok_r(NULL, "|", &last))
				complete_add(&l, c);
			free(choices);
		}
		free(pos);
		goto done;
	}
	if (strncmp(current, "--", 2) == 0 && strchr(current, '=') != NULL) {
		/* "--match=re": the value, written back with its option. */
		opt = xstrndup(current, (size_t)(strchr(current, '=') -
		    current));
		vopt = complete_value_option(g, opt);
		free(opt);
		if (vopt != NULL && strchr(vopt->meta, '|') != NULL) {
			l.prefix = strchr(current, '=') + 1;
			choices = xstrdup(vopt->meta);
			for (c = strtok_r(choices, "|", &last); c != NULL;
			    c = strtok_r(NULL, "|", &last)) {
				opt = xprintf("--%s=%s", vopt->option, c);
				if (strncmp(c, l.prefix, strlen(l.prefix)) == 0) {
					l.prefix = "";
					complete_add(&l, opt);
					l.prefix = strchr(current, '=') + 1;
				}
				free(opt);
			}
			free(choices);
		} else if (vopt != NULL && strcmp(vopt->meta, "signum") == 0) {
			struct complete_list sig = { NULL, 0,
			    strchr(current, '=') + 1 };

			complete_signals(&sig);
			l.prefix = "";
			for (i = 0; i < sig.n; i++) {
				opt = xprintf("--%s=%s", vopt->option,
				    sig.v[i]);
				complete_add(&l, opt);
				free(opt);
			}
			complete_free(sig.v);
		}
		free(pos);
		goto done;
	}
	if (current[0] == '-') {
		complete_add(&l, "--help");
		for (i = 0; i < g->nslots; i++) {
			if (g->slots[i].option == NULL)
				continue;
			opt = xprintf("--%s", g->slots[i].option);
			complete_add(&l, opt);
			free(opt);
		}
		free(pos);
		goto done;
	}
	/* Which positional slot is being typed? */
	before = 0;
	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		if (s->kind == CTL_SLOT_POS) {
			if (npos == before) {
				complete_slot(&l, ctx, s, pos, npos, 0);
				/* An optional pid may be skipped: offer what
				 * comes after it too (signal's <signum>). */
				if (!s->optional || (strcmp(s->meta, "pid") != 0
				    && strcmp(s->meta, "process") != 0))
					break;
				for (k = i + 1; k < g->nslots; k++) {
					if (g->slots[k].kind == CTL_SLOT_POS) {
						complete_slot(&l, ctx,
						    &g->slots[k], pos, npos, 0);
						break;
					}
				}
				break;
			}
			before++;
		} else if (s->kind == CTL_SLOT_REST ||
		    s->kind == CTL_SLOT_LIST || s->kind == CTL_SLOT_PAIRS) {
			if (npos >= before)
				complete_slot(&l, ctx, s, pos, npos,
				    npos - before);
			break;
		}
	}
	free(pos);
done:
	if (l.v == NULL) {
		l.v = xcalloc(1, sizeof *l.v);
		return l.v;
	}
	qsort(l.v, l.n, sizeof *l.v, complete_compare);
	for (i = 0, j = 0; i < l.n; i++) {
		if (j > 0 && strcmp(l.v[j - 1], l.v[i]) == 0) {
			free(l.v[i]);
			continue;
		}
		l.v[j++] = l.v[i];
	}
	for (n = j; n < l.n; n++)
		l.v[n] = NULL;
	l.v[j] = NULL;
	return l.v;
}

/* Free a candidate array. */
void
complete_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
