# SPDX-License-Identifier: Apache-2.0
"""circusctl one-shot commands against a fake circusd (test_circusctl_fake).

For every command: the request circusctl builds (captured by the fake
ROUTER, compared with what Circus 0.19's circusctl sends, key order
included), the plain output and exit code (compared with Circus's
console_msg for the same reply), and --json / --prettify output, on
success and on error. Then argument errors, usage errors, timeouts,
unreachable endpoints, listen, the bash completion hook and --ssh.
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import zmq

from test_circusctl_fake import (CIRCUSCTL, FakeDaemon, error,
                                 run_ctl, wait_for)

HEX32 = re.compile(r"^[0-9a-f]{32}$")

# (command line, request Circus's circusctl builds for it, canned reply,
#  Circus's exit status, Circus's plain output). Generated once from
# Circus 0.19's own message() and console_msg().
CASES = [
    ('add --start web "python3 app.py" 8080',
     {'command': 'add', 'properties': {'name': 'web', 'cmd': 'python3 app.py 8080', 'start': True}},
     {},
     0, 'ok'),
    ('add nope sleep 1',
     {'command': 'add', 'properties': {'name': 'nope', 'cmd': 'sleep 1', 'start': False}},
     {'__error__': ["command b'...': 'nope' already exist", 5]},
     3, "error: command b'...': 'nope' already exist"),
    ('decr web 2 --waiting',
     {'command': 'decr', 'properties': {'name': 'web', 'nb': 2, 'waiting': True}},
     {'numprocesses': 1},
     0, '1'),
    ('decr nope',
     {'command': 'decr', 'properties': {'name': 'nope', 'waiting': False}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('dstats',
     {'command': 'dstats', 'properties': {}},
     {'info': {'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8853, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sleep', 'children': [{'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8900, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sh', 'children': [], 'started': 1795437458.2, 'wid': 1}], 'started': 1795437458.2, 'wid': 1}},
     0, 'Main Process:\n    8853  sleep root 0 1.44M 2.44M 0.0 0.006 0:00.0\nChildren:\n    8900  sh root 0 1.44M 2.44M 0.0 0.006 0:00.0'),
    ('dstats',
     {'command': 'dstats', 'properties': {}},
     {'__error__': ['boom', 5]},
     3, 'error: boom'),
    ('get web numprocesses graceful_timeout env uid',
     {'command': 'get', 'properties': {'name': 'web', 'keys': ('numprocesses', 'graceful_timeout', 'env', 'uid')}},
     {'options': {'numprocesses': 2, 'graceful_timeout': 3.0, 'env': {'FOO': 'bar', 'A': 'b'}, 'uid': None}},
     0, 'numprocesses: 2\ngraceful_timeout: 3.0\nenv: A=b,FOO=bar\nuid: '),
    ('get web nope',
     {'command': 'get', 'properties': {'name': 'web', 'keys': ('nope',)}},
     {'__error__': ["'nope' option not found", 3]},
     3, "error: 'nope' option not found"),
    ('globaloptions',
     {'command': 'globaloptions', 'properties': {}},
     {'options': {'endpoint': 'ipc:///tmp/c.sock', 'stats_endpoint': 'tcp://127.0.0.1:5557', 'pubsub_endpoint': 'ipc:///tmp/p.sock', 'check_delay': 5.0, 'multicast_endpoint': ''}},
     0, 'endpoint: ipc:///tmp/c.sock\nstats_endpoint: tcp://127.0.0.1:5557\npubsub_endpoint: ipc:///tmp/p.sock\ncheck_delay: 5.0\nmulticast_endpoint: '),
    ('globaloptions nope',
     {'command': 'globaloptions', 'properties': {'option': 'nope'}},
     {'__error__': ["'nope' not an existing option", 3]},
     3, "'nope' not an existing option"),
    ('incr web',
     {'command': 'incr', 'properties': {'name': 'web', 'waiting': False}},
     {},
     0, 'ok'),
    ('incr single 2 --waiting',
     {'command': 'incr', 'properties': {'name': 'single', 'nb': 2, 'waiting': True}},
     {'numprocesses': 1, 'singleton': True},
     0, 'This watcher is a Singleton - not changing the number of processes'),
    ('incr nope',
     {'command': 'incr', 'properties': {'name': 'nope', 'waiting': False}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('ipython',
     {'command': 'ipython', 'properties': {}},
     {'shell': False, 'msg': 'ipython is not supported'},
     0, 'error: Could not start ipython kernel'),
    ('ipython',
     {'command': 'ipython', 'properties': {}},
     {'__error__': ['no', 2]},
     3, 'error: no'),
    ('kill web 1234 --signum KILL --graceful_timeout 2',
     {'command': 'kill', 'properties': {'name': 'web', 'pid': '1234', 'signum': 'KILL', 'graceful_timeout': '2'}},
     {},
     0, 'ok'),
    ('kill web --signum FOO',
     {'command': 'kill', 'properties': {'name': 'web', 'signum': 'FOO'}},
     {'__error__': ["command b'...': module 'signal' has no attribute 'SIGFOO'", 5]},
     3, "error: command b'...': module 'signal' has no attribute 'SIGFOO'"),
    ('list',
     {'command': 'list', 'properties': {}},
     {'watchers': ['circusd-stats', 'echo', 'plugin:flapping']},
     0, 'circusd-stats,echo,plugin:flapping'),
    ('list web',
     {'command': 'list', 'properties': {'name': 'web'}},
     {'pids': [13170, 13171]},
     0, '13170,13171'),
    ('list nope',
     {'command': 'list', 'properties': {'name': 'nope'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('listsockets',
     {'command': 'listsockets', 'properties': {}},
     {'sockets': [{'fd': 3, 'name': 'web', 'backlog': 2048, 'host': '127.0.0.1', 'port': 8080}, {'fd': 5, 'name': 'unix', 'backlog': 5, 'path': '/tmp/u.sock'}]},
     0, "3:socket 'web' at 127.0.0.1:8080\n5:socket 'unix' at /tmp/u.sock"),
    ('listsockets',
     {'command': 'listsockets', 'properties': {}},
     {'__error__': ['x', 5]},
     3, 'error: x'),
    ('numprocesses web',
     {'command': 'numprocesses', 'properties': {'name': 'web'}},
     {'numprocesses': 2, 'watcher_name': 'web'},
     0, '2'),
    ('numprocesses nope',
     {'command': 'numprocesses', 'properties': {'name': 'nope'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('numwatchers',
     {'command': 'numwatchers', 'properties': {}},
     {'numwatchers': 3},
     0, '3'),
    ('numwatchers',
     {'command': 'numwatchers', 'properties': {}},
     {'__error__': ['x', 5]},
     3, 'error: x'),
    ('options web',
     {'command': 'options', 'properties': {'name': 'web'}},
     {'options': {'args': '', 'close_child_stderr': False, 'cmd': 'sleep 1000', 'env': {'FOO': 'bar', '_U': '1', 'a': 'x'}, 'executable': None, 'graceful_timeout': 30.0, 'hooks.x': 'café', 'stdout_stream_conf': {'filename': '/var/log/echo.log', 'time_format': '%Y', 'n': None, 'b': True, 'l': ['a', 1.5]}, 'stop_signal': 15, 'uid': "it's", 'warmup_delay': 0}},
     0, "args: \nclose_child_stderr: False\ncmd: sleep 1000\nenv: FOO=bar,_U=1,a=x\nexecutable: \ngraceful_timeout: 30.0\nhooks.x: café\nstdout_stream_conf: {'filename': '/var/log/echo.log', 'time_format': '%Y', 'n': None, 'b': True, 'l': ['a', 1.5]}\nstop_signal: 15\nuid: it's\nwarmup_delay: 0"),
    ('options nope',
     {'command': 'options', 'properties': {'name': 'nope'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('quit --waiting',
     {'command': 'quit', 'properties': {'waiting': True}},
     {},
     0, 'ok'),
    ('quit',
     {'command': 'quit', 'properties': {'waiting': False}},
     {'__error__': ['arbiter is already running arbiter_stop command', 5]},
     3, 'error: arbiter is already running arbiter_stop command'),
    ('reload web --sequential --waiting',
     {'command': 'reload', 'properties': {'name': 'web', 'graceful': True, 'waiting': True, 'sequential': True}},
     {'info': {'stopped': [1], 'started': [2], 'kept': []}},
     0, 'ok'),
    ('reload nope',
     {'command': 'reload', 'properties': {'name': 'nope', 'graceful': True, 'waiting': False, 'sequential': False}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('reloadconfig --waiting',
     {'command': 'reloadconfig', 'properties': {'waiting': True}},
     {},
     0, 'ok'),
    ('reloadconfig',
     {'command': 'reloadconfig', 'properties': {'waiting': False}},
     {'__error__': ['server error', 6]},
     3, 'error: server error'),
    ('restart web* --match glob',
     {'command': 'restart', 'properties': {'name': 'web*', 'waiting': False, 'match': 'glob'}},
     {},
     0, 'ok'),
    ('restart zz* ',
     {'command': 'restart', 'properties': {'name': 'zz*', 'waiting': False, 'match': 'glob'}},
     {'__error__': ['program zz* not found', 3]},
     3, 'error: program zz* not found'),
    ('rm web --nostop',
     {'command': 'rm', 'properties': {'name': 'web'}},
     {},
     0, 'ok'),
    ('rm nope',
     {'command': 'rm', 'properties': {'name': 'nope'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('set web numprocesses 3 stop_signal KILL --waiting',
     {'command': 'set', 'properties': {'name': 'web', 'waiting': True, 'options': {'numprocesses': 3, 'stop_signal': 9}}},
     {},
     0, 'ok'),
    ('set single numprocesses 2',
     {'command': 'set', 'properties': {'name': 'single', 'options': {'numprocesses': 2}}},
     {'__error__': ["command b'...': Singleton watcher has a single process", 5]},
     3, "error: command b'...': Singleton watcher has a single process"),
    ('signal web 1234 USR1 --recursive',
     {'command': 'signal', 'properties': {'name': 'web', 'children': False, 'recursive': True, 'signum': 'USR1', 'pid': 1234}},
     {},
     0, 'ok'),
    ('signal nope HUP',
     {'command': 'signal', 'properties': {'name': 'nope', 'children': False, 'recursive': False, 'signum': 'HUP'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('start web --waiting',
     {'command': 'start', 'properties': {'name': 'web', 'waiting': True, 'match': 'glob'}},
     {'info': {'started': [5, 6], 'kept': []}},
     0, 'ok'),
    ('start nope --match simple',
     {'command': 'start', 'properties': {'name': 'nope', 'waiting': False, 'match': 'simple'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
    ('stats web',
     {'command': 'stats', 'properties': {'name': 'web', 'extended': False}},
     {'name': 'web', 'info': {'8852': {'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8852, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sleep', 'children': [], 'started': 1795437458.2, 'wid': 1}, '8853': {'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8853, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sleep', 'children': [{'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8900, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sh', 'children': [], 'started': 1795437458.2, 'wid': 1}], 'started': 1795437458.2, 'wid': 1}}},
     0, 'web:\n8852: 8852  sleep root 0 1.44M 2.44M 0.0 0.006 0:00.0\n8853: 8853  sleep root 0 1.44M 2.44M 0.0 0.006 0:00.0\n   8900  sh root 0 1.44M 2.44M 0.0 0.006 0:00.0'),
    ('stats',
     {'command': 'stats', 'properties': {'extended': False}},
     {'infos': {'web': {'8852': {'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8852, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sleep', 'children': [], 'started': 1795437458.2, 'wid': 1}}, 'Echo': {'9': 'No such process (stopped?)'}, 'empty': {}}},
     0, 'web:\n8852: 8852  sleep root 0 1.44M 2.44M 0.0 0.006 0:00.0\nEcho:\n9: No such process (stopped?)\nempty:'),
    ('stats web 8853 --extended',
     {'command': 'stats', 'properties': {'name': 'web', 'process': 8853, 'extended': True}},
     {'process': 8853, 'info': {'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8853, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sleep', 'children': [{'mem_info1': '1.44M', 'mem_info2': '2.44M', 'cpu': 0.0, 'mem': 0.006, 'ctime': '0:00.0', 'pid': 8900, 'username': 'root', 'nice': 0, 'create_time': 1795437458.18, 'age': 1.78, 'cmdline': 'sh', 'children': [], 'started': 1795437458.2, 'wid': 1}], 'started': 1795437458.2, 'wid': 1}},
     0, '8853: 8853  sleep root 0 1.44M 2.44M 0.0 0.006 0:00.0\n   8900  sh root 0 1.44M 2.44M 0.0 0.006 0:00.0\n'),
    ('stats web 1',
     {'command': 'stats', 'properties': {'name': 'web', 'process': 1, 'extended': False}},
     {'__error__': ["process 1 not found in 'web'", 3]},
     3, "error: process 1 not found in 'web'"),
    ('status',
     {'command': 'status', 'properties': {}},
     {'statuses': {'sleeper': 'stopping', 'Echo': 'active', '_x': 'stopped', 'a': 'active'}},
     0, 'Echo: active\n_x: stopped\na: active\nsleeper: stopping'),
    ('status web',
     {'command': 'status', 'properties': {'name': 'web'}},
     {'status': 'active'},
     0, 'active'),
    ('status nope',
     {'command': 'status', 'properties': {'name': 'nope'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error'),
    ('stop web --waiting',
     {'command': 'stop', 'properties': {'name': 'web', 'waiting': True, 'match': 'glob'}},
     {'info': None},
     0, 'ok'),
    ('stop nope',
     {'command': 'stop', 'properties': {'name': 'nope', 'waiting': False, 'match': 'glob'}},
     {'__error__': ['program nope not found', 3]},
     3, 'error: program nope not found'),
]


@pytest.fixture
def fake():
    d = FakeDaemon()
    yield d
    d.close()


def canned(result):
    """The fake's reply for a CASES entry."""
    if "__error__" in result:
        return error(*result["__error__"])
    return dict(result)


