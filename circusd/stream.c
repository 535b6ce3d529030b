/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream sinks for worker output (doc/design.md §14) and the per-process pipe
 * readers feeding them. Nothing here may block the loop or stall a worker:
 * files are O_NONBLOCK|O_APPEND, what a sink cannot take at once is dropped
 * and counted (never buffered), and pipes are always drained.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <bsd/stdlib.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"
#include "xmalloc.h"

enum stream_class {
	STREAM_FILE,
	STREAM_WATCHED,
	STREAM_TIMED,
	STREAM_STDOUT,
	STREAM_FANCY,
	STREAM_QUEUE,
};

static const char *const stream_class_names[] = {
	"FileStream",
	"WatchedFileStream",
	"TimedRotatingFileStream",
	"StdoutStream",
	"FancyStdoutStream",
	"QueueStream",
};

#define STREAM_CLASS_PREFIX "circus.stream."

enum stream_when {
	WHEN_S,
	WHEN_M,
	WHEN_H,
	WHEN_D,
	WHEN_MIDNIGHT,
	WHEN_W,
};

static const char *const stream_colors[] = { "red", "green", "yellow",
	"blue", "magenta", "cyan", "white" };

/* Reads per wake-up of one pipe before giving the loop back. */
#define OUTPIPE_READS_PER_WAKEUP 16
/* outpipe_close reads at most this much from a pipe still being written. */
#define OUTPIPE_CLOSE_MAX (4 * 1024 * 1024)
/* Minimum seconds between two attempts to open a file that failed. */
#define STREAM_OPEN_RETRY_S 1.0
#define SECONDS_PER_DAY 86400
/* Formatting buffers larger than this are freed after use. */
#define STREAM_BUF_KEEP (256 * 1024)

struct stream {
	enum stream_class class;
	char		*watcher;
	char		*path;		/* file classes; NULL for stdout/queue */
	char		*time_format;	/* NULL = no prefix */
	double		(*clock)(void);	/* wall-clock seconds */

	int		 fd;		/* -1 = closed */
	bool		 fd_socket;	/* stdout is a socket: sendmsg() */
	bool		 regular;	/* a regular file, so it can rotate */
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 size;		/* bytes in the current file */
	double		 open_retry_at;	/* no open attempt before this */
	int		 open_errno;

	/* FileStream */
	long long	 max_bytes;	/* <= 0: no size rotation */
	int		 backup_count;

	/* TimedRotatingFileStream */
	enum stream_when when;
	int		 day_of_week;	/* Monday = 0 */
	time_t		 interval_s;
	bool		 utc;
	time_t		 rollover_at;
	const char	*suffix_fmt;
	size_t		 suffix_digits;

	/* FancyStdoutStream */
	int		 color;		/* 1 (red) .. 7 (white) */
	bool		 use_color;	/* stdout was a tty */

	/* Output state. */
	pid_t		 partial_pid;	/* whose line the last write left open */
	bool		 mid_line;	/* the last byte written was not '\n' */
	uint64_t	 dropped_bytes;
	uint64_t	 dropped_lines;
	uint64_t	 pending_bytes;	/* dropped since the last marker */
	uint64_t	 pending_lines;
	double		 last_error_log;
	bool		 error_logged;	/* this drop episode was logged */

	char		*out;		/* formatting buffer, reused */
	size_t		 out_len;
	size_t		 out_size;
	char		*fix;		/* UTF-8 repair buffer, reused */
	size_t		 fix_size;
};

struct outpipe {
	struct ev_loop	*loop;
	ev_io		 io;
	ev_timer	 flush_timer;
	int		 fd;		/* -1 after EOF */
	struct stream	*sink;		/* borrowed, may be NULL */
	pid_t		 pid;
	char		*buf;		/* partial line, never holds '\n' */
	size_t		 len;
	size_t		 size;
	/* the last bytes read, for a failure report (outpipe_tail) */
	char		 tail[OUTPIPE_TAIL_MAX];
	size_t		 tail_len;
	double		 flush_s;	/* a partial line waits this long */
};

/* One read buffer for every pipe: the loop is single-threaded. */
static char outpipe_scratch[OUTPIPE_LINE_MAX];

static void stream_emit(struct stream *, pid_t, const char *, size_t);

/* Wall-clock seconds since the epoch, with sub-second precision. */
double
stream_clock_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Borrow option key as a string; integers and booleans are spelled into
 * buf as Python's str() would. NULL when absent. */
