# SPDX-License-Identifier: Apache-2.0
"""Control-channel framing, envelope, JSON layout and garbage handling
(doc/design.md §17.1)."""

import json
import time
import uuid

import pytest
import zmq

from conftest import (assert_error, assert_ok, is_python_json_layout, _ZCTX)

BODY = """
[watcher:sleeper]
cmd = /bin/sleep 3600
numprocesses = 2

[watcher:Echo]
cmd = /bin/sleep 3600
"""


@pytest.fixture
def d(circusd):
    return circusd(BODY)


def replies_until_sync(client, timeout=15.0, grace=0.5):
    """Send a `list` with a fresh id and return every *other* message that
    arrived before its reply (and within a short grace period after).
    The daemon serves one ROUTER in order, so a reply to an earlier message
    would arrive first."""
    msg_id = "sync-" + uuid.uuid4().hex
    client.raw_send([json.dumps({"command": "list", "properties": {},
                                 "id": msg_id}).encode()])
    others = []
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        m = client.recv_frames(deadline - time.monotonic())
        if m is None:
            break
        try:
            if json.loads(m[-1]).get("id") == msg_id:
                got = m
                break
        except Exception:
            pass
        others.append(m)
    assert got is not None, "daemon did not answer `list` after garbage"
    assert json.loads(got[-1])["status"] == "ok", got
    others.extend(client.drain(grace))
    return others


# --------------------------------------------------------------------------
# envelope and encoding


def test_success_envelope_key_order(d):
    raw, r = d.call_raw("list")
    assert_ok(r, ["watchers"])
    assert r["watchers"] == ["echo", "sleeper"]


def test_reply_bytes_are_python_json_dumps_layout(d):
    for cmd, props in [("list", {}), ("list", {"name": "sleeper"}),
                       ("options", {"name": "sleeper"}),
                       ("globaloptions", {}), ("status", {}),
                       ("stats", {"name": "sleeper"}), ("dstats", {}),
                       ("nope", {}), ("get", {"name": "sleeper"})]:
        raw, r = d.call_raw(cmd, props)
        assert is_python_json_layout(raw), (cmd, raw)
        assert b"\n" not in raw
        assert b", " in raw and b'": ' in raw


def test_error_envelope_key_order_and_types(d):
    raw, r = d.call_raw("bogus")
    assert_error(r, 2, "unknown command: 'bogus'")
    assert r["tb"] is None
    assert is_python_json_layout(raw), raw


def test_id_is_echoed_verbatim(d):
    c = d.client
    for msg_id in ["abc", 42, 1.5, True, {"a": [1, "b"]}, [1, 2], ""]:
        body = json.dumps({"command": "list", "properties": {}, "id": msg_id})
        c.raw_send([body])
        m = c.recv_frames(15)
        assert m is not None, "no reply for id %r" % (msg_id,)
        r = json.loads(m[-1])
        assert r["id"] == msg_id and type(r["id"]) is type(msg_id), r
        assert list(r)[-1] == "id"


def test_missing_id_gives_null_id(d):
    d.client.raw_send([b'{"command": "list", "properties": {}}'])
    m = d.client.recv_frames(15)
    assert m is not None
    r = json.loads(m[-1])
    assert r["status"] == "ok" and "id" in r and r["id"] is None, r
    assert list(r)[-1] == "id"


def test_missing_properties_means_empty(d):
    d.client.raw_send([b'{"command": "numwatchers", "id": "x"}'])
    m = d.client.recv_frames(15)
    r = json.loads(m[-1])
    assert_ok(r, ["numwatchers"])
    assert r["numwatchers"] == 2


def test_command_name_is_case_insensitive(d):
    r = d.call("LIST")
    assert_ok(r, ["watchers"])
    r = d.call("NumWatchers")
    assert r["numwatchers"] == 2


def test_unknown_command_reason_uses_python_repr(d):
    assert_error(d.call("foo"), 2, "unknown command: 'foo'")
    # a quote inside the name switches the repr to double quotes
    assert_error(d.call("it's"), 2, "unknown command: \"it's\"")


