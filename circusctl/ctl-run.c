/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running circusctl commands: global options (argparse rules), one command
 * line to one request, the call, the output and the exit status; `listen`
 * on the pub/sub channel; help texts; the bash completion hook. Shared by
 * one-shot runs and the interactive shell.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "circusctl.h"
#include "pyjson.h"
#include "xmalloc.h"

volatile sig_atomic_t ctl_interrupted;

/* Global options in help order; "value" options take an argument. */
static const struct {
	const char	*name;
	bool		 value;
	const char	*metavar;
	const char	*help;
} ctl_globals_table[] = {
	{ "client_cert", true, "CERT",
	    "this client's CURVE certificate (made by keygen)" },
	{ "discover", false, NULL,
	    "the daemons answering multicast discovery" },
	{ "endpoint", true, "ENDPOINT",
	    "connection endpoint (repeat it for a fleet)" },
	{ "fleet", true, "FILE", "a fleet file: NAME ENDPOINT [SERVER_KEY]" },
	{ "help", false, NULL, "Show help and exit" },
	{ "json", false, NULL, "output to JSON" },
	{ "multicast", true, "UDP", "multicast endpoint for --discover" },
	{ "prettify", false, NULL, "prettify output" },
	{ "server_key", true, "KEY",
	    "the daemon's CURVE public key, or its public certificate" },
	{ "ssh", true, "SSH", "SSH Server in the format user@host:port" },
	{ "ssh_keyfile", true, "SSH_KEYFILE",
	    "the path to the keyfile to authorise the user" },
	{ "timeout", true, "TIMEOUT", "connection timeout" },
	{ "version", false, NULL, "display version and exit" },
};

static int	 ctl_match_global(const char *, size_t, char **);
static bool	 ctl_set_flag(struct ctl_globals *, const char *);
static void	 ctl_set_value(struct ctl_globals *, const char *,
		     const char *);
static bool	 ctl_looks_negative(const char *);
static bool	 ctl_takes_value(size_t, const char *);
static int	 ctl_open_client(struct ctl_ctx *, char **);
static void	 ctl_report_failure(struct ctl_ctx *, int, const char *);
static int	 ctl_listen(struct ctl_ctx *, const struct ctl_request *);
static void	 ctl_print_sub_help(const struct ctl_entry *, FILE *);
static void	 ctl_print_option_line(FILE *, const char *, const char *);
static void	 ctl_output(const char *, FILE *);

/* Does s look like a negative number (so it is a value, not an option)? */
static bool
ctl_looks_negative(const char *s)
{
	size_t	i;

	if (s[0] != '-' || s[1] == '\0')
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
			return false;
	}
	return true;
}

/*
 * May word be the value of global option idx? As argparse: not when it
 * starts with '-' (it is then an option), unless it is "-" or a negative
 * number. Better than argparse: a Z85 key starts with '-' one time in 85,
 * and "--server_key -abc..." must not then fail with "expected one
 * argument", so a 40-character Z85 word is --server_key's value.
 */
static bool
ctl_takes_value(size_t idx, const char *word)
{
	if (word[0] != '-' || word[1] == '\0' || ctl_looks_negative(word))
		return true;
	return strcmp(ctl_globals_table[idx].name, "server_key") == 0 &&
	    keys_is_z85(word);
}

/*
 * Match a global option name (len bytes): exact, then unique prefix.
 * Returns its index, -1 if unknown, -2 if ambiguous (*cause set).
 */
static int
ctl_match_global(const char *name, size_t len, char **cause)
{
	char	*list = NULL, *next;
	size_t	 i;
	int	 hit = -1, nhits = 0;

	for (i = 0; i < nitems(ctl_globals_table); i++) {
		if (strlen(ctl_globals_table[i].name) == len &&
		    strncmp(ctl_globals_table[i].name, name, len) == 0)
			return (int)i;
	}
	for (i = 0; i < nitems(ctl_globals_table); i++) {
		if (strncmp(ctl_globals_table[i].name, name, len) != 0)
			continue;
		hit = (int)i;
		nhits++;
		next = list == NULL ? xprintf("--%s",
		    ctl_globals_table[i].name) : xprintf("%s, --%s", list,
		    ctl_globals_table[i].name);
		free(list);
		list = next;
	}
	if (nhits > 1) {
		*cause = xprintf("ambiguous option: --%.*s could match %s",
		    (int)len, name, list);
		free(list);
		return -2;
	}
	free(list);
	return hit;
}

