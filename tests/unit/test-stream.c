/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for circusd/stream.c: stream classes and options, size and
 * timed rotation (injected clock), WatchedFileStream, drops and markers,
 * time_format, UTF-8, and the pipe readers driven by a real libev loop.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "stream.h"
#include "xmalloc.h"

/* 2024-01-01 00:00:30 UTC, a Monday. */
#define T0 1704067230

struct fixture {
	char	 dir[64];
};

static double fake_now;

/* Injected clock for the stream module. */
static double
fake_clock(void)
{
	return fake_now;
}

/* Monotonic seconds, for test deadlines. */
static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fresh temporary directory, UTC, fake clock at T0. */
static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/test-stream-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	setenv("TZ", "UTC", 1);
	tzset();
	fake_now = T0;
	*state = f;
	return 0;
}

/* Remove the (flat) temporary directory. */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	char *path;
	DIR *d;

	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			path = xprintf("%s/%s", f->dir, de->d_name);
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	chmod(f->dir, 0700);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Allocated path name inside the fixture directory. */
static char *
fpath(void **state, const char *name)
{
	struct fixture *f = *state;

	return xprintf("%s/%s", f->dir, name);
}

/* Whole content of a file (NUL-terminated), or NULL if it is missing. */
static char *
slurp(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, size = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > size) {
			size = size ? size * 2 : 8192;
			buf = xrealloc(buf, size);
		}
		if ((n = read(fd, buf + len, size - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* Assert that file path holds exactly expect. */
static void
assert_file(const char *path, const char *expect)
{
	char *got = slurp(path, NULL);

	if (got == NULL)
		fail_msg("%s: missing", path);
	assert_string_equal(got, expect);
	free(got);
}

/* Size of a file, 0 if missing. */
static size_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Create a stream that must succeed. */
static struct stream *
new_stream(json_t *conf)
{
	struct stream *s;
	char *cause = NULL;

	s = stream_new_clocked("web", conf, fake_clock, &cause);
	if (s == NULL)
		fail_msg("stream_new: %s", cause);
	json_decref(conf);
	return s;
}

/* Create a stream that must fail; returns the cause. */
static char *
new_stream_error(json_t *conf)
{
	struct stream *s;
	char *cause = NULL;

	s = stream_new_clocked("web", conf, fake_clock, &cause);
	json_decref(conf);
	assert_null(s);
	assert_non_null(cause);
	return cause;
}

/* Write a C string as pid's output. */
static void
put(struct stream *s, pid_t pid, const char *str)
{
	stream_write(s, pid, str, strlen(str));
}

/* Run the loop without blocking until done(arg) holds (5 s deadline). */
static void
pump_until(struct ev_loop *loop, bool (*done)(void *), void *arg)
{
	double deadline = mono() + 5;

	while (!done(arg)) {
		if (mono() > deadline)
			fail_msg("deadline reached while pumping the loop");
		ev_run(loop, EVRUN_NOWAIT);
	}
}

struct size_wait {
	const char	*path;
	size_t		 size;
};

/* Predicate: the file has reached the expected size. */
static bool
file_has_size(void *arg)
{
	struct size_wait *w = arg;

	return file_size(w->path) >= w->size;
}

/* Predicate: the outpipe buffers nothing. */
static bool
outpipe_empty(void *arg)
{
	return outpipe_buffered(arg) == 0;
}

/* Write all of buf to a non-blocking pipe, pumping the loop whenever the
 * pipe is full; asserts the per-process buffer stays capped. */
static void
feed_pipe(struct ev_loop *loop, int fd, struct outpipe *op, const char *buf,
    size_t len)
{
	double deadline = mono() + 10;
	ssize_t n;

	while (len > 0) {
		if (mono() > deadline)
			fail_msg("writer stalled");
		n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR)
			fail_msg("write: %s", strerror(errno));
		ev_run(loop, EVRUN_NOWAIT);
		if (op != NULL)
			assert_true(outpipe_buffered(op) <= OUTPIPE_LINE_MAX);
	}
}

/* Non-blocking pipe pair. */
static void
make_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
}

/* Read everything available now from a non-blocking fd. */
static char *
drain_fd(int fd, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, size = 0;
	ssize_t n;

	for (;;) {
		if (len + 65536 + 1 > size) {
			size = size ? size * 2 : 131072;
			buf = xrealloc(buf, size);
		}
		n = read(fd, buf + len, size - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Class names, circus.stream. prefix, defaults and invalid confs. */
static void
test_classes(void **state)
{
	char *p = fpath(state, "out.log"), *cause, *tmp;
	struct stream *s;

	s = new_stream(json_pack("{s:s, s:s}", "class", "FileStream",
	    "filename", p));
	assert_string_equal(stream_class_name(s), "FileStream");
	assert_string_equal(stream_filename(s), p);
	stream_free(s);

	s = new_stream(json_pack("{s:s, s:s}", "class",
	    "circus.stream.WatchedFileStream", "filename", p));
	assert_string_equal(stream_class_name(s), "WatchedFileStream");
	stream_free(s);

	s = new_stream(json_pack("{s:s}", "filename", p));
	assert_string_equal(stream_class_name(s), "FileStream");
	stream_free(s);

	s = new_stream(json_pack("{s:s, s:i, s:s}", "filename", p,
	    "max_bytes", 100, "backup_count", "2"));
	stream_free(s);

	s = new_stream(json_pack("{s:s}", "class", "QueueStream"));
	assert_null(stream_filename(s));
	put(s, 1, "swallowed\n");
	assert_int_equal(stream_dropped_bytes(s), 0);
	stream_free(s);

	s = new_stream(json_pack("{s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when", "W6"));
	stream_free(s);

	/* FileStream without filename writes to a new temporary file. */
	s = new_stream(json_pack("{s:s}", "class", "FileStream"));
	tmp = xstrdup(stream_filename(s));
	put(s, 1, "tmp\n");
	stream_free(s);
	assert_file(tmp, "tmp\n");
	unlink(tmp);
	free(tmp);

	cause = new_stream_error(json_pack("{s:s}", "time_format", "%H"));
	assert_string_equal(cause, "watcher 'web': stream configuration invalid");
	free(cause);
	cause = new_stream_error(json_pack("{s:s}", "class", "Nope"));
	assert_string_equal(cause, "watcher 'web': unknown stream class 'Nope'");
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s}", "class", "filestream",
	    "filename", p));
	assert_string_equal(cause,
	    "watcher 'web': unknown stream class 'filestream'");
	free(cause);
	cause = new_stream_error(json_pack("{s:s}", "class", "my.mod.Stream"));
	assert_non_null(strstr(cause, "'my.mod.Stream' is a Python class"));
	free(cause);
	cause = new_stream_error(json_pack("{s:s}", "class",
	    "circus.stream.Nope"));
	assert_string_equal(cause,
	    "watcher 'web': unknown stream class 'circus.stream.Nope'");
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when",
	    "midnight"));
	assert_non_null(strstr(cause, "invalid rotate_when 'midnight'"));
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p));
	assert_non_null(strstr(cause, "invalid rotate_when"));
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when", "W7"));
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when", "H",
	    "rotate_interval", "0"));
	free(cause);
	cause = new_stream_error(json_pack("{s:s, s:s}", "filename", p,
	    "max_bytes", "ten"));
	assert_string_equal(cause,
	    "watcher 'web': invalid max_bytes for FileStream");
	free(cause);
	cause = new_stream_error(json_pack("[]"));
	free(cause);
	free(p);
}