def test_non_ascii_is_escaped_in_replies(d):
    raw, r = d.call_raw("caf\u00e9")
    assert_error(r, 2, "unknown command: 'caf\u00e9'")
    raw.decode("ascii")  # pure ASCII
    assert b"\\u00e9" in raw


def test_whitespace_around_body_is_ignored(d):
    d.client.raw_send([b'  \n {"command": "numwatchers", "id": "ws"} \n\t'])
    m = d.client.recv_frames(15)
    assert m is not None
    r = json.loads(m[-1])
    assert r["id"] == "ws" and r["numwatchers"] == 2


def test_pipelined_requests_all_answered(d):
    c = d.client
    ids = ["p%d" % i for i in range(20)]
    for i in ids:
        c.raw_send([json.dumps({"command": "status", "properties": {}, "id": i})])
    got = {}
    deadline = time.monotonic() + 20
    while len(got) < len(ids) and time.monotonic() < deadline:
        m = c.recv_frames(deadline - time.monotonic())
        if m:
            r = json.loads(m[-1])
            got[r["id"]] = r
    assert sorted(got) == sorted(ids)
    assert all("statuses" in r for r in got.values())


def test_two_clients_get_their_own_replies(d):
    a, b = d.new_client(), d.new_client()
    try:
        a.raw_send([b'{"command": "numwatchers", "id": "from-a"}'])
        b.raw_send([b'{"command": "list", "id": "from-b"}'])
        ra = json.loads(a.recv_frames(15)[-1])
        rb = json.loads(b.recv_frames(15)[-1])
        assert ra["id"] == "from-a" and "numwatchers" in ra
        assert rb["id"] == "from-b" and "watchers" in rb
    finally:
        a.close()
        b.close()


def test_status_quirk_replaces_ok(d):
    raw, r = d.call_raw("status", name="sleeper")
    assert list(r) == ["status", "time", "id"], r
    assert r["status"] == "active"
    assert "ok" not in raw.decode()


def test_listen_on_control_socket(d):
    assert_error(d.call("listen"), 3, "invalid message. use a pub/sub socket")


# --------------------------------------------------------------------------
# garbage


def test_invalid_json_errno_1_and_null_id(d):
    for body in [b"{", b"not json", b'{"command": "list", "id": "x",}',
                 b"\xc3\x28{garbage"]:
        d.client.raw_send([body])
        m = d.client.recv_frames(15)
        assert m is not None, "no reply to invalid JSON %r" % body
        raw = m[-1]
        r = json.loads(raw)
        assert_error(r, 1, "json invalid")
        assert r["id"] is None
        assert is_python_json_layout(raw)
    assert_ok(d.call("numwatchers"))


def test_empty_body_no_reply(d):
    for body in [b"", b"   ", b"\n\t "]:
        d.client.raw_send([body])
        others = replies_until_sync(d.client)
        assert others == [], "reply to empty body %r: %r" % (body, others)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"list"', b"42", b"null",
                                  b"true", b'{"properties": {}, "id": "nc"}',
                                  b'{"command": 7, "id": "ni"}',
                                  b'{"command": null, "id": "nn"}'])
def test_non_object_or_commandless_json_errno_2(d, body):
    """doc/design.md §17.1: every non-cast request
    gets exactly one reply, so a plugin never hangs; errno 2."""
    d.client.raw_send([body])
    m = d.client.recv_frames(15)
    assert m is not None, "no reply to %r" % body
    r = json.loads(m[-1])
    assert_error(r, 2)
    assert r["reason"].startswith("unknown command"), r
    # and nothing else is pending; the daemon still answers
    assert replies_until_sync(d.client) == []


@pytest.mark.parametrize("frames", [
    [b'{"command": "list", "id": "2f"}', b'{"command": "list", "id": "2f"}'],
    [b"a", b"b", b"c"],
    [b"x", b"", b'{"command": "list", "id": "4f"}'],
])
def test_wrong_frame_count_no_reply(d, frames):
    d.client.raw_send(frames)
    assert replies_until_sync(d.client) == []


