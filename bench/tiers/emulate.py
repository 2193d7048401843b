"""Emulated tiers (root only): loop devices, ext4, mounts, and I/O throttles in a cgroup (v1 blkio or v2 io.max,
whichever the host has: bench.tiers.cgroups).

    hdd     --hdd-model seek (default): a loop device (direct I/O) on the image a drive-model daemon serves
            over FUSE (bench/tiers/hdd_model.py, drive/tb_hddmodel.c): seeks, rotation, media rate, command
            reordering, --hdd-drives heads; the daemon is recorded like every other resource, and its death
            fails the case that is running (bench.tiers.hdd_model.failure).
            --hdd-model throttle: loop on a disk file (direct I/O to the backing file), throttled to --hdd-iops /
            --hdd-mbps per direction per drive (defaults 150 IOPS, 180 MB/s) times --hdd-drives (default
            1): a node's set of data drives, as HDFS stripes blocks over its data directories. The throttle is
            not a disk: it counts bios (a 1 MiB request is one or two, from run to run: 79 or 157 MB/s), lets
            ~15 I/Os through at once and then stalls ~100 ms, and knows nothing of seeks (docs/hdd-model.md);
    nvme    loop on a disk file, unthrottled (whatever the machine's disk gives);
    optane  loop on a tmpfs file (RAM speed behind a block device).

Throttles apply to direct I/O, to buffered writes that are fsynced, and to reads that miss the page cache,
not to background writeback: measured writes are fsynced or direct and measured reads are cold.
Measured processes must run inside the group (`join_cgroup`); the runner's workers do.

Every resource is recorded in a state file as soon as it exists, so `teardown` (and crash recovery: a
later `tiers emulate` or `tiers teardown`) removes exactly what tierbench made and nothing else.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

from bench.core.errors import UserError
from bench.store.runs import atomic_write_text
from bench.tiers import cgroups, hdd_model
from bench.tiers.detect import Tier, detect

DEFAULT_DIR = "/var/tmp/tierbench-emulated"
RAM_ROOT = "/dev/shm"  # the optane tier's backing file lives in /dev/shm/<name of the emulation folder>
BLKIO = Path("/sys/fs/cgroup/blkio")     # where cgroup v1 blkio usually is (bench.tiers.cgroups finds the real one)
DEFAULT_HDD_IOPS = 150
DEFAULT_HDD_MBPS = 180
# Nominal device capacities for IOPS per GB: a common drive of each class (the loop file is far smaller).
NOMINAL_CAPACITY = {"hdd": 8 * 10 ** 12, "nvme": 3840 * 10 ** 9, "optane": 800 * 10 ** 9}
MB = 10 ** 6


def state_path(base_dir: Optional[str] = None) -> Path:
    return Path(base_dir or os.environ.get("TIERBENCH_EMULATE_DIR") or DEFAULT_DIR) / "state.json"


def _run(cmd: list) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"{' '.join(cmd[:2])} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout.strip()


def check_can_emulate():
    """Root, losetup/mkfs.ext4/mount and a cgroup backend (v1 blkio or v2 io): the backend, or a UserError
    saying what is missing."""
    if os.geteuid() != 0:
        raise UserError("emulated tiers need root (loop devices, mounts, cgroups): run as root, "
                        "or give real tiers with --tier NAME=PATH")
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")
                   + ["/sbin", "/usr/sbin"]):
            raise UserError(f"emulated tiers need {tool} (util-linux / e2fsprogs)")
    return cgroups.backend()


class Emulation:
    """The resources of one emulation, persisted in its state file after every change."""

    def __init__(self, path: Path, state: dict):
        self.path = path
        self.state = state

    @classmethod
    def load(cls, base_dir: Optional[str] = None) -> Optional["Emulation"]:
        path = state_path(base_dir)
        if not path.exists():
            return None
        try:
            return cls(path, json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"emulation state {path} is unreadable ({e}); remove it after checking "
                            f"`losetup -a` and /proc/mounts by hand") from None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.state, indent=2) + "\n")

    def record(self, kind: str, **fields) -> dict:
        item = {"kind": kind, **fields}
        self.state["resources"].append(item)
        self.save()
        return item

    @property
    def cgroup_resource(self) -> Optional[dict]:
        return next((r for r in self.state["resources"] if r["kind"] == "cgroup"), None)

    @property
    def cgroup(self) -> Optional[str]:
        """The group measured processes join (v1: the blkio group; v2: the `workers` leaf of the group)."""
        r = self.cgroup_resource
        return (r.get("join") or r["path"]) if r else None

    def tiers(self) -> list:
        return [Tier.from_dict(t) for t in self.state.get("tiers", [])]

    def tier(self, name: str) -> Optional[Tier]:
        return next((t for t in self.tiers() if t.name == name), None)


def _loop_devno(device: str) -> str:
    st = os.stat(device)
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def set_throttle(emulation: Emulation, tier_name: str, iops: Optional[int], mbps: Optional[float]) -> None:
    """Set (or clear, with None) the read and write IOPS/bandwidth throttle of an emulated tier."""
    tier = emulation.tier(tier_name)
    resource = emulation.cgroup_resource
    if tier is None or resource is None:
        raise UserError(f"no emulated tier {tier_name!r} to throttle")
    cgroups.for_resource(resource).set_io_limits(resource["path"], _loop_devno(tier.device), iops,
                                                 int((mbps or 0) * MB))
    tiers = []
    for t in emulation.state["tiers"]:
        if t["name"] == tier_name:
            t = dict(t, emulated=dict(t["emulated"], iops=iops, mbps=mbps))
        tiers.append(t)
    emulation.state["tiers"] = tiers
    emulation.save()


def halving(emulation: Emulation) -> str:
    """How half_the_drives halves this emulation's hdd tier, in words."""
    hdd = emulation.tier("hdd").emulated
    if hdd.get("daemon"):
        drives = hdd.get("drives") or 1
        if drives == 1:
            return "not halved: the emulated hdd tier is one drive (a-half and e repeat a and d; use --hdd-drives 2 or more)"
        return f"emulated drives halved ({drives // 2} of {drives})"
    return "emulated throttle halved"


