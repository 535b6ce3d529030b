# SPDX-License-Identifier: Apache-2.0
"""Scenario `bounce` of bench/run.py (issue 11): are bounces of the sync
server free of downtime?

The sync server runs as 4 workers of one circusd watcher on a shared
loopback socket (tests/e2e/sync_server.py's SyncCluster). Each window is one
wrk run of fixed duration and connection count on `GET /__heartbeat__` (it
asks the database, doc/design.md "Firefox Sync worker"), while
tests/e2e/sync_writer.py writes records with Hawk-signed PUT/POSTs and logs
every acknowledged one. A window holds one action, sent `offset` seconds
into it: restart ×2, reload ×2, reloadconfig of a changed cmd, `set env`,
SIGHUP to circusd, and last a bad release (a cmd that exits at start, by
reloadconfig). After the run every acknowledged record is read back.

Three variants, same run: readiness = none (what circusd does without it)
and readiness = notify with readiness_timeout = 10 and rolling = 1, both
under wrk's closed loop, which saturates the machine (every request is
sent the moment the last was answered); and readiness = notify again under
a paced load (PACED_CONNS connections that each wait PACE_MS after an
answer before the next request: a fraction of the saturated rate, the
load a server is run at), where a bounce's own cost is not lost in the
scheduling noise of an overloaded machine. When the daemon does not give
the workers NOTIFY_SOCKET (it ignores the options or rejects them) the
readiness variants are reported as not available.

Everything is bounded: wrk -d and --timeout, a deadline on every wait, the
writer's own max_seconds; only 127.0.0.1.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "tests", "e2e")
WRITER = os.path.join(E2E, "sync_writer.py")
PYTHON = "/usr/bin/python3"

WATCHER = "syncserver"
WORKERS = 4
UID, COLLECTION = 11, "bounce"
PATH = "/__heartbeat__"
WRK_THREADS = 2
WRK_TIMEOUT_S = 1       # a request older than this at wrk's 2-second
                        # checks counts as an error (a timeout)
SETTLE_S = 60.0         # deadline for the watcher to settle between windows
GOAL_RATIO = 1.5        # p99 in a bounce window / the steady window's
STALL_S = 1.0           # no acknowledged write for longer: an outage

PACED_CONNS = 48         # the paced variant's connections...
PACE_MS = 1             # ...each waiting this long after an answer

NOTIFY = {"readiness": "notify", "readiness_timeout": "10", "rolling": "1"}
# name, watcher options, paced load
VARIANTS = (
    ("none", {}, False),
    ("notify", NOTIFY, False),
    ("notify, paced", NOTIFY, True),
)

# wrk calls delay() before each request of a connection (milliseconds)
LUA_PACE = """
function delay()
  return %d
end
""" % PACE_MS

LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BOUNCE {"requests": %d, "duration_us": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "non2xx": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.status, e.connect, e.read,
    e.write, e.timeout))
end
"""


def e2e_helpers(build):
    """conftest (Client, wait_until, proc_environ) and sync_server
    (SyncCluster) of tests/e2e, for the binaries in `build`."""
    os.environ["CIRCUS_BUILD"] = build
    if E2E not in sys.path:
        sys.path.insert(0, E2E)
    import conftest
    import sync_server
    return conftest, sync_server


# --------------------------------------------------------------------------
# the actions: one line each in ACTIONS


def act_restart(ctx):
    return ctx.call("restart", name=WATCHER, waiting=True)


def act_reload(ctx):
    return ctx.call("reload", name=WATCHER, waiting=True)


def act_reloadconfig(ctx):
    # a harmless change of cmd: 4 HTTP threads is the worker's default
    ctx.cluster.configure(ctx.cluster.CMD + " --threads 4", ctx.options)
    return ctx.call("reloadconfig", waiting=True)


def act_set_env(ctx):
    return ctx.call("set", name=WATCHER, options={"env": {"BOUNCE": "1"}},
                    waiting=True)


def act_sighup(ctx):
    os.kill(ctx.cluster.proc.pid, signal.SIGHUP)
    return None


def act_bad_release(ctx):
    # a release whose workers exit at start (no such config file)
    ctx.cluster.configure("{syncserver} --config {ini}.missing --fd {fd}",
                          ctx.options)
    return ctx.call("reloadconfig", waiting=True)