def test_req_style_delimiter_frame(d):
    """[identity, "", body]: dropped (Circus) or, as an extension, answered
    as [identity, "", reply]. Either way nothing malformed comes back."""
    d.client.raw_send([b"", b'{"command": "numwatchers", "id": "req"}'])
    others = replies_until_sync(d.client)
    for m in others:
        assert len(m) == 2 and m[0] == b"", m
        r = json.loads(m[1])
        assert r["id"] == "req" and r["numwatchers"] == 2, r


def test_req_socket_does_not_break_daemon(d):
    req = _ZCTX.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(d.endpoint)
    try:
        req.send(b'{"command": "numwatchers", "id": "rq"}')
        if req.poll(2000):
            r = json.loads(req.recv())
            assert r["id"] == "rq" and r["numwatchers"] == 2
    finally:
        req.close(0)
    assert_ok(d.call("numwatchers"))


@pytest.mark.timeout(180)
def test_huge_frames_daemon_survives(d):
    big = b"x" * (10 * 1024 * 1024)
    # 10 MB of garbage: "json invalid" or silence
    d.client.raw_send([big])
    for m in replies_until_sync(d.client, timeout=60):
        r = json.loads(m[-1])
        assert_error(r, 1, "json invalid")
    # 10 MB valid request: a normal reply or silence
    body = json.dumps({"command": "numwatchers", "properties": {},
                       "id": "huge", "pad": "y" * (10 * 1024 * 1024)}).encode()
    d.client.raw_send([body])
    for m in replies_until_sync(d.client, timeout=60):
        r = json.loads(m[-1])
        assert r["id"] == "huge" and r["numwatchers"] == 2, r
    # 10 MB unknown command name
    body = json.dumps({"command": "z" * (10 * 1024 * 1024), "id": "hugecmd"}).encode()
    d.client.raw_send([body])
    for m in replies_until_sync(d.client, timeout=60):
        r = json.loads(m[-1])
        assert_error(r, 2)
        assert r["id"] == "hugecmd"
    assert d.alive()
    assert d.pids("sleeper") and len(d.pids("sleeper")) == 2


def test_garbage_storm_then_daemon_still_works(d):
    c = d.client
    junk = [[b""], [b"{"], [b"[]"], [b"a", b"b"], [b"\x00" * 100],
            [b'{"command": "set", "properties": "x", "id": 1}'],
            [b'{"command": "incr", "properties": {"name": 5}, "id": 2}'],
            [b'{"command": "stats", "properties": {"name": ["x"]}, "id": 3}'],
            [b'{"command": "get", "properties": {"name": "sleeper", "keys": "numprocesses"}, "id": 4}'],
            [b'{"command": "list", "properties": [], "id": 5}'],
            [b'{"command": "list", "properties": null, "id": 6}']]
    for _ in range(5):
        for frames in junk:
            c.raw_send(frames)
    replies_until_sync(c, timeout=30)
    assert d.alive()
    assert_ok(d.call("list", name="sleeper"), ["pids"])
    assert len(d.pids("sleeper")) == 2


# --------------------------------------------------------------------------
# casts


def test_cast_gets_no_reply_but_is_executed(d):
    before = d.pids("sleeper")
    d.client.cast("incr", name="sleeper")
    assert replies_until_sync(d.client) == []
    d.wait_pids("sleeper", 3)
    assert set(before) <= set(d.pids("sleeper"))


def test_cast_error_gets_no_reply(d):
    d.client.raw_send([b'{"command": "nope", "msg_type": "cast", "properties": {}}'])
    d.client.raw_send([b'{"command": "incr", "msg_type": "cast", "properties": {"name": "missing"}}'])
    d.client.raw_send([b'{"command": "set", "msg_type": "cast", "properties": {"name": "sleeper"}}'])
    assert replies_until_sync(d.client) == []


def test_cast_stop_as_plugins_send_it(d):
    d.client.raw_send([b'{"command": "stop", "msg_type": "cast", "properties": {"name": "echo"}}'])
    assert replies_until_sync(d.client) == []
    d.wait_status("Echo", "stopped")


def test_other_msg_type_is_a_normal_call(d):
    d.client.raw_send([b'{"command": "numwatchers", "msg_type": "call", "id": "mt"}'])
    m = d.client.recv_frames(15)
    assert m is not None
    assert json.loads(m[-1])["numwatchers"] == 2
