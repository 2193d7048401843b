"""Where tierbench may write a file outside a run folder: the one rule, for every output a user names
(`report -o`, `--export-jobs`, `serve --pid-file` and `--log`, exports, PNG folders, JUnit files, ...).

The rule: an output file is either an existing **regular file** (replaced) or a **new name in an existing
directory**. Never a device (/dev/null, /dev/full), a FIFO, a socket, a directory or a symbolic link (a link
is refused, not followed: writing "through" it would replace whatever it points at), and never a system path
(bench.core.system_paths: /etc, /usr, /dev, /proc, tierbench's own source folders, ...) unless the user gives
`--allow-system-path` (`allow_system=True`; the kind-of-file rule holds even then). A folder for outputs
(`checked_output_dir`) is an existing directory or a new one in an existing directory, under the same rules.

How to use it (each raises bench.core.errors.UserError, one line naming the flag and the path, exit 2):

    out = checked_output_path(args.output, what="-o")           # check early, before expensive work
    write_output_file(out, html, what="-o")                      # atomic: temporary file + rename, same folder
    with open_output_file(log, what="--log", append=True) as f:  # for a file others keep appending to
    folder = checked_output_dir(args.png, what="--png")          # then write_output_file(folder / name, ...)

A replaced file is replaced whole by a rename (readers see the old or the new content, never half), which is
right only because the target is a regular file (a rename would turn a device node or FIFO into a file).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union

from bench.core.errors import UserError
from bench.core.system_paths import system_path_reason
from bench.core.userfile import file_kind

__all__ = ["checked_output_path", "checked_output_dir", "write_output_file", "open_output_file"]


def _check_system(path: Path, what: str, allow_system: bool) -> None:
    if allow_system:
        return
    given = os.path.normpath(os.path.abspath(os.path.expanduser(str(path))))
    real = os.path.join(os.path.realpath(os.path.dirname(given)), os.path.basename(given))
    for candidate in dict.fromkeys((given, real)):
        reason = system_path_reason(candidate)
        if reason:
            via = f"resolves to {candidate}, " if candidate != given else "is "
            raise UserError(f"{what} {path}: {via}{reason}, no place for tierbench's output "
                            "(give --allow-system-path if you really mean it)")


def _existing(path, what: str, noun: str) -> tuple:
    """(Path, its lstat or None when nothing is there); UserError for an empty or NUL-holding name."""
    if path is None or str(path) == "" or "\0" in str(path):
        raise UserError(f"{what} {str(path)!r:.60}: not a {noun} name")
    out = Path(os.path.expanduser(str(path)))
    try:
        return out, os.lstat(out)
    except FileNotFoundError:
        return out, None
    except OSError as e:
        raise UserError(f"{what} {path}: {e.strerror}") from None


def checked_output_path(path: Union[str, Path], *, what: str = "output", allow_system: bool = False) -> Path:
    """`path` as a Path when tierbench may write a file there (see the module's rule); UserError otherwise.
    `what` names the flag in the message (e.g. "-o", "--pid-file")."""
    out, st = _existing(path, what, "file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UserError(f"{what} {path} is {file_kind(st.st_mode)}: tierbench writes its output only to a regular "
                        "file or a new name in an existing folder")
    parent = out.parent
    if not parent.is_dir():
        raise UserError(f"{what} {path}: folder {parent} does not exist")
    _check_system(out, what, allow_system)
    return out


def checked_output_dir(path: Union[str, Path], *, what: str = "output folder", allow_system: bool = False,
                       create: bool = True) -> Path:
    """A folder for output files: an existing directory (not a symbolic link) or, with `create`, a new one made
    in an existing directory (one level; parents are never made). UserError otherwise."""
    out, st = _existing(path, what, "folder")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{what} {path} is {file_kind(st.st_mode)}, not a folder")
    if st is None and not out.parent.is_dir():
        raise UserError(f"{what} {path}: folder {out.parent} does not exist")
    _check_system(out, what, allow_system)
    if st is None:
        if not create:
            raise UserError(f"{what} {path} does not exist")
        try:
            out.mkdir()
        except OSError as e:
            raise UserError(f"{what} {path}: cannot make it ({e.strerror})") from None
    return out


def write_output_file(path: Union[str, Path], data: Union[bytes, str], *, what: str = "output",
                      allow_system: bool = False) -> Path:
    """Write `data` (str as UTF-8) to `path` under the module's rule, atomically: a temporary file in the same
    folder (never following a link), flushed to disk, then renamed over the target. Returns the Path."""
    out = checked_output_path(path, what=what, allow_system=allow_system)
    payload = data.encode() if isinstance(data, str) else bytes(data)
    tmp = out.with_name(f".{out.name}.tierbench-{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)  # less the umask, as any file
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        checked_output_path(out, what=what, allow_system=allow_system)   # still no device, FIFO or link there
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{what} {path}: cannot write it ({e.strerror})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def open_output_file(path: Union[str, Path], *, what: str = "output", allow_system: bool = False,
                     append: bool = False):
    """A binary file object open for writing at `path` under the module's rule (append or truncate), opened
    without following a link or blocking on a FIFO, and checked again once open (a regular file)."""
    out = checked_output_path(path, what=what, allow_system=allow_system)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        fd = os.open(out, flags, 0o644)
    except OSError as e:
        raise UserError(f"{what} {path}: cannot write it ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"{what} {path} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "ab" if append else "wb")