/* Set a global flag option; true for --version (parsing stops). */
static bool
ctl_set_flag(struct ctl_globals *g, const char *name)
{
	if (strcmp(name, "help") == 0)
		g->help = true;
	else if (strcmp(name, "json") == 0)
		g->json = true;
	else if (strcmp(name, "prettify") == 0)
		g->prettify = true;
	else if (strcmp(name, "discover") == 0)
		g->discover = true;
	else if (strcmp(name, "version") == 0) {
		g->version = true;
		return true;
	}
	return false;
}

/* Set a global string option; --endpoint accumulates (a fleet). */
static void
ctl_set_value(struct ctl_globals *g, const char *name, const char *value)
{
	char	**dst = NULL;

	if (strcmp(name, "endpoint") == 0) {
		g->endpoints = xreallocarray(g->endpoints, g->nendpoints + 1,
		    sizeof *g->endpoints);
		g->endpoints[g->nendpoints++] = xstrdup(value);
		dst = &g->endpoint;
	} else if (strcmp(name, "ssh") == 0)
		dst = &g->ssh;
	else if (strcmp(name, "ssh_keyfile") == 0)
		dst = &g->ssh_keyfile;
	else if (strcmp(name, "client_cert") == 0)
		dst = &g->client_cert;
	else if (strcmp(name, "server_key") == 0)
		dst = &g->server_key;
	else if (strcmp(name, "fleet") == 0)
		dst = &g->fleet;
	else if (strcmp(name, "multicast") == 0)
		dst = &g->multicast;
	if (dst == NULL)
		return;
	free(*dst);
	*dst = xstrdup(value);
}

/*
 * Parse the global options before the command (argv without the program
 * name). *cmdidx is the index of the command word, or -1. Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE with *cause (argparse's error text).
 */
int
ctl_parse_globals(int argc, char *const *argv, struct ctl_globals *g,
    int *cmdidx, char **cause)
{
	const char	*arg, *eq, *value;
	char		*extras = NULL, *next, *choices, *tmp;
	json_int_t	 t;
	bool		 any_cmd = false, dashdash = false;
	size_t		 len, k;
	int		 i, idx;

	memset(g, 0, sizeof *g);
	g->timeout_s = 5;
	*cmdidx = -1;
	for (i = 0; i < argc; i++) {
		if (ctl_find(argv[i]) != NULL || strcmp(argv[i], "shell") == 0)
			any_cmd = true;
	}
	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (!dashdash && strcmp(arg, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && arg[0] == '-' && arg[1] != '\0' &&
		    !ctl_looks_negative(arg)) {
			if (arg[1] != '-')
				goto extra;
			eq = strchr(arg + 2, '=');
			len = eq != NULL ? (size_t)(eq - arg - 2) :
			    strlen(arg + 2);
			idx = ctl_match_global(arg + 2, len, cause);
			if (idx == -2)
				goto fail;
			if (idx == -1)
				goto extra;
			if (!ctl_globals_table[idx].value) {
				if (eq != NULL) {
					*cause = xprintf("argument --%s: "
					    "ignored explicit argument '%s'",
					    ctl_globals_table[idx].name,
					    eq + 1);
					goto fail;
				}
				if (ctl_set_flag(g, ctl_globals_table[idx].name)) {
					free(extras);
					return CTL_EXIT_OK;
				}
				continue;
			}
			if (eq != NULL)
				value = eq + 1;
			else if (i + 1 < argc && ctl_takes_value((size_t)idx,
			    argv[i + 1]))
				value = argv[++i];
			else {
				*cause = xprintf("argument --%s: expected one "
				    "argument", ctl_globals_table[idx].name);
				goto fail;
			}
			if (strcmp(ctl_globals_table[idx].name, "timeout") ==
			    0) {
				if (ctl_py_int(value, &t) != 0 ||
				    t > 86400 * 365 || t < -86400 * 365) {
					*cause = xprintf("argument --timeout: "
					    "invalid int value: '%s'", value);
					goto fail;
				}
				g->timeout_s = (int)t;
			} else
				ctl_set_value(g, ctl_globals_table[idx].name,
				    value);
			continue;
		}
		/* A positional word. */
		if (strcmp(arg, "help") == 0 && !g->help && !g->shell) {
			/* "circusctl help [command]", as in the shell */
			g->help = true;
			continue;
		}
		if (!any_cmd)
			goto extra;
		if (strcmp(arg, "shell") == 0 && !g->shell) {
			/* "circusctl shell": the interactive shell. */
			g->shell = true;
			any_cmd = false;
			continue;
		}
		if (ctl_find(arg) == NULL) {
			choices = NULL;
			for (k = 0; k < ctl_table_size; k++) {
				tmp = choices == NULL ?
				    xprintf("'%s'", ctl_table[k].name) :
				    xprintf("%s, '%s'", choices,
				    ctl_table[k].name);
				free(choices);
				choices = tmp;
			}
			*cause = xprintf("argument command: invalid choice: "
			    "'%s' (choose from %s)", arg, choices);
			free(choices);
			goto fail;
		}
		*cmdidx = i;
		break;
extra:
		next = extras == NULL ? xstrdup(arg) :
		    xprintf("%s %s", extras, arg);
		free(extras);
		extras = next;
	}
	if (extras != NULL) {
		*cause = xprintf("unrecognized arguments: %s", extras);
		goto fail;
	}
	return CTL_EXIT_OK;
fail:
	free(extras);
	ctl_globals_clear(g);
	return CTL_EXIT_USAGE;
}

