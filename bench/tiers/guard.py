"""Guards on the places a run writes to, checked before any byte is written.

- Places: a tier is a directory that exists (tierbench never creates a tier root; only `tiers emulate` makes
  its own), never a device, and never a system path: `/`, `/bin`, `/sbin`, `/lib*`, `/var`, `/var/lib`,
  `/run`, `/home`, `/root` themselves, anything in `/proc`, `/sys`, `/dev` (but `/dev/shm`, the memory
  tier), `/etc`, `/boot`, `/usr`, the results store, tierbench's own source folders — unless the user says
  `--allow-system-path`. Both the path as given and the path its symlinks resolve to are checked.
- Free space: a case's bytes (a pattern's files from its phases, a job's own `space_needed` estimate)
  against what its tiers' file systems have free, with both numbers in the message; on a RAM file system
  (tmpfs, ramfs) what the machine's memory has available bounds it too. The parent checks every case of the
  plan before anything runs; bench.engines.layout checks again in the worker right before the first file is written,
  since free space changes.
- A raw block device tier (bench.tiers.raw) is checked when it is resolved, not here, and held for the run with
  the kernel's exclusive claim on it (O_EXCL) instead of a flock.
- One run per tier root: an exclusive flock on the tier root directory itself, held for the run. flock
  leaves no file anywhere, is released by the kernel when the process dies (a killed run never blocks the
  next one), and works whichever results store or user the other run has; /proc/locks names the holder's
  pid. Concurrent runs on one tier disturb each other's figures, so a second run is refused unless
  `--allow-shared-tier`.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Iterable, Mapping, Optional

from bench.core.errors import UserError
from bench.core.system_paths import (  # noqa: F401 - the one list, re-exported for the guard's readers
    ALLOWED_INSIDE,
    EXACT,
    INSIDE,
    SOURCE_FOLDERS,
    repository_root,
    system_path_reason,
)
from bench.core.units import SPACE_MARGIN, fmt_bytes
from bench.tiers.mounts import mount_of
from bench.tiers.raw import open_exclusive

MEMORY_FS = ("tmpfs", "ramfs")


# -- places ---------------------------------------------------------------------------------------

def check_place(name: str, path: str, *, allow_system_path: bool = False, store_root: Optional[str] = None) -> None:
    """Raise UserError unless `path` is an existing directory that may hold a tier (see the module's doc)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"tier {name}: {path} does not exist (tierbench never creates a tier's folder: "
                        f"make it, or build emulated tiers with `tierbench tiers emulate`)") from None
    except OSError as e:
        raise UserError(f"tier {name}: {path}: {e.strerror}") from None
    kind = ("a block device" if stat.S_ISBLK(st.st_mode) else "a character device" if stat.S_ISCHR(st.st_mode)
            else None)
    if kind:
        raise UserError(f"tier {name}: {path} is {kind}; a tier is a directory on a mounted file system "
                        f"(mount the device and give its mount point)")
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"tier {name}: {path} is not a directory")
    if allow_system_path:
        return
    given = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    real = os.path.realpath(given)
    for candidate in dict.fromkeys((given, real)):
        reason = system_path_reason(candidate, store_root)
        if reason:
            via = f"{path} resolves to {candidate}, " if candidate != given else f"{path} is "
            raise UserError(f"tier {name}: {via}{reason}, not a place for benchmark files "
                            f"(give --allow-system-path if you really mean it)")


def check_places(tiers: Iterable, *, allow_system_path: bool = False, store_root: Optional[str] = None) -> None:
    """check_place for every directory tier; a raw device tier was checked when it was made (bench.tiers.raw)."""
    for t in tiers:
        if getattr(t, "raw", False):
            continue
        check_place(t.name, t.path, allow_system_path=allow_system_path, store_root=store_root)


# -- free space -----------------------------------------------------------------------------------

def _memory_available() -> Optional[int]:
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except (ImportError, OSError):
        return None


def _fstype(path: str) -> Optional[str]:
    mount = mount_of(path)
    return mount[2] if mount else None


def free_bytes(path: str) -> tuple:
    """(bytes that can be written under `path`, note): the file system's free space for unprivileged users,
    and on a RAM file system no more than the memory available (its pages are that memory)."""
    free = shutil.disk_usage(path).free
    if _fstype(path) in MEMORY_FS:
        avail = _memory_available()
        st = os.statvfs(path)
        if avail is not None and (avail < free or st.f_blocks == 0):
            return avail, " (memory available)"
    return free, ""


def pattern_needs(pattern, dirs_by_role: Mapping[str, str]) -> dict:
    """{directory: (bytes, description)} the pattern's files take at their peak, from its phases
    (bench.core.pattern.Pattern.footprint_bytes: per fileset, its largest phase's files, all kept until the case
    ends)."""
    out: dict = {}
    for role in sorted({p.role for p in pattern.phases}):
        nbytes = pattern.footprint_bytes(role)
        if not nbytes:
            continue
        biggest: dict = {}
        for p in pattern.phases:
            if p.role == role and p.file_size * p.nrfiles * p.numjobs >= biggest.get(p.fileset, (0, ""))[0]:
                biggest[p.fileset] = (p.file_size * p.nrfiles * p.numjobs,
                                      f"{p.numjobs} job{'s' if p.numjobs > 1 else ''} x {p.nrfiles} "
                                      f"file{'s' if p.nrfiles > 1 else ''} of {fmt_bytes(p.file_size)}")
        desc = "; ".join(f"{fs}: {d}" if len(biggest) > 1 else d for fs, (_, d) in biggest.items())
        d = dirs_by_role[role]
        prev = out.get(d, (0, ""))
        out[d] = (prev[0] + nbytes, "; ".join(x for x in (prev[1], desc) if x))
    return out


