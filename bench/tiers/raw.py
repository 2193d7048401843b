"""Raw block devices as tiers (`--tier NAME=/dev/DEV[:CLASS]`): the device baselines run on the device itself,
through fio, with the guards that keep tierbench from destroying anything that holds data or is in use.

A device (a whole disk or a partition: both get every check) is refused, with the reason, when:
- it is mounted or used as swap, or one of its partitions is (/proc/self/mountinfo's major:minor, /proc/swaps);
- it or one of its partitions is held by another block device (`holders/` in sysfs: an md array, an LVM or
  other device-mapper volume, a ZFS pool built on the partition), or it is itself such a volume (`slaves/`);
- it holds a partition table or a file-system (or RAID/LVM/ZFS member) signature: `blkid -p` (low-level probe,
  no cache) finds one; a device blkid cannot probe is refused too, since an unreadable device cannot be shown
  blank;
- it is, or shares its disk with, the device under `/` or under the results store (followed through
  device-mapper and md to the disks below);
- another process holds it open exclusively (the kernel's O_EXCL claim on a block device, which mount, md,
  LVM and ZFS take): TierLocks takes that claim for the run, so nobody mounts it meanwhile.
Writes need `--destroy-data` as well (check_raw_cases), and so does `--precondition` (it writes the test
region); read-only patterns run without it, with `--steady-state` too. Only I/O patterns that
work on one region of one device (the device baselines: one fileset of one file per job) run on a raw device,
only with fio (the builtin engine works on files in a directory); jobs and patterns that need a file system
(several files, several filesets: hdfs-*, mr-*, terasort, aggregate) are refused saying so. Each job of a
phase works on its own region of the device (`size` bytes, one after the other from offset 0), which must fit.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterable, Optional

from bench.core.errors import UserError
from bench.core.units import fmt_bytes

SYS_BLOCK = Path("/sys/class/block")


def is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def block_name(path: str) -> str:
    """The kernel's name of the block device at `path` (sda, sda1, nvme0n1, loop3)."""
    rdev = os.stat(path).st_rdev
    link = Path(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}")
    return Path(os.path.realpath(link)).name


def _devno(name: str) -> Optional[str]:
    try:
        return (SYS_BLOCK / name / "dev").read_text().strip()
    except OSError:
        return None


def partitions(name: str) -> list:
    """The partitions of a whole disk (sysfs entries below it with a `partition` file)."""
    base = SYS_BLOCK / name
    return sorted(p.name for p in base.iterdir() if (p / "partition").exists()) if base.is_dir() else []


def disk_of(name: str) -> str:
    """The whole disk of a partition (sda1 -> sda); a disk is its own."""
    if (SYS_BLOCK / name / "partition").exists():
        return Path(os.path.realpath(SYS_BLOCK / name)).parent.name
    return name


def _listing(path: Path) -> list:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def disks_under(name: str, depth: int = 0) -> set:
    """The whole disks a block device stands on: its own disk, or for a device-mapper / md volume the disks of
    its slaves, recursively."""
    disk = disk_of(name)
    slaves = _listing(SYS_BLOCK / name / "slaves") or _listing(SYS_BLOCK / disk / "slaves")
    if not slaves or depth > 8:
        return {disk}
    return set().union(*(disks_under(s, depth + 1) for s in slaves))


def _device_of_path(path: str) -> Optional[str]:
    """The block device name holding the file system of `path` (or of its nearest existing parent)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    dev = os.stat(p).st_dev
    link = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    return Path(os.path.realpath(link)).name if os.major(dev) and link.exists() else None


def _mounted_devnos() -> dict:
    """{major:minor: mount point} of every mounted file system, and {…: 'swap'} of swap devices."""
    out = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        parts = line.split()
        if len(parts) > 4:
            out.setdefault(parts[2], parts[4].replace("\\040", " "))
    for line in Path("/proc/swaps").read_text().splitlines()[1:]:
        parts = line.split()
        if parts and is_block_device(parts[0]):
            rdev = os.stat(parts[0]).st_rdev
            out.setdefault(f"{os.major(rdev)}:{os.minor(rdev)}", "swap")
    return out


def signature(device: str) -> Optional[str]:
    """What `blkid -p` (low-level probe, no cache) finds on `device`: 'a file system (ext4)', 'a partition table
    (gpt)', ..., or None when the device is blank. UserError when it cannot be probed."""
    blkid = shutil.which("blkid")
    if blkid is None:
        raise UserError(f"{device}: blkid (util-linux) is needed to check that a raw device holds no data")
    proc = subprocess.run([blkid, "-p", "-o", "export", device], capture_output=True, text=True, timeout=60)
    if proc.returncode == 2:
        return None
    if proc.returncode != 0:
        raise UserError(f"{device}: blkid -p cannot probe it ({proc.stderr.strip() or f'exit {proc.returncode}'}), "
                        f"so it cannot be shown to hold no data")
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if "PTTYPE" in found and "TYPE" not in found:
        return f"a partition table ({found['PTTYPE']})"
    kind = found.get("USAGE", "filesystem")
    what = {"filesystem": "a file system", "raid": "a RAID/LVM/ZFS member", "crypto": "an encrypted volume"}
    return f"{what.get(kind, 'a ' + kind)} signature ({found.get('TYPE', 'unknown type')})"


