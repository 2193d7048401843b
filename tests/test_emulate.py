"""Emulated tiers, for real: loop devices, ext4, mounts, blkio throttles — and the ground truth that the
hdd tier measures its configured IOPS and the optane tier is far faster."""
import json
import os
from pathlib import Path

from tests.conftest import cli, cli_json, needs_emulation, needs_fio


@needs_emulation
def test_emulated_tiers_are_real_mounts_with_a_throttle(emulated):
    tiers = {t["name"]: t for t in emulated["doc"]["tiers"]}
    assert set(tiers) == {"hdd", "nvme", "optane"}
    mounts = Path("/proc/mounts").read_text()
    for t in tiers.values():
        assert t["emulated"] and t["device"].startswith("/dev/loop")
        assert f"{t['device']} {t['path']} ext4" in mounts
        assert t["nominal_capacity_bytes"] > t["capacity_bytes"]
    group = Path(emulated["doc"]["cgroup"])
    devno = os.stat(tiers["hdd"]["device"]).st_rdev
    assert f"{os.major(devno)}:{os.minor(devno)} 150" in (group / "blkio.throttle.read_iops_device").read_text()
    assert tiers["hdd"]["emulated"]["iops"] == 150


@needs_emulation
def test_emulate_twice_is_refused(emulated):
    proc = cli("tiers", "emulate", env=emulated["env"])
    assert proc.returncode == 2
    assert "already exist" in proc.stderr and "Traceback" not in proc.stderr


@needs_emulation
@needs_fio
def test_ground_truth_hdd_iops_and_optane_speed(emulated, store):
    doc = cli_json("run", "--tier", "hdd", "--tier", "optane", "--workload", "rand-read-4k",
                   "--param", "iodepth=1", "--param", "runtime_s=6", "--param", "size=64m",
                   "--results", store, env=emulated["env"])
    assert doc["status"] == "complete", doc
    iops = {c["tier"]: c["metrics"]["iops"] for c in doc["cases"]}
    assert abs(iops["hdd"] - 150) <= 0.05 * 150, iops
    assert iops["optane"] > 20 * iops["hdd"], iops
    hdd = next(c for c in doc["cases"] if c["tier"] == "hdd")
    assert hdd["bottleneck"] == "io"
    # IOPS per GB uses the emulated drive's nominal capacity (8 TB).
    assert abs(hdd["metrics"]["iops_per_gb"] - hdd["metrics"]["iops"] / 8000) < 1e-9


@needs_emulation
def test_teardown_removes_exactly_what_was_made(tmp_path):
    base = Path("/var/tmp") / f"tierbench-test-td-{os.getpid()}"
    env = {"TIERBENCH_EMULATE_DIR": str(base)}
    bystander = tmp_path / "keep.txt"
    bystander.write_text("not ours")
    doc = cli_json("tiers", "emulate", "--size", "64m", "--hdd-iops", "90", "--hdd-drives", "2", env=env)
    devices = [t["device"] for t in doc["tiers"]]
    # Two drives of 90 IOPS / 180 MB/s: the tier is throttled to their sum and nominally twice an 8 TB drive.
    hdd = next(t for t in doc["tiers"] if t["name"] == "hdd")
    assert hdd["emulated"]["drives"] == 2 and hdd["nominal_capacity_bytes"] == 16 * 10 ** 12
    st = os.stat(hdd["device"])
    throttle = Path(doc["cgroup"], "blkio.throttle.read_iops_device").read_text()
    assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)} 180" in throttle
    state = json.loads((base / "state.json").read_text())
    assert {r["kind"] for r in state["resources"]} >= {"cgroup", "file", "loop", "mount", "dir"}
    cli("tiers", "teardown", env=env, check=0)
    mounts = Path("/proc/mounts").read_text()
    assert all(d not in mounts for d in devices)
    assert not Path(doc["cgroup"]).exists()
    assert not base.exists() and not Path("/dev/shm", base.name).exists()
    assert bystander.read_text() == "not ours"
    assert cli("tiers", "teardown", env=env, check=0).stderr.strip() == "no emulated tiers to remove"
