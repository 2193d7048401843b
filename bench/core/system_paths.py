"""System paths: the one list of places tierbench never writes to unless the user says `--allow-system-path`.

Used for tiers (bench.tiers.guard.check_place) and for every file written outside a run folder
(bench.core.outpath): `/`, `/bin`, `/sbin`, `/lib*`, `/var`, `/var/lib`, `/run`, `/home`, `/root` themselves,
anything in `/proc`, `/sys`, `/dev` (but `/dev/shm`, the memory tier), `/etc`, `/boot`, `/usr`, the results
store (for tiers), tierbench's own source folders.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

__all__ = ["EXACT", "INSIDE", "ALLOWED_INSIDE", "SOURCE_FOLDERS", "repository_root", "system_path_reason", "inside"]

# System paths: these exactly, and anything inside the INSIDE ones.
EXACT = ("/", "/bin", "/sbin", "/var", "/var/lib", "/run", "/home", "/root")
INSIDE = ("/proc", "/sys", "/dev", "/etc", "/boot", "/usr")
ALLOWED_INSIDE = ("/dev/shm",)      # the usual memory tier: tmpfs, meant for users' files
SOURCE_FOLDERS = ("bench", "workloads", "kernels", "tests", ".git", ".venv")


def inside(path: str, folder: str) -> bool:
    """Whether the normalised absolute `path` is `folder` or below it."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") if folder != "/" else path == "/"


def repository_root() -> Path:
    """The folder holding tierbench's own packages (the repository, or site-packages when installed)."""
    return Path(__file__).resolve().parents[2]


def system_path_reason(path: str, store_root: Optional[str] = None) -> Optional[str]:
    """Why an absolute, normalised path is no place for benchmark files or outputs ('a system path', 'the
    results store', ...), or None."""
    if any(inside(path, a) for a in ALLOWED_INSIDE):
        return None
    top = path.split("/")[1] if path != "/" else ""
    if path in EXACT or (path.count("/") == 1 and top.startswith("lib")):
        return "a system path"
    for folder in INSIDE:
        if inside(path, folder):
            return f"a system path (inside {folder})" if path != folder else "a system path"
    if store_root:
        store = os.path.realpath(store_root)
        if inside(path, store):
            return f"the results store {store}" if path == store else f"inside the results store {store}"
    repo = str(repository_root())
    if path == repo:
        return "tierbench's own folder"
    for name in SOURCE_FOLDERS:
        if inside(path, os.path.join(repo, name)):
            return f"inside tierbench's own source folder {name}/"
    return None