/* A file that cannot be opened names the watcher, the file and errno. */
static void
test_open_error(void **state)
{
	char *p = fpath(state, "missing/out.log"), *cause, *want;
	char *dir = fpath(state, "ro"), *p2 = fpath(state, "ro/out.log");

	cause = new_stream_error(json_pack("{s:s}", "filename", p));
	want = xprintf("watcher 'web': cannot open stream file '%s': "
	    "No such file or directory", p);
	assert_string_equal(cause, want);
	free(cause);
	free(want);

	if (geteuid() != 0) {
		assert_int_equal(mkdir(dir, 0500), 0);
		cause = new_stream_error(json_pack("{s:s, s:s}", "class",
		    "WatchedFileStream", "filename", p2));
		want = xprintf("watcher 'web': cannot open stream file '%s': "
		    "Permission denied", p2);
		assert_string_equal(cause, want);
		free(cause);
		free(want);
		rmdir(dir);
	}
	free(p);
	free(p2);
	free(dir);
}

/* Expected content of numbered lines first..last ("line00001\n"...). */
static char *
numbered(int first, int last)
{
	char *buf = xcalloc(1, (size_t)(last - first + 2) * 10 + 1);
	int i;

	for (i = first; i <= last; i++)
		snprintf(buf + (size_t)(i - first) * 10, 11, "line%05d\n", i);
	return buf;
}

/* Check the four files of a max_bytes=100 backup_count=3 rotation of 30
 * ten-byte lines: 9 lines per file, every line exactly once. */
static void
check_rotation(const char *p)
{
	char *name, *want;
	int i;

	for (i = 0; i <= 3; i++) {
		name = i == 0 ? xstrdup(p) : xprintf("%s.%d", p, i);
		want = numbered(28 - 9 * i > 0 ? 28 - 9 * i : 1,
		    i == 0 ? 30 : 27 - 9 * (i - 1));
		assert_file(name, want);
		assert_true(file_size(name) < 100);
		free(name);
		free(want);
	}
	name = xprintf("%s.4", p);
	assert_int_equal(access(name, F_OK), -1);
	free(name);
}

