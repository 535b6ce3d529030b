/* SPDX-License-Identifier: Apache-2.0 */
/* A cgroup v2 subtree of our own (see cgroup2.h). */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup2.h"
#include "xmalloc.h"

/* The next line of text from *pos; its length in *n; NULL at the end. */
static const char *
cg2_line(const char *text, size_t len, size_t *pos, size_t *n)
{
	const char *line, *nl;

	if (*pos >= len)
		return NULL;
	line = text + *pos;
	nl = memchr(line, '\n', len - *pos);
	*n = nl != NULL ? (size_t)(nl - line) : len - *pos;
	*pos += *n + 1;
	return line;
}

/* Copy a mountinfo field, decoding \ooo escapes; -1 if it does not fit. */
static int
cg2_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
			    (s[i + 3] - '0');
			i += 3;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (o == 0 || outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/*
 * mountinfo lines: id parent major:minor root mountpoint options
 * [optional fields...] - fstype source superoptions. The fstype is the
 * field after the lone "-".
 */
int
cg2_parse_mountinfo(const char *text, size_t len, char *out, size_t outlen)
{
	const char *line, *f[64];
	size_t pos = 0, n, nf, fl[64], i, j;

	while ((line = cg2_line(text, len, &pos, &n)) != NULL) {
		nf = 0;
		for (i = 0; i < n && nf < 64;) {
			while (i < n && line[i] == ' ')
				i++;
			if (i == n)
				break;
			f[nf] = line + i;
			for (j = i; j < n && line[j] != ' '; j++)
				;
			fl[nf++] = j - i;
			i = j;
		}
		for (i = 6; i + 1 < nf; i++) {
			if (fl[i] == 1 && f[i][0] == '-')
				break;
		}
		if (i + 1 >= nf || fl[i + 1] != 7 ||
		    memcmp(f[i + 1], "cgroup2", 7) != 0)
			continue;
		return cg2_unescape(f[4], fl[4], out, outlen);
	}
	return -1;
}

int
cg2_parse_self(const char *text, size_t len, char *out, size_t outlen)
{
	const char *line;
	size_t pos = 0, n;

	while ((line = cg2_line(text, len, &pos, &n)) != NULL) {
		if (n < 4 || memcmp(line, "0::/", 4) != 0)
			continue;
		if (n - 3 >= outlen || memchr(line, '\0', n) != NULL)
			return -1;
		memcpy(out, line + 3, n - 3);
		out[n - 3] = '\0';
		return 0;
	}
	return -1;
}

/* Read a whole file (NUL-terminated; caller frees *out); -1 on error. */
static ssize_t
cg2_slurp(int dirfd, const char *path, char **out)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap == 0 ? 16384 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
}

