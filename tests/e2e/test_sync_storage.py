# SPDX-License-Identifier: Apache-2.0
"""The storage API 1.5 of the sync worker over real HTTP, every request
signed with Hawk (synclib.py): endpoints, headers, paging, preconditions,
limits and bad input (README "Self-hosting Firefox Sync").

One worker serves the module (each test uses its own uid); it runs with
small limits so the limit tests stay small."""

import json
import shutil
import tempfile

import pytest
import requests

from sync_server import SyncServer

LIMITS = dict(storage__max_request_bytes=6000, storage__max_post_records=5,
              storage__max_post_bytes=1000,
              storage__max_record_payload_bytes=300,
              storage__max_total_records=12, storage__max_total_bytes=3000)


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="sync-", dir="/tmp")
    s = SyncServer(d, **LIMITS)
    yield s
    assert s.stop() == 0, s.log
    shutil.rmtree(d, ignore_errors=True)


_uids = iter(range(1000, 100000))


@pytest.fixture
def c(srv):
    """A client for a fresh uid, and its storage root path."""
    uid = next(_uids)
    cl = srv.client(uid)
    cl.uid = uid
    cl.root = "/1.5/%d" % uid
    return cl


def ts_of(r, name="X-Last-Modified"):
    v = r.headers[name]
    whole, _, frac = v.partition(".")
    assert len(frac) == 2, v
    return int(whole) * 100 + int(frac)