@pytest.mark.parametrize("line,request_body,result,rc,text", CASES,
                         ids=[c[0] for c in CASES])
def test_command_plain(fake, line, request_body, result, rc, text):
    import shlex
    fake.respond = lambda req: canned(result)
    p = run_ctl(*shlex.split(line), endpoint=fake.endpoint)
    assert fake.count() == 1
    got = dict(fake.last())
    req_id = got.pop("id")
    assert HEX32.match(req_id)
    # same keys, same order, same values as Circus's circusctl
    assert json.dumps(got) == json.dumps(request_body)
    raw = fake.raw[-1].decode()
    assert raw == json.dumps(dict(request_body, id=req_id))
    assert HEX32.match(fake.identities[-1].decode())
    assert p.returncode == rc, p.stderr
    if rc == 0:
        assert p.stdout == text + "\n"
        assert p.stderr == ""
    else:
        assert p.stderr == text + "\n"
        assert p.stdout == ""


@pytest.mark.parametrize("line,request_body,result,rc,text", CASES,
                         ids=[c[0] for c in CASES])
def test_command_json(fake, line, request_body, result, rc, text):
    import shlex
    fake.respond = lambda req: canned(result)
    p = run_ctl("--json", *shlex.split(line), endpoint=fake.endpoint)
    assert fake.count() == 1
    # exactly the reply received, in Python's json.dumps layout
    assert p.stdout == fake.sent[-1].decode() + "\n"
    assert p.stderr == ""
    # an error reply exits non-zero even with --json (Circus exits 0)
    assert p.returncode == (3 if "__error__" in result else 0)