@contextlib.contextmanager
def half_the_drives(emulation: Emulation):
    """Within the block, the hdd tier has half its drives: the seek model's daemon uses half its heads (at least
    one), the throttle is halved."""
    hdd = emulation.tier("hdd").emulated
    if hdd.get("daemon"):
        hdd_model.set_active_drives(hdd, max(1, (hdd.get("drives") or 1) // 2))
        try:
            yield
        finally:
            hdd_model.set_active_drives(hdd, hdd.get("drives") or 1)
        return
    set_throttle(emulation, "hdd", max(1, hdd["iops"] // 2), hdd["mbps"] / 2)
    try:
        yield
    finally:
        set_throttle(emulation, "hdd", hdd["iops"], hdd["mbps"])


def _allocate_image(em: Emulation, path: Path, size: int, name: str) -> None:
    """A new image file of `size` bytes for tier `name`, recorded before it is filled (teardown removes it)."""
    if path.exists():
        raise UserError(f"{path} already exists: run `tierbench tiers teardown` first")
    em.record("file", path=str(path))
    with open(path, "wb") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as e:
            raise UserError(f"cannot allocate {size} bytes for the {name} tier in {path.parent}: {e.strerror}") \
                from None


def _make_tier(em: Emulation, name: str, backing_dir: Path, size: int, direct_io: bool) -> tuple:
    backing_dir.mkdir(parents=True, exist_ok=True)
    backing = backing_dir / f"{name}.img"
    _allocate_image(em, backing, size, name)
    cmd = ["losetup", "--find", "--show"] + (["--direct-io=on"] if direct_io else []) + [str(backing)]
    device = _run(cmd)
    em.record("loop", device=device, backing=str(backing))
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", device])
    mnt = Path(em.state["dir"]) / "mnt" / name
    mnt.mkdir(parents=True, exist_ok=True)
    em.record("dir", path=str(mnt))
    _run(["mount", "-o", "noatime", device, str(mnt)])
    em.record("mount", path=str(mnt), device=device)
    return device, str(mnt)


def _make_seek_hdd(em: Emulation, base: Path, size: int, params: hdd_model.DriveParams) -> tuple:
    """The seek-aware hdd tier: image file, its daemon's FUSE mount, a loop device on the served drive.img,
    ext4, mounted. Every step is recorded before the next (teardown removes them newest first)."""
    image = base / "hdd-drive.img"
    _allocate_image(em, image, size, "hdd")
    fuse_dir = base / "fuse-hdd"
    fuse_dir.mkdir(parents=True, exist_ok=True)
    em.record("dir", path=str(fuse_dir))
    log = base / "hdd-daemon.log"
    em.record("file", path=str(log))
    proc = hdd_model.start(str(image), str(fuse_dir), params, str(log))
    daemon = {"pid": proc.pid, "mount": str(fuse_dir), "log": str(log)}
    em.record("daemon", **daemon)
    em.record("fuse", path=str(fuse_dir))
    served = str(fuse_dir / hdd_model.IMAGE_FILE)
    device = _run(["losetup", "--find", "--show", "--direct-io=on", served])
    em.record("loop", device=device, backing=served)
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", device])
    mnt = Path(em.state["dir"]) / "mnt" / "hdd"
    mnt.mkdir(parents=True, exist_ok=True)
    em.record("dir", path=str(mnt))
    _run(["mount", "-o", "noatime", device, str(mnt)])
    em.record("mount", path=str(mnt), device=device)
    return device, str(mnt), daemon


def emulate(base_dir: Optional[str] = None, ram_dir: Optional[str] = None, size: int = 2 * 1024 ** 3,
            hdd_iops: int = DEFAULT_HDD_IOPS, hdd_mbps: float = DEFAULT_HDD_MBPS, hdd_drives: int = 1,
            hdd_model_name: str = hdd_model.DEFAULT_MODEL, hdd_rpm: Optional[float] = None,
            hdd_seek_ms: Optional[float] = None) -> Emulation:
    """Build the hdd, nvme and optane tiers; on any failure, remove what was made and raise. The hdd tier is
    `hdd_drives` drives: with the seek model, one daemon with that many heads (`hdd_rpm`, `hdd_seek_ms`,
    `hdd_mbps` each; defaults in bench.tiers.hdd_model); with the throttle, `hdd_iops` / `hdd_mbps` each,
    throttled to their sum. Nominally their capacity either way."""
    backend = check_can_emulate()
    if hdd_model_name not in hdd_model.MODELS:
        raise UserError(f"--hdd-model must be one of {', '.join(hdd_model.MODELS)} (not {hdd_model_name!r})")
    if not (0 < hdd_iops < float("inf")) or not (0 < hdd_mbps < float("inf")):
        raise UserError("--hdd-iops and --hdd-mbps must be positive numbers")
    if isinstance(hdd_drives, bool) or not isinstance(hdd_drives, int) or hdd_drives < 1:
        raise UserError(f"--hdd-drives must be a whole number of drives, at least 1 (not {hdd_drives})")
    seek = hdd_model_name == "seek"
    if not seek and (hdd_rpm is not None or hdd_seek_ms is not None):
        raise UserError("--hdd-rpm and --hdd-seek-ms describe the seek model: not with --hdd-model throttle")
    params = None
    if seek:
        defaults = hdd_model.DriveParams()
        params = hdd_model.DriveParams(rpm=defaults.rpm if hdd_rpm is None else hdd_rpm,
                                       seek_ms=defaults.seek_ms if hdd_seek_ms is None else hdd_seek_ms,
                                       mbps=hdd_mbps, drives=hdd_drives).check()
        hdd_model.binary()
    existing = Emulation.load(base_dir)
    if existing is not None:
        raise UserError(f"emulated tiers already exist (state {existing.path}); "
                        f"use them by name or run `tierbench tiers teardown`")
    base = Path(base_dir or os.environ.get("TIERBENCH_EMULATE_DIR") or DEFAULT_DIR)
    ram = Path(ram_dir or os.path.join(RAM_ROOT, base.name))
    em = Emulation(state_path(str(base)), {"dir": str(base), "created_at": time.time(), "pid": os.getpid(),
                                           "resources": [], "tiers": []})
    try:
        base.mkdir(parents=True, exist_ok=True)
        em.save()
        em.record("cgroup", **backend.make_io_group(f"tierbench-{os.getpid()}-{int(time.time())}"))
        tiers = []
        for name, backing_dir, direct in (("hdd", base, True), ("nvme", base, True), ("optane", ram, False)):
            if name == "optane":
                em.record("dir", path=str(ram))
            drives = hdd_drives if name == "hdd" else 1
            described = {"backing": "tmpfs file" if name == "optane" else "disk file",
                         "size_bytes": size, "iops": None, "mbps": None, "drives": drives}
            if name == "hdd" and seek:
                device, mnt, daemon = _make_seek_hdd(em, base, size, params)
                described.update(backing="drive-model daemon (FUSE)", model="seek", drive=params.to_dict(),
                                 daemon=daemon)
            else:
                device, mnt = _make_tier(em, name, backing_dir, size, direct)
                if name == "hdd":
                    described["model"] = "throttle"
            described["loop"] = device
            tier = detect(name, mnt, name, nominal_capacity_bytes=NOMINAL_CAPACITY[name] * drives,
                          emulated=described)
            tiers.append(tier.to_dict())
        em.state["tiers"] = tiers
        em.save()
        if not seek:
            set_throttle(em, "hdd", hdd_iops * hdd_drives, hdd_mbps * hdd_drives)
        return em
    except BaseException:
        teardown_emulation(em)
        raise


MEMORY = Path("/sys/fs/cgroup/memory")   # where cgroup v1 memory usually is (bench.tiers.cgroups finds the real one)


def make_container(name: str, memory_bytes: int, near: Optional[str] = None) -> str:
    """A memory group capped at `memory_bytes` (anonymous memory and page cache together), like a YARN
    container's: the page cache a task can keep is what its limit leaves. Root only. `near`: the emulation's
    group its workers join (cgroup v2 puts the container below the emulation's group, so the tier's throttle
    applies inside it; v1 keeps them in separate hierarchies)."""
    if os.geteuid() != 0:
        raise UserError("a container memory limit needs root")
    found = cgroups.detect()
    if not found["memory"]:
        raise UserError("a container memory limit needs a memory cgroup controller: " + "; ".join(found["missing"]))
    return cgroups.backend(found).make_container(name, memory_bytes, near=near)


def remove_container(group: str) -> None:
    """Remove a container made by make_container (its page cache charges move to the parent)."""
    path = Path(group)
    if path.is_dir() and path.name.startswith("tierbench-"):
        cgroups.backend().remove(group)


def join_cgroup(group: Optional[str], pid: Optional[int] = None) -> None:
    """Move a process (default: this one) into a group: the emulation's (so its I/O is throttled), a container."""
    if group:
        Path(group, "cgroup.procs").write_text(f"{pid or os.getpid()}\n")


def _mounted(path: str) -> Optional[str]:
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1] == path:
            return parts[0]
    return None


def _stop_daemon(r: dict) -> None:
    """Stop a recorded drive-model daemon if that pid is still one (it exits by itself once its FUSE mount
    is gone: wait a little for that first)."""
    deadline = time.monotonic() + 5.0
    while hdd_model.is_running(r["pid"]) and time.monotonic() < deadline:
        if time.monotonic() > deadline - 4.0:
            os.kill(r["pid"], signal.SIGTERM)
        time.sleep(0.05)
    if hdd_model.is_running(r["pid"]):
        os.kill(r["pid"], signal.SIGKILL)
    try:
        os.waitpid(r["pid"], os.WNOHANG)     # reap it when this process started it
    except ChildProcessError:
        pass


def teardown_emulation(em: Emulation) -> list:
    """Remove every recorded resource, newest first; returns what was removed. Problems are raised at the
    end, after everything removable has been removed."""
    removed, problems = [], []
    for r in reversed(list(em.state["resources"])):
        try:
            if r["kind"] == "mount":
                if _mounted(r["path"]) == r["device"]:
                    subprocess.run(["sync", "-f", r["path"]], capture_output=True)
                    _run(["umount", r["path"]])
            elif r["kind"] == "loop":
                backing = Path(f"/sys/block/{Path(r['device']).name}/loop/backing_file")
                if backing.exists() and backing.read_text().strip().replace(" (deleted)", "") == r["backing"]:
                    _run(["losetup", "-d", r["device"]])
            elif r["kind"] == "fuse":
                if _mounted(r["path"]) is not None:
                    _run(["umount", r["path"]])
            elif r["kind"] == "daemon":
                _stop_daemon(r)
            elif r["kind"] == "file":
                if os.path.exists(r["path"]):
                    os.unlink(r["path"])
            elif r["kind"] == "dir":
                if os.path.isdir(r["path"]) and not os.listdir(r["path"]):
                    os.rmdir(r["path"])
            elif r["kind"] == "cgroup":
                if os.path.isdir(r["path"]):
                    cgroups.for_resource(r).remove(r["path"])
            removed.append(r)
            em.state["resources"].remove(r)
            em.save()
        except (UserError, OSError) as e:
            problems.append(f"{r['kind']} {r.get('path') or r.get('device')}: {e}")
    if not em.state["resources"]:
        em.path.unlink(missing_ok=True)
        mnt_root = Path(em.state["dir"]) / "mnt"
        for d in (mnt_root, Path(em.state["dir"])):
            if d.is_dir() and not os.listdir(d):
                d.rmdir()
    if problems:
        raise UserError("teardown left resources behind: " + "; ".join(problems))
    return removed


def teardown(base_dir: Optional[str] = None) -> list:
    em = Emulation.load(base_dir)
    if em is None:
        return []
    return teardown_emulation(em)
