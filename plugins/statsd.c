/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StatsdEmitter (doc/design.md §17.7): every event received increments the
 * statsd counter "<watcher>.<action>" under circus.<app>.watcher.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "plugin.h"
#include "xmalloc.h"

static void
statsd_event(struct plugin *p, const char *watcher, const char *action,
    json_t *body)
{
	char *bucket;

	(void)body;
	bucket = xprintf("%s.%s", watcher, action);
	plugin_statsd_incr(p, bucket);
	free(bucket);
}

static int
statsd_init(struct plugin *p)
{
	return (plugin_statsd_open(p, "app"));
}

static const struct plugin_ops statsd_ops = {
	.name = "statsd",
	.init = statsd_init,
	.event = statsd_event,
};

PLUGIN_MAIN(statsd_ops)
