/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FullStats (doc/design.md §17.7): every loop_rate seconds, `stats` of all
 * watchers as statsd gauges per watcher (plugin watchers left out):
 * _stats.<W>.watchers_num (its processes), cpu_max/cpu_sum,
 * mem_pct_max/mem_pct_sum and mem_max/mem_sum in bytes; an error reply
 * counts _stats.error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plugin.h"
#include "xmalloc.h"

/* Sums and maxima over one watcher's processes. */
struct fs_acc {
	long long	 n;
	double		 cpu_max, cpu_sum, mem_max, mem_sum;
	long long	 bytes_max, bytes_sum;
};

static void
fs_gauge(struct plugin *p, const char *w, const char *what, double v)
{
	char *bucket = xprintf("_stats.%s.%s", w, what);

	plugin_statsd_gauge(p, bucket, v);
	free(bucket);
}

static void
fs_gauge_int(struct plugin *p, const char *w, const char *what, long long v)
{
	char *bucket = xprintf("_stats.%s.%s", w, what);

	plugin_statsd_gauge_int(p, bucket, v);
	free(bucket);
}

/* A number field of a process info (cpu and mem are floats or "N/A"). */
static double
fs_number(json_t *info, const char *key)
{
	json_t *v = json_object_get(info, key);

	return (json_is_number(v) ? json_number_value(v) : 0);
}

static void
fs_watcher(struct plugin *p, const char *name, json_t *procs)
{
	struct fs_acc	 a;
	const char	*pid;
	json_t		*info;
	double		 cpu, mem, bytes;

	memset(&a, 0, sizeof a);
	json_object_foreach(procs, pid, info) {
		if (!json_is_object(info))
			continue;
		cpu = fs_number(info, "cpu");
		mem = fs_number(info, "mem");
		if (plugin_to_bytes(json_string_value(json_object_get(info,
		    "mem_info1")), &bytes) == -1)
			bytes = 0;
		if (a.n == 0 || cpu > a.cpu_max)
			a.cpu_max = cpu;
		if (a.n == 0 || mem > a.mem_max)
			a.mem_max = mem;
		if (a.n == 0 || (long long)bytes > a.bytes_max)
			a.bytes_max = (long long)bytes;
		a.cpu_sum += cpu;
		a.mem_sum += mem;
		a.bytes_sum += (long long)bytes;
		a.n++;
	}
	fs_gauge_int(p, name, "watchers_num", a.n);
	if (a.n == 0)
		return;
	fs_gauge(p, name, "cpu_max", a.cpu_max);
	fs_gauge(p, name, "cpu_sum", a.cpu_sum);
	fs_gauge(p, name, "mem_pct_max", a.mem_max);
	fs_gauge(p, name, "mem_pct_sum", a.mem_sum);
	fs_gauge_int(p, name, "mem_max", a.bytes_max);
	fs_gauge_int(p, name, "mem_sum", a.bytes_sum);
}

static void
fs_tick(struct plugin *p)
{
	json_t		*reply, *procs;
	const char	*name;

	reply = plugin_call(p, "stats", NULL);
	if (!plugin_reply_ok(reply)) {
		plugin_statsd_incr(p, "_stats.error");
		json_decref(reply);
		return;
	}
	json_object_foreach(json_object_get(reply, "infos"), name, procs) {
		if (strncmp(name, "plugin:", 7) != 0 && json_is_object(procs))
			fs_watcher(p, name, procs);
	}
	json_decref(reply);
}

static int
fs_init(struct plugin *p)
{
	return (plugin_statsd_open(p, "app"));
}

static const struct plugin_ops fullstats_ops = {
	.name = "fullstats",
	.init = fs_init,
	.tick = fs_tick,
	.loop_rate = 60,
};

PLUGIN_MAIN(fullstats_ops)