/* Size rotation: shifting filename.N, line by line or batched. */
static void
test_rotation_size(void **state)
{
	char *p = fpath(state, "rot.log"), *q = fpath(state, "batch.log");
	char *all, line[32];
	struct stream *s;
	int i;

	s = new_stream(json_pack("{s:s, s:s, s:s}", "filename", p,
	    "max_bytes", "100", "backup_count", "3"));
	for (i = 1; i <= 30; i++) {
		snprintf(line, sizeof line, "line%05d\n", i);
		put(s, 1, line);
	}
	stream_free(s);
	check_rotation(p);

	/* The same lines in one chunk rotate between lines as well. */
	s = new_stream(json_pack("{s:s, s:i, s:i}", "filename", q,
	    "max_bytes", 100, "backup_count", 3));
	all = numbered(1, 30);
	put(s, 1, all);
	stream_free(s);
	free(all);
	check_rotation(q);
	free(p);
	free(q);
}

/* [quirk] backup_count 0: the file keeps growing, nothing is renamed. */
static void
test_rotation_no_backup(void **state)
{
	char *p = fpath(state, "grow.log"), *one, *all;
	struct stream *s;

	s = new_stream(json_pack("{s:s, s:s}", "filename", p, "max_bytes",
	    "100"));
	all = numbered(1, 30);
	put(s, 1, all);
	stream_free(s);
	assert_file(p, all);
	one = xprintf("%s.1", p);
	assert_int_equal(access(one, F_OK), -1);
	free(one);
	free(all);
	free(p);
}

/* Timed rotation every minute (UTC), backups beyond backup_count purged. */
static void
test_rotation_timed(void **state)
{
	char *p = fpath(state, "t.log"), *name;
	struct stream *s;
	int fd;

	/* Files that must survive the purge: other shapes. */
	name = xprintf("%s.foo", p);
	fd = open(name, O_CREAT | O_WRONLY, 0644);
	close(fd);
	free(name);
	name = xprintf("%s.20240101", p);
	fd = open(name, O_CREAT | O_WRONLY, 0644);
	close(fd);
	free(name);

	s = new_stream(json_pack("{s:s, s:s, s:s, s:s, s:s}", "class",
	    "circus.stream.TimedRotatingFileStream", "filename", p,
	    "rotate_when", "M", "utc", "1", "backup_count", "2"));
	put(s, 1, "a\n");		/* 00:00:30, rollover at 00:01:30 */
	fake_now = T0 + 59;
	put(s, 1, "a2\n");
	fake_now = T0 + 61;		/* 00:01:31 */
	put(s, 1, "b\n");
	fake_now = T0 + 200;		/* 00:03:50 */
	put(s, 1, "c\n");
	fake_now = T0 + 300;		/* 00:05:30 */
	put(s, 1, "d\n");
	stream_free(s);

	assert_file(p, "d\n");
	name = xprintf("%s.202401010003", p);
	assert_file(name, "c\n");
	free(name);
	name = xprintf("%s.202401010001", p);
	assert_file(name, "b\n");
	free(name);
	name = xprintf("%s.202401010000", p);
	assert_int_equal(access(name, F_OK), -1);	/* purged */
	free(name);
	name = xprintf("%s.foo", p);
	assert_int_equal(access(name, F_OK), 0);
	free(name);
	name = xprintf("%s.20240101", p);
	assert_int_equal(access(name, F_OK), 0);
	free(name);
	free(p);
}

/* MIDNIGHT and W0 in UTC: roll at midnight, suffix of the elapsed day. */
static void
test_rotation_midnight_weekly(void **state)
{
	char *p = fpath(state, "m.log"), *w = fpath(state, "w.log"), *name;
	struct stream *s;
	const time_t jan1 = 1704067200;		/* Monday 00:00 UTC */

	fake_now = (double)jan1 + 10 * 3600;
	s = new_stream(json_pack("{s:s, s:s, s:s, s:b}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when",
	    "MIDNIGHT", "utc", 1));
	put(s, 1, "jan1\n");
	fake_now = (double)jan1 + 86400 - 1;
	put(s, 1, "jan1 late\n");
	fake_now = (double)jan1 + 86400 + 5;
	put(s, 1, "jan2\n");
	fake_now = (double)jan1 + 2 * 86400 - 1;
	put(s, 1, "jan2 late\n");
	stream_free(s);
	assert_file(p, "jan2\njan2 late\n");
	name = xprintf("%s.20240101", p);
	assert_file(name, "jan1\njan1 late\n");
	free(name);

	/* W0 from Wednesday Jan 3: rolls when Monday Jan 8 ends. */
	fake_now = (double)jan1 + 2 * 86400 + 10 * 3600;
	s = new_stream(json_pack("{s:s, s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", w, "rotate_when", "W0",
	    "utc", "False"));
	put(s, 1, "week1\n");
	fake_now = (double)jan1 + 8 * 86400 - 1;
	put(s, 1, "monday\n");
	fake_now = (double)jan1 + 8 * 86400;
	put(s, 1, "tuesday\n");
	stream_free(s);
	assert_file(w, "tuesday\n");
	name = xprintf("%s.20240102", w);
	assert_file(name, "week1\nmonday\n");
	free(name);
	free(p);
	free(w);
}

