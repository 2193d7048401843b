"""Control groups for emulated tiers and containers, on cgroup v1 or v2 (unified), whichever the host has.

What tierbench needs of them:
- an I/O throttle on an emulated tier's loop device, for the processes that measure it
  (v1: blkio.throttle.{read,write}_{iops,bps}_device; v2: io.max "MAJ:MIN riops= wiops= rbps= wbps=");
- a memory limit that covers page cache, for a scenario's containers, as YARN's
  (v1: memory.limit_in_bytes; v2: memory.max).

v1 has one hierarchy per controller: the throttle group and a container are two groups a process joins at once.
v2 has one hierarchy, and a process is in one group only, and a group that delegates controllers to its children
holds no process of its own. So on v2 an emulation is a group `tierbench-…` under the cgroup2 root, with the io
and memory controllers enabled in the root's `cgroup.subtree_control` (io.max on the group, applying to all below
it) and memory enabled in its own; its workers join the leaf `workers` below it, and a container is another child
of it (memory.max), so that the throttle applies inside the container too. Without emulation a container is a
child of the root.

Every class takes its root folders as parameters, so that tests can point them at a folder laid out like a
cgroup mount and read back exactly what would be written. Controllers enabled in a cgroup2 root's
subtree_control are left enabled at teardown (other groups may rely on them by then).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from bench.core.errors import UserError

CGROUP_FS = Path("/sys/fs/cgroup")
V2_CONTROLLERS = ("io", "memory")


def _mounts(mounts_file: str = "/proc/mounts") -> list:
    out = []
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) >= 4:
            out.append((parts[1], parts[2], parts[3].split(",")))
    return out


def _read_words(path: Path) -> Optional[list]:
    try:
        return path.read_text().split()
    except OSError:
        return None


def detect(mounts_file: str = "/proc/mounts") -> dict:
    """Which cgroups this host offers tierbench, for the machine fingerprint and for `backend()`:
    {"version": "v1" | "v2" | "none", "io": folder or None, "memory": folder or None, "missing": [what is not
    there, in words]}. v1 is used where its blkio hierarchy is mounted (the hybrid layout of older systemd
    keeps an empty cgroup2 beside it); else v2 where the cgroup2 root offers the io controller."""
    v1 = {}
    v2_root = None
    for mnt, fstype, opts in _mounts(mounts_file):
        if fstype == "cgroup":
            for controller in ("blkio", "memory"):
                if controller in opts and controller not in v1:
                    v1[controller] = mnt
        elif fstype == "cgroup2" and v2_root is None:
            v2_root = mnt
    missing = []
    if "blkio" in v1:
        if "memory" not in v1:
            missing.append("cgroup v1 memory is not mounted (no containers)")
        return {"version": "v1", "io": v1["blkio"], "memory": v1.get("memory"), "missing": missing}
    missing.append("cgroup v1 blkio is not mounted")
    if v2_root is None:
        missing.append("no cgroup2 file system is mounted")
        return {"version": "none", "io": None, "memory": v1.get("memory"), "missing": missing}
    controllers = _read_words(Path(v2_root) / "cgroup.controllers") or []
    lacking = [c for c in V2_CONTROLLERS if c not in controllers]
    if "io" in lacking:
        missing.append(f"the cgroup2 root {v2_root} offers no io controller (cgroup.controllers: "
                       f"{' '.join(controllers) or 'empty'})")
        return {"version": "none", "io": None, "memory": v1.get("memory"), "missing": missing}
    if "memory" in lacking:
        missing.append(f"the cgroup2 root {v2_root} offers no memory controller (no containers)")
    return {"version": "v2", "io": v2_root, "memory": v2_root if "memory" not in lacking else None,
            "missing": missing[1:]}


class CgroupV1:
    version = "v1"

    def __init__(self, blkio: Path, memory: Optional[Path] = None):
        self.blkio, self.memory = Path(blkio), Path(memory) if memory else None

    def make_io_group(self, name: str) -> dict:
        group = self.blkio / name
        group.mkdir()
        return {"path": str(group), "join": str(group), "version": self.version}

    def io_limits(self, devno: str, iops: Optional[int], bps: Optional[int]) -> dict:
        """{file: content} that throttles `devno` to `iops` / `bps` per direction (None or 0: no limit)."""
        return {f"blkio.throttle.{d}_{kind}_device": f"{devno} {int(value or 0)}\n"
                for d in ("read", "write") for kind, value in (("iops", iops), ("bps", bps))}

    def set_io_limits(self, group: str, devno: str, iops: Optional[int], bps: Optional[int]) -> None:
        for name, text in self.io_limits(devno, iops, bps).items():
            Path(group, name).write_text(text)

    def make_container(self, name: str, memory_bytes: int, near: Optional[str] = None) -> str:
        if self.memory is None:
            raise UserError("a container memory limit needs cgroup v1 memory (not mounted here)")
        group = self.memory / name
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(f"{int(memory_bytes)}\n")
        return str(group)

    def remove(self, group: str) -> None:
        """Move the group's processes to its hierarchy's root, then remove it."""
        path = Path(group)
        root = next((r for r in (self.blkio, self.memory) if r is not None and path.parent == r), None)
        if root is None:
            raise UserError(f"{group} is not a group tierbench makes (not directly under {self.blkio})")
        _evacuate(path, root)
        path.rmdir()


class CgroupV2:
    version = "v2"

    def __init__(self, root: Path):
        self.root = Path(root)

    def enable(self, group: Path, controllers) -> list:
        """Enable `controllers` for the children of `group` (its cgroup.subtree_control); returns the ones
        that were not yet enabled. A group that holds processes cannot delegate (the kernel says EBUSY)."""
        control = group / "cgroup.subtree_control"
        enabled = _read_words(control) or []
        wanted = [c for c in controllers if c not in enabled and f"+{c}" not in enabled]
        if wanted:
            try:
                control.write_text(" ".join(f"+{c}" for c in wanted) + "\n")
            except OSError as e:
                raise UserError(f"cannot enable the {', '.join(wanted)} controller(s) in {control}: {e.strerror}"
                                + (" (a cgroup that holds processes cannot delegate controllers: run from the "
                                   "host's root cgroup, or use cgroup v1)" if e.errno == 16 else "")) from None
        return wanted

    def make_io_group(self, name: str) -> dict:
        self.enable(self.root, V2_CONTROLLERS)
        group = self.root / name
        group.mkdir()
        try:
            self.enable(group, ("memory",))       # containers below it
            (group / "workers").mkdir()
        except BaseException:
            self._remove_tree(group)
            raise
        return {"path": str(group), "join": str(group / "workers"), "version": self.version,
                "root": str(self.root)}

    def io_limits(self, devno: str, iops: Optional[int], bps: Optional[int]) -> dict:
        """{file: content}: io.max for `devno` ("max": no limit)."""
        i = str(int(iops)) if iops else "max"
        b = str(int(bps)) if bps else "max"
        return {"io.max": f"{devno} riops={i} wiops={i} rbps={b} wbps={b}\n"}

    def set_io_limits(self, group: str, devno: str, iops: Optional[int], bps: Optional[int]) -> None:
        for name, text in self.io_limits(devno, iops, bps).items():
            Path(group, name).write_text(text)

    def make_container(self, name: str, memory_bytes: int, near: Optional[str] = None) -> str:
        """A child of the emulation's group when `near` is its workers' leaf (the throttle applies inside),
        else of the root."""
        parent = Path(near).parent if near else self.root
        self.enable(parent, ("memory",))
        group = parent / name
        group.mkdir()
        try:
            (group / "memory.max").write_text(f"{int(memory_bytes)}\n")
        except BaseException:
            group.rmdir()
            raise
        return str(group)

    def remove(self, group: str) -> None:
        path = Path(group)
        if self.root not in path.parents:
            raise UserError(f"{group} is not below the cgroup2 root {self.root}")
        self._remove_tree(path)

    def _remove_tree(self, path: Path) -> None:
        """Remove `path` and the groups below it, deepest first, moving their processes to the root (the only
        group that may hold processes next to delegated controllers)."""
        if not path.is_dir():
            return
        for child in sorted((p for p in path.iterdir() if p.is_dir()), reverse=True):
            self._remove_tree(child)
        _evacuate(path, self.root)
        path.rmdir()


def _evacuate(group: Path, to: Path) -> None:
    for pid in _read_words(group / "cgroup.procs") or []:
        try:
            (to / "cgroup.procs").write_text(pid + "\n")
        except ProcessLookupError:
            pass


def backend(found: Optional[dict] = None):
    """The cgroup backend of this host (CgroupV1 or CgroupV2), or a UserError saying what is missing."""
    found = found or detect()
    if found["version"] == "v1":
        return CgroupV1(Path(found["io"]), Path(found["memory"]) if found["memory"] else None)
    if found["version"] == "v2":
        return CgroupV2(Path(found["io"]))
    raise UserError("emulated tiers need cgroup v1 blkio or cgroup v2 with the io controller: "
                    + "; ".join(found["missing"]))


def for_resource(resource: dict):
    """The backend that made a recorded cgroup (state files from before v2 support have no version: v1)."""
    if resource.get("version") == "v2":
        return CgroupV2(Path(resource["root"]))
    path = Path(resource["path"])
    found = detect()
    memory = Path(found["memory"]) if found["version"] == "v1" and found["memory"] else None
    return CgroupV1(path.parent, memory)


def containers_available(found: Optional[dict] = None) -> bool:
    """Whether memory-capped containers can be made here (root and a memory controller)."""
    found = found or detect()
    return os.geteuid() == 0 and found["version"] in ("v1", "v2") and bool(found["memory"])


def _counters(path: Path) -> dict:
    """`key value` lines (memory.oom_control, memory.events) as {key: int}; {} when unreadable."""
    out = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def oom_kills(group: str) -> Optional[int]:
    """Processes the kernel's OOM killer killed in a memory group since it was made: `oom_kill` of v1's
    memory.oom_control (kernel 4.13 and later) or v2's memory.events; None where the group says nothing."""
    path = Path(group)
    for name in ("memory.events", "memory.oom_control"):
        counters = _counters(path / name)
        if "oom_kill" in counters:
            return counters["oom_kill"]
    return None
