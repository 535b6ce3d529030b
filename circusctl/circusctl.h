/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusctl: private header. Every type of the program, then one prototype
 * section per file. Commands are grammar lines (ctl-table.c) that drive
 * request building, help and completion alike.
 */
#ifndef CIRCUSCTL_H
#define CIRCUSCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "client.h"
#include "compat.h"

/* Exit status (doc/design.md §17.6; documented in --help and circusctl.1). */
#define CTL_EXIT_OK		0	/* success */
#define CTL_EXIT_FAILURE	1	/* bad command arguments, timeout,
					   unreachable daemon, interrupted */
#define CTL_EXIT_USAGE		2	/* unknown option/command, bad --timeout */
#define CTL_EXIT_REPLY		3	/* the daemon replied with an error */
/* Internal: the command asked for its help, which was printed. */
#define CTL_EXIT_HELP		-1

#define CTL_USAGE "circusctl [options] command [args]"
#define CTL_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"
#define CTL_DEFAULT_PUBSUB "tcp://127.0.0.1:5556"

/* What a grammar slot is. */
enum ctl_slot_kind {
	CTL_SLOT_POS,		/* <prop> or [<prop>] */
	CTL_SLOT_REST,		/* <prop...>: the rest, joined by spaces */
	CTL_SLOT_LIST,		/* <prop+>: the rest, as an array */
	CTL_SLOT_PAIRS,		/* <prop:pairs>: key value ... as an object */
	CTL_SLOT_IGNORE,	/* [...]: extra arguments are ignored */
	CTL_SLOT_FLAG,		/* [--flag]: boolean option */
	CTL_SLOT_VALUE,		/* [--opt <meta>]: option taking a value */
};

/* When an option's property is put in the request. */
enum ctl_send {
	CTL_SEND_ALWAYS,	/* with its default when not given */
	CTL_SEND_IF_SET,	/* only when given */
	CTL_SEND_NEVER,		/* accepted and dropped (Circus does so) */
};

/* One parsed element of a grammar line. */
struct ctl_slot {
	enum ctl_slot_kind	 kind;
	char			*option;	/* option name, no dashes */
	char			*prop;		/* JSON property filled */
	char			*meta;		/* placeholder shown in help */
	bool			 optional;	/* positional in [...] */
	bool			 is_int;	/* convert with Python int() */
	bool			 negate;	/* flag stores its negation */
	enum ctl_send		 send;
	char			*defval;	/* value option default */
};

/* A command's grammar line, parsed. */
struct ctl_grammar {
	struct ctl_slot		*slots;
	size_t			 nslots;
	size_t			 npos_required;
	size_t			 npos_optional;
	bool			 rest;		/* a REST/LIST/PAIRS slot */
	bool			 ignore_extra;
};

struct ctl_entry;
/* Render a reply in plain mode; returns an allocated string. */
typedef char *(*ctl_print_fn)(const struct ctl_entry *, const json_t *);

#define CTL_SUB		0x1	/* listen: a SUB socket, not a call */
#define CTL_LOCAL	0x2	/* keygen: runs here, nothing is sent */

/* One circusctl command (ctl-table.c). */
struct ctl_entry {
	const char	*name;
	const char	*grammar;	/* "incr <name> [<nb:int>] [--waiting]" */
	const char	*title;		/* one line, for --help */
	const char	*order;		/* request property order, or NULL */
	const char	*argerr;	/* text for a bad positional count */
	const char	*help;		/* prose for "help <command>" */
	const char	*message;	/* example request properties */
	ctl_print_fn	 print;
	ctl_print_fn	 print_verbose;	/* with --verbose, or NULL */
	int		 flags;
};

/* Global options (doc/design.md §17.6). */
struct ctl_globals {
	char		*endpoint;	/* NULL: env or default */
	int		 timeout_s;
	bool		 json;
	bool		 prettify;
	bool		 help;
	bool		 version;
	bool		 shell;		/* "shell" given as the command */
	char		*ssh;
	char		*ssh_keyfile;
	char		**endpoints;	/* every --endpoint, in order */
	size_t		 nendpoints;
	char		*client_cert;	/* CURVE: our certificate */
	char		*server_key;	/* CURVE: Z85 key or certificate */
	char		*fleet;		/* fleet file */
	bool		 discover;
	char		*multicast;	/* for --discover */
};

