/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor_sqlite: the SQLite floor of the sync benchmark. Writes ROWS rows
 * (PAYLOAD bytes each) as upserts in one BEGIN IMMEDIATE transaction,
 * again and again for SECONDS, on a database with the sync worker's
 * pragmas (WAL, synchronous=FULL); prints {"tx": n, "seconds": s}.
 *
 *   floor_sqlite DBPATH ROWS PAYLOAD SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
one_tx(sqlite3 *db, sqlite3_stmt *ins, int rows, const char *payload,
    long long t)
{
	char id[32];

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < rows; i++) {
		snprintf(id, sizeof(id), "record%04d", i);
		sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, payload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, t);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return -1;
		sqlite3_reset(ins);
	}
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	char *payload;
	int rows, plen;
	double secs, t0, el;
	long long n = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: floor_sqlite DBPATH ROWS PAYLOAD SECONDS\n");
		return 2;
	}
	rows = atoi(argv[2]);
	plen = atoi(argv[3]);
	secs = atof(argv[4]);
	payload = malloc((size_t)plen + 1);
	memset(payload, 'x', (size_t)plen);
	payload[plen] = '\0';
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous ="
	    " FULL; CREATE TABLE IF NOT EXISTS bso (uid INTEGER NOT NULL,"
	    " coll TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,"
	    " modified INTEGER NOT NULL, PRIMARY KEY (uid, coll, id))"
	    " WITHOUT ROWID", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO bso (uid, coll, id, payload,"
	    " modified) VALUES (1, 'bench', ?1, ?2, ?3) ON CONFLICT DO UPDATE"
	    " SET payload = ?2, modified = ?3", -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "floor_sqlite: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	t0 = mono();
	while ((el = mono() - t0) < secs && n < 10000000) {
		if (one_tx(db, ins, rows, payload, n) == -1) {
			fprintf(stderr, "floor_sqlite: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		n++;
	}
	printf("{\"tx\": %lld, \"seconds\": %.6f}\n", n, mono() - t0);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(payload);
	return 0;
}
