# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the sync worker's benchmark (bench/sync_bench.py): its two
floor programs run with tiny sizes and answer what the harness parses, and
the report renders from synthetic results. Nothing is timed here."""

import importlib.util
import json
import os
import socket
import subprocess
import types

import pytest
import requests

from conftest import BUILD, REPO, wait_until

TOOLS = ("floor_http", "floor_sqlite")


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    have = BUILD / "bench"
    if all(os.access(have / t, os.X_OK) for t in TOOLS):
        return have
    build = tmp_path_factory.mktemp("syncbenchbuild")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    subprocess.run(["make", "-s", "-C", str(REPO), "BUILD=%s" % build,
                    str(build / "bench" / "floor_http"),
                    str(build / "bench" / "floor_sqlite")], check=True,
                   env=env, timeout=300, stdin=subprocess.DEVNULL)
    return build / "bench"


def load_harness():
    spec = importlib.util.spec_from_file_location(
        "sync_bench", REPO / "bench" / "sync_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_floor_sqlite_prints_its_transactions(bindir, wd):
    out = subprocess.run([str(bindir / "floor_sqlite"), str(wd / "f.db"),
                          "10", "50", "0.2"], capture_output=True, text=True,
                         timeout=60, check=True)
    r = json.loads(out.stdout)
    assert r["tx"] >= 1 and r["seconds"] > 0


def test_floor_http_answers_on_a_passed_socket(bindir):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    p = subprocess.Popen([str(bindir / "floor_http"), str(s.fileno()), "2"],
                         pass_fds=(s.fileno(),))
    try:
        url = "http://127.0.0.1:%d/x" % s.getsockname()[1]

        def answered():
            try:
                return requests.get(url, timeout=5).status_code == 200
            except requests.RequestException:
                return False
        wait_until(answered, timeout=30)
    finally:
        p.terminate()
        assert p.wait(30) == 0
        s.close()


def test_report_renders_verdicts():
    sb = load_harness()

    def res(rps):
        return {"rps": rps, "p99_us": 2000, "replays": 0, "failed": 0,
                "socket_errors": 0}

    results = {2: [{"read": res(70), "http": res(100), "write": res(40),
                    "sqlite": res(100)}]}
    args = types.SimpleNamespace(quick=True, repeats=1, seconds=2,
                                 nonce_cache=True)
    text = sb.report(results, args, 0)
    rows = [l for l in text.splitlines() if l.startswith("| 2 |")]
    assert len(rows) == 2
    assert "0.70" in rows[0] and rows[0].endswith("| met |")
    assert "0.40" in rows[1] and rows[1].endswith("| **missed** |")
