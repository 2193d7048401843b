"""Reading a file a user hands us (a trace, a CSV, an iolog): regular files only, up to a size limit, with
one-line errors. Why a limit: a trace is read whole into memory, and a wrong argument (a device, a FIFO, a
multi-gigabyte log) must be refused before it is opened for reading, not after it has filled the memory."""
from __future__ import annotations

import os
import stat

from bench.core.errors import UserError
from bench.core.units import fmt_bytes

__all__ = ["read_user_file", "USER_FILE_LIMIT_BYTES"]

USER_FILE_LIMIT_BYTES = 1 << 30     # 1 GiB: a trace of ~20 M requests as CSV; larger ones are cut first


def read_user_file(path: str, what: str, limit_bytes: int = USER_FILE_LIMIT_BYTES) -> bytes:
    """The bytes of the regular file `path` (at most limit_bytes); UserError naming `what` and the path for a
    missing, unreadable, non-regular or too large file. The size is checked on the open file (fstat), so a
    file swapped between the check and the read is still bounded, and the read stops at the limit + 1."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise UserError(f"{what} {path}: is {kind} (give a regular file)")
        if st.st_size > limit_bytes:
            raise UserError(f"{what} {path}: {fmt_bytes(st.st_size)} is more than the {fmt_bytes(limit_bytes)} "
                            f"tierbench reads (cut it first, e.g. with head)")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit_bytes:
                raise UserError(f"{what} {path}: grew past the {fmt_bytes(limit_bytes)} tierbench reads")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror})") from None
    finally:
        os.close(fd)
