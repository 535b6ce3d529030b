# SPDX-License-Identifier: Apache-2.0
"""Worker output streams (doc/design.md §14):
rotation by size and by time without losing or duplicating a line,
WatchedFileStream, SIGUSR1 reopening, a slow or failing sink that never
stalls the worker (drops counted), output drained at stop/quit, unopenable
stream files, time_format, stderr_stream, several processes sharing one
file, and the daemon's own log file."""

import fcntl
import json
import os
import re
import signal
import struct
import termios
import time

import pytest

from conftest import log_lines_with, proc_stat, timed_call, wait_until

# --------------------------------------------------------------------------
# workers

# Writes argv[1] numbered lines "line NNNNNN abcdefgh\n" (21 bytes) in
# atomic batches (<= PIPE_BUF), as fast as it can, then sleeps.
WORKER_NUMBERED = r'''
import os, sys, time
n = int(sys.argv[1])
batch = []
size = 0
for i in range(n):
    line = b"line %06d abcdefgh\n" % i
    if size + len(line) > 4096:
        os.write(1, b"".join(batch))
        batch, size = [], 0
    batch.append(line)
    size += len(line)
os.write(1, b"".join(batch))
while True:
    time.sleep(3600)
'''

# Writes "<tag> <pid> <n>\n" every argv[2] seconds for argv[3] seconds
# (0 = forever) on the fds listed in argv[1] ("1", "2" or "12"), then
# "END <pid>\n" and sleeps.
WORKER_TICKER = r'''
import os, sys, time
fds = [int(c) for c in sys.argv[1]]
interval = float(sys.argv[2])
duration = float(sys.argv[3])
tags = {1: b"out", 2: b"err"}
pid = os.getpid()
t0 = time.monotonic()
n = 0
while duration == 0 or time.monotonic() - t0 < duration:
    for fd in fds:
        os.write(fd, b"%s %d %d\n" % (tags[fd], pid, n))
    n += 1
    time.sleep(interval)
for fd in fds:
    os.write(fd, b"END %d\n" % pid)
while True:
    time.sleep(3600)
'''

# Writes exactly argv[2] bytes of 64-byte lines to fd 1 as fast as it can,
# then records {"elapsed": s, "written": n} in argv[1]; on SIGUSR1 writes
# "AFTER\n"; sleeps.
WORKER_FLOOD = r'''
import json, os, signal, sys, time
out, total = sys.argv[1], int(sys.argv[2])
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
block = (b"x" * 63 + b"\n") * 1024
t0 = time.monotonic()
written = 0
while written < total:
    written += os.write(1, block[:min(len(block), total - written)])
elapsed = time.monotonic() - t0
with open(out + ".tmp", "w") as f:
    json.dump({"elapsed": elapsed, "written": written}, f)
os.rename(out + ".tmp", out)
while True:
    signal.sigwait([signal.SIGUSR1])
    os.write(1, b"AFTER\n")
'''

# On SIGTERM writes a burst larger than a pipe buffer to stdout and one
# line to stderr, then an unterminated last line to stdout, and exits.
WORKER_LAST_WORDS = r'''
import os, signal, sys, time
pid = os.getpid()
def term(*a):
    burst = b"".join(b"burst %d %06d\n" % (pid, i) for i in range(20000))
    view = memoryview(burst)
    while view:
        view = view[os.write(1, view):]
    os.write(2, b"goodbye from %d\n" % pid)
    os.write(1, b"LAST-LINE-%d" % pid)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
os.write(1, b"ready %d\n" % pid)
while True:
    time.sleep(3600)
'''

# Writes argv[1] lines of pseudo-random lengths (up to 30 kB, so most
# span several pipe reads), one os.write per line, then "DONE <pid>".
WORKER_LONG_LINES = r'''
import os, random, sys, time
n = int(sys.argv[1])
pid = os.getpid()
rnd = random.Random(pid)
for i in range(n):
    size = rnd.choice((10, 100, 3000, 5000, 17000, 30000))
    payload = bytes([97 + i % 26]) * size
    line = b"P%d S%d L%d %s E\n" % (pid, i, size, payload)
    view = memoryview(line)
    while view:
        view = view[os.write(1, view):]
os.write(1, b"DONE %d\n" % pid)
while True:
    time.sleep(3600)
'''

LINE_RE = re.compile(r"^line (\d{6}) abcdefgh$")


def read(path):
    try:
        return path.read_bytes().decode()
    except FileNotFoundError:
        return ""


def numbers_in(text):
    out = []
    for ln in text.splitlines():
        m = LINE_RE.match(ln)
        assert m, "unexpected line %r" % ln
        out.append(int(m.group(1)))
    return out


def ticks(text, tag, pid):
    """Sequence numbers of "<tag> <pid> <n>" lines, in file order."""
    out = []
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[0] == tag and parts[1] == str(pid):
            out.append(int(parts[2]))
    return out


def dropped(d, name):
    r = d.call("status", name=name)
    assert r.get("status") not in (None, "error"), r
    return r.get("dropped")


def fionread(fd):
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def drain(fd):
    chunks = []
    while True:
        try:
            b = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


# --------------------------------------------------------------------------
# rotation


def expected_size_rotation(lines, max_bytes, backup_count, initial=""):
    """Files as FileStream lays them out when it rotates between lines:
    a file never reaches max_bytes; {name suffix: content}, "" = current.
    initial: what the file held before circusd opened it."""
    files = [[initial]]
    size = len(initial)
    for ln in lines:
        if size + len(ln) >= max_bytes and size > 0:
            files.append([])
            size = 0
        files[-1].append(ln)
        size += len(ln)
    files.reverse()                      # newest first
    out = {"": "".join(files[0])}
    for i, f in enumerate(files[1:backup_count + 1], 1):
        out[".%d" % i] = "".join(f)
    return out


