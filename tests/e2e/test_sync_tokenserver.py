# SPDX-License-Identifier: Apache-2.0
"""The tokenserver endpoint GET /1.0/sync/1.5 over real HTTP (README
"Self-hosting Firefox Sync", doc/sync-auth.md section 5) with a fake FxA OAuth
verifier started by the test (synclib.FakeVerifier): users, the
generation / keys_changed_at / client-state rules, allow_new_users, the
verifier failing, and a token from it used against the storage API."""

import hashlib
import shutil
import tempfile

import pytest
import requests

import synclib
from conftest import wait_until
from sync_server import SyncServer, free_tcp_port

FXA = "0123456789abcdef0123456789abcdef"
KCA = 1500000000000
TS = "/1.0/sync/1.5"


@pytest.fixture
def verifier():
    with synclib.FakeVerifier() as v:
        yield v


@pytest.fixture
def tmpdir_short():
    d = tempfile.mkdtemp(prefix="csync-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def srv(verifier, tmpdir_short):
    with SyncServer(tmpdir_short, oauth_verifier=verifier.url + "/v1/") as s:
        yield s
        # a clean exit: no sanitizer report under SANITIZE=1 builds
        assert s.stop() == 0, s.log


def get_token(server, bearer, kid, **headers):
    h = {"Authorization": "Bearer " + bearer} if bearer else {}
    if kid is not None:
        h["X-KeyID"] = kid
    h.update(headers)
    return requests.get(server.url + TS, headers=h, timeout=30)


def assert_error(r, status, word):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == word, body
    assert body["errors"] and "description" in body["errors"][0]
    assert int(r.headers["X-Timestamp"]) > 1600000000


def test_new_user_token_works_against_storage(srv, verifier):
    verifier.add("bearer-1", FXA, generation=KCA)
    r = get_token(srv, "bearer-1", synclib.key_id(KCA, b"kB"))
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Timestamp"]) > 1600000000
    body = r.json()
    assert verifier.calls == ["bearer-1"]
    assert body["api_endpoint"] == "%s/1.5/%d" % (srv.node, body["uid"])
    assert body["duration"] == 3600
    assert body["hashalg"] == "sha256"
    assert body["node_type"] == "sqlite"
    assert len(body["hashed_fxa_uid"]) == 32
    # the key is the token's derived secret, as any tokenlib client checks
    assert synclib.derive_key(srv.secret, body["id"]) == body["key"]
    # and the token works against this node's storage API
    c = synclib.SyncClient(srv.url, body["id"], body["key"])
    base = "/1.5/%d" % body["uid"]
    r = c.put(base + "/storage/bookmarks/abc", {"payload": "hello"})
    assert r.status_code == 200, r.text
    r = c.get(base + "/storage/bookmarks/abc")
    assert r.status_code == 200 and r.json()["payload"] == "hello"
    assert c.get(base + "/info/collections").json().keys() == {"bookmarks"}
    # but not against another uid
    assert c.get("/1.5/%d/info/collections" % (body["uid"] + 1)
                 ).status_code == 401


def _maps_libcurl(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "/libcurl" in f.read()


def test_libcurl_is_loaded_at_the_first_token_request(srv, verifier):
    """A worker's start does not map libcurl and its libraries (a rolling
    bounce pays every worker's start); the first verifier call loads it
    (syncserver/tokenserver.c, ts_curl_get) and later calls reuse it."""
    pid = srv.proc.pid
    # the storage API and the heartbeat need no verifier
    assert requests.get(srv.url + "/__heartbeat__", timeout=30).ok
    assert not _maps_libcurl(pid)
    verifier.add("bearer-1", FXA, generation=KCA)
    for _ in range(2):
        r = get_token(srv, "bearer-1", synclib.key_id(KCA, b"kB"))
        assert r.status_code == 200, r.text
    assert _maps_libcurl(pid)
    assert verifier.calls == ["bearer-1", "bearer-1"]


def test_returning_user_and_duration(srv, verifier):
    verifier.add("b", FXA)
    kid = synclib.key_id(KCA, b"kB")
    first = get_token(srv, "b", kid).json()
    state = hashlib.sha256(b"kB").digest()[:16].hex()
    again = get_token(srv, "b", kid, **{"X-Client-State": state})
    assert again.status_code == 200, again.text
    assert again.json()["uid"] == first["uid"]
    r = requests.get(srv.url + TS + "?duration=60", timeout=30, headers={
        "Authorization": "bearer b", "X-KeyID": kid})
    assert r.json()["duration"] == 60
    verifier.add("other", "f" * 32)
    assert get_token(srv, "other", kid).json()["uid"] != first["uid"]


def test_header_errors(srv, verifier):
    verifier.add("b", FXA)
    kid = synclib.key_id(KCA, b"kB")
    assert_error(get_token(srv, None, kid), 401, "error")
    assert_error(get_token(srv, None, kid, Authorization="Basic eDp5"),
                 401, "error")
    assert_error(get_token(srv, "b", None), 401, "invalid-key-id")
    assert_error(get_token(srv, "b", "nodash"), 401, "invalid-credentials")
    assert_error(get_token(srv, "b", kid, **{"X-Client-State": "no way!"}),
                 400, "error")
    assert_error(get_token(srv, "b", kid, **{"X-Client-State": "ab" * 16}),
                 401, "invalid-client-state")
    assert verifier.calls == []


def test_generation_rules(srv, verifier):
    kid = synclib.key_id(KCA, b"kB")
    verifier.add("g2", FXA, generation=KCA + 2)
    uid = get_token(srv, "g2", kid).json()["uid"]
    verifier.add("g1", FXA, generation=KCA + 1)
    assert_error(get_token(srv, "g1", kid), 401, "invalid-generation")
    verifier.add("g3", FXA, generation=KCA + 3)
    assert get_token(srv, "g3", kid).json()["uid"] == uid


def test_keys_changed_at_rules(srv, verifier):
    verifier.add("b", FXA)
    uid = get_token(srv, "b", synclib.key_id(KCA, b"kB")).json()["uid"]
    assert_error(get_token(srv, "b", synclib.key_id(KCA - 1, b"kB")), 401,
                 "invalid-keysChangedAt")
    verifier.add("old-gen", FXA, generation=KCA + 5)
    assert_error(get_token(srv, "old-gen", synclib.key_id(KCA + 10, b"kB")),
                 401, "invalid-keysChangedAt")


def test_client_state_change_gives_a_new_uid(srv, verifier):
    verifier.add("b", FXA)
    old = get_token(srv, "b", synclib.key_id(KCA, b"kB1")).json()
    # a new key without a keys_changed_at change is refused
    assert_error(get_token(srv, "b", synclib.key_id(KCA, b"kB2")), 401,
                 "invalid-client-state")
    new = get_token(srv, "b", synclib.key_id(KCA + 1, b"kB2")).json()
    assert new["uid"] != old["uid"]
    assert new["api_endpoint"].startswith(srv.node + "/1.5/")
    # going back to the replaced key is refused
    assert_error(get_token(srv, "b", synclib.key_id(KCA + 2, b"kB1")), 401,
                 "invalid-client-state")


def test_new_users_disallowed(verifier, tmpdir_short):
    with SyncServer(tmpdir_short, oauth_verifier=verifier.url,
                    allow_new_users=False) as s:
        verifier.add("b", FXA)
        assert_error(get_token(s, "b", synclib.key_id(KCA, b"kB")), 401,
                     "new-users-disabled")


def test_verifier_refusals_and_5xx(srv, verifier):
    kid = synclib.key_id(KCA, b"kB")
    assert_error(get_token(srv, "unknown", kid), 401, "invalid-credentials")
    verifier.add("profile-only", FXA, scope=("profile",))
    assert_error(get_token(srv, "profile-only", kid), 401,
                 "invalid-credentials")
    verifier.add("good", FXA)
    verifier.status_all = 500
    r = get_token(srv, "good", kid)
    assert_error(r, 503, "error")
    assert int(r.headers["Retry-After"]) > 0
    # the verifier then rests: a 503 at once, without calling it
    verifier.status_all = None
    calls = len(verifier.calls)
    r = get_token(srv, "good", kid)
    assert_error(r, 503, "error")
    assert int(r.headers["Retry-After"]) > 0
    assert len(verifier.calls) == calls


def test_verifier_down(tmpdir_short):
    port = free_tcp_port()                # nobody listens there
    with SyncServer(tmpdir_short,
                    oauth_verifier="http://127.0.0.1:%d" % port) as s:
        r = get_token(s, "any", synclib.key_id(KCA, b"kB"))
        assert_error(r, 503, "error")
        assert int(r.headers["Retry-After"]) > 0
        wait_until(lambda: "OAuth verifier http://127.0.0.1:%d" % port
                   in s.log, timeout=20, msg="verifier failure logged")
        # the worker keeps serving
        assert requests.get(s.url + "/__lbheartbeat__",
                            timeout=30).status_code == 200
        assert s.stop() == 0, s.log


def test_users_spread_over_nodes_by_capacity(verifier, tmpdir_short):
    """[tokenserver] nodes: users go to the node with room and the lowest
    load/capacity; a token names its node, and only that node accepts it."""
    here, other = "http://node-a.test", "http://other-node.test:8080"
    with SyncServer(tmpdir_short, oauth_verifier=verifier.url,
                    public_url=here,
                    tokenserver__nodes="%s 1, %s/ 5" % (here, other)) as s:
        kid = synclib.key_id(KCA, b"kB")
        got = []
        for i in range(3):
            verifier.add("b%d" % i, "%032x" % (i + 1))
            r = get_token(s, "b%d" % i, kid)
            assert r.status_code == 200, r.text
            got.append(r.json())
        nodes = [b["api_endpoint"].rsplit("/1.5/", 1)[0] for b in got]
        assert nodes == [s.node, other, other]
        mine = synclib.SyncClient(s.url, got[0]["id"], got[0]["key"],
                                  public_url=here)
        assert mine.get("/1.5/%d/info/collections" % got[0]["uid"]
                        ).status_code == 200
        theirs = synclib.SyncClient(s.url, got[1]["id"], got[1]["key"],
                                    public_url=here)
        r = theirs.get("/1.5/%d/info/collections" % got[1]["uid"])
        assert r.status_code == 401
        wait_until(lambda: 'token is for node "%s"' % other in s.log,
                   timeout=20, msg="node mismatch logged")
        # a returning user keeps its node
        assert get_token(s, "b1", kid).json()["api_endpoint"] == \
            got[1]["api_endpoint"]
        assert s.stop() == 0, s.log