@pytest.mark.parametrize("line", ["status", "stats web", "options web",
                                  "list nope"])
def test_command_prettify(fake, line):
    by_line = {c[0]: c for c in CASES}
    result = by_line[line][2]
    fake.respond = lambda req: canned(result)
    p = run_ctl("--json", "--prettify", *line.split(),
                endpoint=fake.endpoint)
    reply = json.loads(fake.sent[-1])
    assert p.stdout == json.dumps(reply, indent=2, sort_keys=True) + "\n"
    assert "\x1b" not in p.stdout
    # --prettify alone changes nothing
    p2 = run_ctl("--prettify", *line.split(), endpoint=fake.endpoint)
    assert p2.returncode == by_line[line][3]
    assert (p2.stdout or p2.stderr) == by_line[line][4] + "\n"


# Argument errors raised by a command's message builder: exit 1, the text
# on stderr, nothing sent. Python tracebacks of Circus are one line here.
BUILDER_ERRORS = [
    ("add web", "Invalid number of arguments"),
    ("decr", "Invalid number of arguments"),
    ("decr web x", "invalid <nb>: 'x' is not an integer"),
    ("dstats x", "Invalid message"),
    ("get web", "Invalid number of arguments"),
    ("ipython x", "Invalid message"),
    ("kill", "Invalid number of arguments"),
    ("kill web 1 2", "Invalid number of arguments"),
    ("list a b", "Invalid number of arguments"),
    ("numprocesses a b", "message invalid"),
    ("numwatchers a", "Invalid number of arguments"),
    ("options", "number of arguments invalid"),
    ("reload a b", "invalid number of arguments"),
    ("restart a b", "Invalid number of arguments"),
    ("rm", "Invalid number of arguments"),
    ("rm a b", "Invalid number of arguments"),
    ("set web numprocesses", "Invalid number of arguments"),
    ("set web numprocesses 1 x", "List of key/values is invalid"),
    ("set web foo 1", "unknown key 'foo'"),
    ("set web numprocesses two", "invalid value for numprocesses: 'two' "
     "is not an integer"),
    ("set web graceful_timeout x", "invalid value for graceful_timeout: "
     "'x' is not a number"),
    ("set web hooks nope:x", "unknown hook 'nope'"),
    ("signal web", "Invalid number of arguments"),
    ("signal web x HUP", "invalid <pid>: 'x' is not an integer"),
    ("start a b", "Invalid number of arguments"),
    ("stats a b c", "message invalid"),
    ("stats web x", "invalid <process>: 'x' is not an integer"),
    ("status a b", "message invalid"),
]