/* Free the strings of parsed global options. */
void
ctl_globals_clear(struct ctl_globals *g)
{
	size_t	i;

	free(g->endpoint);
	free(g->ssh);
	free(g->ssh_keyfile);
	free(g->client_cert);
	free(g->server_key);
	free(g->fleet);
	free(g->multicast);
	for (i = 0; i < g->nendpoints; i++)
		free(g->endpoints[i]);
	free(g->endpoints);
	g->endpoint = g->ssh = g->ssh_keyfile = NULL;
	g->client_cert = g->server_key = g->fleet = g->multicast = NULL;
	g->endpoints = NULL;
	g->nendpoints = 0;
}

/* Set up a context: the control endpoint is --endpoint, the environment's
 * CIRCUSCTL_ENDPOINT, or the default. The context owns a copy of g. */
void
ctl_ctx_init(struct ctl_ctx *ctx, const struct ctl_globals *g)
{
	const char	*env = getenv("CIRCUSCTL_ENDPOINT");

	memset(ctx, 0, sizeof *ctx);
	ctx->globals = *g;
	if (g->endpoint != NULL)
		ctx->endpoint = xstrdup(g->endpoint);
	else if (env != NULL && *env != '\0')
		ctx->endpoint = xstrdup(env);
	else
		ctx->endpoint = xstrdup(CTL_DEFAULT_ENDPOINT);
}

/* Close the client and tunnel, free the context. */
void
ctl_ctx_clear(struct ctl_ctx *ctx)
{
	client_free(ctx->client);
	fleet_free(ctx->fleet);
	client_tunnel_close(ctx->tunnel);
	free(ctx->tunnel_endpoint);
	free(ctx->endpoint);
	ctl_globals_clear(&ctx->globals);
	memset(ctx, 0, sizeof *ctx);
}

/* Open the control client (through ssh when asked). */
static int
ctl_open_client(struct ctl_ctx *ctx, char **cause)
{
	const char		*target = ctx->endpoint;
	struct client_curve	 keys;
	int			 curve;

	if (ctx->client != NULL)
		return 0;
	if (ctx->globals.ssh != NULL) {
		if (ctx->tunnel == 0 && client_tunnel_open(ctx->endpoint,
		    ctx->globals.ssh, ctx->globals.ssh_keyfile,
		    &ctx->tunnel_endpoint, &ctx->tunnel, cause) != 0)
			return -1;
		target = ctx->tunnel_endpoint;
	}
	if ((curve = keys_load(ctx->globals.client_cert,
	    ctx->globals.server_key, &keys, cause)) == -1)
		return -1;
	ctx->client = client_new_curve(target, curve ? &keys : NULL, cause);
	if (ctx->client == NULL)
		return -1;
	client_set_interrupt(ctx->client, &ctl_interrupted);
	return 0;
}