@pytest.mark.timeout(60)
def test_size_rotation_exact_files_no_line_lost_or_duplicated(circusd, wd):
    # a multiple of the line length: a file never *reaches* max_bytes
    n, max_bytes = 20000, 21 * 1560
    cmd = wd.script("numbered.py", WORKER_NUMBERED)
    # an existing file is appended to, its size counts
    initial = "old line\n" * 3600
    wd.write("pre.log", initial, dedent=False)
    d = circusd("""
    [watcher:pre]
    cmd = %(cmd)s %(n)d
    stdout_stream.class = FileStream
    stdout_stream.filename = %(dir)s/pre.log
    stdout_stream.max_bytes = %(max)d
    stdout_stream.backup_count = 20

    [watcher:keep]
    cmd = %(cmd)s %(n)d
    stdout_stream.class = FileStream
    stdout_stream.filename = %(dir)s/keep.log
    stdout_stream.max_bytes = %(max)d
    stdout_stream.backup_count = 20

    [watcher:few]
    cmd = %(cmd)s %(n)d
    stdout_stream.class = FileStream
    stdout_stream.filename = %(dir)s/few.log
    stdout_stream.max_bytes = %(max)d
    stdout_stream.backup_count = 3
    """ % {"cmd": cmd, "n": n, "dir": wd.path, "max": max_bytes})
    last = "line %06d abcdefgh\n" % (n - 1)
    for name in ("keep", "few", "pre"):
        wait_until(lambda: read(wd / ("%s.log" % name)).endswith(last), 30,
                   msg="%s: last line written" % name)
    lines = ["line %06d abcdefgh\n" % i for i in range(n)]

    # every number exactly once, in order, across keep.log.K .. keep.log
    want = expected_size_rotation(lines, max_bytes, 20)
    assert len(want) == 13, sorted(want)     # 12 rotations, nothing deleted
    got = {p.name[len("keep.log"):]: read(p) for p in wd.path.glob("keep.log*")}
    assert sorted(got) == sorted(want)
    order = sorted((k for k in got if k), key=lambda k: -int(k[1:])) + [""]
    nums = numbers_in("".join(got[k] for k in order))
    assert nums == list(range(n)), "lost or duplicated lines"
    for k in got:
        assert len(got[k].encode()) < max_bytes, (k, len(got[k]))
        assert got[k] == want[k], "keep.log%s differs from the expected file" % k

    # backup_count = 3: only the three newest backups remain, exactly
    want = expected_size_rotation(lines, max_bytes, 3)
    got = {p.name[len("few.log"):]: read(p) for p in wd.path.glob("few.log*")}
    assert sorted(got) == ["", ".1", ".2", ".3"], sorted(got)
    for k in got:
        assert got[k] == want[k], "few.log%s differs from the expected file" % k

    want = expected_size_rotation(lines, max_bytes, 20, initial)
    got = {p.name[len("pre.log"):]: read(p) for p in wd.path.glob("pre.log*")}
    assert sorted(got) == sorted(want)
    for k in got:
        assert got[k] == want[k], "pre.log%s differs from the expected file" % k
    assert dropped(d, "keep") is None and dropped(d, "few") is None


TS_PREFIX = re.compile(r"^(\d{14}) \[(\d+)\] \| (.*)$")


