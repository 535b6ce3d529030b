# SPDX-License-Identifier: Apache-2.0
"""Every command of Circus (doc/design.md §17.1): valid use, replies (keys, order, types),
`waiting` true and false, and each documented error."""

import os
import signal
import socket
import textwrap

import pytest

from conftest import (WORKER_SIGNALS, WORKER_TREE, assert_error, assert_ok,
                      all_pids, finish_shared_daemon, pid_alive, proc_cmdline,
                      proc_environ, start_shared_daemon, wait_until)


def body_for(wd):
    return textwrap.dedent("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 2
    graceful_timeout = 5

    [watcher:Echo]
    cmd = /bin/sleep 3600

    [watcher:single]
    cmd = /bin/sleep 3600
    singleton = true

    [watcher:lazy]
    cmd = /bin/sleep 3600
    autostart = false

    [socket:web]
    host = 127.0.0.1
    port = 0

    [socket:unix]
    path = %s/u.sock
    """ % wd.path)


INFO_KEYS = ["mem_info1", "mem_info2", "cpu", "mem", "ctime", "pid",
             "username", "nice", "create_time", "age", "cmdline", "children"]

OPTION_KEYS = {
    "numprocesses", "warmup_delay", "working_dir", "uid", "gid", "send_hup",
    "stop_signal", "stop_children", "shell", "shell_args", "env",
    "max_retry", "cmd", "args", "respawn", "graceful_timeout", "executable",
    "use_sockets", "priority", "copy_env", "singleton", "stdout_stream_conf",
    "on_demand", "stderr_stream_conf", "max_age", "max_age_variance",
    "close_child_stdin", "close_child_stdout", "close_child_stderr"}


@pytest.fixture(scope="module")
def ro(request):
    """A daemon shared by the read-only and error tests of this module:
    nothing these tests send may change its state."""
    w, f, d = start_shared_daemon(request, body_for)
    yield d
    finish_shared_daemon(w, f)


@pytest.fixture
def d(circusd, wd):
    return circusd(body_for(wd))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# --------------------------------------------------------------------------
# errors: missing properties, unknown watchers, bad keys and types


@pytest.mark.parametrize("command,props,missing", [
    ("add", {}, "name"),
    ("add", {"name": "x"}, "cmd"),
    ("add", {"cmd": "/bin/true"}, "name"),
    ("decr", {}, "name"),
    ("incr", {}, "name"),
    ("get", {"keys": ["cmd"]}, "name"),
    ("get", {"name": "sleeper"}, "keys"),
    ("kill", {}, "name"),
    ("options", {}, "name"),
    ("rm", {}, "name"),
    ("set", {"options": {"numprocesses": 2}}, "name"),
    ("set", {"name": "sleeper"}, "options"),
    ("signal", {"signum": 10}, "name"),
    ("signal", {"name": "sleeper"}, "signum"),
])
def test_missing_property(ro, command, props, missing):
    assert_error(ro.call(command, props), 3,
                 "message invalid '%s' is missing" % missing)


@pytest.mark.parametrize("command,props", [
    ("decr", {}), ("incr", {}), ("get", {"keys": ["cmd"]}), ("options", {}),
    ("rm", {}), ("set", {"options": {"graceful_timeout": 1.0}}),
    ("signal", {"signum": 10}), ("list", {}), ("status", {}),
    ("numprocesses", {}), ("stats", {}), ("start", {}), ("stop", {}),
    ("restart", {}), ("reload", {}),
    ("start", {"match": "simple"}), ("stop", {"match": "regex"}),
])
def test_unknown_watcher(ro, command, props):
    p = dict(props, name="NoSuch")
    assert_error(ro.call(command, p), 3, "program NoSuch not found")


def test_unknown_watcher_with_waiting(ro):
    for command in ("stop", "start", "restart", "reload", "incr", "decr"):
        assert_error(ro.call(command, name="nosuch", waiting=True), 3,
                     "program nosuch not found")


def test_kill_unknown_watcher_quirk_plain_ok(ro):
    assert_ok(ro.call("kill", name="nosuch"), [])


def test_glob_and_regex_matching_nothing(ro):
    assert_error(ro.call("stop", name="zz*"), 3, "program zz* not found")
    assert_error(ro.call("restart", name="zz*", match="glob"), 3,
                 "program zz* not found")
    assert_error(ro.call("start", name="^zz", match="regex"), 3,
                 "program ^zz not found")


def test_unknown_match_method(ro):
    for command in ("start", "stop", "restart"):
        assert_error(ro.call(command, name="sleeper", match="fuzzy"), 3,
                     "unknown match method fuzzy")


def test_get_unknown_key(ro):
    assert_error(ro.call("get", name="sleeper", keys=["numprocesses", "nope"]),
                 3, "'nope' option not found")


def test_globaloptions_unknown_option(ro):
    assert_error(ro.call("globaloptions", option="nope"), 3,
                 "'nope' not an existing option")


def test_stats_unknown_process(ro):
    assert_error(ro.call("stats", name="sleeper", process=1), 3,
                 "process 1 not found in 'sleeper'")
    assert_error(ro.call("stats", name="sleeper", process="1"), 3,
                 "process '1' not found in 'sleeper'")
    # a non-numeric string is a conversion error (errno 5)
    assert_error(ro.call("stats", name="sleeper", process="abc"), 5)


SET_TYPE_ERRORS = [
    ({"numprocesses": "2"}, "'numprocesses' isn't an integer"),
    ({"numprocesses": 1.5}, "'numprocesses' isn't an integer"),
    ({"max_retry": "x"}, "'max_retry' isn't an integer"),
    ({"max_age": 1.0}, "'max_age' isn't an integer"),
    ({"max_age_variance": "1"}, "'max_age_variance' isn't an integer"),
    ({"stop_signal": "INT"}, "'stop_signal' isn't an integer"),
    ({"warmup_delay": "1"}, "'warmup_delay' isn't a number"),
    ({"retry_in": "1"}, "'retry_in' isn't a number"),
    ({"graceful_timeout": "3"}, "'graceful_timeout' isn't a number"),
    ({"uid": [0]}, "'uid' isn't an integer or string"),
    ({"gid": 1.5}, "'gid' isn't an integer or string"),
    ({"send_hup": "yes"}, "'send_hup' isn't a valid boolean"),
    ({"shell": 1}, "'shell' isn't a valid boolean"),
    ({"copy_env": "true"}, "'copy_env' isn't a valid boolean"),
    ({"respawn": None}, "'respawn' isn't a valid boolean"),
    ({"stop_children": "no"}, "'stop_children' isn't a valid boolean"),
    ({"close_child_stdin": 0}, "'close_child_stdin' isn't a valid boolean"),
    ({"close_child_stdout": "1"}, "'close_child_stdout' isn't a valid boolean"),
    ({"close_child_stderr": []}, "'close_child_stderr' isn't a valid boolean"),
    ({"env": "A=b"}, "'env' isn't a valid object"),
    ({"env": {"GOOD": "x", "BAD": 1}}, "'BAD' isn't a string"),
    ({"stdout_stream": "x"}, "'stdout_stream' isn't a valid object"),
    ({"stderr_stream": {"filename": "/tmp/x"}}, "'stderr_stream' must have a 'class' key"),
    ({"hooks": "x"}, "'x' isn't a valid hook dict"),
    ({"hooks": {"foo": "x"}}, "Unknown hook {'foo': 'x'}"),
    ({"rlimit_foo": 1}, "'rlimit_foo' isn't a valid rlimit setting"),
    ({"rlimit_nofile": "abc"}, "'abc' rlimit value isn't a valid int"),
    ({"foo": 1}, "unknown key 'foo'"),
    ({"priority": 3}, "unknown key 'priority'"),
]


@pytest.mark.parametrize("options,reason", SET_TYPE_ERRORS)
def test_set_bad_key_or_type(ro, options, reason):
    assert_error(ro.call("set", name="sleeper", options=options), 3, reason)


def test_set_options_not_object(ro):
    for bad in ("x", [1], 3):
        assert_error(ro.call("set", name="sleeper", options=bad), 3,
                     "'options' property should be an object")


@pytest.mark.parametrize("key", ["priority", "use_sockets", "autostart",
                                 "on_demand", "copy_path", "shell_args",
                                 "executable", "virtualenv", "stdin_socket"])
def test_add_rejected_keys(ro, key):
    assert_error(ro.call("add", name="new", cmd="/bin/true",
                         options={key: 1}), 3, "unknown key '%s'" % key)
    assert "new" not in ro.call("list")["watchers"]


def test_add_bad_option_type_and_not_object(ro):
    assert_error(ro.call("add", name="new", cmd="/bin/true",
                         options={"numprocesses": "3"}), 3,
                 "'numprocesses' isn't an integer")
    assert_error(ro.call("add", name="new", cmd="/bin/true", options="x"), 3,
                 "'options' property should be an object")
    assert "new" not in ro.call("list")["watchers"]


def test_add_existing_name_errno_5(ro):
    r = assert_error(ro.call("add", name="SLEEPER", cmd="/bin/true"), 5)
    assert r["reason"].endswith(": 'SLEEPER' already exist"), r


def test_signal_childpid_without_pid(ro):
    r = assert_error(ro.call("signal", name="sleeper", signum=10, childpid=1), 5)
    assert r["reason"].endswith("cannot specify childpid without pid"), r


def test_kill_bad_signal_and_pid(ro):
    r = assert_error(ro.call("kill", name="sleeper", signum="SIGFOO"), 5)
    assert "module 'signal' has no attribute 'SIGFOO'" in r["reason"], r
    r = assert_error(ro.call("kill", name="sleeper", pid="x"), 5)
    assert "invalid literal for int() with base 10: 'x'" in r["reason"], r
    r = assert_error(ro.call("signal", name="sleeper", signum="FOO"), 5)
    assert "module 'signal' has no attribute 'SIGFOO'" in r["reason"], r
    assert ro.call("status", name="sleeper")["status"] == "active"


def test_set_singleton_numprocesses_errno_5(ro):
    r = assert_error(ro.call("set", name="single", options={"numprocesses": 2}), 5)
    assert r["reason"].endswith("Singleton watcher has a single process"), r


def test_errors_changed_nothing(ro):
    assert len(ro.pids("sleeper")) == 2
    assert ro.call("status")["statuses"] == {
        "Echo": "active", "lazy": "stopped", "single": "active",
        "sleeper": "active"}
    assert ro.call("get", name="sleeper", keys=["numprocesses"])["options"] == \
        {"numprocesses": 2}


# --------------------------------------------------------------------------
# read-only commands


def test_list(ro):
    r = assert_ok(ro.call("list"), ["watchers"])
    assert r["watchers"] == ["echo", "lazy", "single", "sleeper"]
    r = assert_ok(ro.call("list", name="sleeper"), ["pids"])
    assert len(r["pids"]) == 2 and all(is_int(p) for p in r["pids"])
    assert all(pid_alive(p) for p in r["pids"])
    assert ro.call("list", name="SLEEPER")["pids"] == r["pids"]
    assert ro.call("list", name="lazy")["pids"] == []


def test_numwatchers(ro):
    r = assert_ok(ro.call("numwatchers"), ["numwatchers"])
    assert r["numwatchers"] == 4


def test_numprocesses(ro):
    r = assert_ok(ro.call("numprocesses"), ["numprocesses"])
    assert r["numprocesses"] == 4
    r = assert_ok(ro.call("numprocesses", name="SleePer"),
                  ["numprocesses", "watcher_name"])
    assert r == dict(r, numprocesses=2, watcher_name="SleePer")


def test_status(ro):
    r = assert_ok(ro.call("status"), ["statuses"])
    assert r["statuses"] == {"Echo": "active", "lazy": "stopped",
                             "single": "active", "sleeper": "active"}
    r = ro.call("status", name="echo")
    assert list(r) == ["status", "time", "id"] and r["status"] == "active"
    r = ro.call("status", name="lazy")
    assert list(r) == ["status", "time", "id"] and r["status"] == "stopped"


def test_options(ro):
    r = assert_ok(ro.call("options", name="sleeper"), ["options"])
    o = r["options"]
    keys = [k for k in o if k != "__name__"]
    assert keys == sorted(keys), keys
    assert OPTION_KEYS <= set(o), OPTION_KEYS - set(o)
    assert not {"name", "autostart", "copy_path", "hooks", "rlimits",
                "virtualenv", "virtualenv_py_ver", "stdin_socket"} & set(o)
    assert o["cmd"] == "/bin/sleep 3600"
    assert o["args"] == ""
    assert o["numprocesses"] == 2 and is_int(o["numprocesses"])
    assert o["warmup_delay"] == 0 and is_int(o["warmup_delay"])
    assert o["graceful_timeout"] == 5.0 and isinstance(o["graceful_timeout"], float)
    assert o["stop_signal"] == 15 and is_int(o["stop_signal"])
    assert o["max_retry"] == 5 and o["max_age"] == 0
    assert o["max_age_variance"] == 30 and o["priority"] == 0
    for b in ("send_hup", "stop_children", "shell", "copy_env", "singleton",
              "use_sockets", "on_demand", "close_child_stdout",
              "close_child_stderr"):
        assert o[b] is False, b
    assert o["respawn"] is True and o["close_child_stdin"] is True
    assert o["uid"] is None and o["gid"] is None
    assert o["executable"] is None and o["shell_args"] is None
    assert o["stdout_stream_conf"] == {} and o["stderr_stream_conf"] == {}
    assert isinstance(o["env"], dict)
    assert isinstance(o["working_dir"], str) and os.path.isabs(o["working_dir"])
    assert ro.call("options", name="single")["options"]["singleton"] is True


def test_get(ro):
    r = assert_ok(ro.call("get", name="Sleeper",
                          keys=["graceful_timeout", "numprocesses", "cmd"]),
                  ["options"])
    assert list(r["options"].items()) == [("graceful_timeout", 5.0),
                                          ("numprocesses", 2),
                                          ("cmd", "/bin/sleep 3600")]
    assert isinstance(r["options"]["graceful_timeout"], float)
    r = ro.call("get", name="sleeper", keys=[])
    assert_ok(r, ["options"])
    assert r["options"] == {}


def test_globaloptions(ro):
    r = assert_ok(ro.call("globaloptions"), ["options"])
    o = r["options"]
    assert list(o) == ["endpoint", "stats_endpoint", "pubsub_endpoint",
                       "check_delay", "multicast_endpoint"]
    assert o["endpoint"] == ro.endpoint
    assert o["pubsub_endpoint"] == ro.pubsub
    assert o["stats_endpoint"] == "tcp://127.0.0.1:5557"
    assert o["check_delay"] == 30.0 and isinstance(o["check_delay"], float)
    assert o["multicast_endpoint"] == ""
    r = assert_ok(ro.call("globaloptions", option="check_delay"), ["options"])
    assert r["options"] == {"check_delay": 30.0}


def test_stats_all(ro):
    r = assert_ok(ro.call("stats"), ["infos"])
    infos = r["infos"]
    assert set(infos) >= {"sleeper", "Echo", "single", "lazy"}
    assert len(infos["sleeper"]) == 2
    assert sorted(int(p) for p in infos["sleeper"]) == sorted(ro.pids("sleeper"))
    assert infos["lazy"] == {}


def check_info(info, pid, supervised=True):
    keys = INFO_KEYS + (["started", "wid"] if supervised else [])
    assert list(info)[:len(keys)] == keys, list(info)
    assert info["pid"] == pid
    assert info["username"] == "root"
    assert isinstance(info["create_time"], float)
    assert isinstance(info["age"], float) and info["age"] >= 0
    assert isinstance(info["children"], list)
    assert isinstance(info["mem_info1"], str) and isinstance(info["ctime"], str)
    if supervised:
        assert isinstance(info["started"], float)
        assert is_int(info["wid"])


def test_stats_name_and_process(ro):
    pids = ro.pids("sleeper")
    # ours (issue 13): the watcher's whole tree after Circus's keys
    r = assert_ok(ro.call("stats", name="SLEEPER"), ["name", "info", "tree"])
    assert r["name"] == "SLEEPER"
    assert r["tree"]["mode"] in ("cgroup", "process-group")
    assert r["tree"]["pids"] == sorted(pids)
    assert list(r["info"]) == [str(p) for p in pids]
    for p in pids:
        check_info(r["info"][str(p)], p)
        assert r["info"][str(p)]["cmdline"] == "sleep"
    assert sorted(i["wid"] for i in r["info"].values()) == [1, 2]
    r = assert_ok(ro.call("stats", name="sleeper", process=pids[0]),
                  ["process", "info"])
    assert r["process"] == pids[0]
    check_info(r["info"], pids[0])
    r = ro.call("stats", name="sleeper", process=str(pids[1]))
    assert r["process"] == str(pids[1]) and r["info"]["pid"] == pids[1]
    r = assert_ok(ro.call("stats", name="sleeper", extended=True),
                  ["name", "info", "tree"])


def test_dstats(ro):
    # ours (issue 13): how `stats` finds children and how a watcher's
    # whole tree is known, beside Circus's info
    r = assert_ok(ro.call("dstats"), ["info", "process_tree", "watcher_tree"])
    assert r["process_tree"] in ("events", "scan")
    assert r["watcher_tree"] in ("cgroup", "process-group")
    check_info(r["info"], ro.pid, supervised=False)
    assert r["info"]["children"] == []
    assert r["info"]["cmdline"] == "circusd"


def test_ipython(ro):
    r = assert_ok(ro.call("ipython"), ["shell", "msg"])
    assert r["shell"] is False and isinstance(r["msg"], str)


def test_listsockets(ro):
    r = assert_ok(ro.call("listsockets"), ["sockets"])
    socks = r["sockets"]
    assert [s["fd"] for s in socks] == sorted(s["fd"] for s in socks)
    by = {s["name"]: s for s in socks}
    assert set(by) == {"web", "unix"}
    assert list(by["web"]) == ["fd", "name", "backlog", "host", "port"]
    assert by["web"]["host"] == "127.0.0.1" and by["web"]["port"] > 0
    assert by["web"]["backlog"] == 2048
    assert list(by["unix"]) == ["fd", "name", "backlog", "path"]
    assert by["unix"]["path"].endswith("/u.sock")
    # the TCP socket really listens
    c = socket.create_connection(("127.0.0.1", by["web"]["port"]), timeout=10)
    c.close()


# --------------------------------------------------------------------------
# incr / decr


def test_incr_without_and_with_waiting(d):
    r = d.call("incr", name="sleeper")
    assert_ok(r, [])
    d.wait_pids("sleeper", 3)
    r = d.call("incr", name="sleeper", nb=2, waiting=True)
    assert_ok(r, ["numprocesses"])
    assert r["numprocesses"] == 5
    assert len(d.pids("sleeper")) == 5
    assert d.call("get", name="sleeper", keys=["numprocesses"])["options"]["numprocesses"] == 5


def test_decr_kills_oldest(d):
    old = d.pids("sleeper")
    r = d.call("incr", name="sleeper", waiting=True)
    assert r["numprocesses"] == 3
    three = d.pids("sleeper")
    assert three[:2] == old
    r = d.call("decr", name="sleeper", waiting=True)
    assert_ok(r, ["numprocesses"])
    assert r["numprocesses"] == 2
    assert d.pids("sleeper") == three[1:]
    wait_until(lambda: not pid_alive(three[0]), 15)
    r = d.call("decr", name="sleeper")
    assert_ok(r, [])
    d.wait_pids("sleeper", 1)
    assert d.pids("sleeper") == [three[2]]


def test_decr_clamps_at_zero(d):
    r = d.call("decr", name="sleeper", nb=10, waiting=True)
    assert r["numprocesses"] == 0
    assert d.pids("sleeper") == []
    r = d.call("incr", name="sleeper", waiting=True)
    assert r["numprocesses"] == 1
    d.wait_pids("sleeper", 1)


def test_incr_decr_singleton(d):
    for command in ("incr", "decr"):
        for waiting in (False, True):
            r = d.call(command, name="single", waiting=waiting)
            assert_ok(r, ["numprocesses", "singleton"])
            assert r["numprocesses"] == 1 and r["singleton"] is True
    assert len(d.pids("single")) == 1


def test_incr_on_stopped_watcher_only_changes_number(d):
    r = d.call("incr", name="lazy", nb=2, waiting=True)
    assert r.get("status") == "ok", r
    assert d.pids("lazy") == []
    assert d.status("lazy") == "stopped"
    assert d.call("get", name="lazy", keys=["numprocesses"])["options"] == {"numprocesses": 3}


# --------------------------------------------------------------------------
# start / stop / restart


def test_stop_start_waiting(d):
    old = d.pids("sleeper")
    r = d.call("stop", name="sleeper", waiting=True)
    assert_ok(r, ["info"])
    assert r["info"] is None
    assert d.status("sleeper") == "stopped"
    assert d.pids("sleeper") == []
    assert not any(pid_alive(p) for p in old)
    r = d.call("start", name="sleeper", waiting=True)
    assert_ok(r, ["info"])
    assert list(r["info"]) == ["started", "kept"]
    new = d.pids("sleeper")
    assert r["info"]["started"] == sorted(new) and r["info"]["kept"] == []
    assert d.status("sleeper") == "active"
    # starting an active, complete watcher changes nothing
    r = d.call("start", name="sleeper", waiting=True)
    assert r["info"] == {"started": [], "kept": sorted(new)}


def test_stop_of_stopped_watcher_waiting_reply(d):
    """A no-op, but the reply of `stop <one watcher>` with waiting is still
    {"info": null} (as Circus answers)."""
    assert d.call("stop", name="lazy")["status"] == "ok"
    r = d.call("stop", name="lazy", waiting=True)
    assert_ok(r, ["info"])
    assert r["info"] is None
    assert d.status("lazy") == "stopped"


def test_stop_start_without_waiting(d):
    r = d.call("stop", name="sleeper")
    assert_ok(r, [])
    d.wait_status("sleeper", "stopped")
    assert d.pids("sleeper") == []
    r = d.call("start", name="sleeper")
    assert_ok(r, [])
    d.wait_status("sleeper", "active")
    d.wait_pids("sleeper", 2)


def test_start_autostart_false_by_name(d):
    r = d.call("start", name="lazy", waiting=True)
    assert len(r["info"]["started"]) == 1
    assert d.status("lazy") == "active"


def test_restart_waiting(d):
    old = d.pids("sleeper")
    r = d.call("restart", name="sleeper", waiting=True)
    assert_ok(r, ["info"])
    assert list(r["info"]) == ["stopped", "started", "kept"]
    new = d.pids("sleeper")
    assert r["info"]["stopped"] == sorted(old)
    assert r["info"]["started"] == sorted(new)
    assert r["info"]["kept"] == []
    assert not set(old) & set(new)
    wids = d.call("stats", name="sleeper")["info"]
    assert sorted(i["wid"] for i in wids.values()) == [1, 2]


def test_restart_without_waiting(d):
    old = d.pids("sleeper")
    assert_ok(d.call("restart", name="sleeper"), [])
    wait_until(lambda: len(d.pids("sleeper")) == 2 and
               not set(d.pids("sleeper")) & set(old), 20)
    d.wait_status("sleeper", "active")


def test_match_glob_regex_simple(d):
    # glob: full-string, lower-cased
    r = d.call("stop", name="SLE*", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("sleeper") == "stopped" and d.status("single") == "active"
    # regex: prefix match on lower-cased names
    r = d.call("stop", name="ec", match="regex", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("echo") == "stopped"
    # simple: exact, case-insensitive
    assert_error(d.call("start", name="sleep", match="simple"), 3,
                 "program sleep not found")
    r = d.call("start", name="SLEEPER", match="simple", waiting=True)
    assert r["status"] == "ok" and len(r["info"]["started"]) == 2
    # several watchers with a glob: bare ok, only autostart ones are started
    r = d.call("stop", name="*e*", waiting=True)
    assert_ok(r, [])
    for w in ("sleeper", "echo", "single"):
        assert d.status(w) == "stopped", w
    r = d.call("start", name="*e*", waiting=True)
    assert_ok(r, [])
    for w in ("sleeper", "echo", "single"):
        assert d.status(w) == "active", w
    r = d.call("restart", name="s*", waiting=True)
    assert_ok(r, [])
    assert d.status("lazy") == "stopped"


def test_stop_all_and_start_all(d):
    r = d.call("stop", waiting=True)
    assert_ok(r, [])
    st = d.call("status")["statuses"]
    assert set(st.values()) == {"stopped"}, st
    assert d.alive()
    r = d.call("start", waiting=True)
    assert_ok(r, [])
    st = d.call("status")["statuses"]
    assert st == {"Echo": "active", "lazy": "stopped", "single": "active",
                  "sleeper": "active"}
    r = d.call("stop")
    assert_ok(r, [])
    wait_until(lambda: set(d.call("status")["statuses"].values()) == {"stopped"}, 20)
    r = d.call("start")
    assert_ok(r, [])
    wait_until(lambda: d.call("status")["statuses"]["sleeper"] == "active", 20)


def test_restart_all_by_glob_keeps_autostart_false_stopped(d):
    d.call("start", name="lazy", waiting=True)
    r = d.call("restart", name="*", waiting=True)
    assert_ok(r, [])
    assert d.status("lazy") == "stopped"
    assert d.status("sleeper") == "active"


# --------------------------------------------------------------------------
# reload


def test_reload_graceful_waiting(d):
    old = d.pids("sleeper")
    r = d.call("reload", name="sleeper", waiting=True)
    assert_ok(r, ["info"])
    assert list(r["info"]) == ["stopped", "started", "kept"]
    new = d.pids("sleeper")
    assert len(new) == 2 and not set(new) & set(old)
    assert r["info"]["stopped"] == sorted(old)
    assert r["info"]["started"] == sorted(new)
    assert r["info"]["kept"] == []
    wait_until(lambda: not any(pid_alive(p) for p in old), 15)
    # wids alternate between 1..N and N+1..2N
    wids = sorted(i["wid"] for i in d.call("stats", name="sleeper")["info"].values())
    assert wids == [3, 4]


def test_reload_sequential_and_not_graceful(d):
    old = d.pids("sleeper")
    r = d.call("reload", name="sleeper", sequential=True, waiting=True)
    assert r["status"] == "ok", r
    mid = d.pids("sleeper")
    assert len(mid) == 2 and not set(mid) & set(old)
    r = d.call("reload", name="sleeper", graceful=False, waiting=True)
    assert r["status"] == "ok", r
    new = d.pids("sleeper")
    assert len(new) == 2 and not set(new) & set(mid)


def test_reload_without_waiting(d):
    old = d.pids("Echo")
    assert_ok(d.call("reload", name="Echo"), [])
    wait_until(lambda: d.pids("echo") and not set(d.pids("echo")) & set(old), 20)


def test_reload_starts_stopped_watcher(d):
    r = d.call("reload", name="lazy", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("lazy") == "active"
    assert len(d.pids("lazy")) == 1


def test_reload_all(d):
    old = d.pids("sleeper")
    r = d.call("reload", waiting=True)
    assert_ok(r, [])
    wait_until(lambda: not set(d.pids("sleeper")) & set(old), 20)
    assert len(d.pids("sleeper")) == 2


# --------------------------------------------------------------------------
# kill / signal


def test_kill_all_processes_of_watcher(d):
    old = d.pids("sleeper")
    r = d.call("kill", name="sleeper", waiting=True)
    assert_ok(r, [])
    wait_until(lambda: not any(pid_alive(p) for p in old), 15)
    new = d.wait_pids("sleeper", 2)
    assert not set(new) & set(old)
    assert d.status("sleeper") == "active"


def test_kill_one_pid_with_signum_and_string_timeout(d):
    old = d.pids("sleeper")
    r = d.call("kill", name="sleeper", pid=str(old[0]), signum="SIGINT",
               graceful_timeout="2")
    assert_ok(r, [])
    wait_until(lambda: not pid_alive(old[0]), 15)
    assert pid_alive(old[1])
    wait_until(lambda: len(d.pids("sleeper")) == 2 and old[0] not in d.pids("sleeper"), 15)
    assert old[1] in d.pids("sleeper")


def test_kill_foreign_pid_does_nothing(d):
    old = d.pids("sleeper")
    r = d.call("kill", name="sleeper", pid=os.getpid())
    assert_ok(r, [])
    assert d.pids("sleeper") == old


@pytest.fixture
def sigd(circusd, wd):
    (wd / "sig").mkdir()
    body = """
    [watcher:sig]
    cmd = %s %s/sig
    numprocesses = 2
    """ % (wd.script("sig.py", WORKER_SIGNALS), wd.path)
    return circusd(body)


@pytest.fixture
def treed(circusd, wd):
    body = """
    [watcher:tree]
    cmd = %s %s/tree.pids 2
    graceful_timeout = 2
    """ % (wd.script("tree.py", WORKER_TREE), wd.path)
    d = circusd(body)
    yield d
    # whole-tree stops are tested in test_lifecycle: here, kill the
    # grandchildren ourselves so that their fate is not blamed on signal
    leaders = set(d.pids("tree")) if d.alive() else set()
    script = str(wd / "tree.py")
    for pid in all_pids():
        argv = proc_cmdline(pid) or []
        if script in argv and pid not in leaders:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_ready_files(wd, pids):
    for p in pids:
        wait_until(lambda: (wd / "sig" / ("ready.%d" % p)).exists(), 20)


def test_signal_all_and_one(sigd, wd):
    pids = sigd.wait_pids("sig", 2)
    wait_ready_files(wd, pids)
    for signum in ("USR1", 12, "SIGHUP"):
        r = sigd.call("signal", name="sig", signum=signum)
        assert_ok(r, [])
    for p in pids:
        for name in ("SIGUSR1", "SIGUSR2", "SIGHUP"):
            wait_until(lambda: (wd / "sig" / ("%s.%d" % (name, p))).exists(), 15)
    r = sigd.call("signal", name="sig", signum="usr1", pid=pids[0])
    assert_ok(r, [])
    assert sigd.pids("sig") == pids  # no kill, no respawn
    assert all(pid_alive(p) for p in pids)


def test_signal_foreign_pid_ignored(sigd, wd):
    import subprocess
    p = subprocess.Popen(["/bin/sleep", "3600"], start_new_session=True)
    try:
        r = sigd.call("signal", name="sig", signum="KILL", pid=p.pid)
        assert_ok(r, [])
        assert pid_alive(p.pid), "circusd signalled a pid it does not own"
        assert len(sigd.pids("sig")) == 2
    finally:
        p.kill()
        p.wait()


def test_add_uid_must_match_endpoint_owner(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"endpoint_owner": "root"})
    assert_error(d.call("add", name="x", cmd="/bin/sleep 3600",
                        options={"uid": "nobody"}), 3,
                 "uid does not match endpoint_owner")
    assert_error(d.call("add", name="x", cmd="/bin/sleep 3600"), 3,
                 "uid does not match endpoint_owner")
    assert "x" not in d.call("list")["watchers"]
    r = d.call("add", name="x", cmd="/bin/sleep 3600", options={"uid": "root"},
               start=True, waiting=True)
    assert r["status"] == "ok" and len(r["started"]) == 1, r
    ctl = d.endpoint[len("ipc://"):]
    assert os.stat(ctl).st_uid == 0


def test_signal_children(treed, wd):
    sigd = treed
    [pid] = sigd.wait_pids("tree", 1)
    wait_until(lambda: (wd / "tree.pids").exists(), 20)
    kids = [int(x) for x in (wd / "tree.pids").read_text().split()]
    # children only: SIGKILL the grandchildren, the parent stays
    r = sigd.call("signal", name="tree", signum=9, children=True)
    assert_ok(r, [])
    wait_until(lambda: not any(pid_alive(k) for k in kids), 15)
    assert pid_alive(pid)


def test_signal_childpid(treed, wd):
    sigd = treed
    [pid] = sigd.wait_pids("tree", 1)
    wait_until(lambda: (wd / "tree.pids").exists(), 20)
    kids = [int(x) for x in (wd / "tree.pids").read_text().split()]
    r = sigd.call("signal", name="tree", signum="KILL", pid=pid, childpid=kids[0])
    assert_ok(r, [])
    wait_until(lambda: not pid_alive(kids[0]), 15)
    assert pid_alive(kids[1]) and pid_alive(pid)


# --------------------------------------------------------------------------
# add / rm


def test_add_without_start(d):
    r = d.call("add", name="added", cmd="/bin/sleep 3600")
    assert_ok(r, [])
    assert "added" in d.call("list")["watchers"]
    assert d.status("added") == "stopped"
    o = d.call("options", name="added")["options"]
    assert o["cmd"] == "/bin/sleep 3600"
    assert o["warmup_delay"] == 0.0 and isinstance(o["warmup_delay"], float)
    assert o["graceful_timeout"] == 30.0
    assert o["stdout_stream_conf"] is None
    r = d.call("start", name="added", waiting=True)
    assert len(r["info"]["started"]) == 1


def test_add_start_waiting_quirk_top_level(d):
    r = d.call("add", name="Added2", cmd="/bin/sleep", args=["3600"],
               options={"numprocesses": 2, "graceful_timeout": 3},
               start=True, waiting=True)
    assert_ok(r, ["started", "kept"])
    pids = d.pids("added2")
    assert r["started"] == sorted(pids) and len(pids) == 2
    assert r["kept"] == []
    assert d.call("status")["statuses"]["Added2"] == "active"
    assert d.call("get", name="added2", keys=["graceful_timeout"])["options"] == \
        {"graceful_timeout": 3.0}


def test_add_start_without_waiting(d):
    r = d.call("add", name="added3", cmd="/bin/sleep 3600", start=True)
    assert_ok(r, [])
    d.wait_pids("added3", 1)
    d.wait_status("added3", "active")


def test_add_empty_name_quirk(d):
    assert_ok(d.call("add", name="", cmd="/bin/sleep 3600"), [])
    assert d.call("numwatchers")["numwatchers"] == 4


def test_add_singleton_with_two_processes_errno_5(d):
    r = assert_error(d.call("add", name="s2", cmd="/bin/true",
                            options={"singleton": True, "numprocesses": 2}), 5)
    assert "Cannot have 2 processes with a singleton  watcher" in r["reason"], r


def test_rm_waiting_and_not(d):
    old = d.pids("sleeper")
    r = d.call("rm", name="SLEEPER", waiting=True)
    assert_ok(r, [])
    assert "sleeper" not in d.call("list")["watchers"]
    assert not any(pid_alive(p) for p in old)
    assert_error(d.call("status", name="sleeper"), 3, "program sleeper not found")
    [epid] = d.pids("echo")
    assert_ok(d.call("rm", name="echo"), [])
    wait_until(lambda: "echo" not in d.call("list")["watchers"], 15)
    wait_until(lambda: not pid_alive(epid), 15)
    assert d.call("numwatchers")["numwatchers"] == 2


def test_rm_nostop_keeps_processes(d):
    old = d.pids("sleeper")
    r = d.call("rm", name="sleeper", nostop=True, waiting=True)
    assert r["status"] == "ok", r
    assert "sleeper" not in d.call("list")["watchers"]
    try:
        assert all(pid_alive(p) for p in old)
    finally:
        for p in old:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wait_until(lambda: not any(pid_alive(p) for p in old), 15)


# --------------------------------------------------------------------------
# set


def test_set_numprocesses(d):
    r = d.call("set", name="sleeper", options={"numprocesses": 4})
    assert_ok(r, [])
    d.wait_pids("sleeper", 4)
    r = d.call("set", name="sleeper", options={"numprocesses": 1}, waiting=True)
    assert_ok(r, [])
    assert len(d.pids("sleeper")) == 1
    assert d.call("get", name="sleeper", keys=["numprocesses"])["options"] == {"numprocesses": 1}


def test_set_values_visible_in_get_and_options(d):
    r = d.call("set", name="sleeper", options={
        "graceful_timeout": 7, "warmup_delay": 0, "stop_signal": 2,
        "max_retry": 3, "send_hup": False}, waiting=True)
    assert_ok(r, [])
    g = d.call("get", name="sleeper",
               keys=["graceful_timeout", "warmup_delay", "stop_signal"])["options"]
    assert g == {"graceful_timeout": 7.0, "warmup_delay": 0.0, "stop_signal": 2}
    assert isinstance(g["graceful_timeout"], float)
    assert isinstance(g["warmup_delay"], float)


def test_set_env_reloads_and_replaces_env(d):
    old = d.pids("sleeper")
    r = d.call("set", name="sleeper", options={"env": {"FOO": "bar", "X": "1"}},
               waiting=True)
    assert_ok(r, [])
    env = d.call("get", name="sleeper", keys=["env"])["options"]["env"]
    env.pop("__name__", None)
    assert env == {"FOO": "bar", "X": "1"}
    new = d.pids("sleeper")
    assert len(new) == 2 and not set(new) & set(old)
    penv = proc_environ(new[0])
    penv.pop("__name__", None)
    assert penv == {"FOO": "bar", "X": "1"}


def test_set_cmd_and_args_reload(d):
    old = d.pids("Echo")
    r = d.call("set", name="echo", options={"cmd": "/bin/sleep", "args": "3601"},
               waiting=True)
    assert_ok(r, [])
    [new] = d.pids("echo")
    assert new not in old
    assert proc_cmdline(new) == ["/bin/sleep", "3601"]


def test_set_on_stopped_watcher(d):
    r = d.call("set", name="lazy", options={"numprocesses": 2, "cmd": "/bin/sleep 3602"},
               waiting=True)
    assert_ok(r, [])
    assert d.status("lazy") == "stopped" and d.pids("lazy") == []
    r = d.call("start", name="lazy", waiting=True)
    assert len(r["info"]["started"]) == 2


# --------------------------------------------------------------------------
# reloadconfig and full restart


def test_reloadconfig_adds_removes_changes(d, wd):
    sleeper = d.pids("sleeper")
    echo = d.pids("echo")
    d.write_ini("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 3
    graceful_timeout = 5

    [watcher:Echo]
    cmd = /bin/sleep 3601

    [watcher:single]
    cmd = /bin/sleep 3600
    singleton = true

    [watcher:fresh]
    cmd = /bin/sleep 3600

    [socket:web]
    host = 127.0.0.1
    port = 0

    [socket:unix]
    path = %s/u.sock
    """ % wd.path)
    r = d.call("reloadconfig", waiting=True)
    assert_ok(r, [])
    assert d.call("list")["watchers"] == ["echo", "fresh", "single", "sleeper"]
    # numprocesses only: in place, old pids kept
    now = d.wait_pids("sleeper", 3)
    assert set(sleeper) <= set(now)
    # cmd changed: replaced
    [e] = d.wait_pids("echo", 1)
    assert e not in echo
    d.wait_status("fresh", "active")