/*
 * Send a request and wait for its reply (timeout_ms, or the --timeout
 * when negative). Returns a CLIENT_* code; after a timeout the socket is
 * replaced so that nothing stale is delivered when the daemon comes back.
 */
int
ctl_call(struct ctl_ctx *ctx, json_t *message, int timeout_ms, json_t **reply,
    char **cause)
{
	char	*why;
	int	 rc;

	*reply = NULL;
	if (ctl_open_client(ctx, cause) != 0)
		return CLIENT_ERROR;
	if (timeout_ms < 0)
		timeout_ms = ctx->globals.timeout_s * 1000;
	rc = client_call(ctx->client, message, timeout_ms, reply, cause);
	if (rc == CLIENT_TIMEOUT || rc == CLIENT_UNREACHABLE ||
	    rc == CLIENT_INTERRUPTED) {
		if (client_reset(ctx->client, &why) != 0) {
			client_free(ctx->client);
			ctx->client = NULL;
			free(why);
		}
	}
	return rc;
}

/* Print a one-line message for a call that got no reply. */
static void
ctl_report_failure(struct ctl_ctx *ctx, int rc, const char *cause)
{
	char	*via = NULL;

	if (ctx->globals.ssh != NULL)
		via = xprintf(" (through ssh %s)", ctx->globals.ssh);
	switch (rc) {
	case CLIENT_UNREACHABLE:
		if (cause != NULL && strcmp(cause, CLIENT_KEY_REFUSED) == 0) {
			fprintf(stderr, "%s (%s) at %s%s: add its public key "
			    "to the daemon's curve_clients (or "
			    "curve_readonly_clients) directory.\n", cause,
			    ctx->globals.client_cert, ctx->endpoint,
			    via ? via : "");
			break;
		}
		fprintf(stderr, "Timed out. No connection to circusd at %s%s "
		    "within %d s: check that circusd is running and that "
		    "--endpoint (or CIRCUSCTL_ENDPOINT) is its control "
		    "endpoint%s.\n", ctx->endpoint, via ? via : "",
		    ctx->globals.timeout_s, ctx->globals.client_cert != NULL ?
		    ", and that it knows this client's CURVE key" : "");
		break;
	case CLIENT_TIMEOUT:
		fprintf(stderr, "Timed out. circusd at %s%s did not reply "
		    "within %d s: the operation may still be running; "
		    "raise --timeout (especially with --waiting).\n",
		    ctx->endpoint, via ? via : "", ctx->globals.timeout_s);
		break;
	case CLIENT_INTERRUPTED:
		fputc('\n', stderr);
		break;
	default:
		fprintf(stderr, "circusctl: %s%s: %s\n", ctx->endpoint,
		    via ? via : "", cause);
		break;
	}
	free(via);
}

/* Write s and a newline, then flush. */
static void
ctl_output(const char *s, FILE *f)
{
	fputs(s, f);
	fputc('\n', f);
	fflush(f);
}

/* Print a usage error as argparse does (main parser). */
void
ctl_usage_error(const char *usage, const char *cause)
{
	fprintf(stderr, "usage: %s\ncircusctl: error: %s\n",
	    usage != NULL ? usage : CTL_USAGE, cause);
}

/*
 * Run one command: argv[0] is the command name, the rest its words.
 * Returns the exit status.
 */