def check_needs(needs: Mapping[str, tuple], names: Mapping[str, str], what: str, error=UserError) -> None:
    """Raise `error` unless each file system has room for the bytes of `needs` ({directory: (bytes,
    description)}) meant for it, times SPACE_MARGIN. `names`: directory -> tier name, for the message."""
    by_fs: dict = {}
    for directory, (nbytes, desc) in needs.items():
        entry = by_fs.setdefault(os.stat(directory).st_dev, {"dirs": [], "bytes": 0, "desc": []})
        entry["dirs"].append(directory)
        entry["bytes"] += nbytes
        entry["desc"].append(desc)
    for entry in by_fs.values():
        need = int(entry["bytes"] * SPACE_MARGIN)
        free, note = free_bytes(entry["dirs"][0])
        if need > free:
            tiers = " and ".join(dict.fromkeys(names.get(d, d) for d in entry["dirs"]))
            raise error(f"tier {tiers}: {what} needs {fmt_bytes(need)} ({'; '.join(entry['desc'])}, "
                        f"x {SPACE_MARGIN:.2f} for file system overhead), {fmt_bytes(free)} free{note} "
                        f"({need} > {free} bytes): use smaller parameters or a bigger tier")


def job_space(workload, params) -> tuple:
    """(data bytes, temp bytes) a job keeps at its peak, from its module's own `space_needed(params)`."""
    module = sys.modules[workload.run.__module__]
    estimate = getattr(module, "space_needed", None)
    if estimate is None:
        raise TypeError(f"job workload {workload.name} ({module.__name__}) defines no space_needed(params)")
    return estimate(params)


def case_needs(case, tiers: Mapping) -> dict:
    """{tier root: (bytes, description)} one case of the plan writes; `tiers`: name -> Tier."""
    import workloads
    w = workloads.get(case.workload)
    params = workloads.coerce_params(w, case.params)
    data, temp = tiers[case.tier].path, tiers[case.temp_tier or case.tier].path
    if case.kind == "pattern":
        return pattern_needs(w.build(params), {"data": data, "temp": temp})
    data_b, temp_b = job_space(w, params)
    out = {data: (data_b, f"{case.workload}'s estimate: {fmt_bytes(data_b)} of data")}
    if temp_b:
        prev = out.get(temp, (0, ""))
        out[temp] = (prev[0] + temp_b, "; ".join(x for x in (prev[1], f"{fmt_bytes(temp_b)} of temp data") if x))
    return out


def _case_what(case) -> str:
    params = ", ".join(f"{k}={fmt_bytes(v) if ('size' in k or 'bytes' in k) and isinstance(v, int) else v}"
                       for k, v in sorted(case.params.items()))
    return f"case {case.label or case.id} ({case.workload}{', ' + params if params else ''})"


def check_plan_space(cases: Iterable, tiers: Iterable, datasets: Optional[list] = None) -> None:
    """In the parent, before anything runs: every case of the plan fits its tiers' free space (cases run one
    after the other and each removes its own files, so each is checked on its own), beside the datasets the
    run keeps for its repeats. `datasets`: for each case, None or (directory, bytes) of the data it shares with
    the run's other cases and that stays until the run ends (bench.execution.datasets.plan_datasets)."""
    by_name = {t.name: t for t in tiers}
    names = {t.path: t.name for t in by_name.values()}
    cases = list(cases)
    shared = [d[0] if d else None for d in datasets] if datasets is not None else [None] * len(cases)
    kept: dict = {}     # tier root -> {dataset directory: bytes}
    for case, d in zip(cases, datasets or ()):
        if d:
            kept.setdefault(by_name[case.tier].path, {})[d[0]] = d[1]
    checked = set()
    for case, own in zip(cases, shared):
        if any(getattr(by_name[n], "raw", False) for n in (case.tier, case.temp_tier or case.tier)):
            continue        # a raw device holds no files: bench.tiers.raw.check_raw_cases checks the region fits
        key = (case.workload, case.kind, case.tier, case.temp_tier, tuple(sorted(case.params.items())), case.engine)
        if key in checked:
            continue
        checked.add(key)
        needs = case_needs(case, by_name)
        root = by_name[case.tier].path
        others = {p: b for p, b in kept.get(root, {}).items() if p != own}
        if others:
            nbytes, desc = needs.get(root, (0, ""))
            needs[root] = (nbytes + sum(others.values()),
                           "; ".join(x for x in (desc, f"{len(others)} other dataset{'s' if len(others) > 1 else ''} "
                                                       f"the run keeps for its repeats: "
                                                       f"{fmt_bytes(sum(others.values()))}") if x))
        check_needs(needs, names, _case_what(case))