# label, action, whether its new processes must replace every old one
ACTIONS = (
    ("restart", act_restart, True),
    ("restart", act_restart, True),
    ("reload", act_reload, True),
    ("reload", act_reload, True),
    ("reloadconfig (cmd changed)", act_reloadconfig, True),
    ("set env", act_set_env, True),
    ("SIGHUP", act_sighup, True),
    ("bad release", act_bad_release, False),
)


# --------------------------------------------------------------------------
# one variant


class Variant:
    """One cluster, one writer, the windows of one variant."""

    def __init__(self, build, tmp_root, name, options, window, conns,
                 offset, actions, paced=False):
        self.ct, self.ss = e2e_helpers(build)
        self.name, self.options = name, options
        self.window, self.conns, self.offset = window, conns, offset
        self.actions = actions
        self.dir = tempfile.mkdtemp(prefix="bn", dir=tmp_root)
        self.cluster = self.client = self.writer = None
        self.http = requests.Session()
        self.http.trust_env = False     # loopback: never a proxy
        self.lua = os.path.join(self.dir, "bounce.lua")
        with open(self.lua, "w") as f:
            f.write((LUA_PACE if paced else "") + LUA)

    # -- circusd ------------------------------------------------------------

    def call(self, command, **props):
        try:
            r = self.client.call(command, timeout=self.window + 30, **props)
        except self.ct.CallTimeout as e:
            return {"status": "error", "reason": "no reply: %s" % e}
        return r

    def pids(self):
        r = self.client.call("list", name=WATCHER, timeout=20)
        return sorted(r.get("pids") or [])

    def readiness_given(self):
        """Does every worker have NOTIFY_SOCKET from circusd?"""
        pids = self.pids()
        try:
            return bool(pids) and all("NOTIFY_SOCKET" in
                                      self.ct.proc_environ(p) for p in pids)
        except OSError:
            return False

    def healthy(self):
        """WORKERS workers listed, and the heartbeat answers 200."""
        if len(self.pids()) != WORKERS:
            return False
        return self.http.get(self.cluster.url + PATH,
                             timeout=5).status_code == 200

    def settle(self, what):
        return self.ct.wait_until(self.healthy, SETTLE_S, 0.05, what)

    # -- load ---------------------------------------------------------------

    def start_wrk(self, seconds=None):
        return subprocess.Popen(
            ["wrk", "-t", str(WRK_THREADS), "-c", str(self.conns), "-d",
             "%ds" % (seconds or self.window), "--timeout", "%ds" % WRK_TIMEOUT_S, "-s",
             self.lua, self.cluster.url + PATH], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wrk_result(self, p):
        if p is None:           # no HTTP load (conns = 0)
            return dict.fromkeys(("requests", "duration_us", "p50_us",
                                  "p99_us", "max_us", "non2xx", "connect",
                                  "read", "write", "timeout",
                                  "conn_errors"), 0)
        try:
            out, _ = p.communicate(timeout=self.window + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate(timeout=10)
        for line in out.splitlines():
            if line.startswith("BOUNCE "):
                r = json.loads(line[7:])
                r["conn_errors"] = (r["connect"] + r["read"] + r["write"] +
                                    r["timeout"])
                return r
        raise RuntimeError("wrk: no result: %s" % out[-500:])

    def start_writer(self):
        self.spec = os.path.join(self.dir, "writer.json")
        self.wlog = os.path.join(self.dir, "writer.log")
        self.stop_file = os.path.join(self.dir, "writer.stop")
        budget = (len(self.actions) + 2) * (self.window + SETTLE_S) + 120
        with open(self.spec, "w") as f:
            json.dump({"hosts": [{"url": self.cluster.url,
                                  "secret": self.cluster.secret}],
                       "uid": UID, "collection": COLLECTION,
                       "log": self.wlog, "stop_file": self.stop_file,
                       "max_per_host": 1000000, "max_seconds": budget}, f)
        self.writer = subprocess.Popen([PYTHON, WRITER, "write", self.spec],
                                       stdin=subprocess.DEVNULL)
        # the first acknowledged write: the writer works
        self.ct.wait_until(lambda: os.path.exists(self.wlog) and
                           '"ack"' in open(self.wlog).read(), 30, 0.05,
                           "the writer's first acknowledged write")

    def stop_writer(self):
        with open(self.stop_file, "w"):
            pass
        try:
            self.writer.wait(60)
        except subprocess.TimeoutExpired:
            self.writer.kill()
            self.writer.wait(10)
        out = subprocess.run([PYTHON, WRITER, "read", self.spec],
                             capture_output=True, text=True, timeout=120,
                             check=True).stdout
        stored = json.loads(out)[self.cluster.url]
        acks, errors = [], []
        with open(self.wlog) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("ack"):
                    acks.append((rec["t"], stored.get(rec["id"]) ==
                                 rec["payload"]))
                else:
                    errors.append(rec["t0"])
        return acks, errors

    # -- windows ------------------------------------------------------------

    def run_window(self, label, action, replaces):
        old = self.pids()
        res = {"label": label, "action": label if action else None}
        w0 = time.time()
        p = self.start_wrk() if self.conns else None
        t_start = time.monotonic()
        try:
            if action is not None:
                time.sleep(self.offset)     # the schedule, not a state
                t0 = time.monotonic()
                reply = action(self)
                res["reply_s"] = round(time.monotonic() - t0, 3)
                res["reply"] = ({k: reply.get(k) for k in
                                 ("status", "reason", "errno")}
                                if reply is not None else None)
                end = t_start + self.window
                while time.monotonic() < end:
                    pids = self.pids()
                    if replaces and len(pids) == WORKERS and \
                            not set(pids) & set(old):
                        res["done_s"] = round(time.monotonic() - t0, 3)
                        break
                    time.sleep(0.05)    # polling with a deadline
        finally:
            if p is None:
                # no wrk (conns = 0): the window still lasts its length,
                # the time the writer's acknowledgements are counted in
                # (the schedule, not a state)
                time.sleep(max(0.0, t_start + self.window -
                               time.monotonic()))
            r = self.wrk_result(p)
        res["w0"], res["w1"] = w0, time.time()
        res.update(r)
        pids = self.pids()
        res["workers_end"] = len(pids)
        res["old_kept"] = len(set(pids) & set(old))
        return res

    def run(self):
        try:
            self.cluster = self.ss.SyncCluster(
                self.dir, workers=WORKERS, watcher_options=self.options,
                hawk__nonce_cache=True)
        except Exception as e:      # a daemon that refuses the options
            if not self.options:
                raise
            return {"available": False,
                    "why": "circusd does not start with %s: %s" %
                    (self.options, str(e)[:200])}
        try:
            self.client = self.ct.Client(self.cluster.endpoint)
            if self.options and not self.readiness_given():
                return {"available": False,
                        "why": "circusd accepts %s but gives the workers "
                               "no NOTIFY_SOCKET" % ", ".join(
                                   "%s = %s" % kv
                                   for kv in self.options.items())}
            self.start_writer()
            if self.conns:      # warm-up, not measured: caches, connections
                self.wrk_result(self.start_wrk(1))
            windows = [self.run_window("steady", None, False)]
            for label, action, replaces in self.actions:
                self.ct.wait_until(lambda: len(self.pids()) == WORKERS,
                                   SETTLE_S, 0.05, "workers before " + label)
                w = self.run_window(label, action, replaces)
                windows.append(w)
                t0 = time.monotonic()
                if not replaces:
                    # back to the good release
                    self.cluster.configure(None, self.options)
                    w["recover_reply"] = self.call("reloadconfig",
                                                   waiting=True).get("status")
                self.settle("settled after " + label)
                w["settle_s"] = round(time.monotonic() - t0, 3)
            windows.append(self.run_window("steady (after)", None, False))
            acks, errors = self.stop_writer()
            self.writer = None
            for w in windows:
                mine = [ok for t, ok in acks if w["w0"] <= t <= w["w1"]]
                w["acked"] = len(mine)
                w["lost"] = mine.count(False)
                w["stall_s"] = longest_gap([t for t, _ in acks], w["w0"],
                                           w["w1"])
                w["writer_errors"] = sum(1 for t in errors
                                         if w["w0"] <= t <= w["w1"])
            return {"available": True, "windows": windows,
                    "acked": len(acks),
                    "lost": sum(1 for _, ok in acks if not ok),
                    "writer_errors": len(errors)}
        finally:
            self.close()

    def close(self):
        if self.writer is not None and self.writer.poll() is None:
            self.writer.kill()
            self.writer.wait(10)
        self.http.close()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def longest_gap(times, t0, t1):
    """The longest time in [t0, t1] without an acknowledged write: the
    writer writes back to back, so a gap is a stall of the service."""
    ts = [t0] + sorted(t for t in times if t0 <= t <= t1) + [t1]
    return round(max(b - a for a, b in zip(ts, ts[1:])), 3)


def run_variant(build, tmp_root, name, options, window=5, conns=16,
                offset=0.5, actions=ACTIONS, paced=False):
    return Variant(build, tmp_root, name, options, window, conns, offset,
                   actions, paced).run()


# --------------------------------------------------------------------------
# the scenario and its report section


def scenario(B):
    if shutil.which("wrk") is None:
        B.note("bounce", "not measured: wrk is not installed "
               "(make bench-deps)")
        return None
    P = B.P
    runs = []
    for r in range(P["bounce_repeats"]):
        rec = {}
        k = r % len(VARIANTS)
        for name, options, paced in VARIANTS[k:] + VARIANTS[:k]:
            rec[name] = B.guarded(
                "bounce", "%s rep %d" % (name, r), run_variant, B.build,
                B.tmp_root, name, options, P["bounce_window"],
                PACED_CONNS if paced else P["bounce_conns"], paced=paced)
        runs.append(rec)
    return {"runs": runs, "window": P["bounce_window"],
            "conns": P["bounce_conns"], "workers": WORKERS,
            "variants": {n: o for n, o, _ in VARIANTS},
            "paced": {n: {"conns": PACED_CONNS, "pace_ms": PACE_MS}
                      for n, _, paced in VARIANTS if paced}}


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _ms(us):
    return "n/a" if us is None else "%.1f ms" % (us / 1000)


def _span(xs, f):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f(xs[0])
    return "%s (%s–%s)" % (f(_med(xs)), f(min(xs)), f(max(xs)))


def steady_p99(v):
    """The variant's steady p99: the mean of its two steady windows."""
    ws = [w for w in v["windows"] if w["action"] is None]
    return sum(w["p99_us"] for w in ws) / len(ws)


# the goal, one line per part: name, whether window w met it
GOAL = (
    ("errors", lambda w, steady: w["conn_errors"] == 0),
    ("non-2xx", lambda w, steady: w["non2xx"] == 0),
    ("lost", lambda w, steady: w["lost"] == 0),
    ("outage", lambda w, steady: w["stall_s"] <= STALL_S),
    ("p99", lambda w, steady: w["p99_us"] <= GOAL_RATIO * steady),
)


def missed(w, steady):
    """The parts of the goal window w missed."""
    return [name for name, ok in GOAL if not ok(w, steady)]


def outcome(w):
    """What the action did, in a few words."""
    rep = w.get("reply")
    parts = []
    if rep is None and "reply_s" in w:
        parts.append("signal")
    elif rep:
        parts.append(rep["status"] if rep.get("status") != "error" else
                     "error: %s" % (rep.get("reason") or "")[:60])
    if "done_s" in w:
        parts.append("replaced in %.2f s" % w["done_s"])
    elif "reply_s" in w:
        parts.append("%d of %d workers at the end, %d old" %
                     (w["workers_end"], WORKERS, w["old_kept"]))
    return "; ".join(parts)


def paced_line(runs, name, how):
    """What the paced load is, against the saturated notify variant."""
    def steady_rate(v):
        ws = [w for w in v["windows"] if w["action"] is None]
        return statistics.mean(w["requests"] / (w["duration_us"] / 1e6)
                               for w in ws if w["duration_us"])
    mine = [steady_rate(r[name]) for r in runs
            if r.get(name) and r[name].get("available")]
    full = [steady_rate(r["notify"]) for r in runs
            if r.get("notify") and r["notify"].get("available")]
    line = ("%d connections, each waiting %d ms after an answer before its "
            "next request (wrk's `delay()`), instead of the closed loop "
            "above." % (how["conns"], how["pace_ms"]))
    if mine and full:
        line += (" Steady rate: %.0f requests/s, %.0f %% of the saturated "
                 "notify variant's %.0f/s in the same run: the load a "
                 "server is run at, where the machine has time to spare "
                 "and a bounce's own cost shows." % (
                     _med(mine), 100 * _med(mine) / _med(full), _med(full)))
    return line


def render(rep, d):
    """The report's section (rep: run.py's Report)."""
    runs = d["runs"]
    rep.w("## 9. Bounces of the sync server under load")
    rep.w()
    rep.w("%d sync workers (one circusd watcher, shared loopback socket); "
          "each window is one wrk run of %d s, %d connections, %d threads, "
          "on `GET %s` (it asks the database), `--timeout %ds`; the action is sent %.1f s into its window. Meanwhile `tests/e2e/sync_writer.py` writes records "
          "(Hawk-signed PUT/POST, its own keep-alive connection) and logs "
          "each acknowledged one; at the end every acknowledged record is "
          "read back (*lost* = acknowledged but not stored as written). "
          "Goal per action: 0 connection errors, 0 non-2xx (wrk counts "
          "HTTP ≥ 400), 0 lost writes, no outage (no time over %.0f s "
          "without an acknowledged write: wrk does not count a request "
          "still unanswered when its run ends, so an outage shows only as "
          "a drop in *requests* and as the *longest write stall*), p99 ≤ "
          "%.1f× the steady window's p99 of the same run (the mean of its two steady windows, the first "
          "and the last, after a 1 s warm-up run). Percentiles are wrk's, "
          "per window, corrected by wrk for coordinated omission: a request "
          "that held its connection for many times the window's mean "
          "interval per connection counts as many samples, as if the "
          "requests not sent meanwhile had waited too (see the bounce "
          "note); *max* and the *longest write stall* (the longest time "
          "without an acknowledged write; the writer writes back to back, "
          "about one write per 10 ms here) show a stall itself."
          % (d["workers"], d["window"], d["conns"], WRK_THREADS, PATH,
             WRK_TIMEOUT_S, 0.5, STALL_S, GOAL_RATIO))
    rep.w()
    rep.w("Figures: medians over %d repetition(s) with min–max; errors, "
          "acknowledged and lost writes are totals over them; an action "
          "meets the goal when every repetition does, and the goal column "
          "names the parts missed (see the notes)." % len(runs))
    rep.w()
    paced = d.get("paced", {})
    for name, options in d["variants"].items():
        title = "readiness = %s" % options.get("readiness", "none")
        if options:
            title += " (%s)" % ", ".join("%s = %s" % kv for kv in
                                        options.items() if kv[0] !=
                                        "readiness")
        if name in paced:
            title += ", paced load"
        got = [r.get(name) for r in runs if r.get(name)]
        rep.w("### %s" % title)
        rep.w()
        if name in paced and got:
            rep.w(paced_line(runs, name, paced[name]))
            rep.w()
        if not got:
            rep.w("Not measured (see the notes).")
            rep.w()
            rep.target("bounce, %s: every action without downtime" % title,
                       "n/a", None)
            continue
        if not any(g["available"] for g in got):
            rep.w("**Not available**: %s." % got[0]["why"])
            rep.w()
            rep.target("bounce, %s: every action without downtime" % title,
                       "not available", None)
            continue
        got = [g for g in got if g["available"]]
        n = len(got[0]["windows"])
        rows, good, total = [], 0, 0
        for i in range(n):
            ws = [g["windows"][i] for g in got]
            steady = [steady_p99(g) for g in got]
            ratios = [w["p99_us"] / s if s else None
                      for w, s in zip(ws, steady)]
            miss = sorted({m for w, s in zip(ws, steady)
                           for m in missed(w, s)},
                          key=[g[0] for g in GOAL].index)
            ok = not miss
            label = ws[0]["label"]
            act = ws[0]["action"] is not None
            if act:
                total += 1
                good += ok
            rows.append([label, outcome(ws[-1]) or "—",
                         _span([w["requests"] for w in ws], "%d".__mod__),
                         sum(w["conn_errors"] for w in ws),
                         sum(w["non2xx"] for w in ws),
                         _span([w["p50_us"] for w in ws], _ms),
                         _span([w["p99_us"] for w in ws], _ms),
                         _span(ratios, "%.2f×".__mod__),
                         _span([w["max_us"] for w in ws], _ms),
                         _span([w["stall_s"] * 1e6 for w in ws], _ms),
                         "%d (%d errors)" % (sum(w["acked"] for w in ws),
                                             sum(w["writer_errors"]
                                                 for w in ws)),
                         sum(w["lost"] for w in ws),
                         ("met" if ok else "**missed**: " +
                          ", ".join(miss)) if act else ""])
        rep.table(["window", "action's outcome (last rep)", "requests",
                   "conn errors", "non-2xx", "p50", "p99", "p99 / steady",
                   "max", "longest write stall", "writes acked (writer errors)", "lost", "goal"],
                  rows)
        lost = sum(g["lost"] for g in got)
        rep.w("All windows and the pauses between them: %d writes "
              "acknowledged, %d lost, %d writer attempts not acknowledged."
              % (sum(g["acked"] for g in got), lost,
                 sum(g["writer_errors"] for g in got)))
        rep.w()
        rep.target("bounce, %s: each action 0 errors, 0 lost, no outage, "
                   "p99 ≤ %.1f× steady" % (title, GOAL_RATIO),
                   "%d of %d actions" % (good, total),
                   good == total and lost == 0, "bounce")
