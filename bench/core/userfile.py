"""Reading a file a user hands us (hosts files, host-detect JSON, job files, fio JSON to import, configs,
pytest-benchmark files, stored run documents): bounded, and never blocking.

- Only a regular file is read: /dev/zero, a FIFO, a socket or a directory is refused before a byte is read
  (the file is opened with O_NONBLOCK, so opening a FIFO with no writer does not wait either).
- At most `limit` bytes: a larger file is refused with both sizes in the message (a file that grows while it
  is read is caught too: one byte more than the limit is read).
- JSON nested deeper than MAX_JSON_DEPTH is refused: every reader after this one (schema checks, walkers)
  may recurse, and a deep document must be one line, exit 2, never a RecursionError.
Every refusal is a UserError naming `what` (the flag or the file's role) and the path.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import stat
from typing import Union

from bench.core.errors import UserError

__all__ = ["read_user_bytes", "read_user_text", "load_user_json", "check_json_depth", "json_depth", "file_kind",
           "MAX_JSON_DEPTH", "SMALL_FILE", "JOB_FILE", "FIO_OUTPUT", "RUN_DOCUMENT", "TRACE_INPUT"]

# Limits in bytes: generous for the real thing, small enough that a wrong file is refused at once.
SMALL_FILE = 1 << 20          # hosts files, host-detect JSON, configs: a few kB in practice
JOB_FILE = 4 << 20            # fio job files (fio's own examples are a few kB)
FIO_OUTPUT = 512 << 20        # fio json+ of long multi-job runs with latency bins: tens of MB seen
RUN_DOCUMENT = 512 << 20      # run.json with monitor series of many cases
TRACE_INPUT = 1 << 30         # 1 GiB: a block trace of ~20 M requests as CSV; larger ones are cut first
MAX_JSON_DEPTH = 64           # run documents nest ~8 deep, fio json+ ~6
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^][{}]+")


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words, from its st_mode."""
    return ("a directory" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def read_user_bytes(path: Union[str, os.PathLike], *, what: str, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; UserError otherwise (see the module)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{what} {path} is {file_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise UserError(f"{what} {path}: {st.st_size} bytes, more than the {limit} bytes tierbench reads "
                            "from such a file")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise UserError(f"{what} {path}: grew past the {limit} bytes tierbench reads from such a file")
        return b"".join(chunks)
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read it ({e.strerror})") from None
    finally:
        os.close(fd)


def read_user_text(path: Union[str, os.PathLike], *, what: str, limit: int) -> str:
    """read_user_bytes decoded as UTF-8 (UserError naming the byte where it is not)."""
    data = read_user_bytes(path, what=what, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{what} {path}: not UTF-8 text (byte {e.start})") from None


def json_depth(text: str, enough: int = 0) -> int:
    """How deep JSON text nests arrays and objects (brackets inside strings ignored); 0 for a scalar. With
    `enough`, a text with no more brackets than that is answered by its bracket count without looking closer."""
    count = text.count("[") + text.count("{")
    if count <= enough:
        return count
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def check_json_depth(text: str, *, where: str, limit: int = MAX_JSON_DEPTH) -> None:
    """UserError when the JSON text nests arrays/objects deeper than `limit` (brackets in strings ignored).
    Runs before parsing: json's own parser and every recursive reader after it are then safe."""
    if json_depth(text, limit) > limit:
        raise UserError(f"{where}: JSON nested more than {limit} levels deep")


def load_user_json(path: Union[str, os.PathLike], *, what: str, limit: int, depth: int = MAX_JSON_DEPTH):
    """The JSON document in `path`, bounded in size and nesting; UserError (one line) for what is not JSON."""
    text = read_user_text(path, what=what, limit=limit)
    check_json_depth(text, where=f"{what} {path}", limit=depth)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise UserError(f"{what} {path}: not valid JSON ({str(e).splitlines()[0][:120]})") from None