/* A parsed command line, ready to run. */
struct ctl_request {
	const struct ctl_entry	*entry;
	json_t			*message;	/* {"command":..,"properties":..} */
	json_t			*topics;	/* listen: array of strings */
	bool			 verbose;	/* --verbose: never sent */
	bool			 rolling;	/* restart/reload --rolling */
};

/* State shared by one-shot runs and the shell. */
struct ctl_ctx {
	struct ctl_globals	 globals;
	char			*endpoint;	/* resolved control endpoint */
	struct client		*client;	/* opened on first use */
	pid_t			 tunnel;	/* ssh tunnel, or 0 */
	char			*tunnel_endpoint;
	bool			 in_shell;
	struct fleet		*fleet;		/* several daemons, or NULL */
};

extern volatile sig_atomic_t ctl_interrupted;

/* ctl-table.c */
extern const struct ctl_entry ctl_table[];
extern const size_t ctl_table_size;
const struct ctl_entry	*ctl_find(const char *);
int			 ctl_grammar_parse(const char *, struct ctl_grammar *,
			     char **);
void			 ctl_grammar_free(struct ctl_grammar *);
const struct ctl_grammar *ctl_grammar(const struct ctl_entry *);
void			 ctl_grammars_free(void);
char			*ctl_synopsis(const struct ctl_entry *);
char			*ctl_sub_usage(const struct ctl_entry *);
const char		*ctl_option_help(const char *);
int			 ctl_parse_command(const struct ctl_entry *, int,
			     char *const *, struct ctl_request *, char **);
void			 ctl_request_clear(struct ctl_request *);
int			 ctl_py_int(const char *, json_int_t *);
int			 ctl_py_float(const char *, double *);
int			 ctl_convert_option(const char *, const char *,
			     json_t **, char **);
extern const char *const ctl_option_keys[];
extern const char *const ctl_set_keys[];
extern const char *const ctl_hook_names[];
extern const char *const ctl_globaloption_names[];

/* print.c */
char	*print_default(const struct ctl_entry *, const json_t *);
char	*print_status(const struct ctl_entry *, const json_t *);
char	*print_status_verbose(const struct ctl_entry *, const json_t *);
char	*print_list(const struct ctl_entry *, const json_t *);
char	*print_options(const struct ctl_entry *, const json_t *);
char	*print_globaloptions(const struct ctl_entry *, const json_t *);
char	*print_incr(const struct ctl_entry *, const json_t *);
char	*print_number(const struct ctl_entry *, const json_t *);
char	*print_ipython(const struct ctl_entry *, const json_t *);
char	*print_listsockets(const struct ctl_entry *, const json_t *);
char	*print_stats(const struct ctl_entry *, const json_t *);
char	*print_dstats(const struct ctl_entry *, const json_t *);
char	*print_reloadconfig(const struct ctl_entry *, const json_t *);
char	*print_opt_value(const char *, const json_t *);
bool	 print_is_error(const json_t *);
char	*print_event(const char *, size_t, const char *, size_t, bool);

/* ctl-run.c */
int	 ctl_parse_globals(int, char *const *, struct ctl_globals *, int *,
	     char **);
void	 ctl_globals_clear(struct ctl_globals *);
void	 ctl_ctx_init(struct ctl_ctx *, const struct ctl_globals *);
void	 ctl_ctx_clear(struct ctl_ctx *);
int	 ctl_run(struct ctl_ctx *, int, char *const *);
int	 ctl_call(struct ctl_ctx *, json_t *, int, json_t **, char **);
void	 ctl_print_main_help(FILE *);
void	 ctl_print_command_help(const struct ctl_entry *, FILE *);
void	 ctl_usage_error(const char *, const char *);
int	 ctl_autocomplete(struct ctl_ctx *);

/* fleet.c */
struct fleet;
int	 fleet_setup(struct ctl_ctx *, char **);
void	 fleet_free(struct fleet *);
int	 fleet_run(struct ctl_ctx *, const struct ctl_request *);
int	 fleet_list_discovered(struct ctl_ctx *);

/* keys.c */
bool	 keys_is_z85(const char *);
int	 keys_load(const char *, const char *, struct client_curve *, char **);
int	 keys_keygen(const char *);

/* complete.c */
char	**complete_words(struct ctl_ctx *, int, char *const *, const char *,
	      bool);
void	  complete_free(char **);

/* shell.c */
int	 shell_main(struct ctl_ctx *);
void	 shell_columnize(FILE *, const char *const *, size_t, size_t);

#endif
