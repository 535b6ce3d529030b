/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the sync worker's unit tests (tests/unit/test-sync-*.c). */
#ifndef SYNC_UNIT_H
#define SYNC_UNIT_H

#include <stdio.h>
#include <unistd.h>

/* Remove a SQLite database file and its -wal and -shm companions. */
static inline void
sync_unit_rm_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-table" };
	char buf[512];

	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(buf, sizeof buf, "%s%s", path, sfx[i]);
		unlink(buf);
	}
}

#endif
