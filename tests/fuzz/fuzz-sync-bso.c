/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the sync worker's request validation (bso.c): the
 * first byte picks what the rest is.
 *   0: a query string, through sync_query_parse (ids, newer/older, sort,
 *      limit, offset, batch, commit) and sync_parse_ts;
 *   1: a POST body as a JSON array, 2: as application/newlines, through
 *      post_body_parse with small limits and the crypto guard;
 *   3: a PUT body, through bso_from_json.
 * 1 also runs postjson.c's fast reader beside jansson: it may decline,
 * but what it takes jansson must take too, as the same tree.
 * Invariants checked: every accepted record has a valid id, a payload
 * within the limit, at most max_post_records and max_post_bytes in all;
 * the answer writer's JSON strings read back as the same string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_string_roundtrip(const char *s)
{
	struct sbuf b = { 0 };
	json_t *back;
	char *text;

	sbuf_json_str(&b, s);
	text = sbuf_take(&b, NULL);
	back = json_loads(text, JSON_DECODE_ANY, NULL);
	if (back == NULL || strcmp(json_string_value(back), s) != 0)
		abort();
	json_decref(back);
	free(text);
}

static void
fuzz_query(const char *s)
{
	struct sync_query q;
	int64_t cs;

	if (sync_query_parse(s, &q) == 0) {
		for (size_t i = 0; i < q.nids; i++)
			if (!bso_id_valid(q.ids[i]))
				abort();
		if (q.nids > IDS_MAX || (q.has_limit && q.limit < 0))
			abort();
	}
	sync_query_free(&q);
	if (sync_parse_ts(s, &cs) == 0 && cs < 0)
		abort();
}

static void
fuzz_fast_reader(const char *body, size_t len)
{
	json_t *fast = post_json_fast(body, len), *ref;

	if (fast == NULL)
		return;
	ref = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (ref == NULL || !json_equal(fast, ref))
		abort();
	json_decref(ref);
	json_decref(fast);
}

static void
fuzz_post(const char *body, size_t len, bool newlines)
{
	static const struct sync_config cfg = { .max_post_records = 3,
	    .max_post_bytes = 64, .max_record_payload_bytes = 32 };
	struct post_body pb;
	enum weave_code code;
	long long bytes = 0;

	if (post_body_parse(body, len, newlines, &cfg, true, &pb, &code) == -1) {
		if (code != WEAVE_JSON && code != WEAVE_INVALID_BSO)
			abort();
		return;
	}
	if ((long long)pb.nrecs > cfg.max_post_records)
		abort();
	for (size_t i = 0; i < pb.nrecs; i++) {
		if (!bso_id_valid(pb.recs[i].id) ||
		    (long long)pb.recs[i].payload_len >
		    cfg.max_record_payload_bytes)
			abort();
		bytes += (long long)pb.recs[i].payload_len;
		if (pb.recs[i].payload != NULL)
			check_string_roundtrip(pb.recs[i].payload);
	}
	if (bytes > cfg.max_post_bytes)
		abort();
	post_body_free(&pb);
}

static void
fuzz_put(const char *body, size_t len)
{
	json_t *obj = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	struct bso_in b;

	if (obj == NULL)
		return;
	if (bso_from_json(obj, false, 32, &b) == NULL) {
		if (b.has_ttl && (b.ttl < 0 || b.ttl > TTL_MAX))
			abort();
		if (b.has_sortindex && (b.sortindex < -SORTINDEX_MAX ||
		    b.sortindex > SORTINDEX_MAX))
			abort();
		bso_clear(&b);
	}
	json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_query(s);
		break;
	case 1:
		fuzz_fast_reader((const char *)data + 1, size - 1);
		fuzz_post((const char *)data + 1, size - 1, false);
		break;
	case 2:
		fuzz_post((const char *)data + 1, size - 1, true);
		break;
	default:
		fuzz_put((const char *)data + 1, size - 1);
		break;
	}
	free(s);
	return 0;
}
