# SPDX-License-Identifier: Apache-2.0
"""The info/collections cache (doc/sync-storage.md §6): each HTTP thread
keeps its last answers, valid while the user's generation word (shared by
every worker through DB-gen) has not moved and for at most
`[storage] info_cache_ms`. Two standalone workers on one database, one
HTTP thread each, so every request of a client reaches the thread that
cached its last answer."""

import os
import sqlite3
import tempfile
import shutil
import time

import pytest

from sync_server import SyncServer

UID = 77


@pytest.fixture
def pair(request):
    """Two workers, A and B, sharing one database and secret."""
    ms = request.param
    d = tempfile.mkdtemp(prefix="sync-ic-", dir="/tmp")
    db = os.path.join(d, "sync.db")
    common = dict(secret="ic-secret", sqluri="sqlite:///" + db,
                  storage__info_cache_ms=ms)
    os.mkdir(os.path.join(d, "a"))
    os.mkdir(os.path.join(d, "b"))
    a = SyncServer(os.path.join(d, "a"), threads=1, **common)
    try:
        b = SyncServer(os.path.join(d, "b"), threads=1, **common)
    except BaseException:
        a.stop()
        raise
    yield a, b, db
    rc = (a.stop(), b.stop())
    assert rc == (0, 0), a.log + b.log
    shutil.rmtree(d, ignore_errors=True)


def info(c):
    r = c.get("/1.5/%d/info/collections" % UID)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("pair", [600000], indirect=True)
def test_a_write_on_one_worker_is_seen_at_once_by_the_other(pair):
    """Caches that would stand for ten minutes: every write, on either
    worker, is in the other's next info/collections all the same."""
    a, b, _ = pair
    ca, cb = a.client(UID), b.client(UID)
    assert info(ca) == {} and info(cb) == {}
    for i in range(20):
        writer, reader = (ca, cb) if i % 2 == 0 else (cb, ca)
        before = info(reader)                  # cached by the reader
        info(writer)
        r = writer.put("/1.5/%d/storage/c%d/x" % (UID, i),
                       {"payload": str(i)})
        assert r.status_code == 200, r.text
        after = info(reader)
        assert "c%d" % i not in before
        assert after["c%d" % i] == float(r.text), (i, after)
        assert info(writer) == after
    # a delete, too
    r = ca.delete("/1.5/%d/storage/c3" % UID)
    assert r.status_code == 200, r.text
    assert "c3" not in info(cb) and "c3" not in info(ca)
    r = cb.delete("/1.5/%d/storage" % UID)
    assert r.status_code == 200, r.text
    assert info(ca) == {} and info(cb) == {}


def _outside_write(db, name):
    """A write no worker knows of: another program on the database."""
    con = sqlite3.connect(db, timeout=30)
    with con:
        con.execute("INSERT INTO collections (uid, name, modified)"
                    " VALUES (?, ?, ?)", (UID, name, 123456))
    con.close()


@pytest.mark.parametrize("pair", [1500], indirect=True)
def test_an_outside_write_shows_within_info_cache_ms(pair):
    """A write that bumped no generation (another program, or a worker
    killed between COMMIT and the bump) is served within info_cache_ms:
    the cached answer first, then the database's."""
    a, _, db = pair
    ca = a.client(UID)
    r = ca.put("/1.5/%d/storage/tabs/x" % UID, {"payload": "p"})
    assert r.status_code == 200, r.text
    t0 = time.monotonic()
    assert set(info(ca)) == {"tabs"}            # read, and cached
    _outside_write(db, "outside")
    got = info(ca)
    if time.monotonic() - t0 < 1.0:             # well inside 1.5 s
        assert set(got) == {"tabs"}, "the answer was not cached"
    deadline = time.monotonic() + 30
    while "outside" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
        got = info(ca)
    assert got.get("outside") == 1234.56
    # cached after t0 for 1.5 s (a coarse clock: a tick or two less)
    assert time.monotonic() - t0 >= 1.45, \
        "seen before info_cache_ms: the answer was not cached"


@pytest.mark.parametrize("pair", [0], indirect=True)
def test_info_cache_ms_0_reads_the_database_every_time(pair):
    a, _, db = pair
    ca = a.client(UID)
    assert info(ca) == {}
    _outside_write(db, "outside")
    assert info(ca) == {"outside": 1234.56}
    assert not os.path.exists(db + "-gen")


def test_a_gen_file_of_another_size_is_left_alone_and_nothing_cached(wd):
    """A DB-gen that is not this build's size (another version's, or
    damaged) is never truncated: another worker may have it mapped. The
    worker says so, serves, and reads info/collections from the database
    every time."""
    db = str(wd / "sync.db")
    with open(db + "-gen", "wb") as f:
        f.write(b"12345")
    s = SyncServer(str(wd), sqluri="sqlite:///" + db,
                   storage__info_cache_ms=600000)
    try:
        c = s.client(UID)
        assert info(c) == {}
        _outside_write(db, "outside")
        assert info(c) == {"outside": 1234.56}
        assert os.path.getsize(db + "-gen") == 5
        assert "sync.db-gen: 5 bytes, not 32768; info/collections " \
            "uncached" in s.log
    finally:
        assert s.stop() == 0, s.log
