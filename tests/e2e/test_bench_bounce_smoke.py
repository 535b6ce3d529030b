# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the `bounce` benchmark scenario (bench/bounce.py): one
restart of a 4-worker sync cluster under the writer (and wrk, when it is
installed), 1 s windows. What it checks is real, not timed: the workers were
replaced, writes were acknowledged in every window, none of them was lost,
and the report renders the window's row."""

import importlib.util
import shutil

import pytest

from conftest import BUILD, REPO


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_one_restart_loses_no_acknowledged_write(tmp_path):
    bounce = load("bench_bounce", REPO / "bench" / "bounce.py")
    conns = 4 if shutil.which("wrk") else 0
    restart = [a for a in bounce.ACTIONS if a[0] == "restart"][0]
    r = bounce.run_variant(str(BUILD), str(tmp_path), "none", {}, window=1,
                           conns=conns, offset=0.2, actions=(restart,))
    assert r["available"]
    labels = [w["label"] for w in r["windows"]]
    assert labels == ["steady", "restart", "steady (after)"]
    w = r["windows"][1]
    assert w["reply"]["status"] == "ok", w
    assert "done_s" in w, "the 4 workers were not replaced: %r" % w
    assert w["old_kept"] == 0 and w["workers_end"] == bounce.WORKERS
    assert all(x["acked"] > 0 for x in r["windows"]), r["windows"]
    assert r["acked"] >= sum(x["acked"] for x in r["windows"])
    assert r["lost"] == 0, r
    if conns:
        assert all(x["requests"] > 0 for x in r["windows"]), r["windows"]

    # the report: one row per window under the variant's heading
    run = load("bench_run", REPO / "bench" / "run.py")
    rep = run.Report({"scenarios": {}})
    bounce.render(rep, {"runs": [{"none": r}], "window": 1, "conns": conns,
                        "workers": bounce.WORKERS,
                        "variants": {"none": {}}})
    rows = [l for l in rep.lines if l.startswith("| restart |")]
    assert len(rows) == 1 and "replaced in" in rows[0], rep.lines
    assert rep.targets and rep.targets[0][1] == "%s of 1 actions" % (
        1 if rep.targets[0][2] == "met" else 0)


def test_paced_variant_paces_wrk(tmp_path):
    """The paced variant (bounce.VARIANTS' third): wrk's connections each
    wait PACE_MS after an answer, so the rate cannot pass conns / PACE_MS;
    the report says what the pacing was."""
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed (make bench-deps)")
    bounce = load("bench_bounce", REPO / "bench" / "bounce.py")
    name, options, paced = [v for v in bounce.VARIANTS if v[2]][0]
    conns = 4
    restart = [a for a in bounce.ACTIONS if a[0] == "restart"][0]
    r = bounce.run_variant(str(BUILD), str(tmp_path), name, options,
                           window=1, conns=conns, offset=0.2,
                           actions=(restart,), paced=True)
    assert r["available"], r
    assert r["lost"] == 0, r
    for w in r["windows"]:
        assert w["requests"] > 0, w
        rate = w["requests"] / (w["duration_us"] / 1e6)
        # each connection: at most one request per PACE_MS (+10 % slack
        # for how wrk counts the run's duration)
        assert rate <= 1.1 * conns * 1000 / bounce.PACE_MS, (rate, w)

    run = load("bench_run", REPO / "bench" / "run.py")
    rep = run.Report({"scenarios": {}})
    bounce.render(rep, {"runs": [{name: r}], "window": 1, "conns": 16,
                        "workers": bounce.WORKERS,
                        "variants": {name: options},
                        "paced": {name: {"conns": conns,
                                         "pace_ms": bounce.PACE_MS}}})
    assert any(l.startswith("### ") and l.endswith(", paced load")
               for l in rep.lines), rep.lines
    assert any(l.startswith("%d connections, each waiting %d ms" %
                            (conns, bounce.PACE_MS)) for l in rep.lines)
