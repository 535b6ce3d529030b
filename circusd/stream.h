/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker output: stream sinks (FileStream, WatchedFileStream,
 * TimedRotatingFileStream, StdoutStream, FancyStdoutStream, QueueStream)
 * and the per-process pipe readers that feed them from the event loop.
 * A sink never blocks the loop and never stalls a worker: when it cannot
 * keep up, it drops and counts.
 */
#ifndef CIRCUSD_STREAM_H
#define CIRCUSD_STREAM_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>

struct stream;
struct outpipe;

/* Create a sink from a stream conf (object with "class" or "filename" and
 * string options, as in config.md §11). NULL + *cause (allocated, naming
 * the watcher and file) on error. */
struct stream *stream_new(const char *watcher, const json_t *conf, char **cause);
/* Write one complete chunk of output of process pid (the pipe reader hands
 * over whole lines where it can). */
void stream_write(struct stream *, pid_t pid, const char *buf, size_t len);
/* Reopen files (SIGUSR1, external rotation). */
int stream_reopen(struct stream *, char **cause);
/* Counters for stats/status. */
uint64_t stream_dropped_bytes(const struct stream *);
void stream_free(struct stream *);

/* Start reading a child's pipe (read end fd, non-blocking, owned) into
 * sink, tagged with pid. */
struct outpipe *outpipe_new(struct ev_loop *, int fd, struct stream *sink,
    pid_t pid);
/* Read whatever is left (non-blocking), flush partial line, close, free. */
void outpipe_close(struct outpipe *);

#endif
