/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD shim for fault-injection tests: the user and group database
 * becomes unreachable on demand (as when an LDAP or NIS server is down).
 * While the file named by FAILNSS_FILE exists, getpwnam, getpwuid,
 * getgrnam, getgrgid and getgrouplist fail as they do when the lookup
 * cannot be made (NULL or -1 with errno EIO). circusd resolves a watcher's
 * uid and gid once, when the option is set (doc/design.md §3), so its
 * respawns must not notice (tests/e2e/test_faults.py).
 * Built as a shared object like failfork.c (tests/fuzz/fuzz.mk).
 */
#define _GNU_SOURCE
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

static int
down(void)
{
	const char *path = getenv("FAILNSS_FILE");

	if (path == NULL || access(path, F_OK) != 0)
		return 0;
	errno = EIO;
	return 1;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

struct passwd *
getpwnam(const char *name)
{
	return down() ? NULL : NEXT(getpwnam)(name);
}

struct passwd *
getpwuid(uid_t uid)
{
	return down() ? NULL : NEXT(getpwuid)(uid);
}

struct group *
getgrnam(const char *name)
{
	return down() ? NULL : NEXT(getgrnam)(name);
}

struct group *
getgrgid(gid_t gid)
{
	return down() ? NULL : NEXT(getgrgid)(gid);
}

int
getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	if (down()) {
		*ngroups = 0;
		return -1;
	}
	return NEXT(getgrouplist)(user, group, groups, ngroups);
}
