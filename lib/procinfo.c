/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process info object of doc/design.md §17.2, read straight from /proc:
 * one read of /proc/<pid>/stat and one of cmdline per process (or only
 * the stat for a pid sampled again, procinfo_batch_sample). Children
 * come from a ppid table kept between calls and refreshed with one readdir
 * per batch, re-reading only processes that are new since the last one.
 * Nothing here signals or changes a process.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "procinfo.h"
#include "proctree.h"
#include "xmalloc.h"

#define PROCINFO_GONE "No such process (stopped?)"
#define PROCINFO_NA "N/A"

/* Machine constants, read once: they do not change while we run. */
struct procinfo_machine {
	bool ready;
	long hz;
	long page_size;
	double boot_time; /* btime of /proc/stat, like psutil */
};

/* One process in the ppid table; ino tells a reused pid apart. */
struct procinfo_link {
	pid_t pid;
	pid_t ppid; /* -1 while unknown */
	ino_t ino;
};

struct procinfo_uid {
	uid_t uid;
	char *name;
};

struct procinfo_batch {
	double wall;        /* time.time() for ages */
	double clock;       /* CLOCK_BOOTTIME, for cpu */
	uint64_t mem_total; /* bytes of RAM */
	int proc_fd;        /* /proc, -1 until needed */
	struct procinfo_uid *uids;
	size_t nuids;
	bool scanned;
	struct procinfo_link *by_ppid; /* sorted by (ppid, pid) */
	size_t nby_ppid;
	/* a /proc scan in steps (procinfo_batch_index) */
	unsigned drain_calls;
	bool scan_listed;
	DIR *scan_dir;                  /* being listed */
	struct procinfo_link *scan_cur; /* listed (then sorted by pid) */
	size_t scan_n, scan_cap;
	size_t scan_i, scan_k;          /* looked at, kept */
};

static struct procinfo_machine machine;
/* The ppid table of the last scan, sorted by pid. */
static struct procinfo_link *scan_cache;
/* The descendants table kept from process events, when there is one. */
static struct proctree *tree;
static size_t scan_ncache;

static void procinfo_machine_init(void);
static double procinfo_clock(int);
static ssize_t procinfo_read_at(int, const char *, char *, size_t, struct stat *);
static int procinfo_proc_fd(struct procinfo_batch *);
static const char *procinfo_username(struct procinfo_batch *, uid_t);
static int procinfo_real_uid(int, pid_t, uid_t *);
static int procinfo_link_pid_cmp(const void *, const void *);
static int procinfo_link_ppid_cmp(const void *, const void *);
static int procinfo_pid_cmp(const void *, const void *);
static void procinfo_scan(struct procinfo_batch *);
static bool procinfo_scan_list(struct procinfo_batch *, size_t);
static bool procinfo_scan_resolve(struct procinfo_batch *, size_t);
static void procinfo_tree_reload(void);
static size_t procinfo_children(struct procinfo_batch *, pid_t, pid_t **);
static json_t *procinfo_jstring(const char *);
static double procinfo_cpu(const struct procinfo_stat *, struct procinfo_batch *,
    uint64_t *, double *);
static int procinfo_read_stat(struct procinfo_batch *, pid_t,
    struct procinfo_stat *, uid_t *);
static uid_t procinfo_uid_of(struct procinfo_batch *, pid_t, uid_t);
static void procinfo_read_name(struct procinfo_batch *, pid_t, char *, size_t);
static json_t *procinfo_object(struct procinfo_batch *, pid_t,
    const struct procinfo_stat *, uid_t, const char *, double);

