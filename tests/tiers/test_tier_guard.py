"""Tiers are guarded (bench/tiers/guard.py): no system path or device as a tier, free space checked before any
byte is written (in the parent for the whole plan, again in the worker), one run per tier root.

Everything here runs the real CLI or the real engines on real directories; the small full tier is a real
loop-mounted ext4 (root only, skipped otherwise)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workloads
from bench.core.errors import CaseError
from bench.core.units import fmt_bytes
from bench.engines.layout import lay_out_pattern
from bench.tiers.guard import TierLocks, job_space, lock_holders, system_path_reason
from tests.conftest import ROOT, cli, cli_json, nothing_stored, refused, small_ext4

QUICK_CASE = ["--workload", "seq-read-1m", "--engine", "builtin", "--param", "size=1m", "--param", "runtime_s=0.2"]


# -- places ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,words", [
    ("etc=/etc", "/etc is a system path"),
    ("root=/", "/ is a system path"),
    ("proc=/proc", "/proc is a system path"),
    ("sys=/sys/kernel", "inside /sys"),
    ("usr=/usr/local", "inside /usr"),
    ("varlib=/var/lib", "/var/lib is a system path"),
    ("src=bench", "tierbench's own source folder bench/"),
    ("nope=/no/such/folder", "does not exist"),
])
def test_system_paths_and_missing_roots_are_refused(spec, words, store):
    name, path = spec.split("=")
    if not path.startswith("/"):
        path = str(ROOT / path)
    line = refused(cli("run", "--tier", f"{name}={path}", "--quick", "--results", store))
    assert words in line and f"tier {name}" in line, line
    assert nothing_stored(store)


def test_a_symlink_to_a_system_path_and_the_store_are_refused(tmp_path, store):
    link = tmp_path / "looks-harmless"
    link.symlink_to("/etc")
    assert "/etc is a system path" in refused(cli("run", "--tier", f"l={link}", "--quick", "--results", store))
    store.mkdir()
    (store / "inside").mkdir()
    line = refused(cli("run", "--tier", f"s={store / 'inside'}", "--quick", "--results", store))
    assert "inside the results store" in line
    assert [p.name for p in store.iterdir()] == ["inside"] and not any((store / "inside").iterdir())


def _root_device() -> str:
    """The block device under / (the one device every machine has in use), or a skip where / is on none."""
    dev = os.stat("/").st_dev
    link = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if not os.major(dev) or not os.path.exists(link):
        pytest.skip("/ is on no block device here (an overlay or tmpfs root)")
    device = f"/dev/{os.path.basename(os.path.realpath(link))}"
    if not os.path.exists(device):
        pytest.skip(f"no device node {device}")
    return device


def test_a_block_device_in_use_is_refused_even_with_allow_system_path(store):
    """A block device is a raw tier for `run` (bench.tiers.raw), refused while it is in use: the device under /
    is, whatever --allow-system-path says. Only a read-only workload is named, so that a guard that failed would
    read, never write (tests/tiers/test_raw_device.py measures loop devices the tests make)."""
    device = _root_device()
    for extra in ([], ["--allow-system-path"]):
        line = refused(cli("run", "--tier", f"d={device}", *extra, "--workload", "seq-read-1m", "--quick",
                           "--results", store))
        assert f"{device} is refused as a raw device" in line, line
    assert nothing_stored(store)


def test_a_character_device_is_refused(store):
    line = refused(cli("run", "--tier", "d=/dev/null", "--workload", "seq-read-1m", "--quick", "--results", store))
    assert "/dev/null is a character device" in line and "mount" in line
    assert nothing_stored(store)


def test_allow_system_path_lets_a_refused_place_run(store):
    """The results store is refused as a tier; with --allow-system-path a folder inside it is used (and left
    empty): the flag is what decides."""
    place = store / "scratch-tier"
    place.mkdir(parents=True)
    refused(cli("run", "--tier", f"x={place}", *QUICK_CASE, "--results", store))
    doc = cli_json("run", "--tier", f"x={place}", *QUICK_CASE, "--allow-system-path", "--results", store)
    assert doc["status"] == "complete" and not any(place.iterdir())


@pytest.mark.parametrize("path,refused_why", [
    ("/dev/shm", None), ("/dev/shm/x", None), ("/tmp", None), ("/var/tmp", None), ("/var/lib/tiers", None),
    ("/home/user/data", None), ("/mnt/nvme", None),
    ("/", "a system path"), ("/lib", "a system path"), ("/lib64", "a system path"), ("/var", "a system path"),
    ("/dev", "a system path"), ("/dev/disk", "inside /dev"), ("/etc/x/y", "inside /etc"),
    ("/boot/efi", "inside /boot"), ("/run", "a system path"),
])
def test_system_path_rules(path, refused_why):
    reason = system_path_reason(path)
    assert (reason is None) if refused_why is None else (refused_why in reason), (path, reason)


# -- free space -----------------------------------------------------------------------------------

@pytest.fixture
def shm_dir():
    """A private folder on /dev/shm (its own tier root: runs of other tests on /dev/shm hold their own lock)."""
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="tierbench-test-", dir="/dev/shm"))
    yield path
    shutil.rmtree(path)


def test_ten_terabytes_on_shm_are_refused_before_any_byte(shm_dir, store):
    before = set(os.listdir("/dev/shm"))
    line = refused(cli("run", "--tier", f"shm={shm_dir}", "--workload", "seq-write-1m", "--param", "size=10t",
                       "--results", store))
    assert line.startswith("tierbench: error: tier shm: case 0 (seq-write-1m") and "size=10.0 TiB" in line
    assert "needs 10.5 TiB (1 job x 1 file of 10.0 TiB" in line and "free" in line, line
    free = int(line.split(" > ")[1].split()[0])
    assert 0 < free < 10 * 1024 ** 4
    assert set(os.listdir("/dev/shm")) == before and not any(shm_dir.iterdir()) and nothing_stored(store)


def test_a_job_is_checked_with_its_own_estimate(tmp_path, store):
    line = refused(cli("run", "--tier", f"d={tmp_path}", "--workload", "terasort",
                       "--param", "records=100000000000", "--results", store))
    assert "tier d: case 0 (terasort" in line and "terasort's estimate" in line and "free" in line
    assert not any(tmp_path.iterdir()) and nothing_stored(store)


def test_every_job_workload_has_a_space_estimate():
    for w in workloads.all_workloads():
        if w.kind == "job":
            data, temp = job_space(w, w.default_params())
            assert data > 0 and temp >= 0, w.name


@pytest.mark.parametrize("name", ["hdfs-write", "hdfs-read", "mr-shuffle", "mr-spill", "rand-write-4k"])
def test_pattern_footprint_is_what_the_engine_writes(name, tmp_path):
    """The footprint the check uses equals the bytes the builtin engine leaves in the case's folder."""
    from bench.engines import builtin as engine_builtin
    w = workloads.get(name)
    params = workloads.coerce_params(w, dict(w.quick or {}, **({"runtime_s": 0.2} if "runtime_s" in
                                                                 {f for f in w.params.__dataclass_fields__}
                                                                 else {})))
    pattern = w.build(params)
    dirs = {"data": str(tmp_path / "data"), "temp": str(tmp_path / "temp")}
    for d in dirs.values():
        os.mkdir(d)
    engine_builtin.run(pattern, dirs, {"data": "a", "temp": "b"}, tmp_path / "raw", "c", 60)
    for role, d in dirs.items():
        written = sum(p.stat().st_size for p in Path(d).rglob("*") if p.is_file())
        assert written == pattern.footprint_bytes(role), (role, written)


