# SPDX-License-Identifier: Apache-2.0
"""Batch uploads and preconditions of the sync worker's storage API (README
"Self-hosting Firefox Sync"): lifecycle, atomic commit at one timestamp,
bad batch ids, X-If-Modified-Since / X-If-Unmodified-Since."""

import pytest

# the module's worker and a client for a fresh uid per test
from test_sync_storage import c, srv, ts_of, weave  # noqa: F401


def test_batch_lifecycle_invisible_until_commit(c):
    c.put(c.root + "/storage/b/keep", {"payload": "old", "sortindex": 9})
    before = ts_of(c.get(c.root + "/storage/b"))
    r = c.post(c.root + "/storage/b?batch=true",
               [{"id": "a", "payload": "1"}, {"id": "bad", "ttl": "x"}])
    assert r.status_code == 202
    body = r.json()
    batch = body["batch"]
    assert body["success"] == ["a"] and body["failed"] == {"bad": "invalid ttl"}
    assert ts_of(r) == before                       # nothing visible
    assert len(batch) >= 11 and batch.replace("-", "").replace("_", "") \
        .isalnum()
    r = c.post(c.root + "/storage/b?batch=" + batch,
               [{"id": "keep", "payload": "new"}, {"id": "a", "sortindex": 5}])
    assert r.status_code == 202 and r.json()["batch"] == batch
    assert sorted(c.get(c.root + "/storage/b").json()) == ["keep"]
    assert c.get(c.root + "/storage/b/keep").json()["payload"] == "old"
    r = c.post(c.root + "/storage/b?batch=%s&commit=true" % batch,
               [{"id": "c", "payload": "3", "ttl": 3600}])
    assert r.status_code == 200
    body = r.json()
    assert "batch" not in body and body["success"] == ["c"]
    t = ts_of(r)
    assert round(body["modified"] * 100) == t > before
    full = {b["id"]: b for b in c.get(c.root + "/storage/b?full=1").json()}
    assert set(full) == {"keep", "a", "c"}
    # partial updates in upload order; fields never sent preserved
    assert full["keep"]["payload"] == "new" and full["keep"]["sortindex"] == 9
    assert full["a"]["payload"] == "1" and full["a"]["sortindex"] == 5
    assert {round(b["modified"] * 100) for b in full.values()} == {t}
    # a committed batch is closed
    weave(c.post(c.root + "/storage/b?batch=%s&commit=true" % batch, []),
          400, 1)


def test_batch_true_commit_true_is_a_plain_post(c):
    r = c.post(c.root + "/storage/b?batch=true&commit=true",
               [{"id": "x", "payload": "y"}])
    assert r.status_code == 200 and "modified" in r.json()
    assert c.get(c.root + "/storage/b").json() == ["x"]


def test_bad_batch_requests(srv, c):
    weave(c.post(c.root + "/storage/b?batch=nosuchbatch", []), 400, 1)
    weave(c.post(c.root + "/storage/b?commit=true", []), 400, 1)
    batch = c.post(c.root + "/storage/b?batch=true", []).json()["batch"]
    weave(c.post(c.root + "/storage/b?batch=%s&commit=false" % batch, []),
          400, 1)
    # another collection, another user
    weave(c.post(c.root + "/storage/other?batch=" + batch, []), 400, 1)
    uid2 = c.uid + 500000
    c2 = srv.client(uid2)
    weave(c2.post("/1.5/%d/storage/b?batch=%s" % (uid2, batch), []), 400, 1)
    # still usable by its owner
    assert c.post(c.root + "/storage/b?batch=" + batch, []).status_code == 202


def test_delete_collection_drops_its_batches(c):
    batch = c.post(c.root + "/storage/b?batch=true",
                   [{"id": "x"}]).json()["batch"]
    c.put(c.root + "/storage/b/y", {"payload": "y"})
    assert c.delete(c.root + "/storage/b").status_code == 200
    weave(c.post(c.root + "/storage/b?batch=%s&commit=true" % batch, []),
          400, 1)


# ---- preconditions ------------------------------------------------------

def test_if_modified_since_gives_304(c):
    t = ts_of(c.put(c.root + "/storage/p/x", {"payload": "x"}))
    tstr = "%d.%02d" % divmod(t, 100)
    for path in ("/info/collections", "/storage/p", "/storage/p/x",
                 "/info/collection_counts"):
        r = c.get(c.root + path, headers={"X-If-Modified-Since": tstr})
        assert r.status_code == 304 and r.content == b"", path
        assert ts_of(r) == t
        r = c.get(c.root + path, headers={
            "X-If-Modified-Since": "%d.%02d" % divmod(t - 1, 100)})
        assert r.status_code == 200, path
    # other methods ignore it
    r = c.put(c.root + "/storage/p/x", {"payload": "z"},
              headers={"X-If-Modified-Since": tstr})
    assert r.status_code == 200


def test_if_unmodified_since_gives_412_and_changes_nothing(c):
    t = ts_of(c.put(c.root + "/storage/p/x", {"payload": "v1"}))
    old = "%d.%02d" % divmod(t - 1, 100)
    r = c.put(c.root + "/storage/p/x", {"payload": "v2"},
              headers={"X-If-Unmodified-Since": old})
    assert r.status_code == 412 and ts_of(r) == t
    assert r.json() == 0
    r = c.post(c.root + "/storage/p", [{"id": "y"}],
               headers={"X-If-Unmodified-Since": old})
    assert r.status_code == 412
    r = c.delete(c.root + "/storage/p?ids=zz",
                 headers={"X-If-Unmodified-Since": old})
    assert r.status_code == 412
    r = c.post(c.root + "/storage/p?batch=true", [{"id": "y"}],
               headers={"X-If-Unmodified-Since": old})
    assert r.status_code == 412
    assert c.get(c.root + "/storage/p?full=1").json()[0]["payload"] == "v1"
    # 0 on an item URL: create only if absent
    r = c.put(c.root + "/storage/p/new", {"payload": "n"},
              headers={"X-If-Unmodified-Since": "0"})
    assert r.status_code == 200
    r = c.put(c.root + "/storage/p/new", {"payload": "n2"},
              headers={"X-If-Unmodified-Since": "0"})
    assert r.status_code == 412
    now = "%d.%02d" % divmod(ts_of(r), 100)
    assert c.put(c.root + "/storage/p/new", {"payload": "n3"},
                 headers={"X-If-Unmodified-Since": now}).status_code == 200


@pytest.mark.parametrize("hdrs", [
    {"X-If-Modified-Since": "-1"}, {"X-If-Unmodified-Since": "abc"},
    {"X-If-Modified-Since": "1", "X-If-Unmodified-Since": "1"}])
def test_bad_precondition_headers(c, hdrs):
    weave(c.get(c.root + "/storage/p", headers=hdrs), 400, 1)


def test_same_precondition_exactly_one_writer_wins(srv):
    """Many writers with the same X-If-Unmodified-Since: one 200, the rest
    412, on one worker's threads (the cluster test does it across
    processes)."""
    assert srv.race_same_precondition(900001, 8) == [200] + [412] * 7
