/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime every bundled plugin program shares (doc/design.md §11): Circus's
 * plugin command line and --config string, a SUB socket on the events
 * endpoint (prefix "watcher."), a DEALER for calls and casts with timeouts
 * (lib/client.c), one libev loop and a clean stop on SIGTERM/SIGINT.
 */
#ifndef CIRCUS_PLUGIN_H
#define CIRCUS_PLUGIN_H

#include <stdbool.h>

#include <ev.h>
#include <jansson.h>

/* How long a call waits for its reply, and a cast for a connection. */
#define PLUGIN_CALL_TIMEOUT_MS	10000

struct plugin;

/* What one plugin program provides. */
struct plugin_ops {
	const char	*name;		/* for logs: "flapping" */
	/* After the configuration is read and the sockets are open: set up
	 * state and timers. -1 refuses to run (exit 1). */
	int		(*init)(struct plugin *);
	/* One event: topic "watcher.<W>.<action>" split at its dots (NULL:
	 * the plugin does not use events). */
	void		(*event)(struct plugin *, const char *watcher,
			    const char *action, json_t *body);
	/* Every loop_rate seconds (the option, default loop_rate below;
	 * NULL: no periodic work). */
	void		(*tick)(struct plugin *);
	double		 loop_rate;
	/* SIGTERM or the loop ended: cancel timers, free state (NULL:
	 * nothing to do). */
	void		(*stop)(struct plugin *);
};

/* The main() of a plugin program. */
#define PLUGIN_MAIN(ops)						\
	int main(int argc, char **argv)					\
	{								\
		return (plugin_main(argc, argv, &(ops)));		\
	}

struct plugin {
	struct ev_loop	*loop;
	const char	*endpoint;
	const char	*pubsub;
	double		 check_delay;	/* --check-delay, default 0 (ours) */
	json_t		*config;	/* --config as an object of strings */
	void		*data;		/* the plugin's own state */
	/* runtime private */
	struct client	*client;
	void		*zctx;
	void		*sub;
	ev_io		 sub_io;
	ev_prepare	 sub_prepare;
	ev_signal	 sigterm;
	ev_signal	 sigint;
	ev_timer	 tick;
	const struct plugin_ops *ops;
	int		 statsd_fd;	/* -1 until plugin_statsd_open */
	char		*statsd_prefix;
	double		 statsd_rate;
};

/* Run a plugin: parse argv, connect, loop until SIGTERM. Exit status. */
int plugin_main(int argc, char **argv, const struct plugin_ops *);

/* Parse Circus's --config string: split on ":::", each item at its first
 * ':' into trimmed key and value; items without ':' are dropped. */
json_t *plugin_parse_config(const char *);

/* Configuration values; a bad number is logged and gives the default. */
const char *plugin_conf_str(struct plugin *, const char *key,
    const char *def);
double plugin_conf_float(struct plugin *, const char *key, double def);
long plugin_conf_int(struct plugin *, const char *key, long def);
bool plugin_conf_bool(struct plugin *, const char *key, bool def);

/* Call a command and wait for its reply (PLUGIN_CALL_TIMEOUT_MS). props is
 * stolen (NULL = none). Returns the reply or NULL (logged). */
json_t *plugin_call(struct plugin *, const char *command, json_t *props);
/* True for a reply whose status is "ok" (false for NULL). */
bool plugin_reply_ok(const json_t *reply);
/* Cast a command (no reply). props is stolen. 0 or -1 (logged). */
int plugin_cast(struct plugin *, const char *command, json_t *props);

/*
 * Statsd (doc/design.md §17.7): a UDP socket to host:port (options host,
 * port, sample_rate, application_name; default_app when unset); buckets
 * are prefixed "circus.<application_name>.watcher.". 0 or -1 (logged).
 */
int plugin_statsd_open(struct plugin *, const char *default_app);
/* Send "<prefix><bucket>:<value>|<type>[|@<rate>]" (failures ignored). */
void plugin_statsd(struct plugin *, const char *bucket, const char *value,
    const char *type);
void plugin_statsd_incr(struct plugin *, const char *bucket);
void plugin_statsd_gauge(struct plugin *, const char *bucket, double value);
void plugin_statsd_gauge_int(struct plugin *, const char *bucket,
    long long value);

/* Circus's size syntax: "1.70M", "250k", "12B", "300" -> bytes (units B K
 * M G T P E Z Y, powers of 1024). 0, or -1 if it is not one. */
int plugin_to_bytes(const char *, double *out);

#endif