def weave(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == code
    assert "X-Weave-Timestamp" in r.headers


# ---- info/* and basic reads/writes -------------------------------------

def test_empty_user_info(c):
    r = c.get(c.root + "/info/collections")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["X-Last-Modified"] == "0.00"
    assert r.headers["X-Weave-Records"] == "0"
    assert c.get(c.root + "/info/collection_counts").json() == {}
    assert c.get(c.root + "/info/quota").json() == [0.0, None]
    r = c.get(c.root + "/storage/nothing")
    assert r.status_code == 200 and r.json() == []


def test_configuration_lists_the_limits(c):
    t = ts_of(c.put(c.root + "/storage/c/x", {"payload": "x"}))
    r = c.get(c.root + "/info/configuration")
    assert r.status_code == 200 and ts_of(r) == t     # the storage's
    assert r.json() == {"max_request_bytes": 6000, "max_post_records": 5,
                        "max_post_bytes": 1000, "max_total_records": 12,
                        "max_total_bytes": 3000,
                        "max_record_payload_bytes": 300}


def test_put_get_bso_and_timestamps(c):
    r = c.put(c.root + "/storage/bookmarks/abc",
              {"payload": "hello", "sortindex": 7})
    assert r.status_code == 200
    t = ts_of(r)
    assert r.text == r.headers["X-Last-Modified"]   # body = T, 2 decimals
    assert ts_of(r, "X-Weave-Timestamp") == t
    g = c.get(c.root + "/storage/bookmarks/abc")
    assert g.status_code == 200
    assert g.json() == {"id": "abc", "modified": t / 100, "payload": "hello",
                        "sortindex": 7}
    assert '"modified":%s' % r.text in g.text       # never ".4"
    assert ts_of(g) == t
    info = c.get(c.root + "/info/collections")
    assert info.json() == {"bookmarks": t / 100} and ts_of(info) == t
    assert c.get(c.root + "/info/collection_counts").json() == \
        {"bookmarks": 1}
    usage = c.get(c.root + "/info/collection_usage").json()
    assert usage == {"bookmarks": 5 / 1024}


def test_partial_update_keeps_fields_and_ttl_only_keeps_modified(c):
    t1 = ts_of(c.put(c.root + "/storage/c1/x",
                     {"payload": "p", "sortindex": 3}))
    t2 = ts_of(c.put(c.root + "/storage/c1/x", {"ttl": 1000}))
    assert t2 > t1
    g = c.get(c.root + "/storage/c1/x").json()
    assert g["payload"] == "p" and g["sortindex"] == 3
    assert round(g["modified"] * 100) == t1        # ttl-only: unchanged
    t3 = ts_of(c.put(c.root + "/storage/c1/x", {"sortindex": 4}))
    g = c.get(c.root + "/storage/c1/x").json()
    assert g["payload"] == "p" and g["sortindex"] == 4
    assert round(g["modified"] * 100) == t3


def test_timestamps_strictly_increase(c):
    seen = []
    for i in range(10):
        seen.append(ts_of(c.put(c.root + "/storage/c/x%d" % i,
                                {"payload": "x"})))
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_ttl_zero_is_expired_at_once(c):
    c.put(c.root + "/storage/c/gone", {"payload": "x", "ttl": 0})
    assert c.get(c.root + "/storage/c/gone").status_code == 404
    assert c.get(c.root + "/storage/c").json() == []
    assert c.get(c.root + "/info/collection_counts").json() == {}
    # writing to an expired id starts a new BSO: defaults, not old fields
    c.put(c.root + "/storage/c/gone", {"sortindex": 1})
    assert c.get(c.root + "/storage/c/gone").json()["payload"] == ""


def test_missing_bso_is_404(c):
    weave(c.get(c.root + "/storage/c/none"), 404, 0)
    weave(c.delete(c.root + "/storage/c/none"), 404, 0)


def test_delete_bso_collection_and_storage(c):
    c.post(c.root + "/storage/c", [{"id": "a", "payload": "1"},
                                   {"id": "b", "payload": "2"},
                                   {"id": "d", "payload": "3"}])
    r = c.delete(c.root + "/storage/c/a")
    assert r.status_code == 200 and round(r.json()["modified"] * 100) == \
        ts_of(r)
    r = c.delete(c.root + "/storage/c?ids=b")
    assert r.status_code == 200
    assert c.get(c.root + "/storage/c").json() == ["d"]
    # the collection stays, with T
    assert round(c.get(c.root + "/info/collections").json()["c"] * 100) \
        == round(r.json()["modified"] * 100)
    before = ts_of(c.get(c.root + "/info/collections"))
    r = c.delete(c.root + "/storage/c")
    assert r.status_code == 200
    t = round(r.json()["modified"] * 100)
    info = c.get(c.root + "/info/collections")
    assert info.json() == {}
    # the storage timestamp advanced: a poller sees the delete
    assert ts_of(info) == t > before
    r = c.get(c.root + "/info/collections",
              headers={"X-If-Modified-Since": "%.2f" % (before / 100)})
    assert r.status_code == 200
    # a collection that never existed: 200, T = storage timestamp
    r = c.delete(c.root + "/storage/never")
    assert r.status_code == 200 and round(r.json()["modified"] * 100) == t
    c.put(c.root + "/storage/c2/x", {"payload": "x"})
    r = c.delete(c.root + "/storage")
    assert r.status_code == 200 and r.json() == {}
    assert c.get(c.root + "/info/collections").json() == {}
    c.put(c.root + "/storage/c2/x", {"payload": "x"})
    r = c.delete(c.root)
    assert r.status_code == 200 and r.json() == {}
    assert c.get(c.root + "/storage/c2").json() == []


# ---- GET collection: parameters and paging ------------------------------

def _fill(c, coll, n):
    """n BSOs, each written alone (distinct modified), sortindex = i % 3."""
    for i in range(n):
        c.put(c.root + "/storage/%s/id%02d" % (coll, i),
              {"payload": "p%d" % i, "sortindex": i % 3})


def test_sort_orders_and_full(c):
    _fill(c, "s", 6)
    newest = c.get(c.root + "/storage/s").json()
    assert newest == ["id%02d" % i for i in reversed(range(6))]
    oldest = c.get(c.root + "/storage/s?sort=oldest").json()
    assert oldest == ["id%02d" % i for i in range(6)]
    # index: sortindex desc, ties by id asc
    idx = c.get(c.root + "/storage/s?sort=index").json()
    assert idx == ["id02", "id05", "id01", "id04", "id00", "id03"]
    full = c.get(c.root + "/storage/s?full=&ids=id01,id03").json()
    assert sorted(b["id"] for b in full) == ["id01", "id03"]
    assert set(full[0]) == {"id", "modified", "payload", "sortindex"}


def test_newer_older_and_ids(c):
    _fill(c, "n", 5)
    bsos = {b["id"]: b["modified"] for b in
            c.get(c.root + "/storage/n?full=1").json()}
    mid = bsos["id02"]
    assert sorted(c.get(c.root + "/storage/n?newer=%.2f" % mid).json()) == \
        ["id03", "id04"]
    assert sorted(c.get(c.root + "/storage/n?older=%.2f" % mid).json()) == \
        ["id00", "id01"]
    r = c.get(c.root + "/storage/n?ids=id01%2Cid04")     # encoded comma
    assert sorted(r.json()) == ["id01", "id04"]
    assert r.headers["X-Weave-Records"] == "2"


@pytest.mark.parametrize("sort", ["newest", "oldest", "index"])
def test_paging_walks_every_record_once(c, sort):
    _fill(c, "p", 7)
    everything = c.get(c.root + "/storage/p?sort=" + sort).json()
    got, offset, pages = [], None, 0
    while True:
        q = "?sort=%s&limit=3" % sort + ("&offset=" + offset if offset
                                         else "")
        r = c.get(c.root + "/storage/p" + q)
        assert r.status_code == 200
        got += r.json()
        pages += 1
        offset = r.headers.get("X-Weave-Next-Offset")
        if offset is None:
            break
        assert pages < 10
    assert got == everything and pages == 3


def test_paging_stable_under_concurrent_insert(c):
    _fill(c, "k", 4)
    r = c.get(c.root + "/storage/k?sort=oldest&limit=2")
    assert r.json() == ["id00", "id01"]
    c.put(c.root + "/storage/k/aaa", {"payload": "new"})   # newest, sorts last
    r2 = c.get(c.root + "/storage/k?sort=oldest&limit=2&offset=" +
               r.headers["X-Weave-Next-Offset"])
    assert r2.json() == ["id02", "id03"]


def test_exact_limit_has_no_next_offset(c):
    _fill(c, "e", 3)
    r = c.get(c.root + "/storage/e?limit=3")
    assert len(r.json()) == 3 and "X-Weave-Next-Offset" not in r.headers
    r = c.get(c.root + "/storage/e?limit=2")
    assert len(r.json()) == 2 and "X-Weave-Next-Offset" in r.headers


@pytest.mark.parametrize("query", ["sort=random", "limit=-1", "limit=x",
                                   "newer=abc", "older=-5", "offset=!!",
                                   "offset=Zm9v", "ids=" + ",".join(
                                       "i%d" % i for i in range(101))])
def test_bad_query_parameters_are_400_1(c, query):
    c.put(c.root + "/storage/q/a", {"payload": "x"})
    weave(c.get(c.root + "/storage/q?" + query), 400, 1)


def test_newlines_output_and_accept(c):
    c.post(c.root + "/storage/nl", [{"id": "a", "payload": "line\nbreak"},
                                    {"id": "b", "payload": "x"}])
    r = c.get(c.root + "/storage/nl?full=1&sort=oldest",
              headers={"Accept": "application/newlines"})
    assert r.headers["Content-Type"] == "application/newlines"
    lines = r.text.split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert json.loads(lines[0])["payload"] == "line\nbreak"
    assert r.headers["X-Weave-Records"] == "2"
    for ok in ("*/*", "application/json", "application/*",
               "text/html, application/json"):
        assert c.get(c.root + "/storage/nl",
                     headers={"Accept": ok}).status_code == 200
    weave(c.get(c.root + "/storage/nl", headers={"Accept": "text/xml"}),
          406, 0)


# ---- POST ---------------------------------------------------------------

def test_post_success_failed_and_one_timestamp(c):
    r = c.post(c.root + "/storage/c", [
        {"id": "ok1", "payload": "a", "sortindex": 1},
        {"id": "badttl", "ttl": -1},
        {"id": "badsi", "sortindex": "12"},
        {"id": "bad\tid", "payload": "x"},
        {"id": "badfield", "payload": "x", "extra": 1},
        {"id": "ok2", "payload": "b", "modified": 5, "collection": "zz"}])
    assert r.status_code == 200
    body = r.json()
    assert body["success"] == ["ok1", "ok2"]
    assert set(body["failed"]) == {"badttl", "badsi", "bad\tid", "badfield"}
    assert body["failed"]["badttl"] == "invalid ttl"
    assert ts_of(r) == ts_of(r, "X-Weave-Timestamp") == \
        round(body["modified"] * 100)
    full = c.get(c.root + "/storage/c?full=1").json()
    assert {b["modified"] for b in full} == {body["modified"]}


def test_post_newlines_body(c):
    body = b'{"id": "a", "payload": "1"}\n{"id": "b", "payload": "2"}\n'
    r = c.post(c.root + "/storage/nl", body,
               content_type="application/newlines")
    assert r.status_code == 200 and r.json()["success"] == ["a", "b"]
    r = c.post(c.root + "/storage/nl", b"", content_type="application/newlines")
    assert r.status_code == 200 and r.json()["success"] == []
    weave(c.post(c.root + "/storage/nl", b"\n",
                 content_type="application/newlines"), 400, 6)
    weave(c.post(c.root + "/storage/nl", b'{"id": "a"}\nnot json\n',
                 content_type="application/newlines"), 400, 6)


@pytest.mark.parametrize("body,code", [
    (b"not json", 6), (b'{"id": "a"}', 8), (b'[1, 2]', 8),
    (b'[{"payload": "no id"}]', 8),
    (b'[{"id": "a"}, {"id": "a"}]', 8)])
def test_post_whole_request_failures(c, body, code):
    weave(c.post(c.root + "/storage/c", body), 400, code)
    assert c.get(c.root + "/storage/c").json() == []     # nothing written


def test_post_limits_retry_bso_and_bytes(c):
    recs = [{"id": "r%d" % i, "payload": "x"} for i in range(7)]
    body = c.post(c.root + "/storage/c", recs).json()
    assert body["success"] == ["r%d" % i for i in range(5)]
    assert body["failed"] == {"r5": "retry bso", "r6": "retry bso"}
    recs = [{"id": "b%d" % i, "payload": "y" * 300} for i in range(4)]
    body = c.post(c.root + "/storage/c2", recs).json()
    assert body["success"] == ["b0", "b1", "b2"]
    assert body["failed"] == {"b3": "retry bytes"}
    body = c.post(c.root + "/storage/c3",
                  [{"id": "big", "payload": "z" * 301}]).json()
    assert "big" in body["failed"]


def test_crypto_zero_iv_guard(c):
    bad = json.dumps({"ciphertext": "x", "IV": "A" * 22 + "=="})
    weave(c.post(c.root + "/storage/crypto",
                 [{"id": "keys", "payload": bad}]), 400, 8)
    assert c.post(c.root + "/storage/other",
                  [{"id": "keys", "payload": bad}]).status_code == 200


# ---- PUT errors, sizes, content types -----------------------------------

def test_put_bad_bodies(c):
    weave(c.put(c.root + "/storage/c/x", b"{nope"), 400, 6)
    weave(c.put(c.root + "/storage/c/x", b"[1]"), 400, 8)
    weave(c.put(c.root + "/storage/c/x", {"sortindex": 1.5}), 400, 8)
    weave(c.put(c.root + "/storage/c/x", {"payload": "a" * 301}), 400, 8)
    weave(c.put(c.root + "/storage/c/x", {"ttl": "1"}), 400, 8)
    weave(c.put(c.root + "/storage/c/x", {"payload": "x"},
                content_type="application/xml"), 415, 0)
    weave(c.put(c.root + "/storage/c/x", b'{"payload": "x"}',
                content_type="application/newlines"), 415, 0)
    assert c.put(c.root + "/storage/c/x", {"payload": "x"},
                 content_type="text/plain; charset=utf-8").status_code == 200


def test_oversized_body_is_413_before_the_body(srv, c):
    big = json.dumps([{"id": "a", "payload": "x" * 7000}])
    weave(c.post(c.root + "/storage/c", big), 413, 17)
    # Expect: 100-continue: the answer comes without the body being sent
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    conn.putrequest("POST", c.root + "/storage/c")
    conn.putheader("Content-Length", "100000")
    conn.putheader("Expect", "100-continue")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and resp.read() == b"17"
    conn.close()
    # the worker still serves
    assert c.get(c.root + "/info/collections").status_code == 200


@pytest.mark.parametrize("hdr,value,code", [
    ("X-Weave-Records", "6", 17), ("X-Weave-Bytes", "1001", 17),
    ("X-Weave-Total-Records", "13", 17), ("X-Weave-Total-Bytes", "3001", 17),
    ("X-Weave-Records", "x", 1), ("X-Weave-Records", "5", None)])
def test_size_headers(c, hdr, value, code):
    r = c.post(c.root + "/storage/c", [{"id": "a"}], headers={hdr: value})
    if code is None:
        assert r.status_code == 200
    else:
        weave(r, 400, code)


# ---- routing ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/1.5/42/storage/bad*name",
                                  "/1.5/42/storage/" + "c" * 33,
                                  "/1.5/42/storage/c/" + "i" * 65,
                                  "/1.5/42/storage/c/a%09b",
                                  "/1.5/12345678901/info/collections",
                                  "/1.5/42/info/nope", "/1.5/42/other",
                                  "/nothing", "/1.5/x/storage"])
