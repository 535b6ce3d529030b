#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The sync worker's benchmark (issue 9, item 3), run by `make bench`.

With wrk on loopback, for 2 and 4 worker processes sharing one listening
socket and one database:
  * GET /1.5/<uid>/info/collections  beside floor_http (libmicrohttpd
    answering a fixed body, same socket, same process and thread count);
  * POST of 100 records              beside floor_sqlite (the same 100 rows
    upserted in one transaction, WAL, synchronous=FULL).
Every request carries its own Hawk header (a fresh nonce: the nonce cache
stays on, as by default), signed beforehand by tests/e2e/synclib.py.
Targets: reads >= 0.6x the HTTP floor, writes >= 0.5x the SQLite floor.
Every run is bounded (wrk -d, a header budget per run); everything started
is stopped on exit. Writes a markdown report (--out) and prints it.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import synclib  # noqa: E402

UID = 1
RECORDS = 100
PAYLOAD = 200
THREADS = 4          # HTTP threads per worker (syncserver's default)
CONNECTIONS = 32
WRK_THREADS = 2

LUA = r"""
local headers = {}
local idx = 0
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local n = tonumber(os.getenv("SB_NTHREADS"))
  local i = 0
  for line in io.lines(os.getenv("SB_HEADERS")) do
    if i % n == tid then headers[#headers + 1] = line end
    i = i + 1
  end
  wrk.method = os.getenv("SB_METHOD")
  local bf = os.getenv("SB_BODY")
  if bf ~= nil and bf ~= "" then
    local f = io.open(bf, "rb")
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
  end
end
function request()
  idx = idx + 1
  if idx > #headers then idx = 1 end
  wrk.headers["Authorization"] = headers[idx]
  return wrk.format(nil, os.getenv("SB_PATH"))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SBJSON {"requests": %d, "duration_us": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listen_socket():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


def wait_http(url, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no answer from " + url)


class Workers:
    """N processes of argv (with {fd} replaced) on one shared socket."""

    def __init__(self, argv, n, sock, log):
        fd = sock.fileno()
        self.procs = [subprocess.Popen([a.replace("{fd}", str(fd))
                                        for a in argv], pass_fds=(fd,),
                                       stdout=log, stderr=log)
                      for _ in range(n)]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def run_wrk(tmp, url, path, method, headers, body, seconds):
    hfile = os.path.join(tmp, "headers.txt")
    with open(hfile, "w") as f:
        f.write("\n".join(headers) + "\n")
    lua = os.path.join(tmp, "bench.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    bfile = ""
    if body is not None:
        bfile = os.path.join(tmp, "body.json")
        with open(bfile, "wb") as f:
            f.write(body)
    env = dict(os.environ, SB_HEADERS=hfile, SB_METHOD=method, SB_PATH=path,
               SB_BODY=bfile, SB_NTHREADS=str(WRK_THREADS))
    out = subprocess.run(["wrk", "-t", str(WRK_THREADS), "-c",
                          str(CONNECTIONS), "-d", "%ds" % seconds,
                          "--timeout", "10s", "-s", lua, url + path],
                         env=env, capture_output=True, text=True,
                         timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("SBJSON "):
            r = json.loads(line[7:])
            # once the signed headers run out they are sent again and the
            # nonce cache refuses them (401): those are not counted
            r["budget"] = len(headers)
            r["replays"] = max(0, r["requests"] - len(headers))
            r["failed"] = r["non2xx"] - min(r["non2xx"], r["replays"])
            r["rps"] = (r["requests"] - r["non2xx"]) / (r["duration_us"] / 1e6)
            return r
    raise RuntimeError("wrk: no result:\n" + out.stdout + out.stderr)


def sign_all(c, url, method, path, body, n):
    """n Authorization headers for (method, url+path), each its own nonce
    (the method in the nonce: one set never replays another's)."""
    now = int(time.time())
    ctype = "application/json" if body is not None else None
    return ["" + synclib.hawk_header(c.token, c.key, method, url + path,
                                     body or b"", ctype, ts=now,
                                     nonce="%s%x" % (method, i)) for i in range(n)]


def bench_sync(args, tmp, workers, log):
    sock = listen_socket()
    port = sock.getsockname()[1]
    url = "http://127.0.0.1:%d" % port
    # a fresh database (and nonce table) each repetition: the nonces an
    # earlier repetition left (up to its header budget, live for the
    # token's hour) would fill the 917,504-entry table, and the later
    # repetitions would measure a server spilling every nonce to SQLite
    run = tempfile.mkdtemp(prefix="w%d-" % workers, dir=tmp)
    ini = os.path.join(run, "sync.ini")
    db = os.path.join(run, "sync.db")
    with open(ini, "w") as f:
        f.write("[syncserver]\npublic_url = %s\nsecret = bench-secret\n"
                "sqluri = sqlite:///%s\n[hawk]\nnonce_cache = %s\n" %
                (url, db, "true" if args.nonce_cache else "false"))
    w = Workers([os.path.join(args.build, "syncserver"), "--config", ini,
                 "--fd", "{fd}", "--threads", str(THREADS)], workers, sock,
                log)
    try:
        wait_http(url + "/__lbheartbeat__", time.monotonic() + 30)
        token, key = synclib.mint_token("bench-secret", UID, url,
                                        time.time() + 3600)
        c = synclib.SyncClient(url, token, key)
        recs = [{"id": "record%04d" % i, "payload": "x" * PAYLOAD}
                for i in range(RECORDS)]
        r = c.post("/1.5/%d/storage/bookmarks" % UID, recs)
        assert r.status_code == 200, r.text
        path = "/1.5/%d/info/collections" % UID
        read = run_wrk(tmp, url, path, "GET",
                       sign_all(c, url, "GET", path, None, args.budget),
                       None, args.seconds)
        body = json.dumps(recs).encode()
        path = "/1.5/%d/storage/tabs" % UID
        write = run_wrk(tmp, url, path, "POST",
                        sign_all(c, url, "POST", path, body,
                                 args.budget // 5), body, args.seconds)
        return read, write
    finally:
        w.stop()
        sock.close()
        shutil.rmtree(run, ignore_errors=True)


def bench_floor_http(args, tmp, workers, log):
    sock = listen_socket()
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    w = Workers([os.path.join(args.build, "bench", "floor_http"), "{fd}",
                 str(THREADS)], workers, sock, log)
    try:
        wait_http(url + "/", time.monotonic() + 30)
        return run_wrk(tmp, url, "/1.5/1/info/collections", "GET",
                       ["Hawk x"], None, args.seconds)
    finally:
        w.stop()
        sock.close()


def bench_floor_sqlite(args, tmp, workers):
    db = os.path.join(tmp, "floor-%d.db" % workers)
    out = subprocess.run([os.path.join(args.build, "bench", "floor_sqlite"),
                          db, str(RECORDS), str(PAYLOAD), str(args.seconds)],
                         capture_output=True, text=True,
                         timeout=args.seconds + 60, check=True)
    r = json.loads(out.stdout)
    return {"rps": r["tx"] / r["seconds"]}


def med(xs):
    return statistics.median(xs)


def span(xs, fmt="%.0f"):
    return (fmt + " (" + fmt + "–" + fmt + ")") % (med(xs), min(xs), max(xs))


def report(results, args, started):
    lines = ["# Sync worker benchmark", "",
             "Generated by `bench/sync_bench.py` (`make bench`); do not edit "
             "by hand.", "",
             "* **Run**: %s, %s UTC, %d repetition(s) of %d s per subject" %
             ("quick" if args.quick else "full",
              time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
              args.repeats, args.seconds),
             "* **Load**: wrk, %d threads, %d connections, loopback; %d HTTP "
             "threads per worker; every request has its own Hawk nonce "
             "(nonce cache %s); POST = %d records of %d bytes" %
             (WRK_THREADS, CONNECTIONS, THREADS,
              "on" if args.nonce_cache else "off", RECORDS, PAYLOAD),
             "* **Machine**: %d cores; load average %s at the start" %
             (os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())),
             "* **Method**: medians with min–max; each ratio is taken inside "
             "one repetition, then summarised. requests/s counts 2xx answers "
             "only (a run that outlasts its signed headers sends them again; "
             "the nonce cache refuses those). Each repetition starts the "
             "workers on a fresh database and nonce table.", "",
             "| workers | what | requests/s | p99 | floor/s | ratio | target "
             "| verdict |", "|---|---|---|---|---|---|---|---|"]
    for workers, rs in sorted(results.items()):
        for kind, floor, target in (("read", "http", 0.6),
                                    ("write", "sqlite", 0.5)):
            rps = [r[kind]["rps"] for r in rs]
            p99 = [r[kind]["p99_us"] / 1000 for r in rs]
            fl = [r[floor]["rps"] for r in rs]
            ratio = [r[kind]["rps"] / r[floor]["rps"] for r in rs]
            bad = sum(r[kind]["failed"] + r[kind]["socket_errors"]
                      for r in rs)
            replays = sum(r[kind]["replays"] for r in rs)
            what = ("GET info/collections" if kind == "read" else
                    "POST 100 records") + (" (%d errors)" % bad if bad
                                            else "") + \
                (" (%d replayed requests not counted)" % replays
                 if replays else "")
            lines.append("| %d | %s | %s | %s ms | %s | %s× | ≥ %.1f× | %s |"
                         % (workers, what, span(rps), span(p99, "%.1f"),
                            span(fl), span(ratio, "%.2f"), target,
                            "met" if med(ratio) >= target and not bad
                            else "**missed**"))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--workers", default="2,4")
    ap.add_argument("--seconds", type=int, default=None,
                    help="seconds per subject (default 5, --quick 2)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="repetitions (default 5, --quick 1)")
    ap.add_argument("--no-nonce-cache", dest="nonce_cache",
                    action="store_false",
                    help="turn the Hawk nonce cache off (to see its cost)")
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 2 if args.quick else 5
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    args.seconds = max(1, min(args.seconds, 60))
    args.repeats = max(1, min(args.repeats, 10))
    # signed headers per GET subject: more than the run can use at
    # 200000/s (above any HTTP floor seen here: with the info/collections
    # cache a worker reached 116000/s, and wrk's two threads each take
    # half, so one may run out first), so the run measures the server,
    # not the supply of fresh nonces
    args.budget = 200000 * args.seconds
    if shutil.which("wrk") is None:
        sys.exit("sync_bench: wrk is not installed (make bench-deps)")
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="syncbench-")
    log = open(os.path.join(tmp, "workers.log"), "ab")
    results = {}
    try:
        for rep in range(args.repeats):
            for workers in [int(x) for x in args.workers.split(",")]:
                r = {}
                order = ["http", "sync", "sqlite"]
                order = order[rep % 3:] + order[:rep % 3]
                for subject in order:
                    if subject == "http":
                        r["http"] = bench_floor_http(args, tmp, workers, log)
                    elif subject == "sync":
                        r["read"], r["write"] = bench_sync(args, tmp,
                                                           workers, log)
                    else:
                        r["sqlite"] = bench_floor_sqlite(args, tmp, workers)
                results.setdefault(workers, []).append(r)
                print("rep %d, %d workers: read %.0f/s (floor %.0f), write "
                      "%.0f/s (floor %.0f)" % (rep + 1, workers,
                                               r["read"]["rps"],
                                               r["http"]["rps"],
                                               r["write"]["rps"],
                                               r["sqlite"]["rps"]),
                      flush=True)
    finally:
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, args, started)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