@pytest.mark.parametrize("line,message", BUILDER_ERRORS,
                         ids=[c[0] for c in BUILDER_ERRORS])
def test_builder_errors(fake, line, message):
    p = run_ctl(*line.split(), endpoint=fake.endpoint)
    assert p.returncode == 1
    assert p.stderr == message + "\n"
    assert p.stdout == ""
    assert fake.count() == 0


USAGE = "usage: circusctl [options] command [args]\n"
USAGE_ERRORS = [
    ("foo", USAGE + "circusctl: error: unrecognized arguments: foo\n"),
    ("list --json", USAGE + "circusctl: error: unrecognized arguments: "
     "--json\n"),
    ("--bogus list", USAGE + "circusctl: error: unrecognized arguments: "
     "--bogus\n"),
    ("incr web --foo", USAGE + "circusctl: error: unrecognized arguments: "
     "--foo\n"),
    ("--timeout 2.5 list", USAGE + "circusctl: error: argument --timeout: "
     "invalid int value: '2.5'\n"),
    ("--timeout", USAGE + "circusctl: error: argument --timeout: expected "
     "one argument\n"),
    ("--s x list", USAGE + "circusctl: error: ambiguous option: --s could "
     "match --server_key, --ssh, --ssh_keyfile\n"),
    ("--json=1 list", USAGE + "circusctl: error: argument --json: ignored "
     "explicit argument '1'\n"),
    ("kill web --signum", "usage: circusctl [options] command [args] kill "
     "[-h] [--waiting] [--signum SIGNUM] [--graceful_timeout "
     "GRACEFUL_TIMEOUT]\ncircusctl [options] command [args] kill: error: "
     "argument --signum: expected one argument\n"),
]