@pytest.mark.parametrize("engine", ["fio", "builtin"])
def test_the_worker_side_check_fails_the_case_before_any_byte(engine, tmp_path):
    """The engines check again right before laying out or writing (free space changes after the plan's
    check): a pattern bigger than the file system fails with CaseError and the numbers, and nothing is written."""
    if engine == "fio" and shutil.which("fio") is None:
        pytest.skip("needs fio on PATH")
    from bench.engines import builtin as engine_builtin
    from bench.engines.fio import engine as engine_fio
    w = workloads.get("rand-read-4k")
    pattern = w.build(workloads.coerce_params(w, {"size": "10t", "runtime_s": 1}))
    tier = tmp_path / "tier"
    tier.mkdir()
    raw = tmp_path / "raw"
    mod = engine_fio if engine == "fio" else engine_builtin
    with pytest.raises(CaseError, match=r"tier t: pattern rand-read-4k needs 10\.5 TiB .* free"):
        mod.run(pattern, {"data": str(tier), "temp": str(tier)}, {"data": "t", "temp": "t"}, raw, "c", 30)
    assert not any(tier.iterdir())


@pytest.fixture
def small_tier(tmp_path):
    """A real 24 MiB ext4 on a loop device, mounted in tmp_path; torn down after the test."""
    with small_ext4(tmp_path, 24 * 1024 ** 2) as mount:
        yield mount


