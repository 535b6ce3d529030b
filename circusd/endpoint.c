/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's ZeroMQ endpoints, whichever socket binds them (the
 * controller's ROUTER, events.c's PUB): an ipc:// directory made if
 * missing, the socket file owner-only and removed when we close it, a
 * CURVE server on tcp:// when CURVE is on, endpoint_owner.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <zmq.h>

#include "circusd.h"
#include "xmalloc.h"

/* chown the ipc socket file to endpoint_owner (name or number). */
int
endpoint_chown(const char *path, const char *owner, char **cause)
{
	struct passwd *pw;
	char *end;
	long uid;

	uid = strtol(owner, &end, 10);
	if (*owner == '\0' || *end != '\0') {
		if ((pw = getpwnam(owner)) == NULL) {
			*cause = xprintf("endpoint_owner: unknown user '%s'",
			    owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (chown(path, (uid_t)uid, (gid_t)-1) == -1) {
		*cause = xprintf("endpoint_owner: chown %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* An ipc:// endpoint's directory is created if missing (each missing
 * component owner-only, 0700), as `mkdir -p` would. */
static int
endpoint_ipc_dir(const char *endpoint, char **cause)
{
	char *path, *p;
	bool last;

	if (strncmp(endpoint, "ipc://", 6) != 0 || endpoint[6] == '@')
		return 0;
	path = xstrdup(endpoint + 6);
	if ((p = strrchr(path, '/')) == NULL || p == path) {
		free(path);
		return 0;
	}
	*p = '\0';
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		last = *p == '\0';
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*cause = xprintf("cannot create the directory %s of "
			    "endpoint %s: %s", path, endpoint, strerror(errno));
			free(path);
			return -1;
		}
		if (last)
			break;
		*p = '/';
	}
	free(path);
	return 0;
}

/* The inode of an ipc:// endpoint's socket file (0: none). */
ino_t
endpoint_ipc_ino(const char *endpoint)
{
	struct stat st;

	if (strncmp(endpoint, "ipc://", 6) != 0 || endpoint[6] == '@' ||
	    stat(endpoint + 6, &st) == -1 || !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

/* Remove the socket file of an ipc:// endpoint we closed, unless another
 * daemon has bound that path since. */
void
endpoint_ipc_unlink(const char *endpoint, ino_t ino)
{
	if (ino != 0 && endpoint_ipc_ino(endpoint) == ino)
		(void)unlink(endpoint + 6);
}

/*
 * Bind sock to the endpoint of the [circus] option field: its ipc
 * directory made (0700), a CURVE server on tcp:// when CURVE is on (with
 * the certificate of old during a full restart, which hands it over only
 * once the new arbiter is bound), an ipc socket file owner-only (0600).
 */
int
endpoint_bind(struct arbiter *a, const struct arbiter *old,
    void *sock, const char *field, const char *endpoint, char **cause)
{
	mode_t	mask;
	int	rc;

	if (endpoint_ipc_dir(endpoint, cause) == -1)
		return -1;
	auth_apply(old != NULL && a->server_cert == NULL ? old : a, sock,
	    endpoint);
	mask = umask(0177);
	rc = zsock_bind(sock, "%s", endpoint);
	umask(mask);
	if (rc == -1) {
		*cause = xprintf("cannot bind %s %s: %s", field, endpoint,
		    zmq_strerror(errno));
		return -1;
	}
	if (strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '@' &&
	    chmod(endpoint + 6, 0600) == -1) {
		*cause = xprintf("%s: chmod 0600 %s: %s", field, endpoint + 6,
		    strerror(errno));
		return -1;
	}
	return 0;
}