# -- one run per tier -----------------------------------------------------------------------------

def lock_holders(path: str) -> list:
    """Pids holding a flock on the directory `path` (from /proc/locks), except this process."""
    st = os.stat(path)
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return pids
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == ident and parts[4].isdigit():
            if int(parts[4]) != os.getpid():
                pids.append(int(parts[4]))
    return pids


def _describe_pid(pid: int) -> str:
    try:
        cmd = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                       .split())
    except OSError:
        return f"pid {pid}"
    return f"pid {pid}: {cmd[:80]}" if cmd else f"pid {pid}"


def device_lock_targets(tier) -> list:
    """What may stand for a tier's device in the device lock, best first: its block device node (/dev/vda,
    /dev/loop3) when known, and the root of the file system its path is on (a container may forbid opening
    device nodes even to root; tmpfs has none)."""
    device = getattr(tier, "device", None)
    out = [device] if isinstance(device, str) and device.startswith("/dev/") and os.path.exists(device) else []
    root = _file_system_root(getattr(tier, "path", None))
    return out + ([root] if root else [])


def _file_system_root(path) -> Optional[str]:
    """The top directory of the file system `path` is on (a mount point); None when the path is not here."""
    try:
        path = os.path.realpath(path)
        dev = os.stat(path).st_dev
    except (OSError, TypeError):
        return None
    while path != "/":
        parent = os.path.dirname(path)
        try:
            if os.stat(parent).st_dev != dev:
                break
        except OSError:
            break
        path = parent
    return path


def _is_tierbench(pid: int) -> bool:
    """Whether `pid` runs tierbench (`tierbench ...` or `python -m bench ...`): only those count as a run sharing
    the device (udev and others take short locks on block devices too)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"tierbench") for a in args[:2]) or b"bench" in args[1:3] and b"-m" in args[:3]


class TierLocks:
    """Exclusive flocks on the tier roots of a run, held until release() (or the process's death).

    A root already locked by another process is refused with a UserError naming its pid, unless `shared`:
    then the run goes on without that lock and `shared_with` says with whom (the caller tells the user)."""

    def __init__(self):
        self.fds: dict = {}          # real path -> fd
        self.shared_with: dict = {}  # tier name -> [pids]
        self.device_fds: dict = {}   # device node or file system root -> (fd, [names of its tiers])

    def acquire(self, tiers: Iterable, shared: bool = False) -> "TierLocks":
        try:
            for t in tiers:
                real = os.path.realpath(t.path)
                if real in self.fds or t.name in self.shared_with:
                    continue
                if getattr(t, "raw", False):    # the kernel's exclusive claim: no mount, md, LVM or run meanwhile
                    self.fds[real] = open_exclusive(t.name, real)
                    continue
                fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as e:
                    os.close(fd)
                    if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise UserError(f"tier {t.name}: cannot lock {real} against concurrent runs "
                                        f"({e.strerror}); give --allow-shared-tier to run without the lock") \
                            from None
                    pids = lock_holders(real)
                    if shared:
                        self.shared_with[t.name] = pids
                        continue
                    who = ", ".join(_describe_pid(p) for p in pids) or "a process this one cannot see"
                    raise UserError(f"tier {t.name} ({real}) is in use by another run ({who}); concurrent runs "
                                    f"disturb each other's figures: wait for it, or give --allow-shared-tier")
                self.fds[real] = fd
        except BaseException:
            self.release()
            raise
        return self

    def acquire_devices(self, tiers: Iterable) -> "TierLocks":
        """A shared flock on each tier's device (its block device node, or the root of its file system when it
        has none: tmpfs, a network file system), held until release(). Shared: runs on different tiers of one
        device are not refused (a user may mean it), but each can see the others (shared_devices) and says so."""
        for t in tiers:
            fd = target = None
            for target in device_lock_targets(t):
                if target in self.device_fds:
                    self.device_fds[target][1].append(t.name)
                    break
                try:
                    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if os.path.isdir(target) else 0)
                    fd = os.open(target, flags)
                    break
                except OSError:
                    continue    # a device node this process may not open: the file system's root then
            if fd is None:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                pass            # held exclusively by another program (mkfs, a partitioner): holders name it
            self.device_fds[target] = (fd, [t.name])
        return self

    def shared_devices(self) -> list:
        """[{device, tiers, runs: [{pid, command}]}] for each device of this run's tiers that another tierbench
        process also holds now (its own device lock): both runs' figures include the other's load."""
        out = []
        for target, (_, names) in self.device_fds.items():
            others = [p for p in lock_holders(target) if _is_tierbench(p)]
            if others:
                out.append({"device": target, "tiers": sorted(names),
                            "runs": [{"pid": p, "command": _describe_pid(p)} for p in sorted(others)]})
        return out

    def release(self) -> None:
        for fd in self.fds.values():
            os.close(fd)        # closing the only descriptor releases the flock
        self.fds = {}
        for fd, _ in self.device_fds.values():
            os.close(fd)
        self.device_fds = {}
