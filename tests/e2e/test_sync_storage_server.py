# SPDX-License-Identifier: Apache-2.0
"""The sync worker as a process: sync.ini errors with file:line, the
secret file, the socket from LISTEN_FDS, READY=1 to NOTIFY_SOCKET, the
SIGTERM drain, and two worker processes sharing one database file."""

import json
import os
import socket
import stat
import subprocess
import threading
import time

import pytest
import requests

import synclib
from conftest import wait_until
from sync_server import SYNCSERVER, SyncServer, free_tcp_port, write_ini
from test_sync_storage import ts_of


def run_config(wd, text):
    p = wd / "sync.ini"
    p.write_text(text)
    return subprocess.run([str(SYNCSERVER), "--config", str(p), "--listen",
                           "127.0.0.1:%d" % free_tcp_port()],
                          capture_output=True, text=True, timeout=60)


GOOD = "[syncserver]\npublic_url = http://127.0.0.1:1\nsecret = x\n"


@pytest.mark.parametrize("text,where,what", [
    (GOOD + "bogus = 1\n", ":4:", "unknown key bogus"),
    (GOOD + "[nosuch]\na = 1\n", ":5:", "unknown section [nosuch]"),
    (GOOD + "[storage]\nmax_post_records = many\n", ":5:", "max_post_records"),
    (GOOD + "allow_new_users = maybe\n", ":4:", "not a boolean"),
    (GOOD + "; " + "x" * 300 + "\n", ":4:", "line longer than"),
    ("[syncserver]\nsecret = x\n", "sync.ini:", "public_url is required"),
    ("[syncserver]\npublic_url = ftp://h\nsecret = x\n", "sync.ini:",
     "public_url must be"),
    ("[syncserver]\npublic_url = http://h\n", "sync.ini:",
     "secret or secret_file"),
    (GOOD + "[storage]\nmax_post_bytes = 5000000\n", "sync.ini:",
     "limits must satisfy"),
    (GOOD + "sqluri = mysql://x\n", "sync.ini:", "only sqlite"),
])
def test_config_errors_name_file_and_line(wd, text, where, what):
    r = run_config(wd, text)
    assert r.returncode == 2, r
    assert "sync.ini" + where.split("sync.ini")[-1] in r.stderr, r.stderr
    assert what in r.stderr, r.stderr


def test_secret_file_created_once_0600_and_reused(wd):
    sf = wd / "secret"
    kw = dict(secret_file=str(sf), secret="")
    with SyncServer(wd.path, **kw):
        pass
    mode = stat.S_IMODE(os.stat(sf).st_mode)
    assert mode == 0o600
    first = sf.read_text().strip()
    assert len(first) >= 32
    with SyncServer(wd.path, **kw) as s:
        # a token signed with the file's secret is accepted
        s.secret = first
        c = s.client(7)
        assert c.get("/1.5/7/info/collections").status_code == 200
    assert sf.read_text().strip() == first


def test_database_files_are_owner_only(wd):
    """The database, its WAL/shm and the nonce files hold users' data and
    the tokens in use: nobody but the worker's user may read them."""
    with SyncServer(wd.path) as s:
        c = s.client(7)
        assert c.put("/1.5/7/storage/bookmarks/abc",
                     {"payload": "x"}).status_code == 200
        files = [p for p in os.listdir(os.path.dirname(s.db_path))
                 if p.startswith(os.path.basename(s.db_path))]
        assert len(files) >= 3, files      # db, -wal, -shm at least
        for name in files:
            path = os.path.join(os.path.dirname(s.db_path), name)
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))


def test_listen_fds_and_ready_notification(wd):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    npath = str(wd / "notify.sock")
    notify.bind(npath)
    notify.settimeout(30)
    ini = wd / "sync.ini"
    write_ini(ini, {"syncserver": {"public_url": "http://127.0.0.1:%d" % port,
                                   "secret": "abc",
                                   "sqluri": "sqlite:///" +
                                   str(wd / "db")}})
    env = dict(os.environ, LISTEN_FDS="1", NOTIFY_SOCKET=npath)
    # the socket becomes fd 3, as socket activation passes it
    p = subprocess.Popen(["/usr/bin/python3", "-c",
                          "import os, sys; os.dup2(int(sys.argv[1]), 3); "
                          "os.execv(sys.argv[2], sys.argv[2:])",
                          str(lsock.fileno()), str(SYNCSERVER), "--config",
                          str(ini)], env=env, pass_fds=(lsock.fileno(),))
    try:
        assert notify.recv(64) == b"READY=1"
        r = requests.get("http://127.0.0.1:%d/__lbheartbeat__" % port,
                         timeout=20)
        assert r.status_code == 200
    finally:
        p.terminate()
        assert p.wait(30) == 0
        notify.close()
        lsock.close()


