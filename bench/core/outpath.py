"""Where tierbench may write a file the user named outside a run folder: a regular file (replaced) or a new path
in an existing directory; never through a symlink, and never replacing a device, FIFO, socket or directory."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Union

from bench.core.errors import UserError

__all__ = ["checked_output_path", "write_output_file"]


def checked_output_path(path, *, allow_system: bool = False) -> Path:
    """The path, checked: its folder exists and is a directory; it is absent or a regular file (not a symlink).
    UserError (one line) otherwise."""
    p = Path(path)
    if not str(path):
        raise UserError("an output path is empty")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{path}: its folder {parent} does not exist")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except OSError as e:
        raise UserError(f"{path}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UserError(f"{path} is a symbolic link: name the file itself")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path} exists and is not a regular file: tierbench writes only regular files")
    return p


def write_output_file(path, data: Union[str, bytes], *, allow_system: bool = False) -> Path:
    """Write `data` to the checked path through a temporary file in the same folder and a rename, so a reader
    never sees half a file; mode 0644 less the umask."""
    p = checked_output_path(path, allow_system=allow_system)
    raw = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=str(p.parent))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise UserError(f"{path}: cannot write it ({e.strerror})") from None
    return p
