"""Emulated tiers, for real: loop devices, ext4, mounts, cgroup throttles (v1 blkio or v2 io.max) — and the
ground truth that the hdd tier measures its configured IOPS and the optane tier is far faster.

The cgroup v2 path runs end to end only where the host's cgroup2 root offers the io and memory controllers
(test_real_cgroup2_hierarchy; skipped elsewhere, saying why); the files it writes are checked everywhere against
a folder laid out like a cgroup2 mount."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.tiers import cgroups
from bench.tiers import emulate as emu
from tests.conftest import cli, cli_json, needs_emulation, needs_fio


def throttle_text(doc: dict) -> str:
    """The throttle files of an emulation (`tiers emulate --json`), as the kernel shows them."""
    group = Path(doc["cgroup"])
    if doc.get("cgroup_version") == "v2":
        return (group.parent / "io.max").read_text()
    return (group / "blkio.throttle.read_iops_device").read_text()


def throttled(doc: dict, device: str, iops: int) -> bool:
    st = os.stat(device)
    devno = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    if doc.get("cgroup_version") == "v2":
        return f"{devno} rbps=" in throttle_text(doc) and f"riops={iops} wiops={iops}" in throttle_text(doc)
    return f"{devno} {iops}" in throttle_text(doc)


@needs_emulation
def test_emulated_tiers_are_real_mounts_with_a_throttle(emulated):
    tiers = {t["name"]: t for t in emulated["doc"]["tiers"]}
    assert set(tiers) == {"hdd", "nvme", "optane"}
    mounts = Path("/proc/mounts").read_text()
    for t in tiers.values():
        assert t["emulated"] and t["device"].startswith("/dev/loop")
        assert f"{t['device']} {t['path']} ext4" in mounts
        assert t["nominal_capacity_bytes"] > t["capacity_bytes"]
    assert emulated["doc"]["cgroup_version"] == cgroups.detect()["version"]
    assert throttled(emulated["doc"], tiers["hdd"]["device"], 150)
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
    doc = cli_json("tiers", "emulate", "--size", "64m", "--hdd-model", "throttle", "--hdd-iops", "90",
                   "--hdd-drives", "2", env=env)
    devices = [t["device"] for t in doc["tiers"]]
    # Two drives of 90 IOPS / 180 MB/s: the tier is throttled to their sum and nominally twice an 8 TB drive.
    hdd = next(t for t in doc["tiers"] if t["name"] == "hdd")
    assert hdd["emulated"]["drives"] == 2 and hdd["nominal_capacity_bytes"] == 16 * 10 ** 12
    assert throttled(doc, hdd["device"], 180)
    state = json.loads((base / "state.json").read_text())
    assert {r["kind"] for r in state["resources"]} >= {"cgroup", "file", "loop", "mount", "dir"}
    cli("tiers", "teardown", env=env, check=0)
    mounts = Path("/proc/mounts").read_text()
    assert all(d not in mounts for d in devices)
    assert not Path(doc["cgroup"]).exists()
    if doc["cgroup_version"] == "v2":
        assert not Path(doc["cgroup"]).parent.exists()
    assert not base.exists() and not Path("/dev/shm", base.name).exists()
    assert bystander.read_text() == "not ours"
    assert cli("tiers", "teardown", env=env, check=0).stderr.strip() == "no emulated tiers to remove"


# -- cgroup v1 / v2 ------------------------------------------------------------------------------

def fake_cgroup2(root: Path, controllers: str) -> Path:
    """A folder laid out like a cgroup2 mount's root (what the code reads there), and a mounts file naming it."""
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("\n")
    (root / "cgroup.procs").write_text("")
    mounts = root.parent / "mounts"
    mounts.write_text(f"cgroup2 {root} cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n")
    return mounts