def test_sigterm_finishes_the_request_in_flight(wd):
    s = SyncServer(wd.path)
    try:
        c = s.client(5)
        url = s.url + "/1.5/5/storage/c"
        body = b'[{"id": "inflight", "payload": "x"}]'
        auth = synclib.hawk_header(c.token, c.key, "POST", url, body,
                                   "application/json")
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        conn.sendall(("POST /1.5/5/storage/c HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: %s\r\nContent-Type: application/json"
                      "\r\nExpect: 100-continue\r\n"
                      "Content-Length: %d\r\n\r\n" % (auth, len(body)))
                     .encode())
        # "100 Continue": the worker has the request and waits for its body
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = conn.recv(4096)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 100"), got
        conn.sendall(body[:10])
        s.proc.send_signal(15)
        # new connections are refused once the listener is quiesced
        def refused():
            try:
                socket.create_connection(("127.0.0.1", s.port),
                                         timeout=2).close()
                return False
            except OSError:
                return True
        wait_until(refused, timeout=20)
        conn.sendall(body[10:])
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
        conn.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert b'"success":["inflight"]' in reply
        assert s.proc.wait(30) == 0
    finally:
        s.stop()
    # what was acknowledged is in the database
    import sqlite3
    db = sqlite3.connect(s.db_path)
    assert db.execute("SELECT payload FROM bso WHERE id = 'inflight'") \
        .fetchall() == [("x",)]
    db.close()


def _http11(conn, path):
    """One keep-alive HTTP/1.1 GET on conn: (status line, headers, body)."""
    conn.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = conn.recv(4096)
        assert chunk, got
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (line.split(":", 1) for line in lines[1:])}
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        chunk = conn.recv(4096)
        assert chunk, body
        body += chunk
    return lines[0], hdrs, body


def test_drain_answers_a_keepalive_request_sent_after_sigterm(wd):
    """A keep-alive client's next request, sent once the worker drains,
    is answered (with Connection: close), not cut off."""
    s = SyncServer(wd.path)
    try:
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        status, hdrs, _ = _http11(conn, "/__lbheartbeat__")
        assert status.startswith("HTTP/1.1 200"), status
        assert hdrs.get("connection", "").lower() != "close"
        s.proc.send_signal(15)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", s.port),
                                         timeout=2).close()
                return False
            except OSError:
                return True
        wait_until(refused, timeout=20)
        # draining now: the request already on its way is answered
        status, hdrs, _ = _http11(conn, "/__lbheartbeat__")
        assert status.startswith("HTTP/1.1 200"), status
        assert hdrs.get("connection", "").lower() == "close", hdrs
        assert conn.recv(4096) == b""      # then it closes
        conn.close()
        assert s.proc.wait(30) == 0
    finally:
        s.stop()


def _signed(c, sign_base, send_base, method, path, body=None):
    """A request signed for the node's public URL, sent to another worker
    (the Hawk host and port are public_url's, not the socket's)."""
    data = json.dumps(body).encode() if body is not None else b""
    ctype = "application/json" if body is not None else None
    hdrs = {"Authorization": synclib.hawk_header(
        c.token, c.key, method, sign_base + path, data, ctype)}
    if ctype:
        hdrs["Content-Type"] = ctype
    return requests.request(method, send_base + path, data=data or None,
                            headers=hdrs, timeout=60)