static const char *
stream_opt(const json_t *conf, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(conf, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, size, "%.17g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "True" : "False";
	return NULL;
}

/* Integer option, parsed like Python int(); -1 if malformed. */
static int
stream_opt_int(const json_t *conf, const char *key, long long def,
    long long *out)
{
	char buf[64], *end;
	const char *s;
	long long v;

	if ((s = stream_opt(conf, key, buf, sizeof buf)) == NULL) {
		*out = def;
		return 0;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Python truthiness of an option: any non-empty string is true. */
static bool
stream_opt_truthy(const json_t *conf, const char *key)
{
	const json_t *v = json_object_get(conf, key);

	if (v == NULL || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_real(v))
		return json_real_value(v) != 0;
	return true;
}

/* Map a class name ("FileStream", "circus.stream.FileStream") to its
 * class: 0, -1 if unknown, -2 if it names some other Python class. */
static int
stream_class_parse(const char *name, enum stream_class *out)
{
	size_t i, plen = strlen(STREAM_CLASS_PREFIX);

	if (strncmp(name, STREAM_CLASS_PREFIX, plen) == 0)
		name += plen;
	else if (strchr(name, '.') != NULL)
		return -2;
	for (i = 0; i < nitems(stream_class_names); i++) {
		if (strcmp(name, stream_class_names[i]) == 0) {
			*out = (enum stream_class)i;
			return 0;
		}
	}
	return -1;
}

/* Adopt an open fd as the sink's file. */
static void
stream_set_fd(struct stream *s, int fd, const struct stat *st)
{
	bool same = s->fd != -1 && st->st_dev == s->dev &&
	    st->st_ino == s->ino;

	if (s->fd != -1)
		close(s->fd);
	s->fd = fd;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->regular = S_ISREG(st->st_mode);
	s->size = s->regular ? (uint64_t)st->st_size : 0;
	if (!same) {
		/* A new file starts at a line boundary. */
		s->mid_line = false;
		s->partial_pid = 0;
	}
}

/* Open (or create) the sink's file for appending, without blocking; the
 * old fd is kept if this fails. */
static int
stream_open_file(struct stream *s)
{
	struct stat st;
	int fd, saved;

	fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, 0666);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	stream_set_fd(s, fd, &st);
	s->open_retry_at = 0;
	return 0;
}

/* Open the file again if it was closed, at most once per second after a
 * failure; -1 with errno set when there is still no fd. */
static int
stream_try_open(struct stream *s)
{
	double now;

	if (s->path == NULL) {
		errno = EBADF;
		return -1;
	}
	now = s->clock();
	if (s->open_retry_at != 0 && now < s->open_retry_at &&
	    s->open_retry_at - now <= STREAM_OPEN_RETRY_S) {
		errno = s->open_errno;
		return -1;
	}
	if (stream_open_file(s) == -1) {
		s->open_errno = errno;
		s->open_retry_at = now + STREAM_OPEN_RETRY_S;
		return -1;
	}
	return 0;
}

/* Give the sink a non-blocking fd of its own on circusd's stdout. */
static void
stream_open_stdout(struct stream *s)
{
	struct stat st;
	int fd = -1;

	s->fd = -1;
	if (fstat(STDOUT_FILENO, &st) == -1)
		return;		/* stdout closed: output is discarded */
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* A new open file description, so that O_NONBLOCK does not
		 * leak to the children sharing fd 1. */
		fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC |
		    O_NOCTTY);
	}
	if (fd == -1)
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd == -1)
		return;
	s->fd = fd;
	s->fd_socket = S_ISSOCK(st.st_mode);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->use_color = isatty(STDOUT_FILENO);
}

/* Create a fresh temporary file for a FileStream without filename. */
static int
stream_mktemp(struct stream *s)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	path = xprintf("%s/tmpXXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		free(path);
		return -1;
	}
	close(fd);
	s->path = path;
	return 0;
}

/* Parse rotate_when (case-sensitive) into the timed fields. */
static int
stream_parse_when(struct stream *s, const char *when)
{
	static const struct {
		const char	*name;
		enum stream_when when;
		time_t		 interval_s;
		const char	*suffix;
	} whens[] = {
		{ "S", WHEN_S, 1, "%Y%m%d%H%M%S" },
		{ "M", WHEN_M, 60, "%Y%m%d%H%M" },
		{ "H", WHEN_H, 3600, "%Y%m%d%H" },
		{ "D", WHEN_D, SECONDS_PER_DAY, "%Y%m%d" },
		{ "MIDNIGHT", WHEN_MIDNIGHT, SECONDS_PER_DAY, "%Y%m%d" },
	};
	size_t i;

	for (i = 0; i < nitems(whens); i++) {
		if (strcmp(when, whens[i].name) == 0) {
			s->when = whens[i].when;
			s->interval_s = whens[i].interval_s;
			s->suffix_fmt = whens[i].suffix;
			break;
		}
	}
	if (i == nitems(whens)) {
		if (when[0] != 'W' || when[1] < '0' || when[1] > '6' ||
		    when[2] != '\0')
			return -1;
		s->when = WHEN_W;
		s->day_of_week = when[1] - '0';
		s->interval_s = 7 * SECONDS_PER_DAY;
		s->suffix_fmt = "%Y%m%d";
	}
	/* The suffix is all digits: 4 for %Y, 2 for every other field. */
	s->suffix_digits = 4 + 2 * (strlen(s->suffix_fmt) / 2 - 1);
	return 0;
}

/* Broken-down time of t in the stream's zone (UTC or local). */
static void
stream_tm(const struct stream *s, time_t t, struct tm *tm)
{
	if (s->utc)
		gmtime_r(&t, tm);
	else
		localtime_r(&t, tm);
}

/* Whether local time t is in daylight saving time. */
static bool
stream_is_dst(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_isdst > 0;
}