def refusal(device: str, store_root: Optional[str] = None) -> Optional[str]:
    """Why the block device at `device` may not be a raw tier (see the module's doc), or None."""
    name = block_name(device)
    part = " (a partition)" if (SYS_BLOCK / name / "partition").exists() else ""
    mounted = _mounted_devnos()
    for n in [name] + partitions(name):
        where = mounted.get(_devno(n) or "")
        if where:
            own = "it" if n == name else f"its partition /dev/{n}"
            return f"{own} is {'used as swap' if where == 'swap' else f'mounted on {where}'}"
        holders = _listing(SYS_BLOCK / n / "holders")
        if holders:
            own = "it" if n == name else f"its partition /dev/{n}"
            return (f"{own} is part of {', '.join('/dev/' + h for h in holders)} (an md array, LVM/device-mapper "
                    f"volume or ZFS pool)")
    slaves = _listing(SYS_BLOCK / name / "slaves")
    if slaves:
        return f"it is an md/LVM/device-mapper volume built on {', '.join('/dev/' + s for s in slaves)}"
    disk = disk_of(name)
    for what, path in (("/", "/"), ("the results store", store_root)):
        if not path:
            continue
        under = _device_of_path(path)
        if under and disk in disks_under(under):
            return f"its disk /dev/{disk} holds {what} (on /dev/{under})"
    found = signature(device)
    if found:
        return f"it holds {found}{part}; erase it yourself (wipefs -a {device}) if its data may go"
    return None


def open_exclusive(name: str, device: str) -> int:
    """An O_EXCL descriptor of the device: the kernel refuses it while the device is mounted or claimed by md,
    LVM or ZFS, and refuses them while we hold it. UserError when it is claimed."""
    try:
        return os.open(device, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except PermissionError as e:
        raise UserError(f"tier {name}: cannot open {device} ({e.strerror}): measuring a raw device needs root or "
                        f"write access to it") from None
    except OSError as e:
        raise UserError(f"tier {name}: {device} is in use ({e.strerror}: mounted, or claimed by md/LVM/ZFS or "
                        f"another program)") from None


def check_raw_cases(cases: Iterable, tiers: dict, destroy_data: bool, precondition: bool = False) -> None:
    """Before anything runs: every case on a raw tier is an I/O pattern that fio can run on the device (one file
    per job, one fileset), fits the device, and writes only with `destroy_data`; UserError (exit 2) otherwise.
    `precondition` (--precondition) writes the test region of every case, read-only ones too. `tiers`: name -> Tier."""
    import workloads

    for case in cases:
        names = {case.tier, case.temp_tier or case.tier}
        raw = [tiers[n] for n in names if getattr(tiers[n], "raw", False)]
        if not raw:
            continue
        t = raw[0]
        where = f"tier {t.name} is the raw device {t.path}"
        if case.kind != "pattern":
            raise UserError(f"{where}: {case.workload} is a job that needs a file system (its data and temp "
                            f"files); raw devices run the device baselines (rand-read-4k, rand-write-4k, "
                            f"seq-read-1m, seq-write-1m)")
        if case.engine != "fio":
            raise UserError(f"{where}: the {case.engine} engine works on files in a directory; raw devices run "
                            f"with --engine fio")
        w = workloads.get(case.workload)
        pattern = w.build(workloads.coerce_params(w, case.params))
        if len({p.fileset for p in pattern.phases}) > 1 or any(p.nrfiles > 1 for p in pattern.phases):
            raise UserError(f"{where}: {case.workload} needs a file system (several files per job or several "
                            f"filesets); raw devices run the device baselines (rand-read-4k, rand-write-4k, "
                            f"seq-read-1m, seq-write-1m)")
        if precondition and not destroy_data:
            raise UserError(f"{where}: --precondition writes the region {case.workload} works on (sequential "
                            f"128 KiB writes, twice), destroying what it holds: give --destroy-data to allow it")
        writes = [p.name for p in pattern.phases if p.writes]
        if writes and not destroy_data:
            raise UserError(f"{where}: {case.workload} writes to it, destroying what it holds: give "
                            f"--destroy-data to allow it (read-only workloads run without)")
        need = max(p.file_size * p.numjobs for p in pattern.phases)
        if t.capacity_bytes is not None and need > t.capacity_bytes:
            raise UserError(f"{where}: {case.workload} needs {fmt_bytes(need)} of it (size x numjobs), the device "
                            f"has {fmt_bytes(t.capacity_bytes)}: give a smaller --param size")