@pytest.mark.timeout(60)
def test_time_rotation_every_second_no_line_lost_or_duplicated(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    # an existing file rolls over first, named after its mtime
    old = wd.write("timed.log", "old content\n")
    old_mtime = time.mktime((2020, 1, 2, 3, 4, 5, 0, 0, -1))
    os.utime(old, (old_mtime, old_mtime))
    d = circusd("""
    [watcher:timed]
    cmd = %(cmd)s 1 0.005 3
    stdout_stream.class = TimedRotatingFileStream
    stdout_stream.filename = %(dir)s/timed.log
    stdout_stream.rotate_when = S
    stdout_stream.rotate_interval = 1
    stdout_stream.time_format = %%Y%%m%%d%%H%%M%%S

    [watcher:timed2]
    cmd = %(cmd)s 1 0.005 3
    stdout_stream.class = TimedRotatingFileStream
    stdout_stream.filename = %(dir)s/timed2.log
    stdout_stream.rotate_when = S
    stdout_stream.rotate_interval = 1
    stdout_stream.backup_count = 2
    """ % {"cmd": cmd, "dir": wd.path})
    [pid] = d.wait_pids("timed", 1)
    [pid2] = d.wait_pids("timed2", 1)
    wait_until(lambda: "] | END %d\n" % pid in read(wd / "timed.log"), 30,
               msg="timed: END written")
    wait_until(lambda: "END %d\n" % pid2 in read(wd / "timed2.log"), 30,
               msg="timed2: END written")

    files = {p.name: p for p in wd.path.glob("timed.log*")}
    backups = sorted(n for n in files if n != "timed.log")
    for name in backups:
        assert re.fullmatch(r"timed\.log\.\d{14}", name), backups
    assert backups[0] == "timed.log.20200102030405", backups
    assert read(files[backups.pop(0)]) == "old content\n"
    # ~3 s of output rolled over at least twice
    assert len(backups) >= 2, backups

    seq = []
    for name in backups + ["timed.log"]:
        text = read(files[name])
        stamps = []
        for ln in text.splitlines():
            m = TS_PREFIX.match(ln)
            assert m, (name, ln)
            assert int(m.group(2)) == pid, (name, ln)
            stamps.append(m.group(1))
            if m.group(3).startswith("out "):
                seq.extend(ticks(m.group(3), "out", pid))
            else:
                assert m.group(3) == "END %d" % pid, (name, ln)
        assert stamps == sorted(stamps), name
        if name != "timed.log" and stamps:
            # a backup is named after the second its lines were written in
            # (the last line may carry the next second: two clock reads)
            suffix = name.rsplit(".", 1)[1]
            nxt = time.strftime("%Y%m%d%H%M%S", time.localtime(
                time.mktime(time.strptime(suffix, "%Y%m%d%H%M%S")) + 1))
            assert set(stamps) <= {suffix, nxt}, (name, sorted(set(stamps)))
            assert suffix in stamps or len(set(stamps)) == 1, (name, stamps)
    assert seq == list(range(len(seq))) and len(seq) > 100, \
        "lost or duplicated lines: %r" % seq[:50]

    # backup_count = 2: the two newest backups, contiguous with the file
    files2 = sorted(p.name for p in wd.path.glob("timed2.log.*"))
    assert len(files2) == 2 and (wd / "timed2.log").exists(), files2
    seq2 = []
    for name in files2 + ["timed2.log"]:
        seq2.extend(ticks(read(wd / name), "out", pid2))
    assert seq2 and seq2 == list(range(seq2[0], seq2[0] + len(seq2))), seq2[:50]
    assert dropped(d, "timed") is None


@pytest.mark.timeout(60)
def test_time_rotation_suffix_utc_or_local_prefix_always_local(circusd, wd):
    """TZ = UTC+5:30 for circusd. time_format prefixes are local time; the
    rotation suffix is local, or UTC when `utc` is set to any non-empty
    value ([quirk] even False)."""
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:loc]
    cmd = %(cmd)s 1 0.01 2.5
    stdout_stream.class = TimedRotatingFileStream
    stdout_stream.filename = %(dir)s/loc.log
    stdout_stream.rotate_when = S
    stdout_stream.time_format = %%Y%%m%%d%%H%%M%%S

    [watcher:utc]
    cmd = %(cmd)s 1 0.01 2.5
    stdout_stream.class = TimedRotatingFileStream
    stdout_stream.filename = %(dir)s/utc.log
    stdout_stream.rotate_when = S
    stdout_stream.utc = False
    stdout_stream.time_format = %%Y%%m%%d%%H%%M%%S
    """ % {"cmd": cmd, "dir": wd.path}, env={"TZ": "XYZ-5:30"})
    t0 = time.time()
    for name in ("loc", "utc"):
        [pid] = d.wait_pids(name, 1)
        wait_until(lambda: "] | END %d\n" % pid in read(wd / ("%s.log" % name)), 30)
    t1 = time.time()
    local = lambda t: time.strftime("%Y%m%d%H%M%S", time.gmtime(t + 5.5 * 3600))
    for name, offset in (("loc", 0), ("utc", -5.5 * 3600)):
        backups = sorted(p.name for p in wd.path.glob("%s.log.*" % name))
        assert len(backups) >= 2, backups
        checked = 0
        for b in backups:
            stamps = [TS_PREFIX.match(ln).group(1)
                      for ln in read(wd / b).splitlines()]
            if not stamps:
                continue
            # prefix: local time of the write
            assert local(t0 - 2) <= stamps[0] <= local(t1 + 2), (b, stamps[0])
            # suffix: the second the lines were written in (the last ones
            # may carry the next second), in local time or in UTC
            sec = time.mktime(time.strptime(b.rsplit(".", 1)[1], "%Y%m%d%H%M%S"))
            want = {time.strftime("%Y%m%d%H%M%S", time.localtime(sec - offset + i))
                    for i in (0, 1)}
            assert set(stamps) <= want, (b, sorted(set(stamps)))
            checked += 1
        assert checked >= 1, backups


# --------------------------------------------------------------------------
# moving files away: WatchedFileStream by itself, the others on SIGUSR1


@pytest.mark.timeout(60)
def test_watched_file_stream_recreates_moved_and_deleted_file(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:w]
    cmd = %s 1 0.01 0
    stdout_stream.class = WatchedFileStream
    stdout_stream.filename = %s/w.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    log = wd / "w.log"
    wait_until(lambda: len(ticks(read(log), "out", pid)) >= 5, 20)

    os.rename(log, wd / "w.log.moved")
    wait_until(lambda: len(ticks(read(log), "out", pid)) >= 5, 20,
               msg="w.log recreated after the move")
    moved = ticks(read(wd / "w.log.moved"), "out", pid)
    first_new = ticks(read(log), "out", pid)[0]
    # the moved file stopped where the new one starts
    assert moved == list(range(first_new)), (moved[-5:], first_new)

    os.rename(log, wd / "w.log.moved2")
    os.unlink(wd / "w.log.moved2")
    wait_until(lambda: len(ticks(read(log), "out", pid)) >= 5, 20,
               msg="w.log recreated after deletion")
    r = d.call("stop", name="w", waiting=True, timeout=30)
    assert r["status"] == "ok", r
    final = ticks(read(log), "out", pid)
    assert final == list(range(final[0], final[0] + len(final))), final[:20]
    assert d.call("status", name="w")["status"] == "stopped"


@pytest.mark.timeout(60)
def test_sigusr1_reopens_stream_files(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:plain]
    cmd = %(cmd)s 12 0.01 0
    stdout_stream.class = FileStream
    stdout_stream.filename = %(dir)s/out.log
    stderr_stream.class = FileStream
    stderr_stream.filename = %(dir)s/err.log

    [watcher:sized]
    cmd = %(cmd)s 1 0.01 0
    stdout_stream.class = FileStream
    stdout_stream.filename = %(dir)s/sized.log
    stdout_stream.max_bytes = 100000000
    stdout_stream.backup_count = 2
    """ % {"cmd": cmd, "dir": wd.path})
    [pid] = d.wait_pids("plain", 1)
    [spid] = d.wait_pids("sized", 1)
    names = [("out.log", "out", pid), ("err.log", "err", pid),
             ("sized.log", "out", spid)]
    for name, tag, p in names:
        wait_until(lambda: len(ticks(read(wd / name), tag, p)) >= 3, 20,
                   msg="%s has output" % name)
        os.rename(wd / name, wd / (name + ".old"))
    # a plain FileStream keeps writing to the file it has open
    for name, tag, p in names:
        n0 = len(ticks(read(wd / (name + ".old")), tag, p))
        wait_until(lambda: len(ticks(read(wd / (name + ".old")), tag, p)) > n0 + 3,
                   20, msg="%s.old still written" % name)
        assert not (wd / name).exists()

    d.signal(signal.SIGUSR1)
    for name, tag, p in names:
        wait_until(lambda: len(ticks(read(wd / name), tag, p)) >= 3, 20,
                   msg="%s reopened after SIGUSR1" % name)
    assert d.alive()
    assert log_lines_with(d, "[INFO] Got signal SIG_USR1")
    # no line lost or duplicated across the reopen
    r = d.call("stop", waiting=True, timeout=30)
    assert r["status"] == "ok", r
    for name, tag, p in names:
        old = ticks(read(wd / (name + ".old")), tag, p)
        new = ticks(read(wd / name), tag, p)
        assert old + new == list(range(len(old) + len(new))), \
            (name, old[-3:], new[:3])
    assert d.call("status", name="plain")["status"] == "stopped"


# --------------------------------------------------------------------------
# a sink that cannot keep up never stalls the worker (doc/design.md §14)

FLOOD_BYTES = 100 * 1024 * 1024