/* Read clock ticks, page size and boot time once. */
static void
procinfo_machine_init(void)
{
	FILE *f;
	char *line = NULL;
	size_t size = 0;
	long long bt;

	if (machine.ready)
		return;
	machine.hz = sysconf(_SC_CLK_TCK);
	if (machine.hz <= 0)
		machine.hz = 100;
	machine.page_size = sysconf(_SC_PAGESIZE);
	if (machine.page_size <= 0)
		machine.page_size = 4096;
	machine.boot_time = 0;
	if ((f = fopen("/proc/stat", "re")) != NULL) {
		while (getline(&line, &size, f) != -1) {
			if (sscanf(line, "btime %lld", &bt) == 1) {
				machine.boot_time = (double)bt;
				break;
			}
		}
		free(line);
		fclose(f);
	}
	machine.ready = true;
}

/* Seconds on one of the clocks. */
static double
procinfo_clock(int id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read a whole small file relative to dirfd; fstat it if st != NULL. */
static ssize_t
procinfo_read_at(int dirfd, const char *path, char *buf, size_t len,
    struct stat *st)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (st != NULL && fstat(fd, st) != 0) {
		close(fd);
		return -1;
	}
	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	return (ssize_t)off;
}

/* The batch's descriptor of /proc. */
static int
procinfo_proc_fd(struct procinfo_batch *b)
{
	if (b->proc_fd == -1)
		b->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return b->proc_fd;
}

/* User name of uid (cached per batch), or the number like psutil. */
static const char *
procinfo_username(struct procinfo_batch *b, uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[2048];
	char *name;
	size_t i;

	for (i = 0; i < b->nuids; i++) {
		if (b->uids[i].uid == uid)
			return b->uids[i].name;
	}
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
		name = xstrdup(res->pw_name);
	else
		name = xprintf("%lu", (unsigned long)uid);
	b->uids = xreallocarray(b->uids, b->nuids + 1, sizeof *b->uids);
	b->uids[b->nuids].uid = uid;
	b->uids[b->nuids].name = name;
	b->nuids++;
	return name;
}

/* Real uid from /proc/<pid>/status. */
static int
procinfo_real_uid(int proc_fd, pid_t pid, uid_t *uid)
{
	char path[64], buf[4096], *p, *end;
	ssize_t n;
	unsigned long v;

	snprintf(path, sizeof path, "%d/status", (int)pid);
	n = procinfo_read_at(proc_fd, path, buf, sizeof buf - 1, NULL);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nUid:")) == NULL)
		return -1;
	p += 5;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (end == p || errno != 0)
		return -1;
	*uid = (uid_t)v;
	return 0;
}

/* Parse the text of /proc/<pid>/stat. */
int
procinfo_parse_stat(const char *buf, size_t len, struct procinfo_stat *st)
{
	char tmp[1024];
	const char *rp;
	char *p, *end;
	long long v[21];
	size_t i;
	int field;

	memset(st, 0, sizeof *st);
	rp = NULL;
	for (i = len; i > 0; i--) {
		if (buf[i - 1] == ')') {
			rp = buf + i;
			break;
		}
	}
	if (rp == NULL)
		return -1;
	len -= (size_t)(rp - buf);
	if (len >= sizeof tmp)
		len = sizeof tmp - 1;
	memcpy(tmp, rp, len);
	tmp[len] = '\0';

	p = tmp;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return -1;
	st->state = *p++;
	/* Fields 4 (ppid) to 24 (rss), all below 2^63 here. */
	for (field = 4; field <= 24; field++) {
		errno = 0;
		v[field - 4] = strtoll(p, &end, 10);
		if (end == p || errno != 0)
			return -1;
		p = end;
	}
	st->ppid = (pid_t)v[4 - 4];
	st->utime_ticks = (uint64_t)v[14 - 4];
	st->stime_ticks = (uint64_t)v[15 - 4];
	st->nice = (long)v[19 - 4];
	st->num_threads = (long)v[20 - 4];
	st->start_ticks = (uint64_t)v[22 - 4];
	st->vsize_bytes = (uint64_t)v[23 - 4];
	st->rss_pages = (uint64_t)v[24 - 4];
	return 0;
}