/* mkdir (an existing one is fine) and open it. */
static struct cg2 *
cg2_make(int parentfd, const char *parent_path, const char *name,
    bool procs, char **cause)
{
	struct cg2 *cg;
	int fd;

	if (mkdirat(parentfd, name, 0755) == -1 && errno != EEXIST) {
		*cause = xprintf("mkdir %s/%s: %s", parent_path, name,
		    strerror(errno));
		return NULL;
	}
	if ((fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		*cause = xprintf("open %s/%s: %s", parent_path, name,
		    strerror(errno));
		return NULL;
	}
	cg = xcalloc(1, sizeof *cg);
	cg->dirfd = fd;
	cg->procs_fd = -1;
	cg->home_fd = -1;
	cg->path = xprintf("%s/%s", parent_path, name);
	if (procs && (cg->procs_fd = openat(fd, "cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) == -1) {
		*cause = xprintf("open %s/cgroup.procs: %s", cg->path,
		    strerror(errno));
		unlinkat(parentfd, name, AT_REMOVEDIR);
		cg2_free(cg);
		return NULL;
	}
	return cg;
}

struct cg2 *
cg2_open_root(const char *name, char **cause)
{
	char mount[4096], self[4096], *parent, *buf;
	struct cg2 *cg;
	ssize_t n;
	int fd, rc;

	n = cg2_slurp(AT_FDCWD, "/proc/self/mountinfo", &buf);
	rc = n <= 0 ? -1 : cg2_parse_mountinfo(buf, (size_t)n, mount,
	    sizeof mount);
	free(buf);
	if (rc != 0) {
		*cause = xstrdup("no cgroup2 mount in /proc/self/mountinfo");
		return NULL;
	}
	n = cg2_slurp(AT_FDCWD, "/proc/self/cgroup", &buf);
	rc = n <= 0 ? -1 : cg2_parse_self(buf, (size_t)n, self, sizeof self);
	free(buf);
	if (rc != 0) {
		*cause = xstrdup("no cgroup v2 line in /proc/self/cgroup");
		return NULL;
	}
	parent = xprintf("%s%s", mount, strcmp(self, "/") == 0 ? "" : self);
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*cause = xprintf("open %s: %s", parent, strerror(errno));
		free(parent);
		return NULL;
	}
	cg = cg2_make(fd, parent, name, false, cause);
	if (cg != NULL)
		cg->home_fd = openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	close(fd);
	free(parent);
	return cg;
}

struct cg2 *
cg2_child(struct cg2 *parent, const char *name, char **cause)
{
	return cg2_make(parent->dirfd, parent->path, name, true, cause);
}

/* Order pids. */
static int
cg2_pid_cmp(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;

	return (pa > pb) - (pa < pb);
}

/* A read of cgroup.procs in steps: pids so far and a partial line. */
struct cg2_reader {
	int	 fd;		/* -1 once at the end */
	char	 part[16];	/* digits of a line cut by a read */
	size_t	 npart;
	pid_t	*pids;
	size_t	 n, cap;
};

/* Add the pid of a complete line. */
static void
cg2_reader_add(struct cg2_reader *r, const char *s, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 10)
		return;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0 || v > INT32_MAX)
		return;
	if (r->n == r->cap) {
		r->cap = r->cap == 0 ? 64 : r->cap * 2;
		r->pids = xreallocarray(r->pids, r->cap, sizeof *r->pids);
	}
	r->pids[r->n++] = (pid_t)v;
}

struct cg2_reader *
cg2_reader_open(struct cg2 *cg)
{
	struct cg2_reader *r;

	r = xcalloc(1, sizeof *r);
	r->fd = openat(cg->dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	return r;
}

/* Read about max_bytes more; true at the end (or on an error). */
bool
cg2_reader_step(struct cg2_reader *r, size_t max_bytes)
{
	char buf[4096];
	size_t done = 0, i, start;
	ssize_t n;

	while (r->fd != -1 && done < max_bytes) {
		n = read(r->fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (r->npart > 0)
				cg2_reader_add(r, r->part, r->npart);
			r->npart = 0;
			close(r->fd);
			r->fd = -1;
			break;
		}
		done += (size_t)n;
		for (i = start = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n')
				continue;
			if (r->npart > 0) {
				if (r->npart + i - start <= sizeof r->part) {
					memcpy(r->part + r->npart, buf + start,
					    i - start);
					cg2_reader_add(r, r->part,
					    r->npart + i - start);
				}
				r->npart = 0;
			} else
				cg2_reader_add(r, buf + start, i - start);
			start = i + 1;
		}
		if (start < (size_t)n) {
			if (r->npart + (size_t)n - start <= sizeof r->part) {
				memcpy(r->part + r->npart, buf + start,
				    (size_t)n - start);
				r->npart += (size_t)n - start;
			} else
				r->npart = sizeof r->part;	/* garbage */
		}
	}
	return r->fd == -1;
}

/* The members read, sorted (caller frees *out). */
size_t
cg2_reader_take(struct cg2_reader *r, pid_t **out)
{
	size_t n = r->n;

	if (n > 1)
		qsort(r->pids, n, sizeof *r->pids, cg2_pid_cmp);
	*out = r->pids;
	r->pids = NULL;
	r->n = r->cap = 0;
	return n;
}

void
cg2_reader_free(struct cg2_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	free(r->pids);
	free(r);
}

size_t
cg2_members(struct cg2 *cg, pid_t **out)
{
	struct cg2_reader *r;
	size_t n;

	r = cg2_reader_open(cg);
	while (!cg2_reader_step(r, SIZE_MAX))
		;
	n = cg2_reader_take(r, out);
	cg2_reader_free(r);
	return n;
}

bool
cg2_has_kill(struct cg2 *cg)
{
	return faccessat(cg->dirfd, "cgroup.kill", W_OK, 0) == 0;
}

int
cg2_kill(struct cg2 *cg)
{
	pid_t *pids;
	size_t n, i;
	int fd, rc = -1;

	if ((fd = openat(cg->dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC)) !=
	    -1) {
		if (write(fd, "1", 1) == 1)
			rc = 0;
		close(fd);
		if (rc == 0)
			return 0;
	}
	/* older kernels: what is there now (a fork racing this escapes) */
	n = cg2_members(cg, &pids);
	for (i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) == 0)
			rc = 0;
	free(pids);
	return n == 0 ? 0 : rc;
}