@pytest.mark.timeout(90)
def test_failing_sink_dev_full_drops_never_stalls(circusd, wd):
    cmd = wd.script("flood.py", WORKER_FLOOD)
    d = circusd("""
    [watcher:flood]
    cmd = %s %s/flood.done %d
    stdout_stream.class = FileStream
    stdout_stream.filename = /dev/full
    """ % (cmd, wd.path, FLOOD_BYTES))
    [pid] = d.wait_pids("flood", 1)
    # the daemon answers while the flood goes on
    dt, r = timed_call(d.client, "status", name="flood")
    assert r["status"] == "active" and dt < 5, (dt, r)
    done = wait_until(lambda: (wd / "flood.done").exists(), 40,
                      msg="the worker wrote 100 MB")
    res = json.loads((wd / "flood.done").read_text())
    assert done and res["written"] == FLOOD_BYTES
    print("flood into /dev/full: %.2f s for 100 MB" % res["elapsed"])
    assert res["elapsed"] < 20, res

    # every byte was dropped, and counted
    wait_until(lambda: (dropped(d, "flood") or {}).get("stdout", {})
               .get("bytes") == FLOOD_BYTES, 20,
               msg="all 100 MB counted as dropped")
    assert dropped(d, "flood") == {"stdout": {"bytes": FLOOD_BYTES,
                                              "lines": FLOOD_BYTES // 64}}
    warn = log_lines_with(d, "[WARNING]", "watcher 'flood'", "/dev/full")
    assert warn and "No space left on device" in warn[0], warn
    assert len(warn) <= 3, "drop warnings are not rate-limited: %d" % len(warn)
    assert d.pids("flood") == [pid]
    print("status dropped: %r" % dropped(d, "flood"))


@pytest.mark.timeout(90)
def test_slow_sink_unread_fifo_drops_with_marker_never_stalls(circusd, wd):
    fifo = wd / "sink.fifo"
    os.mkfifo(fifo)
    # a reader that never reads (until the end): the FIFO fills up
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        cmd = wd.script("flood.py", WORKER_FLOOD)
        d = circusd("""
        [watcher:flood]
        cmd = %s %s/flood.done %d
        stdout_stream.class = FileStream
        stdout_stream.filename = %s
        """ % (cmd, wd.path, FLOOD_BYTES, fifo))
        [pid] = d.wait_pids("flood", 1)
        wait_until(lambda: (wd / "flood.done").exists(), 40,
                   msg="the worker wrote 100 MB")
        res = json.loads((wd / "flood.done").read_text())
        assert res["written"] == FLOOD_BYTES
        print("flood into a full FIFO: %.2f s for 100 MB" % res["elapsed"])
        assert res["elapsed"] < 20, res

        # all of it is either in the FIFO or counted as dropped
        def accounted():
            dr = (dropped(d, "flood") or {}).get("stdout")
            return dr if dr and dr["bytes"] + fionread(rfd) == FLOOD_BYTES else None
        dr = wait_until(accounted, 20, msg="FIFO + dropped == 100 MB")
        head = drain(rfd)
        assert head and head == (b"x" * 63 + b"\n") * (len(head) // 64) + \
            b"x" * (len(head) % 64), "FIFO holds a clean prefix"
        assert dr["bytes"] == FLOOD_BYTES - len(head)
        assert dr["lines"] == FLOOD_BYTES // 64 - head.count(b"\n")

        # the next write, once there is room, is preceded by the marker
        os.kill(pid, signal.SIGUSR1)
        tail = b""

        def got_after():
            nonlocal tail
            tail += drain(rfd)
            return tail.endswith(b"AFTER\n")
        wait_until(got_after, 20, msg="AFTER reaches the FIFO")
        marker = b"[circus] dropped %d bytes (%d lines)\n" % (dr["bytes"], dr["lines"])
        lead = b"" if head.endswith(b"\n") else b"\n"
        assert tail == lead + marker + b"AFTER\n", tail
        assert log_lines_with(d, "[WARNING]", "watcher 'flood'", str(fifo))
        assert log_lines_with(d, "watcher 'flood'", "writable again",
                              "%d bytes were dropped" % dr["bytes"])
        print("status dropped: %r, FIFO head %d bytes" % (dr, len(head)))

        # the reader goes away: EPIPE is a drop, never a SIGPIPE death
        os.close(rfd)
        rfd = None
        os.kill(pid, signal.SIGUSR1)
        wait_until(lambda: dropped(d, "flood")["stdout"]["bytes"] == dr["bytes"] + 6,
                   20, msg="AFTER dropped once the reader is gone")
        assert d.alive() and d.pids("flood") == [pid]
        # SIGUSR1 cannot reopen a FIFO without a reader: a clear error
        d.signal(signal.SIGUSR1)
        err = wait_until(lambda: log_lines_with(d, "[ERROR]", "watcher 'flood'",
                                                str(fifo)), 20)
        assert "No such device or address" in err[0], err
        assert d.alive()
    finally:
        if rfd is not None:
            os.close(rfd)


# --------------------------------------------------------------------------
# output is drained at stop and quit (doc/design.md §14)


def check_last_words(wd, pid):
    out = read(wd / "lw.out")
    burst = ticks(out.replace("burst ", "b "), "b", pid)
    assert burst == list(range(20000)), "burst lines lost or duplicated"
    assert out.endswith("burst %d 019999\nLAST-LINE-%d" % (pid, pid)), out[-80:]
    assert read(wd / "lw.err").endswith("goodbye from %d\n" % pid)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["stop", "quit"])
def test_last_line_written_before_exit_is_in_the_file(circusd, wd, how):
    cmd = wd.script("lastwords.py", WORKER_LAST_WORDS)
    d = circusd("""
    [watcher:lw]
    cmd = %s
    stdout_stream.filename = %s/lw.out
    stderr_stream.class = WatchedFileStream
    stderr_stream.filename = %s/lw.err
    graceful_timeout = 30
    """ % (cmd, wd.path, wd.path))
    [pid] = d.wait_pids("lw", 1)
    wait_until(lambda: "ready %d\n" % pid in read(wd / "lw.out"), 20)
    if how == "stop":
        m = d.events.mark()
        r = d.call("stop", name="lw", waiting=True, timeout=60)
        assert r["status"] == "ok", r
        # no polling: the reply means the output is already on disk
        check_last_words(wd, pid)
        d.events.wait_event("lw", "stop", m, timeout=10)
    else:
        assert d.quit() == 0
        check_last_words(wd, pid)


def test_output_still_in_the_pipe_when_a_process_exits_is_kept(circusd, wd):
    """The processes have exited and their last output is still in their
    pipes when circusd learns of the exits (circusd is SIGSTOPped
    meanwhile): the output is drained, nothing is lost (a crash's last
    words)."""
    cmd = wd.script("crash.py", r"""
    import os, signal, sys, time
    pid = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    os.write(1, b"ready %d\n" % pid)
    signal.sigwait([signal.SIGUSR1])
    os.write(1, b"".join(b"dying %d %05d\n" % (pid, i) for i in range(2000)))
    os.write(2, b"Traceback: something bad in %d\n" % pid)
    os.write(1, b"LAST-%d" % pid)
    os._exit(3)
    """)
    d = circusd("""
    [watcher:c]
    cmd = %s
    numprocesses = 4
    stdout_stream.filename = %s/c.out
    stderr_stream.filename = %s/c.err
    """ % (cmd, wd.path, wd.path))
    pids = d.wait_pids("c", 4)
    wait_until(lambda: all("ready %d\n" % p in read(wd / "c.out") for p in pids), 20)
    m = d.events.mark()
    d.signal(signal.SIGSTOP)
    try:
        for p in pids:
            os.kill(p, signal.SIGUSR1)
        # the workers exit while circusd cannot read: zombies
        wait_until(lambda: all((proc_stat(p) or ("?",))[0] == "Z" for p in pids),
                   20, msg="workers exited")
    finally:
        d.signal(signal.SIGCONT)
    for p in pids:
        d.events.wait_event("c", "reap", m, pid=p, timeout=20)
    out = read(wd / "c.out").replace("dying ", "d ")
    err = read(wd / "c.err").splitlines()
    for p in pids:
        assert ticks(out, "d", p) == list(range(2000)), "output of %d lost" % p
        assert "LAST-%d" % p in out
        assert "Traceback: something bad in %d" % p in err


# --------------------------------------------------------------------------
# unopenable stream files


def test_unopenable_stream_file_clear_error_others_keep_working(circusd, wd):
    (wd / "adir").mkdir()
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:isdir]
    cmd = /bin/sleep 3600
    stdout_stream.filename = %(dir)s/adir

    [watcher:nodir]
    cmd = /bin/sleep 3600
    stderr_stream.class = WatchedFileStream
    stderr_stream.filename = %(dir)s/missing/x.log

    [watcher:good]
    cmd = %(cmd)s 1 0.05 0
    stdout_stream.filename = %(dir)s/good.log
    """ % {"dir": wd.path, "cmd": cmd})
    [pid] = d.wait_pids("good", 1)
    wait_until(lambda: ticks(read(wd / "good.log"), "out", pid), 20)
    e1 = log_lines_with(d, "[ERROR]", "watcher 'isdir'", str(wd / "adir"))
    assert e1 and "Is a directory" in e1[0], d.log_text()
    e2 = log_lines_with(d, "[ERROR]", "watcher 'nodir'", str(wd / "missing/x.log"))
    assert e2 and "No such file or directory" in e2[0], d.log_text()
    st = d.call("status")
    assert st["statuses"] == {"isdir": "stopped", "nodir": "stopped",
                              "good": "active"}, st
    assert d.pids("isdir") == [] and d.pids("nodir") == []

    # a start retries (and logs again); the rest keeps working
    d.call("start", name="isdir", waiting=True, timeout=30)
    wait_until(lambda: len(log_lines_with(d, "[ERROR]", "watcher 'isdir'")) >= 2, 10)
    assert d.status("isdir") == "stopped"
    d.call("add", name="late", cmd="/bin/sleep 3600", start=True,
           options={"stdout_stream": {"class": "FileStream",
                                      "filename": str(wd / "nope/late.log")}})
    wait_until(lambda: log_lines_with(d, "[ERROR]", "watcher 'late'",
                                      str(wd / "nope/late.log")), 10)
    assert d.status("late") == "stopped"
    assert d.call("incr", name="good", waiting=True, timeout=30)["numprocesses"] == 2
    d.wait_pids("good", 2)
    n0 = len(ticks(read(wd / "good.log"), "out", pid))
    wait_until(lambda: len(ticks(read(wd / "good.log"), "out", pid)) > n0, 10)
    assert d.alive()


def test_stream_file_becoming_unwritable_is_logged_and_counted(circusd, wd):
    """A WatchedFileStream whose directory disappears cannot reopen: the
    output is dropped (counted, logged once with the watcher and the file)
    and comes back, after the marker, once the path works again."""
    (wd / "sub").mkdir()
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:w]
    cmd = %s 1 0.02 0
    stdout_stream.class = WatchedFileStream
    stdout_stream.filename = %s/sub/w.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    log = wd / "sub/w.log"
    wait_until(lambda: ticks(read(log), "out", pid), 20)
    os.rename(wd / "sub", wd / "sub.gone")
    wait_until(lambda: (dropped(d, "w") or {}).get("stdout", {})
               .get("lines", 0) >= 3, 20, msg="drops counted")
    warn = wait_until(lambda: log_lines_with(d, "watcher 'w'", str(log)), 10)
    assert "No such file or directory" in warn[0], warn
    (wd / "sub").mkdir()
    wait_until(lambda: "[circus] dropped " in read(log), 20,
               msg="marker in the recreated file")
    wait_until(lambda: len(ticks(read(log), "out", pid)) >= 3, 20)
    text = read(log)
    m = re.match(r"\[circus\] dropped (\d+) bytes \((\d+) lines\)\n", text)
    assert m, text[:200]
    old = ticks(read(wd / "sub.gone/w.log"), "out", pid)
    new = ticks(text, "out", pid)
    # what was dropped is exactly the gap between the two files
    assert int(m.group(2)) == new[0] - old[-1] - 1, (m.group(0), old[-1], new[0])
    total = dropped(d, "w")["stdout"]
    assert total["lines"] == int(m.group(2)) and total["bytes"] == int(m.group(1))
    assert d.alive()


# --------------------------------------------------------------------------
# formatting and routing


def test_time_format_prefix(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    t0 = time.time()
    d = circusd("""
    [watcher:tf]
    cmd = %s 12 0.05 0
    stdout_stream.filename = %s/tf.out
    stdout_stream.time_format = %%Y-%%m-%%d %%H:%%M:%%S.%%f
    stderr_stream.class = WatchedFileStream
    stderr_stream.filename = %s/tf.err
    stderr_stream.time_format = [%%H:%%M]
    """ % (cmd, wd.path, wd.path))
    [pid] = d.wait_pids("tf", 1)
    wait_until(lambda: len(read(wd / "tf.out").splitlines()) >= 3, 20)
    wait_until(lambda: len(read(wd / "tf.err").splitlines()) >= 3, 20)
    t1 = time.time()
    rx = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{6}) \[(\d+)\] \| out (\d+) (\d+)$")
    for ln in read(wd / "tf.out").splitlines()[:3]:
        m = rx.match(ln)
        assert m, ln
        t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + \
            int(m.group(2)) / 1e6
        assert t0 - 1 <= t <= t1 + 1, (ln, t0, t1)    # local time
        assert int(m.group(3)) == pid and int(m.group(4)) == pid
    rx = re.compile(r"^\[(\d\d):(\d\d)\] \[(\d+)\] \| err (\d+) (\d+)$")
    for ln in read(wd / "tf.err").splitlines()[:3]:
        m = rx.match(ln)
        assert m and int(m.group(3)) == pid, ln


def test_time_format_chunk_without_line_end_gets_one(circusd, wd):
    """[quirk] with time_format, a chunk that ends mid-line (here: handed
    over after the partial-line delay) gets a newline, and the rest of the
    line its own prefix."""
    cmd = wd.script("prompt.py", r"""
    import os, signal, time
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    os.write(1, b"one\ntwo\nwaiting: ")
    signal.sigwait([signal.SIGUSR1])
    os.write(1, b"answer\n")
    while True:
        time.sleep(3600)
    """)
    d = circusd("""
    [watcher:p]
    cmd = %s
    stdout_stream.filename = %s/p.log
    stdout_stream.time_format = T
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("p", 1)
    wait_until(lambda: "waiting" in read(wd / "p.log"), 20)
    os.kill(pid, signal.SIGUSR1)
    wait_until(lambda: "answer" in read(wd / "p.log"), 20)
    pre = "T [%d] | " % pid
    assert read(wd / "p.log") == "%sone\n%stwo\n%swaiting: \n%sanswer\n" % (
        pre, pre, pre, pre)


def test_stdout_and_fancy_stdout_streams_go_to_circusd_stdout(circusd, wd):
    d = circusd("""
    [watcher:plain]
    cmd = /bin/sh -c "echo plain-$$; exec /bin/sleep 3600"
    stdout_stream.class = StdoutStream

    [watcher:fancy]
    cmd = /bin/sh -c "echo fancy-a-$$; echo; echo fancy-b-$$; exec /bin/sleep 3600"
    stdout_stream.class = circus.stream.FancyStdoutStream
    stdout_stream.color = green
    """)
    [ppid] = d.wait_pids("plain", 1)
    [fpid] = d.wait_pids("fancy", 1)
    wait_until(lambda: "fancy-b-%d" % fpid in d.log_text(), 20)
    wait_until(lambda: "plain-%d" % ppid in d.log_text(), 20)
    lines = d.log_text().splitlines()
    assert "plain-%d" % ppid in lines
    fancy = [ln for ln in lines if "fancy-" in ln]
    rx = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[%d\] \| fancy-%s-%d$"
    assert len(fancy) == 2, fancy      # the empty line is skipped
    # circusd's stdout is not a terminal: no colour codes
    assert re.match(rx % (fpid, "a", fpid), fancy[0]), fancy
    assert re.match(rx % (fpid, "b", fpid), fancy[1]), fancy


def test_file_stream_without_filename_uses_a_temporary_file(circusd, wd):
    (wd / "tmp").mkdir()
    d = circusd("""
    [watcher:t]
    cmd = /bin/sh -c "echo to-a-temp-file-$$; exec /bin/sleep 3600"
    stdout_stream.class = FileStream
    """, env={"TMPDIR": str(wd / "tmp")})
    [pid] = d.wait_pids("t", 1)
    f = wait_until(lambda: [p for p in (wd / "tmp").iterdir()
                            if read(p) == "to-a-temp-file-%d\n" % pid], 20)
    assert len(list((wd / "tmp").iterdir())) == 1 and f[0].name.startswith("tmp")


def test_stderr_stream_alone_and_both(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:both]
    cmd = %(cmd)s 12 0.05 0
    stdout_stream.filename = %(dir)s/both.out
    stderr_stream.filename = %(dir)s/both.err

    [watcher:erronly]
    cmd = /bin/sh -c "echo on-stdout-$$; echo on-stderr-$$ >&2; exec /bin/sleep 3600"
    stderr_stream.filename = %(dir)s/erronly.err
    """ % {"cmd": cmd, "dir": wd.path})
    [pid] = d.wait_pids("both", 1)
    [epid] = d.wait_pids("erronly", 1)
    wait_until(lambda: len(ticks(read(wd / "both.out"), "out", pid)) >= 3, 20)
    wait_until(lambda: len(ticks(read(wd / "both.err"), "err", pid)) >= 3, 20)
    assert "err " not in read(wd / "both.out")
    assert "out " not in read(wd / "both.err")
    wait_until(lambda: read(wd / "erronly.err") == "on-stderr-%d\n" % epid, 20)
    # without a stdout stream the child writes to circusd's own stdout
    wait_until(lambda: "on-stdout-%d" % epid in d.log_text(), 20)
    assert "on-stderr-%d" % epid not in d.log_text()


@pytest.mark.timeout(90)
def test_several_processes_one_file_never_interleave_inside_a_line(circusd, wd):
    n, nproc = 150, 4
    cmd = wd.script("long.py", WORKER_LONG_LINES)
    d = circusd("""
    [watcher:many]
    cmd = %s %d
    numprocesses = %d
    stdout_stream.filename = %s/many.log
    """ % (cmd, n, nproc, wd.path))
    pids = d.wait_pids("many", nproc)
    wait_until(lambda: all(("DONE %d\n" % p) in read(wd / "many.log")
                           for p in pids), 60, msg="all processes done")
    seqs = {p: [] for p in pids}
    rx = re.compile(rb"^P(\d+) S(\d+) L(\d+) ([a-z]*) E$")
    data = (wd / "many.log").read_bytes()
    assert data.endswith(b"\n")
    for ln in data.split(b"\n")[:-1]:
        if ln.startswith(b"DONE "):
            assert int(ln[5:]) in seqs, ln
            continue
        m = rx.match(ln)
        assert m, "mangled line: %r..." % ln[:120]
        pid, seq, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert m.group(4) == bytes([97 + seq % 26]) * size, \
            "interleaved line P%d S%d" % (pid, seq)
        seqs[pid].append(seq)
    for p in pids:
        assert seqs[p] == list(range(n)), (p, seqs[p][:10])
    assert dropped(d, "many") is None


def test_partial_line_of_one_process_is_ended_before_another_writes(circusd, wd):
    cmd = wd.script("two.py", r"""
    import os, signal, sys, time
    wid = sys.argv[1]
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    if wid == "1":
        os.write(1, b"partial-from-1")
        signal.sigwait([signal.SIGUSR1])
        os.write(1, b" rest-from-1\n")
    else:
        signal.sigwait([signal.SIGUSR1])
        os.write(1, b"line-from-2\n")
    while True:
        time.sleep(3600)
    """)
    d = circusd("""
    [watcher:two]
    cmd = %s $(circus.wid) %s/pid.$(circus.wid)
    numprocesses = 2
    stdout_stream.filename = %s/two.log
    """ % (cmd, wd.path, wd.path))
    d.wait_pids("two", 2)
    p1, p2 = [int(wait_until(lambda: read(wd / ("pid.%d" % i)), 20)) for i in (1, 2)]
    log = wd / "two.log"
    wait_until(lambda: read(log) == "partial-from-1", 20)
    os.kill(p2, signal.SIGUSR1)
    wait_until(lambda: "line-from-2" in read(log), 20)
    assert read(log) == "partial-from-1\nline-from-2\n"
    os.kill(p1, signal.SIGUSR1)
    wait_until(lambda: "rest-from-1" in read(log), 20)
    assert read(log) == "partial-from-1\nline-from-2\n rest-from-1\n"


def test_set_stream_filename_restarts_with_new_sink(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:w]
    cmd = %s 1 0.02 0
    stdout_stream.filename = %s/one.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    wait_until(lambda: ticks(read(wd / "one.log"), "out", pid), 20)
    r = d.call("set", name="w", options={"stdout_stream.filename": str(wd / "two.log")},
               waiting=True, timeout=60)
    assert r["status"] == "ok", r
    [pid2] = wait_until(lambda: [p for p in d.pids("w") if p != pid], 20)
    wait_until(lambda: len(ticks(read(wd / "two.log"), "out", pid2)) >= 3, 20)
    assert ticks(read(wd / "two.log"), "out", pid) == []
    assert ticks(read(wd / "one.log"), "out", pid2) == []
    assert d.call("options", name="w")["options"]["stdout_stream_conf"]["filename"] \
        == str(wd / "two.log")


def test_sigusr1_reopen_failure_keeps_old_file_and_logs(circusd, wd):
    (wd / "logs").mkdir()
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:w]
    cmd = %s 1 0.02 0
    stdout_stream.filename = %s/logs/w.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    wait_until(lambda: ticks(read(wd / "logs/w.log"), "out", pid), 20)
    os.rename(wd / "logs", wd / "logs.away")
    d.signal(signal.SIGUSR1)
    err = wait_until(lambda: log_lines_with(d, "[ERROR]", "watcher 'w'",
                                            str(wd / "logs/w.log")), 20)
    assert "No such file or directory" in err[0], err
    # the file already open keeps receiving the output
    n0 = len(ticks(read(wd / "logs.away/w.log"), "out", pid))
    wait_until(lambda: len(ticks(read(wd / "logs.away/w.log"), "out", pid)) > n0 + 3, 20)
    assert d.alive() and dropped(d, "w") is None
    seq = ticks(read(wd / "logs.away/w.log"), "out", pid)
    assert seq == list(range(len(seq)))


def test_stop_closes_stream_file_start_reopens_it(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    d = circusd("""
    [watcher:w]
    cmd = %s 1 0.02 0
    stdout_stream.filename = %s/w.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    wait_until(lambda: ticks(read(wd / "w.log"), "out", pid), 20)
    assert d.call("stop", name="w", waiting=True, timeout=30)["status"] == "ok"
    # circusd no longer holds the file
    mine = [os.readlink("/proc/%d/fd/%s" % (d.pid, fd))
            for fd in os.listdir("/proc/%d/fd" % d.pid)]
    assert str(wd / "w.log") not in mine, mine
    os.rename(wd / "w.log", wd / "w.log.old")
    assert d.call("start", name="w", waiting=True, timeout=30)["status"] == "ok"
    [pid2] = d.wait_pids("w", 1)
    wait_until(lambda: len(ticks(read(wd / "w.log"), "out", pid2)) >= 3, 20)
    assert ticks(read(wd / "w.log.old"), "out", pid2) == []


def test_partial_line_is_written_without_waiting_for_its_end(circusd, wd):
    cmd = wd.script("prompt.py", r"""
    import os, signal, time
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    os.write(1, b"first line\nwaiting for input: ")
    signal.sigwait([signal.SIGUSR1])
    os.write(1, b"answer\n")
    while True:
        time.sleep(3600)
    """)
    d = circusd("""
    [watcher:p]
    cmd = %s
    stdout_stream.filename = %s/p.log
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("p", 1)
    # a line end that never comes does not hold the output back for long
    t0 = time.monotonic()
    wait_until(lambda: read(wd / "p.log") == "first line\nwaiting for input: ", 20)
    print("partial line visible after %.2f s" % (time.monotonic() - t0))
    os.kill(pid, signal.SIGUSR1)
    wait_until(lambda: read(wd / "p.log").endswith("answer\n"), 20)
    assert read(wd / "p.log") == "first line\nwaiting for input: answer\n"


def test_utf8_long_lines_and_invalid_bytes(circusd, wd):
    cmd = wd.script("utf8.py", r"""
    import os, time
    def put(b):
        v = memoryview(b)
        while v:
            v = v[os.write(1, v):]
    put(("\u20ac" * 50000 + "\n").encode())            # 150 kB, 3-byte chars
    put(("\u00e9" * 40001 + "|\U0001f600" * 30000 + "\n").encode())
    put(b"bad \xff\xfe and cut \xe2\x82 end\n")
    put(b"DONE\n")
    while True:
        time.sleep(3600)
    """)
    circusd("""
    [watcher:u]
    cmd = %s
    stdout_stream.filename = %s/u.log
    """ % (cmd, wd.path))
    wait_until(lambda: (wd / "u.log").exists() and
               (wd / "u.log").read_bytes().endswith(b"DONE\n"), 20)
    lines = (wd / "u.log").read_bytes().decode("utf-8").split("\n")
    assert lines[0] == "\u20ac" * 50000, "long line damaged"
    assert lines[1] == "\u00e9" * 40001 + "|\U0001f600" * 30000, "long line damaged"
    assert lines[2] == b"bad \xff\xfe and cut \xe2\x82 end".decode("utf-8", "replace")
    assert lines[3:] == ["DONE", ""]


@pytest.mark.timeout(120)
def test_sink_changes_while_workers_write_flat_out(circusd, wd):
    """set/restart/SIGUSR1/rm while two processes write as fast as they
    can (with partial lines pending): no crash (run under ASan), output
    goes where it should."""
    cmd = wd.script("spew.py", r"""
    import os
    pid = os.getpid()
    n = 0
    while True:
        os.write(1, b"spew %d %d " % (pid, n))       # the line ends later
        os.write(1, b"x" * (n % 7000) + b"\n")
        n += 1
    """)
    d = circusd("""
    [watcher:s]
    cmd = %s
    numprocesses = 2
    stdout_stream.filename = %s/s1.log
    stderr_stream.filename = %s/s1.err
    graceful_timeout = 5
    """ % (cmd, wd.path, wd.path))
    pids = d.wait_pids("s", 2)
    wait_until(lambda: (wd / "s1.log").stat().st_size > 100000, 20)
    for i, name in enumerate(["s2.log", "s3.log"]):
        r = d.call("set", name="s", options={"stdout_stream.filename": str(wd / name)},
                   waiting=True, timeout=60)
        assert r["status"] == "ok", r
        new = wait_until(lambda: [p for p in d.pids("s") if p not in pids]
                         if len(d.pids("s")) == 2 and
                         not set(d.pids("s")) & set(pids) else None, 30)
        pids = new
        wait_until(lambda: (wd / name).exists() and
                   (wd / name).stat().st_size > 100000, 20)
        d.signal(signal.SIGUSR1)
    assert d.call("restart", name="s", waiting=True, timeout=60)["status"] == "ok"
    wait_until(lambda: len(d.pids("s")) == 2 and not set(d.pids("s")) & set(pids), 30)
    assert d.call("rm", name="s", waiting=True, timeout=60)["status"] == "ok"
    assert d.alive()
    assert "s" not in d.call("list")["watchers"]
    # whole lines, in order, per process; only a process's last line may
    # be cut short (it was killed in the middle of it)
    rx = re.compile(r"^spew (\d+) (\d+) (x*)$")
    for name in ["s1.log", "s2.log", "s3.log"]:
        last = {}
        for ln in read(wd / name).splitlines():
            m = rx.match(ln)
            assert m, (name, ln[:100])
            pid, n = int(m.group(1)), int(m.group(2))
            assert n == 0 if pid not in last else last[pid] == (n - 1, True), \
                (name, ln[:100])
            last[pid] = (n, len(m.group(3)) == n % 7000)


def test_reloadconfig_with_a_new_stream_file_replaces_the_sink(circusd, wd):
    cmd = wd.script("ticker.py", WORKER_TICKER)
    body = """
    [watcher:w]
    cmd = %s 1 0.02 0
    stdout_stream.filename = %s/%s
    """
    d = circusd(body % (cmd, wd.path, "a.log"))
    [pid] = d.wait_pids("w", 1)
    wait_until(lambda: ticks(read(wd / "a.log"), "out", pid), 20)
    d.write_ini(body % (cmd, wd.path, "b.log"))
    assert d.call("reloadconfig", waiting=True, timeout=60)["status"] == "ok"
    [pid2] = wait_until(lambda: [p for p in d.pids("w") if p != pid], 20)
    wait_until(lambda: len(ticks(read(wd / "b.log"), "out", pid2)) >= 3, 20)
    assert ticks(read(wd / "a.log"), "out", pid2) == []
    assert ticks(read(wd / "b.log"), "out", pid) == []


# --------------------------------------------------------------------------
# the daemon's own log

LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d circus\[(\d+)\] "
                    r"\[(CRITICAL|ERROR|WARNING|INFO|DEBUG)\] \S.*$")


def test_logoutput_file_format_and_reopen(circusd, wd):
    logf = wd / "circus.log"
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"logoutput": str(logf), "loglevel": "debug"})
    wait_until(lambda: "w started" in read(logf), 20)
    text = read(logf)
    for ln in text.splitlines():
        m = LOG_RE.match(ln)
        assert m and int(m.group(1)) == d.pid, ln
    assert "[INFO] Starting master on pid %d" % d.pid in text
    assert "[INFO] Arbiter now waiting for commands" in text
    assert "[DEBUG] " in text
    assert "Starting master" not in d.log_text()     # not on stderr

    # SIGUSR1: a new file at the path gets the following lines
    os.rename(logf, wd / "circus.log.1")
    d.signal(signal.SIGUSR1)
    wait_until(lambda: "[INFO] Got signal SIG_USR1" in read(logf), 20)
    assert "SIG_USR1" not in read(wd / "circus.log.1")
    assert d.alive()

    # moved without a signal: reopened at the next line logged
    os.rename(logf, wd / "circus.log.2")
    assert d.call("stop", name="w", waiting=True, timeout=30)["status"] == "ok"
    wait_until(lambda: "[INFO] w stopped" in read(logf), 20)
    assert "w stopped" not in read(wd / "circus.log.2")
    for ln in read(logf).splitlines():
        assert LOG_RE.match(ln), ln