def test_reloadconfig_without_waiting(d, wd):
    d.write_ini(body_for(wd) + "\n[watcher:fresh2]\ncmd = /bin/sleep 3600\n")
    assert_ok(d.call("reloadconfig"), [])
    wait_until(lambda: "fresh2" in d.call("list")["watchers"], 20)
    d.wait_pids("fresh2", 1)


def test_reloadconfig_forgets_added_watchers(d, wd):
    d.call("add", name="temp", cmd="/bin/sleep 3600", start=True, waiting=True)
    [tp] = d.pids("temp")
    r = d.call("reloadconfig", waiting=True)
    assert r["status"] == "ok", r
    assert "temp" not in d.call("list")["watchers"]
    wait_until(lambda: not pid_alive(tp), 15)


def test_reloadconfig_parse_error_changes_nothing(d, wd):
    before = d.pids("sleeper")
    text = d.ini.read_text()
    d.ini.write_text(text + "\nthis line is garbage\n")
    r = d.call("reloadconfig", waiting=True)
    assert r["status"] == "error", r
    assert r["errno"] in (3, 6), r
    if r["errno"] == 3:
        assert "circus.ini:" in r["reason"], r
    assert d.pids("sleeper") == before
    assert d.call("list")["watchers"] == ["echo", "lazy", "single", "sleeper"]