/* Next rollover after t, as Python's TimedRotatingFileHandler computes it. */
static time_t
stream_timed_next(const struct stream *s, time_t t)
{
	struct tm tm;
	time_t result = t + s->interval_s, next;
	int day, wait;
	bool dst_now;

	if (s->when != WHEN_MIDNIGHT && s->when != WHEN_W)
		return result;
	stream_tm(s, t, &tm);
	result = t + SECONDS_PER_DAY -
	    ((tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec);
	if (s->when != WHEN_W)
		return result;
	day = (tm.tm_wday + 6) % 7;
	if (day == s->day_of_week)
		return result;
	if (day < s->day_of_week)
		wait = s->day_of_week - day;
	else
		wait = 6 - day + s->day_of_week + 1;
	next = result + (time_t)wait * SECONDS_PER_DAY;
	if (!s->utc) {
		dst_now = tm.tm_isdst > 0;
		if (stream_is_dst(next) != dst_now)
			next += dst_now ? 3600 : -3600;
	}
	return next;
}

/* Fill the stream from its conf; NULL on success, else a message. */
static char *
stream_configure(struct stream *s, const json_t *conf)
{
	char buf[64];
	const char *v;
	long long n;
	size_t i;

	if ((v = stream_opt(conf, "time_format", buf, sizeof buf)) != NULL)
		s->time_format = xstrdup(v);
	if (s->class == STREAM_FILE) {
		if (stream_opt_int(conf, "max_bytes", 0, &n) == -1)
			return xprintf("invalid max_bytes for FileStream");
		s->max_bytes = n;
	}
	if (s->class == STREAM_FILE || s->class == STREAM_TIMED) {
		if (stream_opt_int(conf, "backup_count", 0, &n) == -1 ||
		    n > INT32_MAX)
			return xprintf("invalid backup_count for %s",
			    stream_class_names[s->class]);
		s->backup_count = n < 0 ? 0 : (int)n;
	}
	switch (s->class) {
	case STREAM_FANCY:
		if (s->time_format == NULL)
			s->time_format = xstrdup("%Y-%m-%d %H:%M:%S");
		v = stream_opt(conf, "color", buf, sizeof buf);
		s->color = 0;
		for (i = 0; v != NULL && i < nitems(stream_colors); i++) {
			if (strcmp(v, stream_colors[i]) == 0)
				s->color = (int)i + 1;
		}
		if (s->color == 0)
			s->color = 1 + (int)arc4random_uniform(7);
		break;
	default:
		break;
	}
	if (s->class != STREAM_TIMED)
		return NULL;
	v = stream_opt(conf, "rotate_when", buf, sizeof buf);
	if (v == NULL || stream_parse_when(s, v) == -1)
		return xprintf("invalid rotate_when '%s' for "
		    "TimedRotatingFileStream (S, M, H, D, MIDNIGHT or W0-W6)",
		    v == NULL ? "" : v);
	if (stream_opt_int(conf, "rotate_interval", 1, &n) == -1 || n < 1 ||
	    n > INT32_MAX)
		return xprintf("invalid rotate_interval for "
		    "TimedRotatingFileStream");
	s->interval_s *= (time_t)n;
	s->utc = stream_opt_truthy(conf, "utc");
	return NULL;
}

/* Create a sink from its conf (see stream.h). */
struct stream *
stream_new(const char *watcher, const json_t *conf, char **cause)
{
	return stream_new_clocked(watcher, conf, stream_clock_real, cause);
}

/* The same with the clock it reads (see stream.h). */
struct stream *
stream_new_clocked(const char *watcher, const json_t *conf,
    double (*clock)(void), char **cause)
{
	struct stream *s;
	char buf[64], *msg;
	const char *class, *filename;
	enum stream_class c = STREAM_FILE;
	struct stat st;
	bool existed;

	if (!json_is_object(conf)) {
		*cause = xprintf("watcher '%s': stream configuration invalid",
		    watcher);
		return NULL;
	}
	class = stream_opt(conf, "class", buf, sizeof buf);
	filename = json_string_value(json_object_get(conf, "filename"));
	if (class == NULL && filename == NULL) {
		*cause = xprintf("watcher '%s': stream configuration invalid",
		    watcher);
		return NULL;
	}
	if (class != NULL) {
		switch (stream_class_parse(class, &c)) {
		case -1:
			*cause = xprintf("watcher '%s': unknown stream class "
			    "'%s'", watcher, class);
			return NULL;
		case -2:
			*cause = xprintf("watcher '%s': stream class '%s' is a "
			    "Python class; only the built-in classes (or "
			    STREAM_CLASS_PREFIX "<Builtin>) are supported",
			    watcher, class);
			return NULL;
		}
	}

	tzset();
	s = xcalloc(1, sizeof *s);
	s->clock = clock;
	s->class = c;
	s->watcher = xstrdup(watcher);
	s->fd = -1;
	if ((msg = stream_configure(s, conf)) != NULL) {
		*cause = xprintf("watcher '%s': %s", watcher, msg);
		free(msg);
		stream_free(s);
		return NULL;
	}

	switch (c) {
	case STREAM_STDOUT:
	case STREAM_FANCY:
		stream_open_stdout(s);
		return s;
	case STREAM_QUEUE:
		return s;
	default:
		break;
	}

	if (filename != NULL)
		s->path = xstrdup(filename);
	else if (stream_mktemp(s) == -1) {
		*cause = xprintf("watcher '%s': cannot create a temporary "
		    "stream file: %s", watcher, strerror(errno));
		stream_free(s);
		return NULL;
	}
	existed = stat(s->path, &st) == 0;
	if (stream_open_file(s) == -1) {
		*cause = xprintf("watcher '%s': cannot open stream file "
		    "'%s': %s", watcher, s->path, strerror(errno));
		stream_free(s);
		return NULL;
	}
	if (c == STREAM_TIMED) {
		s->rollover_at = stream_timed_next(s,
		    existed ? st.st_mtime : (time_t)s->clock());
	}
	return s;
}

/* Length of the valid UTF-8 sequence at p, or 0 with *bad set to the
 * length of the maximal invalid subpart (one U+FFFD each, as Python). */
static size_t
utf8_sequence(const unsigned char *p, size_t len, size_t *bad)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= len || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* Length of buf without a trailing incomplete UTF-8 sequence. */
static size_t
utf8_complete(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t back, need;
	unsigned char c;

	for (back = 1; back <= 3 && back <= len; back++) {
		c = p[len - back];
		if (c < 0x80)
			return len;
		if (c >= 0xc0) {
			need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			return need > back ? len - back : len;
		}
	}
	return len;
}

/* Replace invalid UTF-8 in *buf by U+FFFD (decode with errors=replace);
 * *buf then points into the stream's repair buffer. */
static void
stream_utf8_fix(struct stream *s, const char **buf, size_t *len)
{
	const unsigned char *p = (const unsigned char *)*buf;
	size_t i = 0, n, bad, o, need;

	while (i < *len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_sequence(p + i, *len - i, &bad)) == 0)
			break;
		i += n;
	}
	if (i == *len)
		return;
	need = i + (*len - i) * 3;
	if (need > s->fix_size) {
		s->fix = xrealloc(s->fix, need);
		s->fix_size = need;
	}
	memcpy(s->fix, p, i);
	o = i;
	while (i < *len) {
		if ((n = utf8_sequence(p + i, *len - i, &bad)) != 0) {
			memcpy(s->fix + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(s->fix + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += bad;
		}
	}
	*buf = s->fix;
	*len = o;
}

/* Append to the formatting buffer. */
static void
stream_out_add(struct stream *s, const char *data, size_t len)
{
	size_t size;

	if (s->out_len + len > s->out_size) {
		size = s->out_size ? s->out_size : 1024;
		while (size < s->out_len + len)
			size *= 2;
		s->out = xrealloc(s->out, size);
		s->out_size = size;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
}

/* Human name of the sink for messages: "file '/path'" or "stdout". */
static void
stream_target(const struct stream *s, char *buf, size_t size)
{
	if (s->path != NULL)
		snprintf(buf, size, "file '%s'", s->path);
	else
		snprintf(buf, size, "stdout");
}

/* Count dropped bytes; log the first failure of an episode (rate-limited). */
static void
stream_drop(struct stream *s, const char *data, size_t len, int err)
{
	char target[1024];
	uint64_t lines = 0;
	const char *p, *end = data + len;
	double now;
	bool first = s->pending_bytes == 0;

	for (p = data; (p = memchr(p, '\n', end - p)) != NULL; p++)
		lines++;
	s->dropped_bytes += len;
	s->dropped_lines += lines;
	s->pending_bytes += len;
	s->pending_lines += lines;
	if (!first)
		return;
	now = s->clock();
	if (s->last_error_log != 0 && now >= s->last_error_log &&
	    now - s->last_error_log < STREAM_ERROR_LOG_S)
		return;
	s->last_error_log = now;
	s->error_logged = true;
	stream_target(s, target, sizeof target);
	log_warnx("watcher '%s': cannot write to stream %s: %s; dropping "
	    "output", s->watcher, target, strerror(err != 0 ? err : EIO));
}

/* Write iovecs without blocking; returns the bytes written, with *err set
 * when it stopped short. */
static size_t
stream_writev(struct stream *s, struct iovec *iov, int iovcnt, int *err)
{
	struct msghdr mh;
	size_t total = 0;
	ssize_t n;

	*err = 0;
	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		if (s->fd_socket) {
			memset(&mh, 0, sizeof mh);
			mh.msg_iov = iov;
			mh.msg_iovlen = (size_t)iovcnt;
			n = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else
			n = writev(s->fd, iov, iovcnt);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n == 0 ? EIO : errno;
			break;
		}
		total += (size_t)n;
		while (n > 0 && iovcnt > 0) {
			if ((size_t)n >= iov->iov_len) {
				n -= (ssize_t)iov->iov_len;
				iov++;
				iovcnt--;
			} else {
				iov->iov_base = (char *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return total;
}

/* Write len bytes produced by pid in one go, after the pending drop marker
 * or a line break (when another process left a line open); whatever the
 * sink does not take now is dropped and counted. */
static void
stream_emit(struct stream *s, pid_t pid, const char *data, size_t len)
{
	char pre[128], target[1024];
	struct iovec iov[2];
	size_t plen = 0, done, wrote;
	int err;
	bool marker = false;

	if (len == 0)
		return;
	if (s->fd == -1 && stream_try_open(s) == -1) {
		if (s->path != NULL)
			stream_drop(s, data, len, errno);
		return;
	}
	if (s->pending_bytes > 0) {
		plen = (size_t)snprintf(pre, sizeof pre,
		    "%s[circus] dropped %" PRIu64 " bytes (%" PRIu64 " lines)\n",
		    s->mid_line ? "\n" : "", s->pending_bytes,
		    s->pending_lines);
		marker = true;
	} else if (s->mid_line && s->partial_pid != pid) {
		pre[0] = '\n';
		plen = 1;
	}
	iov[0].iov_base = pre;
	iov[0].iov_len = plen;
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = len;
	done = stream_writev(s, iov, 2, &err);
	if (done > 0) {
		s->size += done;
		if (done > plen)
			s->mid_line = data[done - plen - 1] != '\n';
		else
			s->mid_line = pre[done - 1] != '\n';
	}
	wrote = 0;
	if (done >= plen) {
		wrote = done - plen;
		if (marker) {
			if (s->error_logged) {
				stream_target(s, target, sizeof target);
				log_info("watcher '%s': stream %s writable "
				    "again, %" PRIu64 " bytes were dropped",
				    s->watcher, target, s->pending_bytes);
			}
			s->pending_bytes = s->pending_lines = 0;
			s->error_logged = false;
		}
	}
	if (wrote < len)
		stream_drop(s, data + wrote, len - wrote, err);
	s->partial_pid = s->mid_line ? pid : 0;
}

/* strftime with a run-time format (time_format comes from the user). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t
stream_strftime_tm(char *buf, size_t size, const char *fmt,
    const struct tm *tm)
{
	return strftime(buf, size, fmt, tm);
}
#pragma GCC diagnostic pop

/* strftime of t with Python's %f (microseconds) added; "" if too long. */
static void
stream_strftime(const char *fmt, double t, bool utc, char *buf, size_t size)
{
	char f[512];
	const char *p;
	size_t i = 0;
	time_t sec = (time_t)t;
	long usec;
	struct tm tm;

	if (t < (double)sec)
		sec--;
	usec = (long)((t - (double)sec) * 1e6);
	if (usec > 999999)
		usec = 999999;
	for (p = fmt; *p != '\0' && i < sizeof f - 8; p++) {
		if (p[0] == '%' && p[1] == 'f') {
			i += (size_t)snprintf(f + i, sizeof f - i, "%06ld",
			    usec);
			p++;
		} else if (p[0] == '%' && p[1] != '\0') {
			f[i++] = *p++;
			f[i++] = *p;
		} else
			f[i++] = *p;
	}
	f[i] = '\0';
	if (utc)
		gmtime_r(&sec, &tm);
	else
		localtime_r(&sec, &tm);
	if (size == 0)
		return;
	if (stream_strftime_tm(buf, size, f, &tm) == 0)
		buf[0] = '\0';
}

/* Format "<time> [<pid>] | " (local time, as Circus) into buf. */
static size_t
stream_prefix(const struct stream *s, pid_t pid, char *buf, size_t size)
{
	char tbuf[256];
	int n;

	stream_strftime(s->time_format, s->clock(), false, tbuf,
	    sizeof tbuf);
	n = snprintf(buf, size, "%s [%ld] | ", tbuf, (long)pid);
	if (n < 0)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Free the reusable buffers when a burst made them large. */
static void
stream_trim(struct stream *s)
{
	if (s->out_size > STREAM_BUF_KEEP) {
		free(s->out);
		s->out = NULL;
		s->out_size = 0;
	}
	if (s->fix_size > STREAM_BUF_KEEP) {
		free(s->fix);
		s->fix = NULL;
		s->fix_size = 0;
	}
}

/* Size rotation: shift filename.N up, move filename to filename.1 and
 * open a fresh filename. */
static void
stream_rotate(struct stream *s)
{
	char *src, *dst;
	int i;

	stream_close(s);
	for (i = s->backup_count - 1; i >= 1; i--) {
		src = xprintf("%s.%d", s->path, i);
		dst = xprintf("%s.%d", s->path, i + 1);
		if (rename(src, dst) == -1 && errno != ENOENT)
			log_warn("watcher '%s': cannot rotate '%s'",
			    s->watcher, src);
		free(src);
		free(dst);
	}
	dst = xprintf("%s.1", s->path);
	if (rename(s->path, dst) == -1 && errno != ENOENT)
		log_warn("watcher '%s': cannot rotate '%s'", s->watcher,
		    s->path);
	free(dst);
	s->open_retry_at = 0;
	(void)stream_try_open(s);
}

/* Order for qsort of C strings. */
static int
stream_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Delete timed backups (filename.<digits>) beyond backup_count, oldest
 * first by name. */
static void
stream_timed_purge(struct stream *s)
{
	char *dir, **names = NULL, *path;
	const char *slash = strrchr(s->path, '/'), *base, *p;
	size_t n = 0, cap = 0, i, blen;
	struct dirent *de;
	DIR *d;

	if (slash == NULL) {
		dir = xstrdup(".");
		base = s->path;
	} else {
		dir = slash == s->path ? xstrdup("/") :
		    xstrndup(s->path, (size_t)(slash - s->path));
		base = slash + 1;
	}
	blen = strlen(base);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    de->d_name[blen] != '.')
			continue;
		p = de->d_name + blen + 1;
		if (strlen(p) != s->suffix_digits)
			continue;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != '\0')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, stream_strcmp);
	for (i = 0; i < n; i++) {
		if (i + (size_t)s->backup_count < n) {
			path = xprintf("%s/%s", dir, names[i]);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("watcher '%s': cannot delete '%s'",
				    s->watcher, path);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	free(dir);
}

/* Timed rotation: rename filename to filename.<start of the elapsed
 * interval>, purge old backups, open a fresh file, compute the next
 * rollover. */
static void
stream_timed_rollover(struct stream *s, time_t now)
{
	char suffix[64], *dst;
	struct tm tm;
	time_t t = s->rollover_at - s->interval_s, next;
	bool dst_now = stream_is_dst(now);

	if (s->utc)
		gmtime_r(&t, &tm);
	else {
		localtime_r(&t, &tm);
		if ((tm.tm_isdst > 0) != dst_now) {
			t += dst_now ? 3600 : -3600;
			localtime_r(&t, &tm);
		}
	}
	if (stream_strftime_tm(suffix, sizeof suffix, s->suffix_fmt,
	    &tm) == 0)
		suffix[0] = '\0';
	stream_close(s);
	dst = xprintf("%s.%s", s->path, suffix);
	if (rename(s->path, dst) == -1 && errno != ENOENT)
		log_warn("watcher '%s': cannot rotate '%s'", s->watcher,
		    s->path);
	free(dst);
	if (s->backup_count > 0)
		stream_timed_purge(s);
	s->open_retry_at = 0;
	(void)stream_try_open(s);

	next = stream_timed_next(s, now);
	while (next <= now)
		next += s->interval_s;
	if ((s->when == WHEN_MIDNIGHT || s->when == WHEN_W) && !s->utc &&
	    stream_is_dst(next) != dst_now)
		next += dst_now ? 3600 : -3600;
	s->rollover_at = next;
}

/* WatchedFileStream: reopen when the path no longer names our file. */
static void
stream_watch_check(struct stream *s)
{
	struct stat st;

	if (s->fd == -1)
		return;
	if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		return;
	stream_close(s);
	s->open_retry_at = 0;
	(void)stream_try_open(s);
}

/* File classes: prefix each line when time_format is set, rotate by size
 * between lines, write. */
static void
stream_write_file(struct stream *s, pid_t pid, const char *buf, size_t len)
{
	char prefix[384];
	const char *p, *nl, *end = buf + len;
	size_t plen = 0, start, n;
	bool rotate;

	/* Rotate only an open regular file: never shift the backups of a
	 * file that cannot be opened. */
	if (s->fd == -1)
		(void)stream_try_open(s);
	rotate = s->class == STREAM_FILE && s->max_bytes > 0 &&
	    s->backup_count > 0 && s->regular;
	if (s->time_format == NULL && !rotate) {
		stream_emit(s, pid, buf, len);
		return;
	}
	if (s->time_format != NULL)
		plen = stream_prefix(s, pid, prefix, sizeof prefix);
	s->out_len = 0;
	for (p = buf; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		start = s->out_len;
		if (plen > 0) {
			/* [quirk] a piece without its '\n' gets one. */
			n = (size_t)(nl - p);
			if (nl[-1] == '\n')
				n--;
			stream_out_add(s, prefix, plen);
			stream_out_add(s, p, n);
			stream_out_add(s, "\n", 1);
		} else
			stream_out_add(s, p, (size_t)(nl - p));
		if (rotate && s->fd != -1 &&
		    s->size + s->out_len >= (uint64_t)s->max_bytes &&
		    s->size + start > 0) {
			stream_emit(s, pid, s->out, start);
			stream_rotate(s);
			memmove(s->out, s->out + start, s->out_len - start);
			s->out_len -= start;
		}
	}
	stream_emit(s, pid, s->out, s->out_len);
}

/* FancyStdoutStream: each non-empty line coloured (on a tty) and
 * prefixed. */
static void
stream_write_fancy(struct stream *s, pid_t pid, const char *buf, size_t len)
{
	char prefix[384], color[16];
	const char *p, *nl, *end = buf + len;
	size_t plen, n;

	plen = stream_prefix(s, pid, prefix, sizeof prefix);
	snprintf(color, sizeof color, "\033[0;3%d;40m", s->color);
	s->out_len = 0;
	for (p = buf; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((n = (size_t)(nl - p)) == 0)
			continue;
		if (s->use_color)
			stream_out_add(s, color, strlen(color));
		stream_out_add(s, prefix, plen);
		stream_out_add(s, p, n);
		if (s->use_color)
			stream_out_add(s, "\033[0m", 4);
		stream_out_add(s, "\n", 1);
	}
	stream_emit(s, pid, s->out, s->out_len);
}

/* Write a chunk of pid's output to the sink (see stream.h). */
void
stream_write(struct stream *s, pid_t pid, const char *buf, size_t len)
{
	double now;

	if (s == NULL || len == 0 || s->class == STREAM_QUEUE)
		return;
	stream_utf8_fix(s, &buf, &len);
	switch (s->class) {
	case STREAM_STDOUT:
		stream_emit(s, pid, buf, len);
		stream_trim(s);
		return;
	case STREAM_FANCY:
		stream_write_fancy(s, pid, buf, len);
		stream_trim(s);
		return;
	case STREAM_WATCHED:
		stream_watch_check(s);
		break;
	case STREAM_TIMED:
		now = s->clock();
		if ((time_t)now >= s->rollover_at)
			stream_timed_rollover(s, (time_t)now);
		break;
	default:
		break;
	}
	stream_write_file(s, pid, buf, len);
	stream_trim(s);
}

/* Reopen the sink's file; on failure the old one stays in use. */
int
stream_reopen(struct stream *s, char **cause)
{
	if (s == NULL || s->path == NULL)
		return 0;
	if (stream_open_file(s) == -1) {
		if (cause != NULL)
			*cause = xprintf("watcher '%s': cannot open stream "
			    "file '%s': %s", s->watcher, s->path,
			    strerror(errno));
		return -1;
	}
	return 0;
}

/* Close the sink's file, if it has one. */
void
stream_close(struct stream *s)
{
	if (s == NULL || s->path == NULL || s->fd == -1)
		return;
	close(s->fd);
	s->fd = -1;
	s->size = 0;
}

/* Total bytes dropped since creation. */
uint64_t
stream_dropped_bytes(const struct stream *s)
{
	return s == NULL ? 0 : s->dropped_bytes;
}

/* Total lines (newlines) dropped since creation. */
uint64_t
stream_dropped_lines(const struct stream *s)
{
	return s == NULL ? 0 : s->dropped_lines;
}

/* Configured class, without the circus.stream. prefix. */
const char *
stream_class_name(const struct stream *s)
{
	return stream_class_names[s->class];
}

/* The sink's file path, or NULL. */
const char *
stream_filename(const struct stream *s)
{
	return s->path;
}

/* Close and free a sink; NULL is a no-op. */
void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->watcher);
	free(s->path);
	free(s->time_format);
	free(s->out);
	free(s->fix);
	free(s);
}

/* Hand the first n buffered bytes to the sink. */
static void
outpipe_flush(struct outpipe *op, size_t n)
{
	if (n == 0)
		return;
	stream_write(op->sink, op->pid, op->buf, n);
	memmove(op->buf, op->buf + n, op->len - n);
	op->len -= n;
}

/* Append to the partial line (the caller keeps it <= OUTPIPE_LINE_MAX). */
static void
outpipe_append(struct outpipe *op, const char *data, size_t len)
{
	size_t size;

	if (op->len + len > op->size) {
		size = op->size ? op->size : 256;
		while (size < op->len + len)
			size *= 2;
		if (size > OUTPIPE_LINE_MAX)
			size = OUTPIPE_LINE_MAX;
		op->buf = xrealloc(op->buf, size);
		op->size = size;
	}
	memcpy(op->buf + op->len, data, len);
	op->len += len;
}

/* Split data into lines: complete lines go to the sink whole (several at
 * a time), the rest waits in this process's buffer; a line longer than
 * OUTPIPE_LINE_MAX goes out in pieces. */
static void
outpipe_feed(struct outpipe *op, const char *data, size_t len)
{
	const char *nl;
	size_t n;

	while (op->len > 0 && len > 0) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (n > OUTPIPE_LINE_MAX - op->len)
			n = OUTPIPE_LINE_MAX - op->len;
		outpipe_append(op, data, n);
		data += n;
		len -= n;
		if (op->buf[op->len - 1] == '\n')
			outpipe_flush(op, op->len);
		else if (op->len == OUTPIPE_LINE_MAX)
			outpipe_flush(op, utf8_complete(op->buf, op->len));
	}
	if (len == 0)
		return;
	if ((nl = memrchr(data, '\n', len)) != NULL) {
		n = (size_t)(nl - data) + 1;
		stream_write(op->sink, op->pid, data, n);
		data += n;
		len -= n;
	}
	while (len >= OUTPIPE_LINE_MAX) {
		n = utf8_complete(data, OUTPIPE_LINE_MAX);
		stream_write(op->sink, op->pid, data, n);
		data += n;
		len -= n;
	}
	if (len > 0)
		outpipe_append(op, data, len);
}

/* Stop reading at EOF: close the pipe, hand over the last partial line. */
static void
outpipe_eof(struct outpipe *op)
{
	ev_io_stop(op->loop, &op->io);
	ev_timer_stop(op->loop, &op->flush_timer);
	close(op->fd);
	op->fd = -1;
	outpipe_flush(op, op->len);
}

/* Remember the last OUTPIPE_TAIL_MAX bytes read. */
static void
outpipe_keep_tail(struct outpipe *op, const char *data, size_t len)
{
	size_t keep;

	if (len >= sizeof op->tail) {
		memcpy(op->tail, data + len - sizeof op->tail, sizeof op->tail);
		op->tail_len = sizeof op->tail;
		return;
	}
	keep = sizeof op->tail - len;
	if (keep > op->tail_len)
		keep = op->tail_len;
	memmove(op->tail, op->tail + op->tail_len - keep, keep);
	memcpy(op->tail + keep, data, len);
	op->tail_len = keep + len;
}

/* One non-blocking read: bytes read, 0 if nothing is pending, -1 at EOF
 * or error (the pipe is then closed). */
static ssize_t
outpipe_read(struct outpipe *op)
{
	ssize_t n;

	for (;;) {
		n = read(op->fd, outpipe_scratch, sizeof outpipe_scratch);
		if (n > 0) {
			outpipe_keep_tail(op, outpipe_scratch, (size_t)n);
			outpipe_feed(op, outpipe_scratch, (size_t)n);
			return n;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1)
			log_warn("process %ld: cannot read output pipe",
			    (long)op->pid);
		outpipe_eof(op);
		return -1;
	}
}

/* Keep the flush timer running exactly while a partial line waits. */
static void
outpipe_arm(struct outpipe *op)
{
	if (op->len == 0 || op->fd == -1)
		ev_timer_stop(op->loop, &op->flush_timer);
	else if (!ev_is_active(&op->flush_timer)) {
		ev_timer_set(&op->flush_timer, op->flush_s, 0.);
		ev_timer_start(op->loop, &op->flush_timer);
	}
}

/* The pipe is readable: drain it (bounded per wake-up for fairness). */
static void
outpipe_read_cb(UNUSED struct ev_loop *loop, ev_io *w, UNUSED int revents)
{
	struct outpipe *op = container_of(w, struct outpipe, io);
	int i;

	for (i = 0; i < OUTPIPE_READS_PER_WAKEUP; i++) {
		if (outpipe_read(op) <= 0)
			break;
	}
	outpipe_arm(op);
}

/* A partial line waited long enough: hand it over without its end. */
static void
outpipe_flush_cb(UNUSED struct ev_loop *loop, ev_timer *w,
    UNUSED int revents)
{
	struct outpipe *op = container_of(w, struct outpipe, flush_timer);

	outpipe_flush(op, utf8_complete(op->buf, op->len));
}

/* How long a partial line waits before it is handed over (see stream.h). */
void
outpipe_set_flush(struct outpipe *op, double seconds)
{
	op->flush_s = seconds;
}

/* Start reading a child's pipe into sink (see stream.h). */
struct outpipe *
outpipe_new(struct ev_loop *loop, int fd, struct stream *sink, pid_t pid)
{
	struct outpipe *op;
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) != -1 && (flags & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if ((flags = fcntl(fd, F_GETFD)) != -1 && (flags & FD_CLOEXEC) == 0)
		(void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	op = xcalloc(1, sizeof *op);
	op->loop = loop;
	op->fd = fd;
	op->sink = sink;
	op->pid = pid;
	op->flush_s = OUTPIPE_FLUSH_S;
	ev_io_init(&op->io, outpipe_read_cb, fd, EV_READ);
	ev_timer_init(&op->flush_timer, outpipe_flush_cb, op->flush_s, 0.);
	ev_io_start(loop, &op->io);
	return op;
}

/* Point the outpipe at another sink. */
void
outpipe_set_stream(struct outpipe *op, struct stream *sink)
{
	op->sink = sink;
}

/* The sink an outpipe writes to. */
const struct stream *
outpipe_sink(const struct outpipe *op)
{
	return op->sink;
}

/* Bytes of partial line waiting for its end. */
size_t
outpipe_buffered(const struct outpipe *op)
{
	return op->len;
}

/* Read what is left (bounded, non-blocking). */
void
outpipe_drain(struct outpipe *op)
{
	size_t total = 0;
	ssize_t n;

	while (op->fd != -1 && total < OUTPIPE_CLOSE_MAX) {
		if ((n = outpipe_read(op)) <= 0)
			break;
		total += (size_t)n;
	}
}

/* Its last lines (at most nlines, whole lines only unless one line is
 * longer than the tail), or NULL if it wrote nothing. Caller frees. */
char *
outpipe_tail(const struct outpipe *op, int nlines)
{
	const char *start, *end = op->tail + op->tail_len;

	while (end > op->tail && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end == op->tail)
		return NULL;
	start = end;
	while (start > op->tail) {
		if (start[-1] == '\n' && --nlines == 0)
			break;
		start--;
	}
	return xstrndup(start, (size_t)(end - start));
}

/* Drain what is left, flush the partial line, close and free. */
void
outpipe_close(struct outpipe *op)
{
	if (op == NULL)
		return;
	outpipe_drain(op);
	ev_io_stop(op->loop, &op->io);
	ev_timer_stop(op->loop, &op->flush_timer);
	if (op->fd != -1)
		close(op->fd);
	outpipe_flush(op, op->len);
	free(op->buf);
	free(op);
}
