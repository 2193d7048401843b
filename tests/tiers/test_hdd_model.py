"""The seek-aware emulated HDD (bench/tiers/hdd_model.py, drive/tb_hddmodel.c): the model's own figures in
Python, then the ground truth on a real emulation (root, FUSE, loop devices; skipped, saying why, without them):
fio through ext4 and the loop device against the model's expected figures, the CLI's figures over repeats, and
the daemon killed mid-case.

Timing on a busy machine: the daemon runs its threads at real-time priority and its replies are checked against
their modelled finish times (late_s), but the host's own path (the loop device's kernel worker, fio) is
time-shared: on a loaded machine it adds its wake-up delays to every QD1 request. The QD1 checks measure that
path's share from the same run (fio's mean latency less the daemon's modelled service time) and skip, saying
so, when it alone exceeds the tolerance; sequential streams (the drive's stream credit absorbs the host's gaps)
and QD32 (the queue keeps the drive busy) hold regardless.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.tiers import hdd_model
from bench.tiers.hdd_model import (
    DriveParams,
    expected_random_iops,
    qd1_requests_for_spread,
    qd1_runtime_s,
    random_service_cv,
    simulate_iops,
)
from tests.conftest import cli, cli_json, emulation_missing

MB = 10 ** 6
IMAGE = 512 * 1024 ** 2
FILE = 64 * 1024 ** 2          # the quick baselines' file: 1/8 of the drive


def seek_missing() -> str:
    reason = emulation_missing()
    if reason:
        return reason
    if not os.path.exists("/dev/fuse"):
        return "needs FUSE (/dev/fuse)"
    if not os.access(hdd_model.BINARY, os.X_OK):
        return "needs the drive-model daemon: make install (libfuse3-dev)"
    if shutil.which("fio") is None:
        return "needs fio"
    return ""


needs_seek = pytest.mark.skipif(bool(seek_missing()), reason=seek_missing() or "ok")


# ------------------------------------------------------------------------------------- the model in Python
def test_defaults_are_the_datasheet_and_the_curve_keeps_its_average():
    p = DriveParams()
    assert (p.rpm, p.seek_ms, p.t2t_ms) == (7200, 7.4, 0.23)
    # The square-root curve's mean over uniformly random pairs is the datasheet's average seek.
    n = 400
    pairs = [abs(i - j) / n for i in range(n) for j in range(n) if i != j]
    mean = sum(p.t2t_ms + (p.full_stroke_ms - p.t2t_ms) * d ** 0.5 for d in pairs) / len(pairs)
    assert mean == pytest.approx(p.seek_ms, rel=0.01)


def test_simulated_qd1_matches_the_closed_form_and_qd32_gains_like_a_drive():
    p = DriveParams()
    # Over the whole drive the gain is what 7,200 rpm drives show (1.5-2x, docs/hdd-model.md); over a short
    # span rotation weighs more and reordering saves a little more.
    for span, most in ((1.0, 2.0), (0.125, 2.3)):
        qd1 = simulate_iops(p, 1, span)
        assert qd1 == pytest.approx(expected_random_iops(p, span), rel=0.05)
        gain = simulate_iops(p, 32, span) / qd1
        assert 1.5 <= gain <= most, gain
    # Full-stroke QD1 at the datasheet: 1 / (7.4 + 4.17 + 0.02 ms) = 86 IOPS.
    assert expected_random_iops(p) == pytest.approx(86.3, abs=0.5)


def _spread(values: list) -> float:
    return (max(values) - min(values)) / sorted(values)[len(values) // 2]


def test_qd1_repeats_spread_by_the_models_own_sampling_and_the_runtime_bounds_it():
    """The source of the QD1 spread between repeats: the rotational wait (uniform over a turn) and the seek
    distance vary per request, so a repeat of N requests has a relative standard error cv / sqrt(N). At the
    4-second measurement of the last closing note (~550 requests) a faithful drive exceeds a 5% spread over 5
    repeats in about 1 group of 7 on its own; at qd1_requests_for_spread it stays under 5% (99 in 100)."""
    p, span = DriveParams(), FILE / IMAGE
    cv = random_service_cv(p, span)
    assert 0.3 < cv < 0.45                      # the rotational wait alone is 0.29 of the mean service time
    short = [simulate_iops(p, 1, span, requests=550, seed=s) for s in range(150)]
    mean = sum(short) / len(short)
    sd = (sum((v - mean) ** 2 for v in short) / (len(short) - 1)) ** 0.5
    assert sd / mean == pytest.approx(cv / 550 ** 0.5, rel=0.2)
    groups = [short[i:i + 5] for i in range(0, len(short), 5)]
    assert sum(_spread(g) > 0.05 for g in groups) >= 2          # 4 s is too short for the done-when's 5%
    n = qd1_requests_for_spread(p, span)
    assert 1000 < n < 1500 and qd1_runtime_s(p, span) == pytest.approx(n / expected_random_iops(p, span))
    long = [simulate_iops(p, 1, span, requests=n, seed=1000 + s) for s in range(100)]
    assert sum(_spread(long[i:i + 5]) > 0.05 for i in range(0, len(long), 5)) <= 1


@pytest.mark.parametrize("kwargs, flag", [({"rpm": 0.0}, "--hdd-rpm"), ({"seek_ms": -1.0}, "--hdd-seek-ms"),
                                          ({"seek_ms": 0.1}, "--hdd-seek-ms"), ({"mbps": float("nan")}, "--hdd-mbps"),
                                          ({"mbps": 0.0}, "--hdd-mbps"), ({"drives": 0}, "--hdd-drives")])
def test_out_of_range_parameters_name_their_flag(kwargs, flag):
    with pytest.raises(UserError, match=flag):
        DriveParams(**kwargs).check()


def test_case_metrics_are_shares_of_the_counters_and_absent_without_requests():
    zero = dict.fromkeys(hdd_model.COUNTERS, 0)
    after = dict(zero, requests=10, seeks=4, bytes_read=10 * 4096, positioning_s=0.06, transfer_s=0.02, late_s=0.001)
    m = hdd_model.case_metrics(zero, after)
    assert m["hdd_random_share"] == pytest.approx(0.4)
    assert m["hdd_request_bytes"] == pytest.approx(4096)
    assert m["hdd_requests_per_gb"] == pytest.approx(1e9 / 4096)
    assert m["hdd_positioning_share"] == pytest.approx(0.75)
    idle = hdd_model.case_metrics(zero, zero)
    assert idle == {"hdd_requests": 0, "hdd_positioning_s": 0, "hdd_late_s": 0}


# ------------------------------------------------------------------------------------- ground truth
@pytest.fixture(scope="module")
def seek_tiers():
    reason = seek_missing()
    if reason:
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="tierbench-test-seek-", dir="/var/tmp")
    env = {"TIERBENCH_EMULATE_DIR": base}
    proc = cli("tiers", "emulate", "--size", "512m", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    try:
        yield {"env": env, "doc": doc, "dir": base, "hdd": next(t for t in doc["tiers"] if t["name"] == "hdd")}
    finally:
        down = cli("tiers", "teardown", env=env)
        shutil.rmtree(base, ignore_errors=True)
        assert down.returncode == 0, down.stderr


def stats(hdd: dict) -> dict:
    return hdd_model.read_stats(hdd["emulated"])


def fio(path: Path, *args) -> dict:
    out = subprocess.run(["fio", "--name=t", f"--filename={path}", f"--size={FILE}", "--direct=1",
                          "--output-format=json", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["jobs"][0]


def measured(hdd: dict, path: Path, *args) -> tuple:
    """(fio's job result, the daemon's counters over it)."""
    before = stats(hdd)
    job = fio(path, *args)
    after = stats(hdd)
    return job, {k: after[k] - before[k] for k in hdd_model.COUNTERS}


@needs_seek
def test_the_tier_is_a_loop_on_the_daemons_image_with_direct_io(seek_tiers):
    hdd = seek_tiers["hdd"]
    em = hdd["emulated"]
    assert em["model"] == "seek" and em["drive"]["seek_ms"] == 7.4 and hdd_model.is_running(em["daemon"]["pid"])
    loop = Path(hdd["device"]).name
    assert Path(f"/sys/block/{loop}/loop/backing_file").read_text().strip() == \
        os.path.join(em["daemon"]["mount"], hdd_model.IMAGE_FILE)
    assert Path(f"/sys/block/{loop}/loop/dio").read_text().strip() == "1"
    state = json.loads(Path(seek_tiers["dir"], "state.json").read_text())
    assert {"daemon", "fuse", "loop", "mount"} <= {r["kind"] for r in state["resources"]}
    assert stats(hdd)["realtime"] is True


@needs_seek
def test_random_4k_qd1_and_qd32_against_the_model(seek_tiers):
    hdd = seek_tiers["hdd"]
    path = Path(hdd["path"]) / "rand.dat"
    fio(path, "--rw=write", "--bs=1M")
    p = DriveParams()
    try:
        job, qd1 = measured(hdd, path, "--rw=randread", "--bs=4k", "--runtime=3", "--time_based")
        job32, _ = measured(hdd, path, "--rw=randread", "--bs=4k", "--runtime=3", "--time_based",
                            "--ioengine=libaio", "--iodepth=32")
    finally:
        path.unlink()
    span = FILE / IMAGE
    expected = expected_random_iops(p, span)
    # The daemon's own modelled service time per request: the model, exactly as written.
    service_s = (qd1["positioning_s"] + qd1["transfer_s"]) / qd1["requests"]
    assert 1 / service_s == pytest.approx(expected, rel=0.05)
    assert qd1["seeks"] >= 0.95 * qd1["requests"]
    iops, iops32 = job["read"]["iops"], job32["read"]["iops"]
    gain = simulate_iops(p, 32, span) / simulate_iops(p, 1, span)
    assert iops32 > iops * 0.8 * gain, (iops, iops32, gain)
    host_s = job["read"]["clat_ns"]["mean"] / 1e9 - service_s
    if host_s > 0.10 * service_s:
        pytest.skip(f"machine too busy for the QD1 figure: the host path (loop worker, fio) added "
                    f"{host_s * 1e3:.2f} ms to each {service_s * 1e3:.2f} ms request (load "
                    f"{os.getloadavg()[0]:.1f}); measured {iops:.0f} IOPS, model {expected:.0f}")
    assert iops == pytest.approx(expected, rel=0.10)
    assert iops32 / iops <= 1.25 * gain


@needs_seek
def test_random_4k_qd1_repeats_within_5_percent_through_the_cli(seek_tiers, store):
    """5 repeats of QD1 random reads through `tierbench run`, as a user measures them, each as long as
    qd1_runtime_s says (plus 10% for the host's own path), fresh offsets per repeat: all five read the one
    file the first laid out (a new layout lands elsewhere on the drive each time: bench.execution.datasets),
    the drive's counters cover the reads alone, the spread is under 5% and each within 10% of the model.
    Skips, saying so, when the host path alone adds more than 10% to a request (a loaded machine: its jitter
    is not the drive's)."""
    p, span = DriveParams(), FILE / IMAGE
    runtime = qd1_runtime_s(p, span) * 1.1
    doc = cli_json("run", "--tier", "hdd", "--workload", "rand-read-4k", "--param", "iodepth=1", "--param",
                   "direct=true", "--param", f"size={FILE}", "--param", f"runtime_s={runtime:.1f}", "--repeat", "5",
                   "--results", store, env=seek_tiers["env"])
    cases = doc["cases"]
    assert not any(c["error"] for c in cases) and len(cases) == 5
    assert [c["dataset"]["laid_out"] for c in cases] == [True, False, False, False, False]
    expected = expected_random_iops(p, span)
    iops = [c["metrics"]["iops"] for c in cases]
    service, host = [], []
    for c in cases:
        m = c["metrics"]
        # the counters start after the layout: every request the drive served is one of fio's random reads
        assert m["hdd_random_share"] > 0.95 and m["hdd_requests"] == pytest.approx(m["ops_read"], rel=0.01), m
        service.append(m["hdd_positioning_s"] / m["hdd_positioning_share"] / m["hdd_requests"])
        host.append(m["lat_mean_us"] / 1e6 - service[-1])
    if max(host) > 0.10 * min(service):
        pytest.skip(f"machine too busy for the QD1 repeats: the host path added up to {max(host) * 1e3:.2f} ms to "
                    f"each {min(service) * 1e3:.2f} ms request (load {os.getloadavg()[0]:.1f}); measured "
                    f"{', '.join(f'{v:.1f}' for v in iops)} IOPS, model {expected:.1f}")
    # the drive's own figure per repeat (its modelled service time per request) must repeat within 5% always;
    # the measured IOPS also carries the host path (fio, loop, FUSE, the VM), seen to vary by 0.1-0.7 ms per
    # request from one run to the next on this VM beside CPU hogs: when that jitter alone exceeds 2% of a
    # request, the measured spread is the host's and the test says so instead of judging the drive
    assert _spread([1 / t for t in service]) < 0.05, service
    if _spread(iops) >= 0.05 and max(host) - min(host) > 0.02 * min(service):
        pytest.skip(f"the host path's time per request varied by {(max(host) - min(host)) * 1e3:.2f} ms between "
                    f"repeats (load {os.getloadavg()[0]:.1f}): measured {', '.join(f'{v:.1f}' for v in iops)} IOPS, "
                    f"model {expected:.1f}")
    assert _spread(iops) < 0.05, iops
    for v in iops:
        assert v == pytest.approx(expected, rel=0.10), iops


@needs_seek
def test_sequential_1m_reads_at_the_media_rate_repeatably_through_the_cli(seek_tiers, store):
    doc = cli_json("run", "--tier", "hdd", "--workload", "seq-read-1m", "--param", "direct=true", "--repeat", "3",
                   "--quick", "--results", store, env=seek_tiers["env"])
    rates = [c["metrics"]["read_bytes_per_s"] / MB for c in doc["cases"]]
    assert len(rates) == 3 and not any(c["error"] for c in doc["cases"])
    for r in rates:
        assert r == pytest.approx(DriveParams().mbps, rel=0.10), rates
    assert (max(rates) - min(rates)) / (sum(rates) / 3) < 0.05, rates
    for c in doc["cases"]:      # the drive's own view of the case: a stream, hardly any positioning
        assert c["metrics"]["hdd_random_share"] < 0.05
        assert c["metrics"]["hdd_positioning_share"] < 0.10
        assert c["metrics"]["hdd_requests"] > 0


@needs_seek
def test_two_drives_stream_twice_as_fast(tmp_path):
    env = {"TIERBENCH_EMULATE_DIR": str(tmp_path / "em")}
    doc = cli_json("tiers", "emulate", "--size", "512m", "--hdd-drives", "2", env=env)
    try:
        hdd = next(t for t in doc["tiers"] if t["name"] == "hdd")
        path = Path(hdd["path"]) / "seq.dat"
        fio(path, "--rw=write", "--bs=1M")
        # Eight requests in flight: one QD1 stream is bound by the host's path on a busy machine (a 1 MiB
        # request's round trip through the loop worker and fio can exceed its 2.9 ms on two drives).
        job, counters = measured(hdd, path, "--rw=read", "--bs=1M", "--runtime=3", "--time_based",
                                 "--ioengine=libaio", "--iodepth=8")
        # Random 4K at QD32: each drive gets about half the queue, and two drives serve twice the IOPS.
        rand, _ = measured(hdd, path, "--rw=randread", "--bs=4k", "--runtime=3", "--time_based",
                           "--ioengine=libaio", "--iodepth=32")
        path.unlink()
        assert job["read"]["bw_bytes"] / MB == pytest.approx(2 * DriveParams().mbps, rel=0.10)
        assert counters["positioning_s"] < 0.10 * (counters["positioning_s"] + counters["transfer_s"])
        one_drive = simulate_iops(DriveParams(), 16, FILE / IMAGE)
        assert rand["read"]["iops"] == pytest.approx(2 * one_drive, rel=0.15)
        assert stats(hdd)["drives"] == 2
        busy = stats(hdd)["busy_s_per_drive"]
        assert len(busy) == 2 and min(busy) > 0.8 * max(busy)       # the stripes share the work
    finally:
        cli("tiers", "teardown", env=env, check=0)


@needs_seek
def test_a_killed_daemon_fails_the_case_with_the_reason_and_leaves_nothing(tmp_path):
    base = tmp_path / "em"
    env = {"TIERBENCH_EMULATE_DIR": str(base)}
    doc = cli_json("tiers", "emulate", "--size", "256m", env=env)
    hdd = next(t for t in doc["tiers"] if t["name"] == "hdd")
    pid = hdd["emulated"]["daemon"]["pid"]
    run = subprocess.Popen([os.sys.executable, "-m", "bench", "run", "--tier", "hdd", "--workload", "seq-read-1m",
                            "--param", "direct=true", "--param", "runtime_s=20", "--param", "size=32m",
                            "--results", str(tmp_path / "results"), "--json"],
                           cwd=Path(__file__).resolve().parents[2], env=dict(os.environ, **env),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while stats(hdd)["bytes_read"] < 64 * MB and time.monotonic() < deadline:   # the measured phase is on
            time.sleep(0.2)
        os.kill(pid, 9)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, err[-2000:]
    case = json.loads(out)["cases"][0]
    assert f"drive-model daemon (pid {pid}) is gone" in case["error"] and "died during the case" in case["error"]
    down = cli("tiers", "teardown", env=env, check=0)
    assert "removed" in down.stderr
    assert not base.exists()
    assert str(base) not in Path("/proc/mounts").read_text()
    assert str(base) not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert not hdd_model.is_running(pid)


@needs_seek
def test_drive_parameters_reach_the_daemon(tmp_path):
    env = {"TIERBENCH_EMULATE_DIR": str(tmp_path / "em")}
    doc = cli_json("tiers", "emulate", "--size", "64m", "--hdd-rpm", "5400", "--hdd-seek-ms", "12",
                   "--hdd-mbps", "150", env=env)
    try:
        hdd = next(t for t in doc["tiers"] if t["name"] == "hdd")
        drive = hdd["emulated"]["drive"]
        assert (drive["rpm"], drive["seek_ms"], drive["mbps"]) == (5400, 12, 150) and drive["source"]
        live = stats(hdd)
        assert (live["rpm"], live["seek_ms"], live["mbps"]) == (5400, 12, 150)
        assert live["full_stroke_ms"] == pytest.approx(DriveParams(rpm=5400, seek_ms=12).full_stroke_ms, rel=1e-4)
    finally:
        cli("tiers", "teardown", env=env, check=0)