/* MIDNIGHT in local time across the spring DST change (Europe/Paris). */
static void
test_rotation_midnight_dst(void **state)
{
	char *p = fpath(state, "dst.log"), *name;
	struct stream *s;
	/* 2024-03-30 12:00 CET; 2024-03-31 00:00 CET; 2024-04-01 00:00 CEST */
	const time_t noon30 = 1711796400, mid31 = 1711839600;
	const time_t apr1 = 1711922400;

	if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) != 0)
		skip();
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	fake_now = (double)noon30;
	s = new_stream(json_pack("{s:s, s:s, s:s}", "class",
	    "TimedRotatingFileStream", "filename", p, "rotate_when",
	    "MIDNIGHT"));
	put(s, 1, "sat\n");
	fake_now = (double)mid31 + 5;
	put(s, 1, "sun\n");
	fake_now = (double)apr1 - 1;
	put(s, 1, "sun late\n");
	fake_now = (double)apr1;
	put(s, 1, "mon\n");
	stream_free(s);
	assert_file(p, "mon\n");
	name = xprintf("%s.20240330", p);
	assert_file(name, "sat\n");
	free(name);
	name = xprintf("%s.20240331", p);
	assert_file(name, "sun\nsun late\n");
	free(name);
	free(p);
}

/* WatchedFileStream recreates its file when it is moved or deleted. */
static void
test_watched(void **state)
{
	char *p = fpath(state, "w.log"), *old = fpath(state, "w.log.old");
	struct stream *s;

	s = new_stream(json_pack("{s:s, s:s}", "class", "WatchedFileStream",
	    "filename", p));
	put(s, 1, "one\n");
	assert_int_equal(rename(p, old), 0);
	put(s, 1, "two\n");
	assert_file(old, "one\n");
	assert_file(p, "two\n");
	assert_int_equal(unlink(p), 0);
	put(s, 1, "three\n");
	assert_file(p, "three\n");
	stream_free(s);
	free(p);
	free(old);
}

/* SIGUSR1-style reopen, and stream_close then write (reopens). */
static void
test_reopen(void **state)
{
	char *p = fpath(state, "r.log"), *old = fpath(state, "r.log.1");
	struct stream *s;
	char *cause = NULL;

	s = new_stream(json_pack("{s:s}", "filename", p));
	put(s, 1, "1\n");
	assert_int_equal(rename(p, old), 0);
	put(s, 1, "2\n");		/* FileStream does not watch */
	assert_int_equal(stream_reopen(s, &cause), 0);
	put(s, 1, "3\n");
	assert_file(old, "1\n2\n");
	assert_file(p, "3\n");
	stream_close(s);
	put(s, 1, "4\n");
	assert_file(p, "3\n4\n");
	stream_free(s);
	free(p);
	free(old);
}

/* A file that cannot be reopened drops (no rotation, no backup shifted)
 * and recovers with a marker once it can be opened again. */
static void
test_open_failure_recovers(void **state)
{
	char *p = fpath(state, "f.log"), *keep = fpath(state, "f.keep");
	char *one = fpath(state, "f.log.1"), *all;
	struct stream *s;

	s = new_stream(json_pack("{s:s, s:s, s:s}", "filename", p,
	    "max_bytes", "100", "backup_count", "3"));
	all = numbered(1, 9);
	put(s, 1, all);
	free(all);
	stream_close(s);
	assert_int_equal(rename(p, keep), 0);
	assert_int_equal(mkdir(p, 0700), 0);	/* open() now fails */
	put(s, 1, "lost1\n");
	fake_now += 0.5;
	put(s, 1, "lost2\n");
	assert_int_equal(stream_dropped_bytes(s), 12);
	assert_int_equal(stream_dropped_lines(s), 2);
	assert_int_equal(access(one, F_OK), -1);
	assert_int_equal(rmdir(p), 0);
	put(s, 1, "lost3\n");		/* within the retry delay */
	fake_now += 2;
	put(s, 1, "back\n");
	stream_free(s);
	assert_file(p, "[circus] dropped 18 bytes (3 lines)\nback\n");
	all = numbered(1, 9);
	assert_file(keep, all);
	free(all);
	assert_int_equal(access(one, F_OK), -1);
	free(p);
	free(keep);
	free(one);
}