@pytest.mark.parametrize("line,stderr", USAGE_ERRORS,
                         ids=[c[0] for c in USAGE_ERRORS])
def test_usage_errors(fake, line, stderr):
    p = run_ctl(*line.split(), endpoint=fake.endpoint)
    assert p.returncode == 2
    assert p.stderr == stderr
    assert p.stdout == ""
    assert fake.count() == 0


def test_invalid_choice(fake):
    p = run_ctl("foo", "list", endpoint=fake.endpoint)
    assert p.returncode == 2
    assert p.stderr.startswith(USAGE + "circusctl: error: argument command: "
                               "invalid choice: 'foo' (choose from 'add', ")


def test_option_forms(fake):
    """argparse prefixes, --opt=value, options anywhere, negative values."""
    p = run_ctl("--end=" + fake.endpoint, "--time", "3", "--js",
                "restart", "--wait", "web", "--match=regex",
                with_endpoint=False)
    assert p.returncode == 0, p.stderr
    props = fake.last()["properties"]
    assert json.dumps(props) == json.dumps(
        {"name": "web", "waiting": True, "match": "regex"})
    run_ctl("set", "--waiting", "web", "max_retry", "-1",
            endpoint=fake.endpoint)
    assert fake.last()["properties"] == {
        "name": "web", "waiting": True, "options": {"max_retry": -1}}
    run_ctl("add", "web", "--", "python3", "-m", "http.server",
            endpoint=fake.endpoint)
    assert fake.last()["properties"]["cmd"] == "python3 -m http.server"
    # after the command line started, unknown options belong to it
    run_ctl("add", "web", "python3", "-m", "http.server", "--start",
            endpoint=fake.endpoint)
    assert fake.last()["properties"] == {
        "name": "web", "cmd": "python3 -m http.server", "start": True}


def test_set_conversions(fake):
    p = run_ctl("set", "web", "NumProcesses", "3", "warmup_delay", "1",
                "send_hup", "on", "stop_signal", "sigint", "env",
                "A=1,B=two", "hooks", "before_start:/bin/true",
                "hooks.after_stop", "/bin/false,true",
                "stdout_stream.max_bytes", "1_000",
                "stderr_stream.filename", "/tmp/e.log", "rlimit_nofile",
                "64", "uid", "nobody", endpoint=fake.endpoint)
    assert p.returncode == 0, p.stderr
    assert json.dumps(fake.last()["properties"]) == json.dumps({
        "name": "web",
        "options": {"numprocesses": 3, "warmup_delay": 1.0,
                    "send_hup": True, "stop_signal": 2,
                    "env": {"A": "1", "B": "two"},
                    "hooks": {"before_start": "/bin/true"},
                    "hooks.after_stop": "/bin/false,true",
                    "stdout_stream.max_bytes": 1000,
                    "stderr_stream.filename": "/tmp/e.log",
                    "rlimit_nofile": 64, "uid": "nobody"}})


def test_reloadconfig_dry_run(fake):
    plan = {"plan": {"start": ["new"], "stop": ["old1", "old2"],
                     "restart": [], "adjust": ["web"]}}
    fake.respond = lambda req: plan
    p = run_ctl("reloadconfig", "--dry-run", endpoint=fake.endpoint)
    assert p.returncode == 0, p.stderr
    assert json.dumps(fake.last()["properties"]) == json.dumps(
        {"waiting": False, "dry_run": True})
    assert p.stdout == ("start: new\nstop: old1, old2\nrestart: -\n"
                        "adjust: web\n")
    p = run_ctl("--json", "reloadconfig", "--dry-run",
                endpoint=fake.endpoint)
    assert json.loads(p.stdout)["plan"] == plan["plan"]
    fake.respond = lambda req: error("watcher:x: bad option", 3)
    p = run_ctl("reloadconfig", "--dry-run", endpoint=fake.endpoint)
    assert p.returncode == 3
    assert p.stderr == "error: watcher:x: bad option\n"


def test_stale_replies_are_discarded(fake):
    """Replies with another id (or none) are dropped until ours comes."""
    fake.before_reply = [
        json.dumps({"status": "ok", "time": 1.0, "numwatchers": 99,
                    "id": "0" * 32}).encode(),
        json.dumps({"status": "error", "reason": "json invalid",
                    "tb": None, "time": 1.0, "errno": 1,
                    "id": None}).encode(),
    ]
    fake.respond = lambda req: {"numwatchers": 2}
    p = run_ctl("numwatchers", endpoint=fake.endpoint)
    assert (p.returncode, p.stdout) == (0, "2\n")