def test_detection_v1_v2_none(tmp_path):
    mounts = fake_cgroup2(tmp_path / "cg2", "cpuset cpu io memory pids")
    assert cgroups.detect(str(mounts)) == {"version": "v2", "io": str(tmp_path / "cg2"),
                                           "memory": str(tmp_path / "cg2"), "missing": []}
    (tmp_path / "cg2" / "cgroup.controllers").write_text("cpu pids\n")
    found = cgroups.detect(str(mounts))
    assert found["version"] == "none" and "offers no io controller (cgroup.controllers: cpu pids)" in found["missing"][1]
    with pytest.raises(UserError, match="need cgroup v1 blkio or cgroup v2 with the io controller: cgroup v1 blkio "
                                        "is not mounted; the cgroup2 root .* offers no io controller"):
        cgroups.backend(found)
    v1 = tmp_path / "v1mounts"
    v1.write_text("cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0\n"
                  + mounts.read_text())
    assert cgroups.detect(str(v1)) == {"version": "v1", "io": "/sys/fs/cgroup/blkio", "memory": None,
                                       "missing": ["cgroup v1 memory is not mounted (no containers)"]}
    # This host, as the fingerprint reports it.
    here = cgroups.detect()
    assert here["version"] in ("v1", "v2", "none")


def test_v2_writes_exactly_these_files(tmp_path):
    """The cgroup v2 path, pointed at a folder laid out like a cgroup2 mount: enables io and memory for the root's
    children, makes the emulation's group (memory delegated to its containers) and its workers' leaf, throttles
    the loop device in io.max, caps a container in memory.max below the group."""
    root = tmp_path / "cg2"
    fake_cgroup2(root, "cpu io memory pids")
    v2 = cgroups.CgroupV2(root)
    made = v2.make_io_group("tierbench-1-2")
    group = root / "tierbench-1-2"
    assert made == {"path": str(group), "join": str(group / "workers"), "version": "v2", "root": str(root)}
    assert (root / "cgroup.subtree_control").read_text() == "+io +memory\n"
    assert (group / "cgroup.subtree_control").read_text() == "+memory\n"
    assert (group / "workers").is_dir()
    v2.set_io_limits(str(group), "7:3", 600, 720 * 10 ** 6)
    assert (group / "io.max").read_text() == "7:3 riops=600 wiops=600 rbps=720000000 wbps=720000000\n"
    v2.set_io_limits(str(group), "7:3", None, None)
    assert (group / "io.max").read_text() == "7:3 riops=max wiops=max rbps=max wbps=max\n"
    container = v2.make_container("tierbench-run-c1", 96 * 1024 ** 2, near=made["join"])
    assert container == str(group / "tierbench-run-c1")
    assert Path(container, "memory.max").read_text() == "100663296\n"
    # Without an emulation a container is a child of the root.
    assert v2.make_container("tierbench-run-c2", 1 << 26) == str(root / "tierbench-run-c2")
    # The emulation's throttle goes through the recorded resource: io.max of the group, MAJ:MIN of the device.
    em = emu.Emulation(tmp_path / "state.json", {"dir": str(tmp_path), "resources": [dict(made, kind="cgroup")],
                                                 "tiers": [{"name": "hdd", "class": "hdd", "path": str(tmp_path),
                                                            "device": "/dev/null", "emulated": {}}]})
    assert em.cgroup == made["join"]
    emu.set_throttle(em, "hdd", 150, 180.0)
    null = os.stat("/dev/null").st_rdev
    assert (group / "io.max").read_text() == (f"{os.major(null)}:{os.minor(null)} riops=150 wiops=150 "
                                              f"rbps=180000000 wbps=180000000\n")