def test_small_full_tier(small_tier, store):
    """A real small file system: the parent refuses a case bigger than it (exit 2, nothing stored, nothing on
    the tier); once the tier fills after that check, the worker-side check fails the layout with the numbers."""
    free = shutil.disk_usage(small_tier).free
    line = refused(cli("run", "--tier", f"small={small_tier}", "--workload", "seq-read-1m",
                       "--param", "size=32m", "--engine", "builtin", "--results", store))
    assert f"{fmt_bytes(free)} free" in line and "needs 33.6 MiB" in line, line
    assert nothing_stored(store) and sorted(p.name for p in small_tier.iterdir()) == ["lost+found"]
    # The plan would fit (8 MiB) ... until something else fills the tier: the layout refuses before writing.
    w = workloads.get("seq-read-1m")
    pattern = w.build(workloads.coerce_params(w, {"size": "8m"}))
    filler = small_tier / "filler"
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, free - 4 * 1024 ** 2)
    case_dir = small_tier / "case"
    case_dir.mkdir()
    with pytest.raises(CaseError, match=r"tier small: pattern seq-read-1m needs 8\.4 MiB \(1 job x 1 file of "
                                        r"8\.0 MiB, x 1\.05 for file system overhead\), [0-9.]+ [KM]iB free"):
        lay_out_pattern(pattern, {"data": str(case_dir), "temp": str(case_dir)}, {"data": "small", "temp": "small"})
    assert not any(case_dir.iterdir())


# -- one run per tier -----------------------------------------------------------------------------

HOLD = """
import sys, time
from bench.tiers.guard import TierLocks
from bench.tiers.detect import detect
TierLocks().acquire([detect("t", sys.argv[1])])
print("locked", flush=True)
time.sleep(120)
"""