/* /dev/full: every byte is dropped and counted, nothing blocks. */
static void
test_dev_full(void **state)
{
	struct stream *s;
	int i;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	s = new_stream(json_pack("{s:s}", "filename", "/dev/full"));
	for (i = 0; i < 100; i++)
		put(s, 1, "123456789\n");
	assert_int_equal(stream_dropped_bytes(s), 1000);
	assert_int_equal(stream_dropped_lines(s), 100);
	stream_free(s);
}

/* A FIFO sink that fills up drops, then writes one marker on recovery. */
static void
test_drop_marker(void **state)
{
	char *p = fpath(state, "fifo"), *got, *want, big[4096];
	struct stream *s;
	size_t total = 0, len;
	int rfd, i;

	assert_int_equal(mkfifo(p, 0600), 0);
	rfd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	s = new_stream(json_pack("{s:s}", "filename", p));
	memset(big, 'x', sizeof big);
	big[sizeof big - 1] = '\n';
	for (i = 0; i < 40; i++) {
		stream_write(s, 1, big, sizeof big);
		total += sizeof big;
	}
	assert_true(stream_dropped_bytes(s) > 0);
	assert_int_equal(stream_dropped_bytes(s) % sizeof big, 0);

	got = drain_fd(rfd, &len);
	assert_int_equal(len + stream_dropped_bytes(s), total);
	free(got);

	put(s, 1, "after\n");
	got = drain_fd(rfd, &len);
	want = xprintf("[circus] dropped %llu bytes (%llu lines)\nafter\n",
	    (unsigned long long)stream_dropped_bytes(s),
	    (unsigned long long)stream_dropped_lines(s));
	assert_string_equal(got, want);
	free(got);
	free(want);

	/* Recovered: no second marker. */
	put(s, 1, "again\n");
	got = drain_fd(rfd, &len);
	assert_string_equal(got, "again\n");
	free(got);
	stream_free(s);
	close(rfd);
	free(p);
}

/* time_format prefixes each line (empty ones too) and ends pieces. */
static void
test_time_format(void **state)
{
	char *p = fpath(state, "tf.log"), *q = fpath(state, "us.log");
	struct stream *s;

	s = new_stream(json_pack("{s:s, s:s}", "filename", p, "time_format",
	    "%Y-%m-%d %H:%M:%S"));
	put(s, 42, "hello\nworld\n");
	put(s, 7, "a\n\nb");
	stream_free(s);
	assert_file(p,
	    "2024-01-01 00:00:30 [42] | hello\n"
	    "2024-01-01 00:00:30 [42] | world\n"
	    "2024-01-01 00:00:30 [7] | a\n"
	    "2024-01-01 00:00:30 [7] | \n"
	    "2024-01-01 00:00:30 [7] | b\n");

	fake_now = T0 + 0.25;
	s = new_stream(json_pack("{s:s, s:s}", "filename", q, "time_format",
	    "%S.%f %%f"));
	put(s, 1, "x\n");
	stream_free(s);
	assert_file(q, "30.250000 %f [1] | x\n");
	free(p);
	free(q);
}

/* Without time_format, partial lines of different pids never share a
 * line; a pid's own continuation joins. */
static void
test_partial_lines(void **state)
{
	char *p = fpath(state, "pl.log");
	struct stream *s;

	s = new_stream(json_pack("{s:s}", "filename", p));
	put(s, 1, "abc");
	put(s, 1, "def\n");
	put(s, 1, "ghi");
	put(s, 2, "xyz\n");
	put(s, 1, "jkl\n");
	stream_free(s);
	assert_file(p, "abcdef\nghi\nxyz\njkl\n");
	free(p);
}

/* Output is decoded as UTF-8 with replacement characters. */
static void
test_utf8(void **state)
{
	char *p = fpath(state, "u.log");
	struct stream *s;
	const char in[] = "ok \xc3\xa9 \xff|\xed\xa0\x80|\xf0\x9f\x98\x80|\xe2\x82\n";

	s = new_stream(json_pack("{s:s}", "filename", p));
	stream_write(s, 1, in, sizeof in - 1);
	stream_free(s);
	assert_file(p, "ok \xc3\xa9 \xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd|\xf0\x9f\x98\x80|\xef\xbf\xbd\n");
	free(p);
}

/* Point fd 1 at fd while creating a stream, then restore it. */
static struct stream *
new_stdout_stream(int fd, json_t *conf)
{
	struct stream *s;
	char *cause = NULL;
	int saved;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	s = stream_new_clocked("web", conf, fake_clock, &cause);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	json_decref(conf);
	if (s == NULL)
		fail_msg("stream_new: %s", cause);
	return s;
}

/* StdoutStream and FancyStdoutStream on a pipe: no colours, prefixes,
 * empty lines skipped; a full stdout pipe drops instead of blocking. */