@pytest.mark.timeout(120)
def test_full_restart_same_pid_rereads_config(d, wd):
    pid = d.pid
    old = d.pids("sleeper")
    d.write_ini(body_for(wd) + "\n[watcher:after]\ncmd = /bin/sleep 3600\n")
    r = d.call("restart", waiting=True)
    assert r["status"] == "ok", r

    def back():
        try:
            r = d.call("list", timeout=1)
        except AssertionError:
            return False
        return r.get("status") == "ok" and "after" in r.get("watchers", [])
    wait_until(back, 60, 0.2)
    assert d.pid == pid and d.alive()
    new = d.wait_pids("sleeper", 2)
    assert not set(new) & set(old)
    wait_until(lambda: not any(pid_alive(p) for p in old), 15)


def test_signal_recursive(treed, wd):
    [pid] = treed.wait_pids("tree", 1)
    wait_until(lambda: (wd / "tree.pids").exists(), 20)
    kids = [int(x) for x in (wd / "tree.pids").read_text().split()]
    (wd / "tree.pids").unlink()
    r = treed.call("signal", name="tree", signum="KILL", recursive=True)
    assert_ok(r, [])
    wait_until(lambda: not pid_alive(pid), 15)
    # the descendants too (they must be found before the parent dies)
    wait_until(lambda: not any(pid_alive(p) for p in kids), 15,
               msg="grandchildren killed by recursive signal")
    # the parent died on its own (from circusd's point of view): replaced
    wait_until(lambda: treed.pids("tree") and treed.pids("tree") != [pid], 20)