def test_two_processes_share_one_database(wd):
    """Two worker processes on one SQLite file, writing for the same user
    at once: every acknowledged record is there, timestamps never repeat,
    and a batch opened on one is committed on the other."""
    a = SyncServer(wd.path)
    (wd / "b").mkdir()
    b = SyncServer(wd / "b", sqluri="sqlite:///" + a.db_path,
                   secret=a.secret, public_url=a.public_url)
    try:
        c = a.client(77)
        bases = [a.url, b.url]
        acked, stamps, errors = [], [], []

        def writer(n):
            for i in range(15):
                recs = [{"id": "w%d-%d-%d" % (n, i, k), "payload": "p"}
                        for k in range(5)]
                r = _signed(c, a.url, bases[(n + i) % 2], "POST",
                            "/1.5/77/storage/hist", recs)
                if r.status_code != 200:
                    errors.append((r.status_code, r.text))
                    continue
                acked.extend(r.json()["success"])
                stamps.append(ts_of(r))

        threads = [threading.Thread(target=writer, args=(n,))
                   for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors
        assert len(stamps) == len(set(stamps)) == 90
        stored = _signed(c, a.url, b.url, "GET",
                         "/1.5/77/storage/hist").json()
        assert sorted(stored) == sorted(acked) and len(acked) == 450
        # a batch across the two processes
        r = _signed(c, a.url, a.url, "POST",
                    "/1.5/77/storage/tabs?batch=true", [{"id": "t1"}])
        batch = r.json()["batch"]
        r = _signed(c, a.url, b.url, "POST",
                    "/1.5/77/storage/tabs?batch=%s&commit=true" % batch,
                    [{"id": "t2"}])
        assert r.status_code == 200, r.text
        assert sorted(_signed(c, a.url, a.url, "GET",
                              "/1.5/77/storage/tabs").json()) == ["t1", "t2"]
    finally:
        assert b.stop() == 0
        assert a.stop() == 0


def test_database_locked_past_the_bound_is_503_retry_after(wd):
    """A writer holding the database (here: this test, in BEGIN IMMEDIATE)
    past the busy timeout: writes answer 503 + Retry-After, body 0; reads
    still answer (WAL); once released, writes succeed."""
    import sqlite3
    with SyncServer(wd.path) as s:
        c = s.client(11)
        assert c.put("/1.5/11/storage/c/x", {"payload": "1"}).status_code \
            == 200
        db = sqlite3.connect(s.db_path, isolation_level=None, timeout=30)
        db.execute("BEGIN IMMEDIATE")
        try:
            r = c.put("/1.5/11/storage/c/x", {"payload": "2"})
            assert r.status_code == 503, r.text
            assert r.json() == 0 and int(r.headers["Retry-After"]) > 0
            g = c.get("/1.5/11/storage/c/x")
            assert g.status_code == 200 and g.json()["payload"] == "1"
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert c.put("/1.5/11/storage/c/x", {"payload": "3"}).status_code \
            == 200


def test_expired_records_are_purged(wd):
    """purge_interval: expired BSOs leave the database file itself."""
    import sqlite3
    with SyncServer(wd.path, storage__purge_interval=1) as s:
        c = s.client(12)
        c.post("/1.5/12/storage/c", [{"id": "short", "payload": "x",
                                      "ttl": 1},
                                     {"id": "long", "payload": "y"}])

        def ids_in_file():
            db = sqlite3.connect(s.db_path, timeout=30)
            try:
                return sorted(r[0] for r in db.execute("SELECT id FROM bso"))
            finally:
                db.close()

        wait_until(lambda: ids_in_file() == ["long"], timeout=30)
        assert c.get("/1.5/12/storage/c").json() == ["long"]


def test_public_url_with_a_path_prefix(wd):
    """public_url http://host:port/sync/: the node name keeps the path
    (without the trailing slash) and every route answers under it."""
    with SyncServer(wd.path, public_url="{url}/sync/") as s:
        assert s.node == s.url + "/sync"
        token, key = synclib.mint_token(s.secret, 21, s.url + "/sync",
                                        time.time() + 600)
        c = synclib.SyncClient(s.url + "/sync", token, key)
        r = c.put("/1.5/21/storage/c/x", {"payload": "p"})
        assert r.status_code == 200, r.text
        assert c.get("/1.5/21/storage/c").json() == ["x"]
        assert "http://127.0.0.1:%d/sync/1.0/sync/1.5" % s.port in s.log
        r = requests.get(s.url + "/sync/__lbheartbeat__", timeout=20)
        assert r.status_code == 200


def test_one_thread_serves_every_kind_of_request(wd):
    """With one HTTP thread every statement lives in one connection's cache:
    every endpoint and every listing variant (sort x offset x ids) still
    answers."""
    with SyncServer(wd.path, threads=1) as s:
        c = s.client(31)
        root = "/1.5/31"
        assert c.post(root + "/storage/c", [
            {"id": "i%d" % i, "payload": "p", "sortindex": i}
            for i in range(6)]).status_code == 200
        for sort in ("newest", "oldest", "index"):
            for ids in ("", "&ids=i1,i2,i3,i4"):
                r = c.get(root + "/storage/c?full=1&limit=2&sort=" + sort +
                          ids)
                assert r.status_code == 200, r.text
                r2 = c.get(root + "/storage/c?limit=2&sort=%s%s&offset=%s"
                           % (sort, ids, r.headers["X-Weave-Next-Offset"]))
                assert r2.status_code == 200 and len(r2.json()) == 2
        for path in ("collections", "collection_counts", "collection_usage",
                     "quota", "configuration"):
            assert c.get(root + "/info/" + path).status_code == 200
        batch = c.post(root + "/storage/c?batch=true",
                       [{"id": "b"}]).json()["batch"]
        assert c.post(root + "/storage/c?batch=%s&commit=true" % batch,
                      []).status_code == 200
        assert c.put(root + "/storage/c/x", {"ttl": 5}).status_code == 200
        assert c.get(root + "/storage/c/x").status_code == 200
        assert c.delete(root + "/storage/c/x").status_code == 200
        assert c.delete(root + "/storage/c?ids=i1").status_code == 200
        assert c.delete(root + "/storage/c").status_code == 200
        assert c.delete(root + "/storage").status_code == 200
        assert requests.get(s.url + "/__heartbeat__",
                            timeout=20).status_code == 200
        assert "cache full" not in s.log
