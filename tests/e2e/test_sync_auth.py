# SPDX-License-Identifier: Apache-2.0
"""Authentication of the storage API over real HTTP (README "Self-hosting
Firefox Sync", doc/sync-auth.md): tokens minted and requests signed
by the test's own tokenlib/Hawk code (synclib.py); every failure is a 401
with `WWW-Authenticate: Hawk` and its reason in the worker's log."""

import shutil
import tempfile
import time

import pytest
import requests

import synclib
from conftest import wait_until
from sync_server import SyncCluster, SyncServer


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="csync-", dir="/tmp")
    try:
        with SyncServer(d) as s:
            yield s
            # a clean exit: no sanitizer report under SANITIZE=1 builds
            assert s.stop() == 0, s.log
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmpdir_short():
    d = tempfile.mkdtemp(prefix="csync-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def assert_401(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["WWW-Authenticate"].startswith("Hawk")
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == 0
    assert "X-Weave-Timestamp" in r.headers


def wait_log(server, needle):
    wait_until(lambda: needle in server.log, timeout=20,
               msg="%r in the worker's log" % needle)


def info(uid):
    return "/1.5/%d/info/collections" % uid


def test_no_or_garbage_authorization_is_401(srv):
    url = srv.url + info(1)
    assert_401(requests.get(url, timeout=30))
    wait_log(srv, "no Authorization header")
    for value in ("Bearer abc", "Hawk", 'Hawk id="x", ts="1"',
                  'Hawk id="x", ts="1", nonce="n", mac="m", id="y"',
                  'Hawk id="x, ts="1", nonce="n", mac="m"',
                  "Hawk " + "a" * 10000):
        assert_401(requests.get(url, headers={"Authorization": value},
                                timeout=30))
    wait_log(srv, "Authorization scheme is not Hawk")
    wait_log(srv, "duplicate parameter")
    # the worker keeps serving
    assert srv.client(1).get(info(1)).status_code == 200


def test_token_signed_with_another_secret_is_401(srv):
    token, key = synclib.mint_token("another secret", 2, srv.node,
                                    time.time() + 600)
    c = synclib.SyncClient(srv.url, token, key)
    assert_401(c.get(info(2)))
    wait_log(srv, "token signature invalid")


def test_bad_mac_is_401(srv):
    c = srv.client(3)
    key = synclib.derive_key(srv.secret, c.token)
    # another last character (a fixed "A" was the right one 1 time in 64)
    c.key = key[:-2] + ("B" if key[-2] == "A" else "A") + "="
    assert_401(c.get(info(3)))
    wait_log(srv, "uid 3: Hawk MAC invalid")
    # signed for another request than the one sent
    c = srv.client(3)
    url = srv.url + info(3)
    hdr = synclib.hawk_header(c.token, c.key, "GET", url + "?full=1")
    assert_401(requests.get(url, headers={"Authorization": hdr}, timeout=30))


def test_replayed_nonce_is_401(srv):
    c = srv.client(4)
    url = srv.url + info(4)
    hdr = synclib.hawk_header(c.token, c.key, "GET", url)
    assert requests.get(url, headers={"Authorization": hdr},
                        timeout=30).status_code == 200
    assert_401(requests.get(url, headers={"Authorization": hdr}, timeout=30))
    wait_log(srv, "uid 4: nonce replayed")
    # the same nonce with another token is a different pair
    c2 = srv.client(4)
    hdr2 = synclib.hawk_header(c2.token, c2.key, "GET", url,
                               nonce=hdr.split('nonce="')[1].split('"')[0])
    assert requests.get(url, headers={"Authorization": hdr2},
                        timeout=30).status_code == 200


def test_replay_refused_by_another_worker(tmpdir_short):
    """Two workers sharing the database and the nonce cache: a request
    accepted by one is refused when replayed to the other."""
    common = dict(public_url="http://sync.example.test",
                  secret="shared-" + tmpdir_short)
    with SyncServer(tmpdir_short, **common) as a, \
            SyncServer(tmpdir_short, **common) as b:
        token, key = synclib.mint_token(a.secret, 5, a.node,
                                        time.time() + 600)
        hdr = synclib.hawk_header(token, key, "GET",
                                  a.public_url + info(5))
        ok = requests.get(a.url + info(5), headers={"Authorization": hdr},
                          timeout=30)
        assert ok.status_code == 200, ok.text
        assert_401(requests.get(b.url + info(5),
                                headers={"Authorization": hdr}, timeout=30))
        assert_401(requests.get(a.url + info(5),
                                headers={"Authorization": hdr}, timeout=30))
        wait_log(b, "uid 5: nonce replayed")


def test_replay_refused_in_a_cluster(tmpdir_short):
    """Two circusd workers on one socket: every replay, on a fresh
    connection whichever worker takes it, is refused."""
    with SyncCluster(tmpdir_short, workers=2) as cl:
        assert len(cl.pids) == 2
        c = cl.client(6)
        url = cl.url + info(6)
        hdr = synclib.hawk_header(c.token, c.key, "GET", url)
        h = {"Authorization": hdr, "Connection": "close"}
        assert requests.get(url, headers=h, timeout=30).status_code == 200
        for _ in range(20):
            assert_401(requests.get(url, headers=h, timeout=30))


def test_nonce_cache_off_accepts_a_replay(tmpdir_short):
    with SyncServer(tmpdir_short, hawk__nonce_cache=False) as s:
        c = s.client(7)
        url = s.url + info(7)
        hdr = {"Authorization": synclib.hawk_header(c.token, c.key, "GET",
                                                    url)}
        for _ in range(2):
            assert requests.get(url, headers=hdr,
                                timeout=30).status_code == 200


def test_expired_token(srv):
    c = srv.client(8, expires=time.time() - 60)
    assert_401(c.get("/1.5/8/storage/bookmarks"))
    assert_401(c.put("/1.5/8/storage/bookmarks/a", {"payload": "x"}))
    wait_log(srv, "uid 8: token expired")
    # info/collections accepts it within expired_token_timeout (7200 s)
    r = c.get(info(8))
    assert r.status_code == 200, r.text
    assert_401(c.get("/1.5/8/info/collection_counts"))
    old = srv.client(8, expires=time.time() - 7300)
    assert_401(old.get(info(8)))


def test_expired_token_grace_is_configurable(tmpdir_short):
    with SyncServer(tmpdir_short, storage__expired_token_timeout=30) as s:
        assert s.client(9, expires=time.time() - 5).get(
            info(9)).status_code == 200
        assert_401(s.client(9, expires=time.time() - 120).get(info(9)))


def test_wrong_uid_is_401(srv):
    c = srv.client(10)
    assert_401(c.get(info(11)))
    assert_401(c.put("/1.5/11/storage/tabs/x", {"payload": "p"}))
    wait_log(srv, "uid 10: token used for uid 11 in the path")
    assert c.get(info(10)).status_code == 200


def test_token_for_another_node_is_401(srv):
    token, key = synclib.mint_token(srv.secret, 12, "http://other.test",
                                    time.time() + 600)
    assert_401(synclib.SyncClient(srv.url, token, key).get(info(12)))
    wait_log(srv, 'token is for node "http://other.test"')


def test_token_with_extra_fields_works(srv):
    c = srv.client(13, fxa_uid="a" * 32, fxa_kid="0001234567890-qg",
                   hashed_fxa_uid="b" * 32, hashed_device_id="c" * 32,
                   tokenserver_origin="python")
    assert c.get(info(13)).status_code == 200
    c = srv.client(13, fxa_uid="not valid!")
    assert_401(c.get(info(13)))


def test_payload_hash(srv):
    c = srv.client(14)
    body = b'{"payload": "hello"}'
    r = c.put("/1.5/14/storage/col/a", body, with_hash=True)
    assert r.status_code == 200, r.text
    url = srv.url + "/1.5/14/storage/col/b"
    hdr = synclib.hawk_header(c.token, c.key, "PUT", url,
                              b'{"payload": "other"}', "application/json",
                              with_hash=True)
    assert_401(requests.put(url, data=body, timeout=30, headers={
        "Authorization": hdr, "Content-Type": "application/json"}))
    wait_log(srv, "uid 14: payload hash does not match the body")
    assert c.get("/1.5/14/storage/col/b").status_code == 404


def test_skew_is_not_enforced_by_default(srv):
    c = srv.client(15)
    r = c.get(info(15), ts=int(time.time()) - 86400)
    assert r.status_code == 200, r.text


def test_skew_enforced_when_configured(tmpdir_short):
    with SyncServer(tmpdir_short, hawk__max_skew=60) as s:
        c = s.client(16)
        assert_401(c.get(info(16), ts=int(time.time()) - 3600))
        assert_401(c.get(info(16), ts=int(time.time()) + 3600))
        wait_log(s, "max_skew 60")
        assert c.get(info(16)).status_code == 200


def test_hawk_uses_public_url_not_the_host_header(tmpdir_short):
    """Behind a TLS proxy: the client signs for public_url; the request
    reaches the worker on 127.0.0.1 and authenticates."""
    with SyncServer(tmpdir_short,
                    public_url="https://sync.example.test") as s:
        assert s.node == "https://sync.example.test"
        token, key = synclib.mint_token(s.secret, 17, s.node,
                                        time.time() + 600)
        via_proxy = synclib.SyncClient(s.url, token, key,
                                       public_url="https://sync.example.test")
        assert via_proxy.get(info(17)).status_code == 200
        direct = synclib.SyncClient(s.url, token, key)
        assert_401(direct.get(info(17)))
        wait_log(s, "signed for sync.example.test:443")
