"""The mount table: which file system holds a path (read from /proc/mounts). The tier guard and tier detection
both ask it; it imports nothing of ours."""
from __future__ import annotations

import os
from pathlib import Path


def mounts() -> list:
    """(device, mount point, fstype) for every line of /proc/mounts, in order."""
    out = []
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((parts[0], parts[1].replace("\\040", " "), parts[2]))
    return out


def mount_of(path: str) -> tuple:
    """The (device, mount point, fstype) that holds `path` (the longest matching mount point; last wins)."""
    real = os.path.realpath(path)
    best = None
    for dev, mnt, fstype in mounts():
        if real == mnt or real.startswith(mnt.rstrip("/") + "/") or mnt == "/":
            if best is None or len(mnt) >= len(best[1]):
                best = (dev, mnt, fstype)
    return best
