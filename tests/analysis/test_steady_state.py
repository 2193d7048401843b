"""Preconditioning and steady state (SNIA PTS): the rule, the preconditioning pattern, and real runs on an
emulated tier whose throttle holds (steady) or that the test changes every round (not steady)."""
from __future__ import annotations

import contextlib
import json
import threading

import pytest

from bench.analysis.steady_state import MAX_ROUNDS, WINDOW_ROUNDS, judge
from bench.core.pattern import Pattern, Phase
from bench.engines.precondition import PRECONDITION_BS, precondition_pattern
from bench.store.intervals import read_intervals
from tests.conftest import cli, needs_fio

MiB = 1024 ** 2


def test_the_pts_rule():
    """PTS 2.0.2: a 5-round window, range <= 20% of the average and the fitted line's excursion <= 10%."""
    assert WINDOW_ROUNDS == 5 and MAX_ROUNDS == 25
    flat = judge([90, 100, 104, 98, 101, 99, 100])
    assert flat["steady"] and flat["window"] == [2, 6]
    assert flat["average"] == pytest.approx(100.4) and flat["range"] == pytest.approx(6)
    # within the range but climbing: 100 -> 112 fits a line rising 3 per round, 12 over the window (12%)
    climbing = judge([100, 103, 106, 109, 112])
    assert climbing["range_ok"] and not climbing["slope_ok"] and not climbing["steady"]
    assert climbing["slope_excursion"] == pytest.approx(12.0)
    # flat on average but too wide
    wide = judge([100, 80, 120, 120, 80])
    assert not wide["range_ok"] and wide["slope_ok"] and "range 40.0%" in wide["reason"]
    short = judge([100, 100, 100])
    assert not short["steady"] and short["window"] is None and short["average"] is None
    assert not judge([0, 0, 0, 0, 0])["steady"]   # nothing measured is not steady


def test_preconditioning_writes_the_test_region_twice_in_128k():
    pattern = Pattern("p", (Phase("w", "randwrite", 4096, 8 * MiB, nrfiles=2, numjobs=3, fileset="a"),
                            Phase("r", "randread", 4096, 4 * MiB, fileset="a"),
                            Phase("t", "read", 65536, 2 * MiB, fileset="b", role="temp")))
    pre = precondition_pattern(pattern)
    assert [p.name for p in pre.phases] == ["precondition-1-a", "precondition-1-b", "precondition-2-a",
                                            "precondition-2-b"]
    for p in pre.phases:
        assert p.rw == "write" and p.bs == PRECONDITION_BS and p.direct and p.runtime_s is None
    a = pre.phases[0]
    assert (a.fileset, a.nrfiles, a.numjobs, a.file_size, a.role) == ("a", 2, 3, 4 * MiB, "data")
    assert pre.phases[1].role == "temp"
    # the same files as the workload's, twice: 2x the region
    written = sum(p.file_size * p.nrfiles * p.numjobs for p in pre.phases)
    assert written == 2 * pattern.footprint_bytes()


def test_steady_state_flags_are_checked(tmp_path):
    store = tmp_path / "r"
    base = ["run", "--tier", f"t={tmp_path}", "--workload", "rand-read-4k", "--results", store]
    for extra, words in ((["--round-s", "2"], "--round-s goes with --steady-state"),
                         (["--steady-state", "--round-s", "0"], "--round-s"),
                         (["--steady-state", "--max-rounds", "4"], "--max-rounds"),
                         (["--steady-state", "--workload", "terasort"], "apply to I/O patterns")):
        proc = cli(*base, *extra)
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert not store.exists()


