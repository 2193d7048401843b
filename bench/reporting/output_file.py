"""The one place the report writes a file a user named (`report -o FILE`, `report --png DIR`, `report --json`).

A file we write is a regular file the user named or a new path: never a device, a FIFO or a symlink (so a
report cannot be pointed at /dev/sda or made to follow a link elsewhere), written whole (temp file, then rename)
with the mode an ordinary file gets: 0666 less the umask (0644 with the usual 022), not the 0600 of mkstemp.
Kept small on purpose: a shared safe-output helper can replace `write_output` at one call site.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from bench.core.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path, flag: str) -> Path:
    """`path` if it may be written: its folder exists, and it is absent or a regular file (not a link)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"{flag} {path}: folder {path.parent} does not exist")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot be examined ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode) else \
            "not a regular file (a device, FIFO or socket)"
        raise UserError(f"{flag} {path}: is {kind}; name a regular file or a new path")
    return path


def write_output(path, data, flag: str) -> Path:
    """Write text or bytes to `path` (checked by check_output_path) atomically, mode 0666 & ~umask."""
    path = check_output_path(path, flag)
    blob = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot write it ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise UserError(f"{flag} {path}: cannot write it ({e.strerror})") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