def test_invalid_json_reply(fake):
    fake.respond = lambda req: b"not json"
    p = run_ctl("list", endpoint=fake.endpoint)
    assert p.returncode == 1
    assert p.stderr.startswith("circusctl: %s: invalid JSON in reply"
                               % fake.endpoint)
    assert p.stderr.count("\n") == 1


def test_timeout(fake):
    fake.respond = lambda req: None
    t0 = time.monotonic()
    p = run_ctl("--timeout", "1", "stop", "web", "--waiting",
                endpoint=fake.endpoint)
    elapsed = time.monotonic() - t0
    assert fake.count() == 1
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == (
        "Timed out. circusd at %s did not reply within 1 s: the operation "
        "may still be running; raise --timeout (especially with "
        "--waiting).\n" % fake.endpoint)
    assert 0.9 <= elapsed < 10


def test_timeout_json(fake):
    fake.respond = lambda req: None
    p = run_ctl("--json", "--timeout", "1", "list", endpoint=fake.endpoint)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.startswith("Timed out. circusd at ")


def test_unreachable(tmp_path):
    endpoint = "ipc://%s/nobody.sock" % tmp_path
    t0 = time.monotonic()
    p = run_ctl("--timeout", "1", "status", endpoint=endpoint)
    assert time.monotonic() - t0 < 10
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == (
        "Timed out. No connection to circusd at %s within 1 s: check that "
        "circusd is running and that --endpoint (or CIRCUSCTL_ENDPOINT) is "
        "its control endpoint.\n" % endpoint)


def test_unreachable_tcp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    endpoint = "tcp://127.0.0.1:%d" % port
    p = run_ctl("--timeout", "1", "list", endpoint=endpoint)
    assert p.returncode == 1
    assert ("No connection to circusd at %s within 1 s" % endpoint
            in p.stderr)


def test_bad_endpoint():
    p = run_ctl("list", endpoint="nope://x")
    assert p.returncode == 1
    assert p.stderr.startswith("circusctl: nope://x: cannot connect to "
                               "nope://x: ")


def test_environment_endpoint(fake, tmp_path):
    fake.respond = lambda req: {"numwatchers": 7}
    p = run_ctl("numwatchers", env={"CIRCUSCTL_ENDPOINT": fake.endpoint})
    assert (p.returncode, p.stdout) == (0, "7\n")
    # --endpoint wins over the environment
    p = run_ctl("--timeout", "1", "numwatchers",
                endpoint="ipc://%s/none.sock" % tmp_path,
                env={"CIRCUSCTL_ENDPOINT": fake.endpoint})
    assert p.returncode == 1
    assert fake.count() == 1


def test_version():
    p = run_ctl("--version")
    assert p.returncode == 0
    assert re.match(r"^circusctl \d+\.\d+\.\d+\n$", p.stdout)
    p = run_ctl("--vers", "list", "--bogus")
    assert p.returncode == 0


def test_main_help():
    p = run_ctl("--help")
    assert p.returncode == 0
    out = p.stdout
    assert out.startswith(USAGE + "\nControls a Circus daemon\n\n"
                          "Commands:\n  add                   Add a watcher\n")
    assert "  stop                  Stop watchers\n" in out
    assert ("  --ssh_keyfile SSH_KEYFILE\n                        the path to "
            "the keyfile to authorise the user\n") in out
    assert "  --timeout TIMEOUT     connection timeout\n" in out
    # exit codes are documented
    for code in ("0  success", "1  bad arguments", "2  usage error",
                 "3  circusd replied with an error"):
        assert "  " + code in out
    assert len([l for l in out.splitlines() if l.startswith("  ")
                and l.split()[0].isalpha()]) >= 25


@pytest.mark.parametrize("name,title", [("add", "Add a watcher"),
                                        ("stop", "Stop watchers"),
                                        ("listen",
                                         "Subscribe to a watcher event")])
def test_command_help(fake, name, title):
    p = run_ctl("--help", name, endpoint=fake.endpoint)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == title
    assert lines[1] == "=" * len(title)
    assert "Command line:" in p.stdout
    assert fake.count() == 0
    # argparse-style help of the sub-command
    p = run_ctl(name, "-h", endpoint=fake.endpoint)
    assert p.returncode == 0
    assert p.stdout.startswith("usage: circusctl [options] command [args] "
                               "%s [-h]" % name)
    assert "  -h, --help            show this help message and exit\n" \
        in p.stdout
    assert fake.count() == 0


def test_help_wins_over_builder_errors(fake):
    p = run_ctl("--help", "add", endpoint=fake.endpoint)
    assert p.returncode == 0
    assert p.stdout.startswith("Add a watcher\n")


# ---------------------------------------------------------------------------
# listen


class Publisher:
    """A PUB socket standing in for circusd's event channel."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)

    def send(self, topic, body):
        self.sock.send_multipart([topic, body])

    def close(self):
        self.sock.close(0)
        self.ctx.term()


class LineReader:
    """Collects a process's stdout lines in a thread."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode())

    def snapshot(self):
        with self.lock:
            return list(self.lines)