int
ctl_run(struct ctl_ctx *ctx, int argc, char *const *argv)
{
	const struct ctl_entry	*e = ctl_find(argv[0]);
	struct ctl_request	 req;
	json_t			*reply;
	char			*cause = NULL, *out, *usage;
	ctl_print_fn		 print;
	int			 rc;

	if (e == NULL) {
		fprintf(stderr, "circusctl: unknown command '%s'\n", argv[0]);
		return CTL_EXIT_USAGE;
	}
	rc = ctl_parse_command(e, argc - 1, argv + 1, &req, &cause);
	if (rc == CTL_EXIT_HELP) {
		ctl_print_sub_help(e, stdout);
		return CTL_EXIT_OK;
	}
	if (rc == CTL_EXIT_USAGE) {
		if (strncmp(cause, "unrecognized", 12) == 0)
			ctl_usage_error(NULL, cause);
		else {
			usage = ctl_sub_usage(e);
			fprintf(stderr, "usage: %s\n%s %s: error: %s\n", usage,
			    CTL_USAGE, e->name, cause);
			free(usage);
		}
		free(cause);
		return CTL_EXIT_USAGE;
	}
	if (ctx->globals.help) {
		free(cause);
		ctl_request_clear(&req);
		ctl_print_command_help(e, stdout);
		return CTL_EXIT_OK;
	}
	if (rc != CTL_EXIT_OK) {
		ctl_output(cause, stderr);
		free(cause);
		return rc;
	}
	if (e->flags & CTL_LOCAL) {
		rc = keys_keygen(json_string_value(json_object_get(
		    json_object_get(req.message, "properties"), "path")));
		ctl_request_clear(&req);
		return rc;
	}
	if (ctx->fleet != NULL) {
		rc = fleet_run(ctx, &req);
		ctl_request_clear(&req);
		return rc;
	}
	if (e->flags & CTL_SUB) {
		rc = ctl_listen(ctx, &req);
		ctl_request_clear(&req);
		return rc;
	}
	print = req.verbose && e->print_verbose != NULL ? e->print_verbose :
	    e->print;
	rc = ctl_call(ctx, req.message, -1, &reply, &cause);
	ctl_request_clear(&req);
	if (rc != CLIENT_OK) {
		ctl_report_failure(ctx, rc, cause);
		free(cause);
		return CTL_EXIT_FAILURE;
	}
	if (ctx->globals.json) {
		out = ctx->globals.prettify ? pyjson_dumps_pretty(reply) :
		    pyjson_dumps(reply);
		ctl_output(out, stdout);
		rc = print_is_error(reply) ? CTL_EXIT_REPLY : CTL_EXIT_OK;
	} else {
		out = print(e, reply);
		if (print_is_error(reply)) {
			ctl_output(out, stderr);
			rc = CTL_EXIT_REPLY;
		} else {
			ctl_output(out, stdout);
			rc = CTL_EXIT_OK;
		}
	}
	free(out);
	json_decref(reply);
	return rc;
}

/*
 * listen: subscribe to the topics on the pub/sub endpoint and print each
 * event until interrupted (exit 1, as in Circus).
 */
static int
ctl_listen(struct ctl_ctx *ctx, const struct ctl_request *req)
{
	const char	*endpoint = ctx->globals.endpoint != NULL ?
			    ctx->globals.endpoint : CTL_DEFAULT_PUBSUB;
	zmq_pollitem_t	 item;
	zmq_msg_t	 frames[2];
	struct client_curve keys;
	void		*zctx, *sock;
	char		*line, *cause = NULL;
	int		 curve = 0;
	size_t		 i, nframes;
	int		 zero = 0, more, rc = CTL_EXIT_FAILURE;
	size_t		 moresz;

	if (strncmp(endpoint, "tcp://", 6) == 0 &&
	    (curve = keys_load(ctx->globals.client_cert,
	    ctx->globals.server_key, &keys, &cause)) == -1) {
		fprintf(stderr, "circusctl: %s\n", cause);
		free(cause);
		return CTL_EXIT_FAILURE;
	}
	zctx = zmq_ctx_new();
	sock = zmq_socket(zctx, ZMQ_SUB);
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
	if (curve == 1 && client_curve_apply(sock, &keys) != 0) {
		fprintf(stderr, "circusctl: cannot set CURVE keys: %s\n",
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	for (i = 0; i < json_array_size(req->topics); i++) {
		const json_t *t = json_array_get(req->topics, i);

		zmq_setsockopt(sock, ZMQ_SUBSCRIBE, json_string_value(t),
		    json_string_length(t));
	}
	if (zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "circusctl: cannot connect to %s: %s\n",
		    endpoint, zmq_strerror(zmq_errno()));
		goto out;
	}
	for (;;) {
		if (ctl_interrupted)
			break;
		memset(&item, 0, sizeof item);
		item.socket = sock;
		item.events = ZMQ_POLLIN;
		if (zmq_poll(&item, 1, -1) == -1) {
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "circusctl: %s\n",
			    zmq_strerror(zmq_errno()));
			break;
		}
		nframes = 0;
		do {
			zmq_msg_t extra;
			zmq_msg_t *m = nframes < 2 ? &frames[nframes] : &extra;

			zmq_msg_init(m);
			if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) == -1) {
				zmq_msg_close(m);
				break;
			}
			moresz = sizeof more;
			zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &moresz);
			if (m == &extra)
				zmq_msg_close(m);
			nframes++;
		} while (more);
		if (nframes == 2) {
			line = print_event(zmq_msg_data(&frames[0]),
			    zmq_msg_size(&frames[0]), zmq_msg_data(&frames[1]),
			    zmq_msg_size(&frames[1]), ctx->globals.json);
			ctl_output(line, stdout);
			free(line);
		}
		for (i = 0; i < nframes && i < 2; i++)
			zmq_msg_close(&frames[i]);
	}
	if (ctx->in_shell)
		fputc('\n', stdout);