def _steady_run(emulated, store, tier: str, max_rounds: int, during=None):
    """rand-read-4k (fio, QD1) on an emulated tier with --precondition --steady-state in 1 s rounds; `during`
    runs in a thread meanwhile. Returns the run document."""
    args = ["run", "--tier", tier, "--workload", "rand-read-4k", "--engine", "fio", "--param", "iodepth=1",
            "--param", "size=8m", "--precondition", "--steady-state", "--round-s", "1",
            "--max-rounds", str(max_rounds),
            "--interval", "0.5", "--results", store, "--json"]
    stop = threading.Event()
    worker = threading.Thread(target=during, args=(stop,)) if during else None
    if worker:
        worker.start()
    try:
        proc = cli(*args, env=emulated["env"])
    finally:
        stop.set()
        if worker:
            worker.join()
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check_stored(doc, store):
    case = doc["cases"][0]
    ss = case["steady_state"]
    assert case["label"] == "preconditioned+steady-state" and doc["method"]["precondition"]
    assert case["precondition"]["bytes_written"] == 2 * 8 * MiB
    assert len(ss["rounds"]) >= WINDOW_ROUNDS and ss["window"] == [len(ss["rounds"]) - 5, len(ss["rounds"]) - 1]
    assert sorted({p["round"] for p in case["phases"]}) == list(range(ss["window"][0], ss["window"][1] + 1))
    # the case's IOPS is the window's: its operations over its time
    window = ss["rounds"][ss["window"][0]:]
    assert case["metrics"]["iops"] == pytest.approx(sum(r["ops_read"] for r in window) / sum(r["wall_s"] for r in window))
    df = read_intervals(store / doc["run_id"])
    assert sorted(set(df["round"].to_list())) == list(range(len(ss["rounds"])))
    for r in ss["rounds"]:
        assert int(df.filter(df["round"] == r["round"])["ops"].sum()) == r["ops_read"]
    # each round says how long its tasks waited for a CPU, and the window's share comes from those rounds
    if all(r["run_queue_wait_s"] is not None for r in window):
        assert all(r["run_queue_window_s"] >= r["wall_s"] * 0.5 for r in window)
        assert ss["run_queue_wait_share"] == pytest.approx(
            sum(r["run_queue_wait_s"] for r in window) / sum(r["run_queue_window_s"] for r in window))
    if not ss["steady"] and ss["run_queue_wait_share"] is not None:
        assert "waited for a CPU" in ss["reason"]
    return ss


@contextlib.contextmanager
def _throttle(emulated, tier: str, iops: int):
    """The emulated tier throttled to `iops` per direction while the block runs, its own throttle restored
    after. Yields a function that sets another IOPS limit."""
    from bench.tiers.emulate import Emulation, set_throttle

    em = Emulation.load(emulated["dir"])
    original = em.tier(tier).emulated
    set_throttle(em, tier, iops, None)
    try:
        yield lambda value: set_throttle(em, tier, value, None)
    finally:
        set_throttle(em, tier, original.get("iops"), original.get("mbps"))


# The optane tier is a loop device on tmpfs, far faster than these limits, so its IOPS is the throttle's.
# A limit of 1000 IOPS rather than an HDD's 150: cgroup v1 blkio lets a burst through and then stalls ~100 ms
# (docs: DESIGN's facts of 2026-12-06), which at 150-300 IOPS swings a 1 s round by +-40% on its own.
STEADY_IOPS = 1000


@needs_fio
def test_a_steady_tier_reaches_steady_state(emulated, tmp_path):
    """A tier held at STEADY_IOPS by its throttle gives the same IOPS every round: steady, with the first
    window that shows it. Up to 12 rounds: a round that a busy machine stalls (seen: 796 of 1000 IOPS) keeps
    the windows that hold it from being steady, and a later window must still be."""
    with _throttle(emulated, "optane", STEADY_IOPS):
        doc = _steady_run(emulated, tmp_path / "results", "optane", 12)
    ss = _check_stored(doc, tmp_path / "results")
    assert ss["steady"] is True, ss
    assert ss["range"] <= ss["range_limit"] and ss["slope_excursion"] <= ss["slope_limit"]
    assert ss["average"] == pytest.approx(STEADY_IOPS, rel=0.2)


@needs_fio
def test_a_drifting_tier_is_stated_not_steady(emulated, tmp_path):
    """The test moves the tier's throttle through 400, 1600 and 800 IOPS, 0.6 s each, while the case runs: any
    5 rounds of 1 s then differ by at least 39% of their mean (worked out over every phase of the cycle), so no
    window is steady, which the case states (steady false with the figures that decided it) without failing.
    A cycle rather than a rising ramp: a ramp started before the preconditioning climbed, on a busy machine,
    past what the tier could deliver by the time the rounds ran, and flattened into a steady plateau."""
    levels = (400, 1600, 800)
    with _throttle(emulated, "optane", levels[0]) as set_iops:
        def drift(stop):
            step = 0
            while not stop.wait(0.6):
                step += 1
                set_iops(levels[step % len(levels)])

        doc = _steady_run(emulated, tmp_path / "results", "optane", 7, during=drift)
    ss = _check_stored(doc, tmp_path / "results")
    case = doc["cases"][0]
    assert case["error"] is None and doc["status"] == "complete"
    assert ss["steady"] is False and len(ss["rounds"]) == 7 and ss["reason"], ss
    assert not (ss["range_ok"] and ss["slope_ok"])
    iops = [r["iops"] for r in ss["rounds"]]
    assert max(iops) > 1.3 * min(iops), iops     # the drift is in the figures
