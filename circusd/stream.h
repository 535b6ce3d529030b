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

/* Bytes of a process's latest output kept for failure reports. */
#define OUTPIPE_TAIL_MAX	512

/* Create a sink from a stream conf (object with "class" or "filename" and
 * string options, as in doc/design.md §17.5). NULL + *cause (allocated, naming
 * the watcher and file) on error. */
struct stream *stream_new(const char *watcher, const json_t *conf, char **cause);
/* The same, reading the wall clock through clock (stream_clock_real for
 * stream_new; tests give a fake one): time_format prefixes, timed
 * rotation, rate limits of its error log. */
struct stream *stream_new_clocked(const char *watcher, const json_t *conf,
    double (*clock)(void), char **cause);
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
/* Read whatever is left (non-blocking, bounded). */
void outpipe_drain(struct outpipe *);
/* Its last nlines lines read, or NULL (doc/design.md §18: a rollback
 * reports the stderr of the process that failed). Caller frees. */
char *outpipe_tail(const struct outpipe *, int nlines);
/* Read whatever is left (non-blocking), flush partial line, close, free. */
void outpipe_close(struct outpipe *);

/*
 * Additions (stream.c owner).
 *
 * Ownership: an outpipe borrows its sink; close (outpipe_close) every
 * outpipe of a sink before stream_free. stream_write copies what it needs.
 *
 * Drops: a write the sink cannot take (EAGAIN, ENOSPC, EIO, ...) is
 * dropped, never retried or buffered; the next successful write is
 * preceded by one line "[circus] dropped N bytes (M lines)" (M counts the
 * newlines lost). The first failure of an episode is logged (at most once
 * per STREAM_ERROR_LOG_S per sink) naming the watcher and the file.
 */

/* Longest partial line an outpipe buffers per process; a longer line is
 * handed to the sink in pieces of at most this size. */
#define OUTPIPE_LINE_MAX	(64 * 1024)
/* Minimum seconds between two error log lines of one sink. */
#define STREAM_ERROR_LOG_S	10.0

/* Close the sink's file (stop <name>); a later write or stream_reopen
 * opens it again. */
void stream_close(struct stream *);
/* Total newline-terminated lines dropped. */
uint64_t stream_dropped_lines(const struct stream *);
/* Class name as configured, without "circus.stream." ("FileStream"). */
const char *stream_class_name(const struct stream *);
/* Path of the sink's file, or NULL (stdout, queue). Borrowed. */
const char *stream_filename(const struct stream *);

/* Point an outpipe at another sink (set stdout_stream.*); the partial
 * line already buffered goes to the new sink. */
void outpipe_set_stream(struct outpipe *, struct stream *sink);
/* The sink an outpipe writes to (borrowed). */
const struct stream *outpipe_sink(const struct outpipe *);
/* Bytes of partial line currently buffered (<= OUTPIPE_LINE_MAX). */
size_t outpipe_buffered(const struct outpipe *);

/* Wall-clock seconds, the clock of stream_new's sinks. */
double stream_clock_real(void);
/* How long a partial line may wait for its end before it is handed over
 * anyway: OUTPIPE_FLUSH_S unless set (tests shorten it). */
#define OUTPIPE_FLUSH_S	1.0
void outpipe_set_flush(struct outpipe *, double seconds);

#endif