size_t
cg2_release(struct cg2 *root, struct cg2 *cg)
{
	pid_t *pids;
	size_t n, i, left = 0;
	char buf[32];
	int len;

	n = cg2_members(cg, &pids);
	for (i = 0; i < n; i++) {
		len = snprintf(buf, sizeof buf, "%d", (int)pids[i]);
		if (root->home_fd == -1 ||
		    write(root->home_fd, buf, (size_t)len) != len)
			left++;
	}
	free(pids);
	return left;
}

int
cg2_remove(struct cg2 *cg)
{
	int rc;

	if (cg == NULL)
		return 0;
	rc = rmdir(cg->path);
	if (rc == -1 && errno == ENOENT)
		rc = 0;
	cg2_free(cg);
	return rc;
}

/* rmdir a cgroup and its children, deepest first: 0, or -1 (one still
 * holds a process, or is not ours to remove). */
static int
cg2_rmtree(int parentfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (depth > 16 || (fd = openat(parentfd, name, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
		    cg2_rmtree(dirfd(d), de->d_name, depth + 1) == -1)
			rc = -1;
	}
	closedir(d);
	if (rc == 0 && unlinkat(parentfd, name, AT_REMOVEDIR) == -1)
		rc = -1;
	return rc;
}

size_t
cg2_sweep_stale(struct cg2 *root, const char *prefix)
{
	char *parent, *slash, *end;
	struct dirent *de;
	size_t plen = strlen(prefix), n = 0;
	long pid;
	DIR *d;

	parent = xstrdup(root->path);
	if ((slash = strrchr(parent, '/')) == NULL) {
		free(parent);
		return 0;
	}
	*slash = '\0';
	if ((d = opendir(parent)) == NULL) {
		free(parent);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR ||
		    strncmp(de->d_name, prefix, plen) != 0)
			continue;
		pid = strtol(de->d_name + plen, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (cg2_rmtree(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	free(parent);
	return n;
}

int
cg2_parse_cpu_usec(const char *text, uint64_t *out)
{
	const char *p = text;
	char *end;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "usage_usec ", 11) == 0) {
			*out = strtoull(p + 11, &end, 10);
			return end == p + 11 ? -1 : 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

int
cg2_usage(struct cg2 *cg, uint64_t *cpu_usec, int64_t *memory)
{
	char *buf, *end;
	int rc;

	*memory = -1;
	if (cg2_slurp(cg->dirfd, "cpu.stat", &buf) <= 0) {
		free(buf);
		return -1;
	}
	rc = cg2_parse_cpu_usec(buf, cpu_usec);
	free(buf);
	if (cg2_slurp(cg->dirfd, "memory.current", &buf) > 0) {
		*memory = strtoll(buf, &end, 10);
		if (end == buf)
			*memory = -1;
	}
	free(buf);
	return rc;
}

void
cg2_free(struct cg2 *cg)
{
	if (cg == NULL)
		return;
	if (cg->procs_fd != -1)
		close(cg->procs_fd);
	if (cg->home_fd != -1)
		close(cg->home_fd);
	if (cg->dirfd != -1)
		close(cg->dirfd);
	free(cg->path);
	free(cg);
}

void
cg2_sleep(struct cg2 *cg)
{
	if (cg->procs_fd != -1)
		close(cg->procs_fd);
	cg->procs_fd = -1;
	if (cg->dirfd != -1)
		close(cg->dirfd);
	cg->dirfd = -1;
}

int
cg2_wake(struct cg2 *cg, char **cause)
{
	if (cg->dirfd != -1)
		return 0;
	if ((cg->dirfd = open(cg->path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		*cause = xprintf("open %s: %s", cg->path, strerror(errno));
		return -1;
	}
	if ((cg->procs_fd = openat(cg->dirfd, "cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) == -1) {
		*cause = xprintf("open %s/cgroup.procs: %s", cg->path,
		    strerror(errno));
		close(cg->dirfd);
		cg->dirfd = -1;
		return -1;
	}
	return 0;
}