static void
test_stdout(void **state)
{
	struct stream *s, *f;
	char *got, big[4096];
	size_t len;
	int fds[2], i;

	(void)state;
	make_pipe(fds);
	s = new_stdout_stream(fds[1], json_pack("{s:s}", "class",
	    "StdoutStream"));
	f = new_stdout_stream(fds[1], json_pack("{s:s, s:s}", "class",
	    "circus.stream.FancyStdoutStream", "color", "red"));
	close(fds[1]);
	assert_string_equal(stream_class_name(f), "FancyStdoutStream");
	put(s, 3, "plain\n");
	put(f, 7, "l1\n\nl2");
	got = drain_fd(fds[0], &len);
	assert_string_equal(got, "plain\n"
	    "2024-01-01 00:00:30 [7] | l1\n"
	    "2024-01-01 00:00:30 [7] | l2\n");
	free(got);

	alarm(20);	/* a blocking write would hang here */
	memset(big, 'y', sizeof big);
	big[sizeof big - 1] = '\n';
	for (i = 0; i < 64; i++)
		stream_write(s, 3, big, sizeof big);
	alarm(0);
	assert_true(stream_dropped_bytes(s) > 0);
	got = drain_fd(fds[0], &len);
	assert_int_equal(len + stream_dropped_bytes(s), 64 * sizeof big);
	free(got);
	put(s, 3, "ok\n");
	got = drain_fd(fds[0], &len);
	assert_non_null(strstr(got, "[circus] dropped "));
	assert_non_null(strstr(got, " lines)\nok\n"));
	free(got);
	stream_free(s);
	stream_free(f);
	close(fds[0]);
}

/* FancyStdoutStream on a terminal: ANSI colours around each line. */
static void
test_fancy_tty(void **state)
{
	struct termios tio;
	struct stream *f;
	struct pollfd pfd;
	char buf[256];
	const char *want = "\033[0;32;40m2024-01-01 00:00:30 [9] | hi\033[0m\n";
	size_t len = 0;
	ssize_t n;
	double deadline;
	int master, slave;

	(void)state;
	if ((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		skip();
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
	f = new_stdout_stream(slave, json_pack("{s:s, s:s}", "class",
	    "FancyStdoutStream", "color", "green"));
	put(f, 9, "hi\n\n");
	deadline = mono() + 5;
	while (len < strlen(want) && mono() < deadline) {
		pfd.fd = master;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(master, buf + len, sizeof buf - 1 - len)) > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	assert_string_equal(buf, want);
	stream_free(f);
	close(slave);
	close(master);
}

/* The pipe reader joins output split across reads into whole lines. */
static void
test_outpipe_join(void **state)
{
	char *p = fpath(state, "j.log");
	const char *want = "2024-01-01 00:00:30 [11] | hello\n"
	    "2024-01-01 00:00:30 [11] | world\n";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw = { p, strlen(want) };
	struct stream *s;
	struct outpipe *op;
	int fds[2];

	s = new_stream(json_pack("{s:s, s:s}", "filename", p, "time_format",
	    "%Y-%m-%d %H:%M:%S"));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 11);
	feed_pipe(loop, fds[1], op, "hel", 3);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(outpipe_buffered(op), 3);
	feed_pipe(loop, fds[1], op, "lo\nwor", 6);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(outpipe_buffered(op), 3);
	feed_pipe(loop, fds[1], op, "ld\n", 3);
	pump_until(loop, file_has_size, &sw);
	assert_file(p, want);
	assert_int_equal(outpipe_buffered(op), 0);
	outpipe_close(op);
	close(fds[1]);
	stream_free(s);
	ev_loop_destroy(loop);
	free(p);
}

/* A 200 kB line: buffered at most OUTPIPE_LINE_MAX, written in pieces;
 * raw output is byte-exact, with time_format every piece is a line. */
static void
test_outpipe_long_line(void **state)
{
	char *p = fpath(state, "long.log"), *q = fpath(state, "longtf.log");
	char *in, *got, *line, *next, *body;
	const size_t n = 200000;
	const char *prefix = "2024-01-01 00:00:30 [5] | ";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw;
	struct stream *s;
	struct outpipe *op;
	size_t i, blen = 0, len, lines = 0;
	int fds[2], pass;

	in = xmalloc(n + 8);
	for (i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	memcpy(in + n, "\nshort\n", 7);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			s = new_stream(json_pack("{s:s}", "filename", p));
		else
			s = new_stream(json_pack("{s:s, s:s}", "filename", q,
			    "time_format", "%Y-%m-%d %H:%M:%S"));
		make_pipe(fds);
		op = outpipe_new(loop, fds[0], s, 5);
		feed_pipe(loop, fds[1], op, in, n + 7);
		sw.path = pass == 0 ? p : q;
		sw.size = n + 7;
		pump_until(loop, file_has_size, &sw);
		outpipe_close(op);
		close(fds[1]);
		stream_free(s);
	}
	in[n + 7] = '\0';
	assert_file(p, in);

	/* With time_format: pieces of at most OUTPIPE_LINE_MAX, in order. */
	got = slurp(q, &len);
	body = xmalloc(len + 1);
	for (line = got; *line != '\0'; line = next + 1) {
		next = strchr(line, '\n');
		assert_non_null(next);
		assert_memory_equal(line, prefix, strlen(prefix));
		line += strlen(prefix);
		assert_true((size_t)(next - line) <= OUTPIPE_LINE_MAX);
		memcpy(body + blen, line, (size_t)(next - line));
		blen += (size_t)(next - line);
		lines++;
	}
	assert_int_equal(blen, n + 5);
	assert_memory_equal(body, in, n);
	assert_memory_equal(body + n, "short", 5);
	assert_int_equal(lines, (n + OUTPIPE_LINE_MAX - 1) / OUTPIPE_LINE_MAX +
	    1);
	free(body);
	free(got);
	free(in);
	ev_loop_destroy(loop);
	free(p);
	free(q);
}

/* A long line cut at the buffer cap never splits a UTF-8 character. */
static void
test_outpipe_utf8_cut(void **state)
{
	char *p = fpath(state, "cut.log"), *in;
	const size_t chars = 40000, n = 1 + chars * 2 + 1;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw = { p, n };
	struct stream *s;
	struct outpipe *op;
	size_t i;
	int fds[2];

	in = xmalloc(n + 1);
	in[0] = 'x';
	for (i = 0; i < chars; i++)
		memcpy(in + 1 + 2 * i, "\xc3\xa9", 2);
	in[n - 1] = '\n';
	in[n] = '\0';
	s = new_stream(json_pack("{s:s}", "filename", p));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 5);
	feed_pipe(loop, fds[1], op, in, n);
	pump_until(loop, file_has_size, &sw);
	outpipe_close(op);
	close(fds[1]);
	stream_free(s);
	assert_file(p, in);
	free(in);
	ev_loop_destroy(loop);
	free(p);
}