def test_unknown_paths_are_404(srv, path):
    c = srv.client(42)
    weave(c.get(path), 404, 0)


def test_wrong_method_is_405(c):
    weave(c.post(c.root + "/info/collections", []), 405, 0)
    weave(c.put(c.root + "/storage/c", {}), 405, 0)
    weave(c.post(c.root + "/storage/c/x", {}), 405, 0)
    weave(c.get(c.root + "/storage"), 405, 0)


def test_ids_with_escapes_in_the_url(c):
    r = c.put(c.root + "/storage/c/a%20b", {"payload": "sp"})
    assert r.status_code == 200
    assert c.get(c.root + "/storage/c").json() == ["a b"]
    assert c.get(c.root + "/storage/c/a%20b").json()["payload"] == "sp"


def test_health(srv):
    r = requests.get(srv.url + "/__heartbeat__", timeout=20)
    assert r.status_code == 200 and r.json()["status"] == "Ok"
    assert r.json()["database"] == "Ok"
    r = requests.get(srv.url + "/__lbheartbeat__", timeout=20)
    assert r.status_code == 200 and r.json() == {}


def test_tokenserver_routes_other_versions_and_methods(srv):
    r = requests.get(srv.url + "/1.0/other/2.0", timeout=20)
    assert r.status_code == 404 and r.json()["status"] == "error"
    assert int(r.headers["X-Timestamp"]) > 0
    r = requests.post(srv.url + "/1.0/sync/1.5", timeout=20)
    assert r.status_code == 405 and r.json()["status"] == "error"