def listen_until(pub, proc, reader, topic, body, deadline=15):
    """Publish until the first line shows up (ZeroMQ slow joiner)."""
    def seen():
        if not reader.snapshot():
            pub.send(topic, body)
            return False
        return True
    wait_for(seen, timeout=deadline, interval=0.05,
             msg="listen printed nothing")


def stop_listen(proc):
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("json_mode", [False, True])
def test_listen(tmp_path, json_mode):
    endpoint = "ipc://%s/pub.sock" % tmp_path
    pub = Publisher(endpoint)
    args = ["--endpoint", endpoint] + (["--json"] if json_mode else []) + \
        ["listen", "watcher.web.", "watcher.other.reap"]
    env = dict(os.environ)
    env["CIRCUSCTL_ENDPOINT"] = "ipc://%s/ignored.sock" % tmp_path
    proc = subprocess.Popen([str(CIRCUSCTL)] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    reader = LineReader(proc.stdout)
    try:
        body = b'{"process_pid": 13169, "time": 1795437381.9060533}'
        listen_until(pub, proc, reader, b"watcher.web.spawn", body)
        pub.send(b"watcher.nope.spawn", b'{"time": 1.0}')
        pub.send(b"watcher.other.reap", b'{"process_pid": 1, "time": 2.5, '
                 b'"exit_code": -15}')
        pub.send(b"watcher.web.stop", b'not json \x01')
        wait_for(lambda: any("stop" in l for l in reader.snapshot()))
    finally:
        rc = stop_listen(proc)
        pub.close()
    lines = reader.snapshot()
    assert rc == 1
    assert not any("nope" in l for l in lines)
    assert lines[-2:] == [
        l for l in lines if "other" in l or "web.stop" in l]
    if json_mode:
        assert json.loads(lines[0]) == {
            "topic": "watcher.web.spawn",
            "data": {"process_pid": 13169, "time": 1795437381.9060533}}
        assert lines[-2] == ('{"topic": "watcher.other.reap", "data": '
                             '{"process_pid": 1, "time": 2.5, '
                             '"exit_code": -15}}\n')
        assert json.loads(lines[-1]) == {"topic": "watcher.web.stop",
                                         "data": "not json \x01"}
    else:
        assert lines[0] == ('watcher.web.spawn: {"process_pid": 13169, '
                            '"time": 1795437381.9060533}\n')
        assert lines[-2] == ('watcher.other.reap: {"process_pid": 1, '
                             '"time": 2.5, "exit_code": -15}\n')
        assert lines[-1] == "watcher.web.stop: not json \\x01\n"


def test_listen_default_endpoint_ignores_environment(tmp_path):
    """Without --endpoint listen uses tcp://127.0.0.1:5556, never
    CIRCUSCTL_ENDPOINT; we only check it does not pick the variable."""
    endpoint = "ipc://%s/pub.sock" % tmp_path
    pub = Publisher(endpoint)
    env = dict(os.environ)
    env["CIRCUSCTL_ENDPOINT"] = endpoint
    proc = subprocess.Popen([str(CIRCUSCTL), "listen"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    reader = LineReader(proc.stdout)
    try:
        # The process is up (it answers signals); publish a while on the
        # variable's endpoint and check nothing arrives.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            pub.send(b"watcher.x.spawn", b"{}")
            time.sleep(0.05)
    finally:
        rc = stop_listen(proc)
        pub.close()
    assert rc == 1
    assert reader.snapshot() == []


# ---------------------------------------------------------------------------
# bash completion hook (doc/design.md §17.6, extended)


def complete(words, cword, fake=None):
    env = {"AUTO_COMPLETE": "1", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    if fake is not None:
        env["CIRCUSCTL_ENDPOINT"] = fake.endpoint
    p = run_ctl(env=env)
    assert p.returncode == 1
    assert p.stdout.endswith("\n")
    return p.stdout.split()


def test_autocomplete_commands():
    assert complete("circusctl st", 1) == ["start", "stats", "status",
                                           "stop"]
    assert complete("circusctl ", 1)[:3] == ["add", "decr", "dstats"]
    assert len(complete("circusctl", 1)) == 26   # and keygen
    assert complete("circusctl --ti", 1) == ["--timeout"]


def test_autocomplete_arguments(fake):
    fake.respond = lambda req: (
        {"watchers": ["web", "worker", "db"]} if req["command"] == "list"
        and "name" not in req["properties"] else {"pids": [11, 12]})
    assert complete("circusctl start w", 2, fake) == ["web", "worker"]
    assert complete("circusctl --timeout 2 incr ", 4, fake) == [
        "db", "web", "worker"]
    assert complete("circusctl --endpoint %s stop d" % fake.endpoint, 4) \
        == ["db"]
    assert complete("circusctl kill web ", 3, fake) == ["11", "12"]
    assert complete("circusctl kill web --sig", 3) == ["--signum"]
    assert "KILL" in complete("circusctl kill web --signum K", 4)
    assert complete("circusctl start web --match ", 4) == [
        "glob", "regex", "simple"]
    assert complete("circusctl get web numpro", 3) == ["numprocesses"]
    assert complete("circusctl set web stop_s", 3) == ["stop_signal"]
    assert complete("circusctl set web shell ", 4) == ["false", "true"]
    assert complete("circusctl set web hooks.before_s", 3) == [
        "hooks.before_signal", "hooks.before_spawn", "hooks.before_start",
        "hooks.before_stop"]
    assert "HUP" in complete("circusctl signal web ", 3, fake)
    assert complete("circusctl signal web hu", 3, fake) == ["hup"]
    assert complete("circusctl globaloptions pub", 2) == ["pubsub_endpoint"]


def test_autocomplete_unreachable_is_quick(tmp_path):
    t0 = time.monotonic()
    out = complete("circusctl --endpoint ipc://%s/x.sock start " % tmp_path,
                   4)
    assert out == []
    assert time.monotonic() - t0 < 8


# ---------------------------------------------------------------------------
# --ssh through a stand-in ssh that forwards the port itself

FAKE_SSH = r'''#!/usr/bin/python3
import os, socket, sys, threading
args = sys.argv[1:]
with open(os.environ["FAKE_SSH_LOG"], "w") as f:
    f.write(" ".join(args))
spec = args[args.index("-L") + 1]
lport, host, rport = spec.split(":")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(lport)))
srv.listen(5)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection((host, int(rport)))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
'''


def test_ssh_tunnel(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    log = tmp_path / "ssh.log"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = FakeDaemon(bind=False)
    d.endpoint = "tcp://127.0.0.1:%d" % port
    d.start()
    try:
        d.respond = lambda req: {"watchers": ["tunnelled"]}
        env = {"PATH": "%s:%s" % (bindir, os.environ["PATH"]),
               "FAKE_SSH_LOG": str(log)}
        p = run_ctl("--ssh", "admin@example.invalid:2222", "--ssh_keyfile",
                    "/tmp/key", "--timeout", "10", "list",
                    endpoint=d.endpoint, env=env)
        assert (p.returncode, p.stdout) == (0, "tunnelled\n"), p.stderr
        args = log.read_text().split()
        assert args[:4] == ["-N", "-o", "ExitOnForwardFailure=yes", "-L"]
        assert args[4].endswith(":127.0.0.1:%d" % port)
        assert args[5:] == ["-p", "2222", "-i", "/tmp/key",
                            "admin@example.invalid"]
    finally:
        d.close()


def test_ssh_needs_tcp(fake):
    p = run_ctl("--ssh", "a@b", "list", endpoint=fake.endpoint)
    assert p.returncode == 1
    assert "ssh tunnels need a tcp:// endpoint" in p.stderr


# ---------------------------------------------------------------------------
# the bash completion script and the man page

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def bash_complete(line, fake=None):
    """COMPREPLY of the completion script for a command line (the word
    being completed is the last one; a trailing space starts a new one)."""
    script = os.path.join(SOURCE, "circusctl", "circusctl-completion.bash")
    words = line.split(" ")
    code = ("source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_circusctl\n"
            "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
            % (script, " ".join("'%s'" % w for w in words), len(words) - 1))
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (CIRCUSCTL.parent, env["PATH"])
    env.pop("CIRCUSCTL_ENDPOINT", None)
    if fake is not None:
        env["CIRCUSCTL_ENDPOINT"] = fake.endpoint
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", code],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.split("\n") if l]


def test_bash_completion_script(fake):
    fake.respond = lambda req: {"watchers": ["web", "worker"]}
    assert bash_complete("circusctl st") == ["start", "stats", "status",
                                             "stop"]
    assert bash_complete("circusctl --pre") == ["--prettify"]
    assert bash_complete("circusctl restart w", fake) == ["web", "worker"]
    assert bash_complete("circusctl kill web --signum TE") == ["TERM"]
    assert bash_complete("circusctl listen watcher.w", fake) == [
        "watcher.web.", "watcher.worker."]


def test_man_page():
    page = os.path.join(SOURCE, "doc", "circusctl.1")
    with open(page) as f:
        text = f.read()
    for e in ["add", "decr", "dstats", "get", "globaloptions", "incr",
              "ipython", "kill", "list", "listen", "listsockets",
              "numprocesses", "numwatchers", "options", "quit", "reload",
              "reloadconfig", "restart", "rm", "set", "signal", "start",
              "stats", "status", "stop"]:
        assert re.search(r"^\.(TP\n\.B[IR]? \"?|B[IR]? \"?)%s\b" % e, text,
                         re.M), e
    section = text[text.index(".SH EXIT STATUS"):text.index(".SH ENVIRON")]
    assert [l for l in section.split("\n") if re.match(r"^\.B [0-9]$", l)] \
        == [".B 0", ".B 1", ".B 2", ".B 3"]
    if os.path.exists("/usr/bin/groff"):
        p = subprocess.run(["groff", "-man", "-ww", "-z", page],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and p.stderr == "", p.stderr