def test_v1_writes_exactly_these_files(tmp_path):
    blkio, memory = tmp_path / "blkio", tmp_path / "memory"
    blkio.mkdir(), memory.mkdir()
    v1 = cgroups.CgroupV1(blkio, memory)
    made = v1.make_io_group("tierbench-1-2")
    assert made == {"path": str(blkio / "tierbench-1-2"), "join": str(blkio / "tierbench-1-2"), "version": "v1"}
    v1.set_io_limits(made["path"], "7:3", 600, 720 * 10 ** 6)
    files = {p.name: p.read_text() for p in (blkio / "tierbench-1-2").iterdir()}
    assert files == {"blkio.throttle.read_iops_device": "7:3 600\n", "blkio.throttle.write_iops_device": "7:3 600\n",
                     "blkio.throttle.read_bps_device": "7:3 720000000\n",
                     "blkio.throttle.write_bps_device": "7:3 720000000\n"}
    container = v1.make_container("tierbench-run-c1", 1 << 26, near=made["join"])
    assert Path(container, "memory.limit_in_bytes").read_text() == "67108864\n"


def test_tiers_emulate_check_says_what_the_host_has():
    found = cgroups.detect()
    proc = cli("tiers", "emulate", "--check")
    if os.geteuid() != 0:
        assert proc.returncode == 2 and "need root" in proc.stderr
    elif found["version"] == "none":
        assert proc.returncode == 2 and "need cgroup v1 blkio or cgroup v2" in proc.stderr
    else:
        assert proc.returncode == 0 and f"cgroup {found['version']}" in proc.stderr, proc.stderr


def real_cgroup2_root() -> tuple:
    """(a cgroup2 root offering io and memory, '') or (None, why not)."""
    if os.geteuid() != 0:
        return None, "needs root to make cgroups"
    roots = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
             if line.split()[2:3] == ["cgroup2"]]
    if not roots:
        return None, "no cgroup2 file system is mounted on this host"
    for root in roots:
        controllers = (Path(root) / "cgroup.controllers").read_text().split()
        if "io" in controllers and "memory" in controllers:
            return Path(root), ""
    return None, (f"this host's cgroup2 root {roots[0]} offers no io and memory controllers (cgroup.controllers: "
                  f"{(Path(roots[0]) / 'cgroup.controllers').read_text().strip() or 'empty'}): they are bound to "
                  f"its cgroup v1 hierarchies, so the v2 path cannot run here")


def test_real_cgroup2_hierarchy(tmp_path):
    """On a host whose cgroup2 root has io and memory: the v2 path on the real hierarchy — the kernel accepts
    io.max for a loop device and memory.max, a process joins the workers' leaf, and removal leaves nothing."""
    root, why = real_cgroup2_root()
    if root is None:
        pytest.skip(why)
    if shutil.which("losetup") is None:
        pytest.skip("needs losetup")
    img = tmp_path / "v2.img"
    with open(img, "wb") as f:
        f.truncate(16 * 1024 ** 2)
    device = subprocess.run(["losetup", "--find", "--show", str(img)], capture_output=True, text=True,
                            check=True).stdout.strip()
    v2 = cgroups.CgroupV2(root)
    made = None
    sleeper = None
    try:
        made = v2.make_io_group(f"tierbench-test-{os.getpid()}-{int(time.time())}")
        st = os.stat(device)
        devno = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        v2.set_io_limits(made["path"], devno, 150, 180 * 10 ** 6)
        assert f"{devno} rbps=180000000 wbps=180000000 riops=150 wiops=150" in Path(made["path"], "io.max").read_text()
        container = v2.make_container("tierbench-test-c1", 64 * 1024 ** 2, near=made["join"])
        assert Path(container, "memory.max").read_text().strip() == str(64 * 1024 ** 2)
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        emu.join_cgroup(made["join"], sleeper.pid)
        assert str(sleeper.pid) in Path(made["join"], "cgroup.procs").read_text().split()
        emu.join_cgroup(container, sleeper.pid)
        assert str(sleeper.pid) in Path(container, "cgroup.procs").read_text().split()
    finally:
        if made is not None:
            v2.remove(made["path"])
            assert not Path(made["path"]).exists()
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        subprocess.run(["losetup", "-d", device], check=True)