out:
	zmq_close(sock);
	zmq_ctx_term(zctx);
	return rc;
}

/* One argparse-style option line: name at column 2, help at column 24. */
static void
ctl_print_option_line(FILE *f, const char *invocation, const char *help)
{
	if (strlen(invocation) <= 20)
		fprintf(f, "  %-22s%s\n", invocation, help);
	else
		fprintf(f, "  %s\n%24s%s\n", invocation, "", help);
}

/* circusctl --help. */
void
ctl_print_main_help(FILE *f)
{
	char	*inv;
	size_t	 i;

	fprintf(f, "usage: %s\n\nControls a Circus daemon\n\nCommands:\n",
	    CTL_USAGE);
	for (i = 0; i < ctl_table_size; i++)
		ctl_print_option_line(f, ctl_table[i].name,
		    ctl_table[i].title);
	fputs("\noptions:\n", f);
	for (i = 0; i < nitems(ctl_globals_table); i++) {
		if (ctl_globals_table[i].value)
			inv = xprintf("--%s %s", ctl_globals_table[i].name,
			    ctl_globals_table[i].metavar);
		else
			inv = xprintf("--%s", ctl_globals_table[i].name);
		ctl_print_option_line(f, inv, ctl_globals_table[i].help);
		free(inv);
	}
	fputs("\n"
	    "Global options go before the command. Without a command (or "
	    "with \"shell\"),\n"
	    "circusctl starts an interactive shell; leave it with exit or "
	    "Ctrl-D.\n"
	    "\"circusctl help <command>\" (or --help <command>) describes a "
	    "command.\nThe endpoint defaults to "
	    "$CIRCUSCTL_ENDPOINT, else " CTL_DEFAULT_ENDPOINT "\n"
	    "(for listen: " CTL_DEFAULT_PUBSUB "). --timeout is in whole "
	    "seconds (default 5).\n"
	    "\n"
	    "exit status:\n"
	    "  0  success\n"
	    "  1  bad arguments for the command, circusd unreachable or "
	    "timed out,\n"
	    "     interrupted (Ctrl-C, which is also how listen ends)\n"
	    "  2  usage error: unknown option or command, bad --timeout\n"
	    "  3  circusd replied with an error (with --json too)\n"
	    "\n"
	    "A fleet (several --endpoint, --fleet FILE or --discover): the "
	    "command runs on\n"
	    "every daemon at once, output is grouped under \"== host\" "
	    "lines (--json: an\n"
	    "object keyed by host); exit 1 if any host was unreachable, "
	    "timed out or not\n"
	    "run, else 3 if any replied with an error. restart/reload "
	    "--rolling go host by\n"
	    "host, each back to full strength before the next. A fleet file "
	    "has one host a\n"
	    "line: NAME ENDPOINT [SERVER_KEY]. keygen PATH makes CurveZMQ "
	    "keys for\n"
	    "--client_cert and the daemon's curve_server_cert.\n", f);
}