/* Two processes writing interleaved chunks into one sink: every line
 * arrives whole, exactly once, in each process's order. */
static void
test_outpipe_two_pids(void **state)
{
	char *p = fpath(state, "two.log"), *got, *line, *next;
	char *text[2], want[64];
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw;
	struct stream *s;
	struct outpipe *op[2];
	size_t len[2], off[2] = { 0, 0 }, chunk, total, glen;
	int fds[2][2], i, k, seen[2] = { 0, 0 }, who, num;
	static const size_t sizes[] = { 7, 13, 1, 29, 3, 64, 5 };
	const int nlines = 300;

	s = new_stream(json_pack("{s:s}", "filename", p));
	for (k = 0; k < 2; k++) {
		text[k] = xmalloc((size_t)nlines * 64);
		len[k] = 0;
		for (i = 0; i < nlines; i++)
			len[k] += (size_t)snprintf(text[k] + len[k], 64,
			    "pid%d-line%03d-%.*s\n", k, i, i % 23,
			    "abcdefghijklmnopqrstuvwxyz");
		make_pipe(fds[k]);
		op[k] = outpipe_new(loop, fds[k][0], s, 100 + k);
	}
	for (i = 0; off[0] < len[0] || off[1] < len[1]; i++) {
		k = i % 2;
		chunk = sizes[(size_t)i % nitems(sizes)];
		if (chunk > len[k] - off[k])
			chunk = len[k] - off[k];
		feed_pipe(loop, fds[k][1], op[k], text[k] + off[k], chunk);
		off[k] += chunk;
		ev_run(loop, EVRUN_NOWAIT);
	}
	total = len[0] + len[1];
	sw.path = p;
	sw.size = total;
	pump_until(loop, file_has_size, &sw);

	got = slurp(p, &glen);
	assert_int_equal(glen, total);
	for (line = got; *line != '\0'; line = next + 1) {
		next = strchr(line, '\n');
		assert_non_null(next);
		*next = '\0';
		assert_int_equal(sscanf(line, "pid%d-line%d-", &who, &num), 2);
		assert_true(who == 0 || who == 1);
		assert_int_equal(num, seen[who]);
		snprintf(want, sizeof want, "pid%d-line%03d-%.*s", who, num,
		    num % 23, "abcdefghijklmnopqrstuvwxyz");
		assert_string_equal(line, want);
		seen[who]++;
	}
	assert_int_equal(seen[0], nlines);
	assert_int_equal(seen[1], nlines);
	free(got);
	for (k = 0; k < 2; k++) {
		outpipe_close(op[k]);
		close(fds[k][1]);
		free(text[k]);
	}
	stream_free(s);
	ev_loop_destroy(loop);
	free(p);
}