/* Python's bytes2human. */
void
procinfo_bytes2human(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	uint64_t prefix;
	int i;

	for (i = 5; i >= 0; i--) {
		prefix = (uint64_t)1 << ((i + 1) * 10);
		if (n >= prefix) {
			snprintf(buf, len, "%.2f%c", (double)n / (double)prefix,
			    units[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "B", n);
}

/* The ctime quirk: minutes mod 60, seconds, then str(microseconds)[:2]. */
void
procinfo_ctime(uint64_t cpu_us, char *buf, size_t len)
{
	char us[16];
	uint64_t s;

	s = (cpu_us / 1000000) % 86400;
	snprintf(us, sizeof us, "%" PRIu64, cpu_us % 1000000);
	snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ".%.2s", (s / 60) % 60,
	    s % 60, us);
}

/* Basename of the first word of argv[0], or "N/A". */
void
procinfo_cmdline_name(const char *data, size_t len, char *buf, size_t buflen)
{
	const char *nul;
	size_t i, start, end, base;

	if ((nul = memchr(data, '\0', len)) != NULL)
		len = (size_t)(nul - data);
	for (i = 0; i < len && strchr(" \t\r\n", data[i]) != NULL; i++)
		;
	start = i;
	for (; i < len && strchr(" \t\r\n", data[i]) == NULL; i++)
		;
	end = i;
	if (start == end) {
		snprintf(buf, buflen, "%s", PROCINFO_NA);
		return;
	}
	base = start;
	for (i = start; i < end; i++) {
		if (data[i] == '/')
			base = i + 1;
	}
	snprintf(buf, buflen, "%.*s", (int)(end - base), data + base);
}

/* Python round(v, ndigits), through a correctly rounded decimal string. */
double
procinfo_round(double v, int ndigits)
{
	char buf[400];

	if (!isfinite(v))
		return v;
	snprintf(buf, sizeof buf, "%.*f", ndigits, v);
	return strtod(buf, NULL);
}

/* Seed a cpu sample with the start of the process. */
void
procinfo_seed_from_start(pid_t pid, uint64_t *last_ticks, double *last_time)
{
	struct procinfo_stat st;
	char path[64], buf[1024];
	ssize_t n;

	procinfo_machine_init();
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	n = procinfo_read_at(AT_FDCWD, path, buf, sizeof buf, NULL);
	if (n <= 0 || procinfo_parse_stat(buf, (size_t)n, &st) != 0)
		return;
	*last_ticks = 0;
	*last_time = (double)st.start_ticks / (double)machine.hz;
}

/* Order links by pid. */
static int
procinfo_link_pid_cmp(const void *a, const void *b)
{
	const struct procinfo_link *la = a, *lb = b;

	return (la->pid > lb->pid) - (la->pid < lb->pid);
}

/* Order links by ppid, then pid. */
static int
procinfo_link_ppid_cmp(const void *a, const void *b)
{
	const struct procinfo_link *la = a, *lb = b;

	if (la->ppid != lb->ppid)
		return (la->ppid > lb->ppid) - (la->ppid < lb->ppid);
	return (la->pid > lb->pid) - (la->pid < lb->pid);
}

/* Order pids. */
static int
procinfo_pid_cmp(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;

	return (pa > pb) - (pa < pb);
}

/*
 * List /proc (readdir, no file read), at most budget entries a call; true
 * when the listing is complete: then the pids get the ppid known for a
 * (pid, inode) seen by the last scan unless its parent has gone since (it
 * was reparented). What stays unknown is read by procinfo_scan_resolve,
 * a budget at a time.
 */
static bool
procinfo_scan_list(struct procinfo_batch *b, size_t budget)
{
	struct dirent *de;
	struct procinfo_link *cur, *old = scan_cache;
	pid_t *died = NULL;
	size_t n, ndied = 0, i, j;
	char *end;
	unsigned long v;

	if (b->scan_dir == NULL && (b->scan_dir = opendir("/proc")) == NULL) {
		b->scan_listed = true;
		return true;
	}
	while (budget-- > 0 && (de = readdir(b->scan_dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		errno = 0;
		v = strtoul(de->d_name, &end, 10);
		if (*end != '\0' || errno != 0 || v == 0 || v > INT32_MAX)
			continue;
		if (b->scan_n == b->scan_cap) {
			b->scan_cap = b->scan_cap == 0 ? 256 : b->scan_cap * 2;
			b->scan_cur = xreallocarray(b->scan_cur, b->scan_cap,
			    sizeof *b->scan_cur);
		}
		b->scan_cur[b->scan_n].pid = (pid_t)v;
		b->scan_cur[b->scan_n].ppid = -1;
		b->scan_cur[b->scan_n].ino = de->d_ino;
		b->scan_n++;
	}
	if (budget == (size_t)-1)
		return false;	/* stopped by the budget, not the end */
	closedir(b->scan_dir);
	b->scan_dir = NULL;
	b->scan_listed = true;
	cur = b->scan_cur;
	n = b->scan_n;
	qsort(cur, n, sizeof *cur, procinfo_link_pid_cmp);

	/* Merge with the old table (both sorted by pid). */
	died = xreallocarray(NULL, scan_ncache + 1, sizeof *died);
	for (i = 0, j = 0; i < n; i++) {
		while (j < scan_ncache && old[j].pid < cur[i].pid)
			died[ndied++] = old[j++].pid;
		if (j < scan_ncache && old[j].pid == cur[i].pid) {
			if (old[j].ino == cur[i].ino)
				cur[i].ppid = old[j].ppid;
			else
				died[ndied++] = old[j].pid;
			j++;
		}
	}
	while (j < scan_ncache)
		died[ndied++] = old[j++].pid;
	for (i = 0; i < n; i++) {
		if (cur[i].ppid != -1 && ndied > 0 &&
		    bsearch(&cur[i].ppid, died, ndied, sizeof *died,
		        procinfo_pid_cmp) != NULL)
			cur[i].ppid = -1;
	}
	free(died);
	return true;
}

/*
 * Read the stat of listed pids whose ppid is unknown, at most budget of
 * them; drop those that vanished meanwhile. True when every pid is done:
 * the list becomes the ppid table of the next scan and the batch's index.
 */
static bool
procinfo_scan_resolve(struct procinfo_batch *b, size_t budget)
{
	struct procinfo_link *cur = b->scan_cur;
	struct procinfo_stat st;
	char path[64], buf[1024];
	ssize_t len;
	size_t k;
	int fd = procinfo_proc_fd(b);

	for (; b->scan_i < b->scan_n; b->scan_i++) {
		if (cur[b->scan_i].ppid == -1) {
			if (budget == 0)
				return false;
			budget--;
			snprintf(path, sizeof path, "%d/stat",
			    (int)cur[b->scan_i].pid);
			len = fd == -1 ? -1 : procinfo_read_at(fd, path, buf,
			    sizeof buf, NULL);
			if (len <= 0 ||
			    procinfo_parse_stat(buf, (size_t)len, &st) != 0)
				continue;
			cur[b->scan_i].ppid = st.ppid;
		}
		cur[b->scan_k++] = cur[b->scan_i];
	}
	k = b->scan_k;
	free(scan_cache);
	scan_cache = cur;
	scan_ncache = k;
	b->scan_cur = NULL;

	b->by_ppid = xreallocarray(NULL, k + 1, sizeof *b->by_ppid);
	if (k > 0)
		memcpy(b->by_ppid, cur, k * sizeof *cur);
	b->nby_ppid = k;
	qsort(b->by_ppid, k, sizeof *b->by_ppid, procinfo_link_ppid_cmp);
	return true;
}

/* Reload the events table from the last /proc scan (after lost events). */
static void
procinfo_tree_reload(void)
{
	struct proctree_link *all;
	size_t i;

	all = xreallocarray(NULL, scan_ncache + 1, sizeof *all);
	for (i = 0; i < scan_ncache; i++) {
		all[i].pid = scan_cache[i].pid;
		all[i].ppid = scan_cache[i].ppid;
	}
	proctree_reload(tree, all, scan_ncache);
	free(all);
}

/*
 * The ppid index of a batch: from the events table when it is ready (its
 * size is what circusd supervises), otherwise from a /proc scan (its size
 * is the machine), which also repairs a table that lost events. The scan
 * reads at most budget stat files per call; true when the index is ready.
 */
bool
procinfo_batch_index(struct procinfo_batch *b, size_t budget)
{
	const struct proctree_link *links;
	size_t i, n;

	if (b->scanned)
		return true;
	if (tree != NULL && !b->scan_listed) {
		/* the events since the last use, budget messages a call (a
		 * busy machine keeps adding some: not past 64 calls) */
		if (!proctree_drain_some(tree, budget) &&
		    ++b->drain_calls < 64)
			return false;
		if (proctree_ready(tree)) {
			b->scanned = true;
			links = proctree_links(tree, &n);
			b->by_ppid = xreallocarray(NULL, n + 1,
			    sizeof *b->by_ppid);
			for (i = 0; i < n; i++) {
				b->by_ppid[i].pid = links[i].pid;
				b->by_ppid[i].ppid = links[i].ppid;
				b->by_ppid[i].ino = 0;
			}
			b->nby_ppid = n;
			qsort(b->by_ppid, n, sizeof *b->by_ppid,
			    procinfo_link_ppid_cmp);
			return true;
		}
	}
	if (!b->scan_listed && !procinfo_scan_list(b, budget))
		return false;
	if (!procinfo_scan_resolve(b, budget))
		return false;
	b->scanned = true;
	if (tree != NULL)
		procinfo_tree_reload();
	return true;
}

/* The whole index at once (a batch nobody prepared). */
static void
procinfo_scan(struct procinfo_batch *b)
{
	procinfo_batch_index(b, SIZE_MAX);
}

/* Use (or stop using, NULL) a descendants table kept from events. */
void
procinfo_set_tree(struct proctree *t)
{
	tree = t;
}

/* How children are found right now. */
const char *
procinfo_tree_mode(void)
{
	if (tree != NULL)
		proctree_drain(tree);
	return proctree_ready(tree) ? "events" : "scan";
}

/* Direct children of pid, ascending (as psutil lists them). */
static size_t
procinfo_children(struct procinfo_batch *b, pid_t pid, pid_t **out)
{
	size_t lo, hi, mid, n;

	*out = NULL;
	if (!b->scanned)
		procinfo_scan(b);
	lo = 0;
	hi = b->nby_ppid;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (b->by_ppid[mid].ppid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (n = 0; lo + n < b->nby_ppid && b->by_ppid[lo + n].ppid == pid; n++)
		;
	if (n == 0)
		return 0;
	*out = xreallocarray(NULL, n, sizeof **out);
	for (hi = 0; hi < n; hi++)
		(*out)[hi] = b->by_ppid[lo + hi].pid;
	return n;
}

size_t
procinfo_batch_children(struct procinfo_batch *b, pid_t pid, pid_t **out)
{
	return procinfo_children(b, pid, out);
}

/* Every descendant of pid in the batch's index, breadth first. */
size_t
procinfo_batch_descendants(struct procinfo_batch *b, pid_t pid, pid_t **out)
{
	pid_t *all = NULL, *kids;
	size_t n = 0, i = 0, k, j, cap = 0;

	k = procinfo_children(b, pid, &kids);
	for (;;) {
		if (n + k > cap) {
			cap = (n + k) * 2;
			all = xreallocarray(all, cap, sizeof *all);
		}
		for (j = 0; j < k; j++)
			all[n++] = kids[j];
		free(kids);
		if (i >= n)
			break;
		k = procinfo_children(b, all[i++], &kids);
	}
	*out = all;
	return n;
}

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *
procinfo_jstring(const char *s)
{
	json_t *v;
	char *copy, *p;

	if ((v = json_string(s)) != NULL)
		return v;
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	v = json_string(copy);
	free(copy);
	return v;
}

/* CPU percent since the last sample (psutil's cpu_percent), 1 decimal. */
static double
procinfo_cpu(const struct procinfo_stat *st, struct procinfo_batch *b,
    uint64_t *last_ticks, double *last_time)
{
	uint64_t ticks = st->utime_ticks + st->stime_ticks;
	double pct = 0.0, dt;

	if (last_ticks == NULL || last_time == NULL)
		return 0.0;
	dt = b->clock - *last_time;
	if (*last_time > 0 && dt > 0 && ticks >= *last_ticks) {
		pct = ((double)(ticks - *last_ticks) / (double)machine.hz) /
		      dt * 100.0;
		pct = procinfo_round(pct, 1);
	}
	*last_ticks = ticks;
	*last_time = b->clock;
	return pct;
}

/* A new batch: one clock reading for all the processes it samples. */
struct procinfo_batch *
procinfo_batch_new(void)
{
	struct procinfo_batch *b;
	struct sysinfo si;

	procinfo_machine_init();
	b = xcalloc(1, sizeof *b);
	b->proc_fd = -1;
	b->wall = procinfo_clock(CLOCK_REALTIME);
	b->clock = procinfo_clock(CLOCK_BOOTTIME);
	if (sysinfo(&si) == 0)
		b->mem_total = (uint64_t)si.totalram * si.mem_unit;
	return b;
}

/* Free a batch. */
void
procinfo_batch_free(struct procinfo_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	if (b->proc_fd != -1)
		close(b->proc_fd);
	for (i = 0; i < b->nuids; i++)
		free(b->uids[i].name);
	free(b->uids);
	free(b->by_ppid);
	if (b->scan_dir != NULL)
		closedir(b->scan_dir);
	free(b->scan_cur);
	free(b);
}

/* The batch's wall-clock reading. */
double
procinfo_batch_wall(const struct procinfo_batch *b)
{
	return b->wall;
}

/* Read /proc/<pid>/stat and its owner (fstat, no second read). */
static int
procinfo_read_stat(struct procinfo_batch *b, pid_t pid,
    struct procinfo_stat *st, uid_t *owner)
{
	struct stat sb;
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	if (pid <= 0 || (fd = procinfo_proc_fd(b)) == -1)
		return -1;
	snprintf(path, sizeof path, "%d/stat", (int)pid);
	n = procinfo_read_at(fd, path, buf, sizeof buf, &sb);
	if (n <= 0 || procinfo_parse_stat(buf, (size_t)n, st) != 0)
		return -1;
	*owner = sb.st_uid;
	return 0;
}

/*
 * The real uid: the owner of /proc/<pid> is the effective uid of a
 * dumpable process; changing uids clears dumpable and shows root instead,
 * so only then is status read.
 */
static uid_t
procinfo_uid_of(struct procinfo_batch *b, pid_t pid, uid_t owner)
{
	uid_t uid = owner;

	if (uid == 0 && procinfo_real_uid(b->proc_fd, pid, &uid) != 0)
		uid = 0;
	return uid;
}

/* Basename of argv[0] of pid into name. */
static void
procinfo_read_name(struct procinfo_batch *b, pid_t pid, char *name,
    size_t len)
{
	char path[64], buf[8192];
	ssize_t n;

	snprintf(path, sizeof path, "%d/cmdline", (int)pid);
	n = procinfo_read_at(b->proc_fd, path, buf, sizeof buf, NULL);
	if (n < 0)
		n = 0;
	procinfo_cmdline_name(buf, (size_t)n, name, len);
}

/* The info object from what was read. */
static json_t *
procinfo_object(struct procinfo_batch *b, pid_t pid,
    const struct procinfo_stat *st, uid_t uid, const char *name, double cpu)
{
	json_t *info;
	char text[64];
	uint64_t rss;
	double create_time;

	info = json_object();
	rss = st->rss_pages * (uint64_t)machine.page_size;
	procinfo_bytes2human(rss, text, sizeof text);
	json_object_set_new(info, "mem_info1", json_string(text));
	procinfo_bytes2human(st->vsize_bytes, text, sizeof text);
	json_object_set_new(info, "mem_info2", json_string(text));
	json_object_set_new(info, "cpu", json_real(cpu));
	if (b->mem_total > 0)
		json_object_set_new(info, "mem",
		    json_real(procinfo_round(
		        (double)rss / (double)b->mem_total * 100.0, 3)));
	else
		json_object_set_new(info, "mem", json_string(PROCINFO_NA));
	procinfo_ctime((st->utime_ticks + st->stime_ticks) * 1000000 /
	                   (uint64_t)machine.hz,
	    text, sizeof text);
	json_object_set_new(info, "ctime", json_string(text));
	json_object_set_new(info, "pid", json_integer(pid));
	json_object_set_new(info, "username",
	    procinfo_jstring(procinfo_username(b, uid)));
	json_object_set_new(info, "nice", json_integer(st->nice));
	create_time = procinfo_round(
	    (double)st->start_ticks / (double)machine.hz + machine.boot_time, 2);
	json_object_set_new(info, "create_time", json_real(create_time));
	json_object_set_new(info, "age", json_real(b->wall - create_time));
	json_object_set_new(info, "cmdline", procinfo_jstring(name));
	return info;
}

/* Info object of doc/design.md §17.2 for pid. */
json_t *
procinfo_batch_pid(struct procinfo_batch *b, pid_t pid, bool with_children,
    uint64_t *last_ticks, double *last_time)
{
	struct procinfo_stat st;
	json_t *info, *children, *child;
	char name[1024];
	pid_t *kids;
	size_t nkids, i;
	uid_t owner, uid;

	if (procinfo_read_stat(b, pid, &st, &owner) != 0)
		return json_string(PROCINFO_GONE);
	uid = procinfo_uid_of(b, pid, owner);
	procinfo_read_name(b, pid, name, sizeof name);
	info = procinfo_object(b, pid, &st, uid, name,
	    procinfo_cpu(&st, b, last_ticks, last_time));

	children = json_array();
	if (with_children) {
		nkids = procinfo_children(b, pid, &kids);
		for (i = 0; i < nkids; i++) {
			child = procinfo_batch_pid(b, kids[i], false, NULL,
			    NULL);
			if (json_is_object(child))
				json_array_append_new(children, child);
			else
				json_decref(child);
		}
		free(kids);
	}
	json_object_set_new(info, "children", children);
	return info;
}

/*
 * Info object for a pid sampled again and again: one read of stat per
 * call; the name and the real uid are read once per process (a reused pid
 * has another start time) and kept in s.
 */
json_t *
procinfo_batch_sample(struct procinfo_batch *b, pid_t pid,
    struct procinfo_sample *s)
{
	struct procinfo_stat st;
	json_t *info;
	uid_t owner;

	if (procinfo_read_stat(b, pid, &st, &owner) != 0) {
		s->alive = false;
		return json_string(PROCINFO_GONE);
	}
	if (!s->known || s->start_ticks != st.start_ticks) {
		s->uid = procinfo_uid_of(b, pid, owner);
		procinfo_read_name(b, pid, s->name, sizeof s->name);
		s->start_ticks = st.start_ticks;
		s->last_ticks = 0;
		s->last_time = 0;
		s->known = true;
	}
	s->alive = true;
	s->cpu_seconds = (double)(st.utime_ticks + st.stime_ticks) /
	    (double)machine.hz;
	s->rss_bytes = st.rss_pages * (uint64_t)machine.page_size;
	info = procinfo_object(b, pid, &st, s->uid, s->name,
	    procinfo_cpu(&st, b, &s->last_ticks, &s->last_time));
	json_object_set_new(info, "children", json_array());
	return info;
}

/* Release the ppid table. */
void
procinfo_cache_free(void)
{
	free(scan_cache);
	scan_cache = NULL;
	scan_ncache = 0;
}