/* circusctl <command> -h: argparse-style usage and options. */
static void
ctl_print_sub_help(const struct ctl_entry *e, FILE *f)
{
	const struct ctl_grammar	*g = ctl_grammar(e);
	const struct ctl_slot		*s;
	char				*usage, *inv, *upper, *p;
	size_t				 i;

	usage = ctl_sub_usage(e);
	fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, e->title);
	free(usage);
	ctl_print_option_line(f, "-h, --help", "show this help message and "
	    "exit");
	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		if (s->kind == CTL_SLOT_FLAG)
			inv = xprintf("--%s", s->option);
		else if (s->kind == CTL_SLOT_VALUE) {
			upper = xstrdup(s->option);
			for (p = upper; *p != '\0'; p++) {
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			}
			inv = xprintf("--%s %s", s->option, upper);
			free(upper);
		} else
			continue;
		ctl_print_option_line(f, inv, ctl_option_help(s->option));
		free(inv);
	}
	fprintf(f, "\n%s\n", e->help);
}

/* circusctl --help <command>, and "help <command>" in the shell. */
void
ctl_print_command_help(const struct ctl_entry *e, FILE *f)
{
	const struct ctl_grammar	*g = ctl_grammar(e);
	const struct ctl_slot		*s;
	char				*syn, *inv;
	size_t				 i, n;
	bool				 header = false;

	fprintf(f, "%s\n", e->title);
	for (n = strlen(e->title); n > 0; n--)
		fputc('=', f);
	fprintf(f, "\n\n%s\n\nRequest:\n    %s\n\n", e->help, e->message);
	syn = ctl_synopsis(e);
	fprintf(f, "Command line:\n    circusctl %s\n", syn);
	free(syn);
	for (i = 0; i < g->nslots; i++) {
		s = &g->slots[i];
		if (s->kind != CTL_SLOT_FLAG && s->kind != CTL_SLOT_VALUE)
			continue;
		if (!header)
			fputs("\nOptions:\n", f);
		header = true;
		if (s->kind == CTL_SLOT_VALUE)
			inv = xprintf("--%s <%s>", s->option, s->meta);
		else
			inv = xprintf("--%s", s->option);
		fprintf(f, "    %-24s%s\n", inv, ctl_option_help(s->option));
		free(inv);
	}
}

/*
 * Bash completion hook (doc/design.md §17.6, extended past the first word):
 * read COMP_WORDS and COMP_CWORD, print the candidates separated by spaces.
 * The caller exits 1 afterwards, as Circus does.
 */
int
ctl_autocomplete(struct ctl_ctx *ctx)
{
	const char	*words_env = getenv("COMP_WORDS");
	const char	*cword_env = getenv("COMP_CWORD");
	char		*copy, *w, *last, **words = NULL, **cands;
	const char	*current;
	json_int_t	 cword = 0;
	size_t		 nwords = 0, nbefore, i;

	if (words_env == NULL)
		words_env = "";
	if (cword_env == NULL || ctl_py_int(cword_env, &cword) != 0)
		cword = 0;
	copy = xstrdup(words_env);
	for (w = strtok_r(copy, " \t\n", &last); w != NULL;
	    w = strtok_r(NULL, " \t\n", &last)) {
		words = xreallocarray(words, nwords + 1, sizeof *words);
		words[nwords++] = w;
	}
	/* words[0] is the program; the word completed is words[cword]. */
	if (cword < 1)
		cword = 1;
	current = (size_t)cword < nwords ? words[cword] : "";
	nbefore = (size_t)cword - 1;
	if (nwords == 0)
		nbefore = 0;
	else if (nbefore > nwords - 1)
		nbefore = nwords - 1;
	cands = complete_words(ctx, (int)nbefore,
	    nwords > 1 ? words + 1 : words, current, false);
	for (i = 0; cands[i] != NULL; i++)
		printf("%s%s", i > 0 ? " " : "", cands[i]);
	printf("\n");
	complete_free(cands);
	free(words);
	free(copy);
	return CTL_EXIT_FAILURE;
}
