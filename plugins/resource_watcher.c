/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ResourceWatcher (doc/design.md §17.7): every loop_rate seconds the `stats` of
 * one watcher; its processes' max/min cpu and mem (%) and RSS are compared
 * with max_cpu, min_cpu, max_mem/min_mem (a percentage, or a size such as
 * 250M in bytes of RSS) and health_threshold; each violation is a statsd
 * counter _resource_watcher.<W>.<what>, and when one has happened more
 * than max_count rounds in a row the watcher is restarted. Unlike Circus,
 * a min_mem size is compared with the RSS. process_children is not
 * supported (warned).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "util.h"
#include "xmalloc.h"

enum rw_check { RW_OVER_CPU, RW_UNDER_CPU, RW_OVER_MEM, RW_UNDER_MEM,
    RW_OVER_HEALTH, RW_NCHECKS };

static const char *const rw_names[RW_NCHECKS] = {
	"over_cpu", "under_cpu", "over_memory", "under_memory", "over_health",
};

/* One limit: unset, a percentage, or bytes. */
struct rw_limit {
	bool	 set;
	bool	 bytes;
	double	 value;
};

struct rwatch {
	struct plugin	*plugin;
	const char	*watcher;
	struct rw_limit	 max_cpu, min_cpu, max_mem, min_mem, health;
	long		 max_count;
	int		 count[RW_NCHECKS];
};

/* Max/min over the processes of one round. */
struct rw_round {
	double	 cpu_max, cpu_min, mem_max, mem_min, rss_max, rss_min;
};

/* A limit option; sizes only where allowed. "0" disables when zero_off. */
static void
rw_limit(struct plugin *p, const char *key, const char *def, bool sizes,
    bool zero_off, struct rw_limit *l)
{
	const char	*v = plugin_conf_str(p, key, def);
	double		 d;

	memset(l, 0, sizeof *l);
	if (v == NULL || *v == '\0')
		return;
	if (util_parse_float(v, &d) == 0)
		l->value = d;
	else if (sizes && plugin_to_bytes(v, &d) == 0) {
		l->value = d;
		l->bytes = true;
	} else {
		log_errorx("resource_watcher: %s = '%s' is not a number; "
		    "ignored", key, v);
		return;
	}
	l->set = !(zero_off && l->value == 0);
}

/* cpu or mem of a process info; "N/A" counts as 100. */
static double
rw_pct(json_t *info, const char *key)
{
	json_t *v = json_object_get(info, key);

	return (json_is_number(v) ? json_number_value(v) : 100);
}

static void
rw_measure(json_t *infos, struct rw_round *r)
{
	const char	*pid;
	json_t		*info;
	double		 cpu, mem, rss;
	bool		 first = true;

	memset(r, 0, sizeof *r);
	json_object_foreach(infos, pid, info) {
		if (!json_is_object(info))
			continue;
		cpu = rw_pct(info, "cpu");
		mem = rw_pct(info, "mem");
		if (plugin_to_bytes(json_string_value(json_object_get(info,
		    "mem_info1")), &rss) == -1)
			rss = 0;
		if (first || cpu > r->cpu_max)
			r->cpu_max = cpu;
		if (first || cpu < r->cpu_min)
			r->cpu_min = cpu;
		if (first || mem > r->mem_max)
			r->mem_max = mem;
		if (first || mem < r->mem_min)
			r->mem_min = mem;
		if (first || rss > r->rss_max)
			r->rss_max = rss;
		if (first || rss < r->rss_min)
			r->rss_min = rss;
		first = false;
	}
}

/* Count a violation (statsd counter) or reset its run. */
static void
rw_count(struct rwatch *rw, enum rw_check c, bool violated)
{
	char *bucket;

	if (!violated) {
		rw->count[c] = 0;
		return;
	}
	rw->count[c]++;
	bucket = xprintf("_resource_watcher.%s.%s", rw->watcher, rw_names[c]);
	plugin_statsd_incr(rw->plugin, bucket);
	free(bucket);
}

static void
rw_tick(struct plugin *p)
{
	struct rwatch	*rw = p->data;
	struct rw_round	 r;
	json_t		*reply;
	char		*bucket;
	int		 c;
	bool		 restart = false;

	reply = plugin_call(rw->plugin, "stats", json_pack("{s:s}", "name",
	    rw->watcher));
	if (!plugin_reply_ok(reply)) {
		bucket = xprintf("_resource_watcher.%s.error", rw->watcher);
		plugin_statsd_incr(rw->plugin, bucket);
		free(bucket);
		json_decref(reply);
		return;
	}
	rw_measure(json_object_get(reply, "info"), &r);
	json_decref(reply);
	rw_count(rw, RW_OVER_CPU, rw->max_cpu.set &&
	    r.cpu_max > rw->max_cpu.value);
	rw_count(rw, RW_UNDER_CPU, rw->min_cpu.set &&
	    r.cpu_min <= rw->min_cpu.value);
	rw_count(rw, RW_OVER_MEM, rw->max_mem.set && (rw->max_mem.bytes ?
	    r.rss_max > rw->max_mem.value : r.mem_max > rw->max_mem.value));
	rw_count(rw, RW_UNDER_MEM, rw->min_mem.set && (rw->min_mem.bytes ?
	    r.rss_min < rw->min_mem.value : r.mem_min < rw->min_mem.value));
	rw_count(rw, RW_OVER_HEALTH, rw->health.set &&
	    (r.cpu_max + r.mem_max) / 2 > rw->health.value);
	for (c = 0; c < RW_NCHECKS; c++)
		restart = restart || rw->count[c] > rw->max_count;
	if (!restart)
		return;
	log_warnx("%s: over its limits %ld times in a row; restarting",
	    rw->watcher, rw->max_count + 1);
	bucket = xprintf("_resource_watcher.%s.restarting", rw->watcher);
	plugin_statsd_incr(rw->plugin, bucket);
	free(bucket);
	plugin_cast(rw->plugin, "restart", json_pack("{s:s}", "name",
	    rw->watcher));
	memset(rw->count, 0, sizeof rw->count);
}

static int
rw_init(struct plugin *p)
{
	struct rwatch	*rw;
	const char	*watcher;

	watcher = plugin_conf_str(p, "watcher", plugin_conf_str(p, "service",
	    NULL));
	if (watcher == NULL) {
		log_errorx("watcher is mandatory for now.");
		return (-1);
	}
	if (plugin_statsd_open(p, "app") == -1)
		return (-1);
	if (plugin_conf_bool(p, "process_children", false))
		log_warnx("resource_watcher: process_children is not "
		    "supported; only the watcher's processes are checked");
	rw = xcalloc(1, sizeof *rw);
	rw->plugin = p;
	rw->watcher = watcher;
	rw_limit(p, "max_cpu", "90", false, true, &rw->max_cpu);
	rw_limit(p, "min_cpu", NULL, false, false, &rw->min_cpu);
	rw_limit(p, "max_mem", "90", true, true, &rw->max_mem);
	rw_limit(p, "min_mem", NULL, true, false, &rw->min_mem);
	rw_limit(p, "health_threshold", "75", false, true, &rw->health);
	rw->max_count = plugin_conf_int(p, "max_count", 3);
	p->data = rw;
	return (0);
}

static void
rw_stop(struct plugin *p)
{
	free(p->data);
	p->data = NULL;
}

static const struct plugin_ops rwatch_ops = {
	.name = "resource_watcher",
	.init = rw_init,
	.tick = rw_tick,
	.loop_rate = 60,
	.stop = rw_stop,
};

PLUGIN_MAIN(rwatch_ops)