def _wait_for_lock(path: Path, pid: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while pid not in lock_holders(str(path)):
        assert time.monotonic() < end, "the first run never took the tier's lock"
        time.sleep(0.1)


def test_a_second_run_on_a_tier_is_refused_naming_the_first(tmp_path, store):
    """Two real runs: while the first measures, the second is refused with exit 2 and one line naming the
    first's pid; once the first ends (here: SIGTERM), nothing of the lock is left on the tier."""
    tier = tmp_path / "tier"
    tier.mkdir()
    first = subprocess.Popen([sys.executable, "-m", "bench", "run", "--tier", f"t={tier}", "--workload",
                              "rand-read-4k", "--engine", "builtin", "--param", "size=4m", "--param", "runtime_s=60",
                              "--results", str(store)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        _wait_for_lock(tier, first.pid)
        line = refused(cli("run", "--tier", f"t={tier}", *QUICK_CASE, "--results", tmp_path / "other-store"))
        assert f"tier t ({tier}) is in use by another run (pid {first.pid}" in line and "--allow-shared-tier" in line
        assert not (tmp_path / "other-store").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 130
    assert not any(tier.iterdir()) and not lock_holders(str(tier))


def test_allow_shared_tier_runs_alongside_and_a_dead_holder_blocks_nothing(tmp_path, store):
    tier = tmp_path / "tier"
    tier.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tier)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = refused(cli("run", "--tier", f"t={tier}", *QUICK_CASE, "--results", store))
        assert f"pid {holder.pid}" in line
        proc = cli("run", "--tier", f"t={tier}", *QUICK_CASE, "--allow-shared-tier", "--json", "--results", store)
        assert proc.returncode == 0, proc.stderr
        assert f"tier t is shared with another run (pid {holder.pid})" in proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["status"] == "complete"
        # The fingerprint says which cgroups this host offers emulation.
        assert doc["machine"]["cgroup"]["version"] in ("v1", "v2", "none")
    finally:
        holder.kill()
        holder.wait()
    # flock dies with its process: the next run takes the tier, and leaves nothing on it.
    assert cli_json("run", "--tier", f"t={tier}", *QUICK_CASE, "--results", store)["status"] == "complete"
    assert not any(tier.iterdir())


def test_one_run_may_name_one_folder_twice(tmp_path):
    """Two tiers of one run on one folder (data and temp) take its lock once, not against each other."""
    from bench.tiers.detect import detect
    locks = TierLocks().acquire([detect("a", str(tmp_path)), detect("b", str(tmp_path))])
    try:
        assert len(locks.fds) == 1 and not locks.shared_with
    finally:
        locks.release()
    assert not lock_holders(str(tmp_path))


def test_scenario_tiers_are_guarded_too(tmp_path, store):
    """The scenario resolves its tiers through the same session: a system path is refused, and its sorts are
    checked against the tiers' free space before its run is created."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    line = refused(cli("scenario", "hadoop-tempdata", "--hdd", "/etc", "--nvme", a, "--optane", b,
                       "--results", store))
    assert "tier hdd: /etc is a system path" in line
    line = refused(cli("scenario", "hadoop-tempdata", "--hdd", a, "--nvme", b, "--optane", b,
                       "--records", "100000000000", "--results", store))
    assert "tier hdd: case a (terasort" in line and "terasort's estimate" in line and "free" in line, line
    assert nothing_stored(store) and not any(a.iterdir()) and not any(b.iterdir())


# -- runs that overlap on one device are flagged, never a silent success (issue 21, point 3) -------------------

@pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")
def test_two_runs_on_tiers_of_one_device_each_flag_the_other(tmp_path):
    """Two runs at once on two directories of one file system (so one device): the tier locks do not stop them
    (different tiers), the device lock lets both run and each stores and shows the other."""
    procs = []
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "bench", "run", f"--tier={name}={tmp_path / name}", "--workload", "rand-read-4k",
             "--engine", "fio", "--param", "size=4m", "--param", "runtime_s=2", "--repeat", "2", "--param", "direct=false",
             "--param", "iodepth=1", "--results", str(tmp_path / f"store-{name}"), "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    docs = {}
    for name, proc in zip(("x", "y"), procs):
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        docs[name] = (json.loads(stdout), stderr, proc.pid)
    for name, other in (("x", "y"), ("y", "x")):
        doc, stderr, _ = docs[name]
        (shared,) = [d for d in doc["shared_device"] if name in d["tiers"]]
        assert docs[other][2] in [r["pid"] for r in shared["runs"]], shared
        assert "both runs' figures include the other's load" in stderr
        shown = cli("show", doc["run_id"], "--results", tmp_path / f"store-{name}")
        assert "shared device" in shown.stdout and str(docs[other][2]) in shown.stdout, shown.stdout