/* outpipe_close reads what is still in the pipe and flushes the partial
 * last line; EOF flushes too. */
static void
test_outpipe_close_drains(void **state)
{
	char *p = fpath(state, "c.log"), *q = fpath(state, "ctf.log");
	char *e = fpath(state, "eof.log");
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw = { e, 3 };
	struct stream *s;
	struct outpipe *op;
	int fds[2];

	s = new_stream(json_pack("{s:s}", "filename", p));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 8);
	assert_int_equal(write(fds[1], "a\nb\npartial", 11), 11);
	outpipe_close(op);		/* writer still open: EAGAIN ends it */
	close(fds[1]);
	stream_free(s);
	assert_file(p, "a\nb\npartial");

	s = new_stream(json_pack("{s:s, s:s}", "filename", q, "time_format",
	    "%H:%M"));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 8);
	assert_int_equal(write(fds[1], "a\npart", 6), 6);
	close(fds[1]);			/* EOF */
	outpipe_close(op);
	stream_free(s);
	assert_file(q, "00:00 [8] | a\n00:00 [8] | part\n");

	s = new_stream(json_pack("{s:s}", "filename", e));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 8);
	assert_int_equal(write(fds[1], "x\ny", 3), 3);
	close(fds[1]);
	pump_until(loop, file_has_size, &sw);
	assert_file(e, "x\ny");
	outpipe_close(op);
	stream_free(s);
	ev_loop_destroy(loop);
	free(p);
	free(q);
	free(e);
}

/* A partial line (a prompt) is handed over after the outpipe's flush
 * delay (outpipe_set_flush). */
static void
test_outpipe_flush_timer(void **state)
{
	char *p = fpath(state, "prompt.log");
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct size_wait sw = { p, 8 };
	struct stream *s;
	struct outpipe *op;
	int fds[2];

	s = new_stream(json_pack("{s:s}", "filename", p));
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 8);
	outpipe_set_flush(op, 0.02);
	feed_pipe(loop, fds[1], op, "prompt> ", 8);
	pump_until(loop, file_has_size, &sw);
	assert_file(p, "prompt> ");
	assert_true(outpipe_empty(op));
	feed_pipe(loop, fds[1], op, "yes\n", 4);
	sw.size = 12;
	pump_until(loop, file_has_size, &sw);
	assert_file(p, "prompt> yes\n");
	outpipe_close(op);
	close(fds[1]);
	stream_free(s);
	ev_loop_destroy(loop);
	free(p);
}

/* A stalled sink (FIFO nobody reads) never stalls the worker: the pipe is
 * drained, the excess dropped and counted. */
static void
test_outpipe_slow_sink(void **state)
{
	char *p = fpath(state, "slow"), *got, *in;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct stream *s;
	struct outpipe *op;
	const size_t total = 2 * 1024 * 1024;
	size_t i, len;
	int fds[2], rfd;

	assert_int_equal(mkfifo(p, 0600), 0);
	rfd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	s = new_stream(json_pack("{s:s}", "filename", p));
	in = xmalloc(total);
	for (i = 0; i < total; i++)
		in[i] = (i % 1024 == 1023) ? '\n' : 'z';
	make_pipe(fds);
	op = outpipe_new(loop, fds[0], s, 9);
	feed_pipe(loop, fds[1], op, in, total);	/* fails if it stalls */
	pump_until(loop, outpipe_empty, op);
	outpipe_close(op);
	close(fds[1]);
	assert_true(stream_dropped_bytes(s) > 0);
	/* Every byte was written or counted; marker attempts may have slipped
	 * a few bytes into the FIFO's last page. */
	got = drain_fd(rfd, &len);
	assert_true(len + stream_dropped_bytes(s) >= total);
	assert_true(len + stream_dropped_bytes(s) - total < 4096);
	free(got);
	stream_free(s);
	close(rfd);
	free(in);
	ev_loop_destroy(loop);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_classes),
		T(test_open_error),
		T(test_rotation_size),
		T(test_rotation_no_backup),
		T(test_rotation_timed),
		T(test_rotation_midnight_weekly),
		T(test_rotation_midnight_dst),
		T(test_watched),
		T(test_reopen),
		T(test_open_failure_recovers),
		T(test_dev_full),
		T(test_drop_marker),
		T(test_time_format),
		T(test_partial_lines),
		T(test_utf8),
		T(test_stdout),
		T(test_fancy_tty),
		T(test_outpipe_join),
		T(test_outpipe_long_line),
		T(test_outpipe_utf8_cut),
		T(test_outpipe_two_pids),
		T(test_outpipe_close_drains),
		T(test_outpipe_flush_timer),
		T(test_outpipe_slow_sink),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	log_level_current = LOG_LEVEL_CRITICAL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
