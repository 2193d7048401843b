"""strace's output (`strace -ff -ttt -T -y -s 0 -qq -o PREFIX`, one file per process) as trace events.

Why these options: -ff gives each process its own file, so no call is split into "unfinished ... resumed"
halves; -ttt stamps each call's entry in seconds; -T gives its duration (it includes strace's own delay);
-y prints the path behind every file descriptor (`read(3</data/in.txt>, ...)`, `AT_FDCWD</cwd>`), so paths
need no bookkeeping of the working directory; -s 0 leaves the data out.

Offsets are not in strace's output for read/write: they are the file position, followed here per open file
description (open sets 0, read/write move it, lseek's result sets it; dup, dup2, dup3 and fcntl F_DUPFD share it,
as sort writes its output through dup2; a forked child gets copies of the parent's descriptors that share the
descriptions, a thread (CLONE_FILES) shares the table). A descriptor the program inherited (stdin, stdout)
starts at position 0; O_APPEND writes go at the end of what the trace has written to the file. Calls that failed
(= -1) move nothing and are not kept; neither are reads that return 0 (end of file).

`sendfile` and `copy_file_range` (a JVM's FileChannel.transferTo, which Spark uses to merge spill files) are a
read of the source and a write of the target, of the bytes copied, each at its offset (the offset argument where
one is given, else the file position, which then moves).

A renamed file keeps the name it had when the trace first saw it: Spark writes each shuffle file under a temporary
name and renames it into place, then reads it back; as one file its writes and reads make one temp file (written,
read, removed), as two it would look like a file written and dropped and an input read from nowhere.
"""
from __future__ import annotations

import os
import re

__all__ = ["SYSCALLS", "strace_command", "parse_strace", "ParseStats"]

SYSCALLS = ("open", "openat", "creat", "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv",
            "pwritev", "lseek", "close", "fsync", "fdatasync", "dup", "dup2", "dup3", "fcntl", "unlink", "unlinkat",
            "rename", "renameat", "renameat2", "sendfile", "copy_file_range", "clone", "clone3", "fork", "vfork")

_LATENCY = re.compile(r"^(.*) <(\d+\.\d+)>$")
_CALL = re.compile(r"^(\d+\.\d+) (\w+)\((.*)\) += (-?\d+|0x[0-9a-f]+|\?)(?:<(.*)>)?( .*)?$")
_FD = re.compile(r"^(-?\d+|AT_FDCWD)(?:<(.*?)>)?(?=, |$)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


class ParseStats:
    """What the parser saw besides the events: lines of traced calls it could not read (kept as a count, so a
    trace that lost calls says so), failed calls, reads at end of file."""

    def __init__(self):
        self.unparsed = 0
        self.failed = 0
        self.eof_reads = 0
        self.lines = 0

    def to_dict(self) -> dict:
        return {"lines": self.lines, "unparsed_lines": self.unparsed, "failed_calls": self.failed,
                "eof_reads": self.eof_reads}


def strace_command(prefix: str, argv: list, strace: str = "strace") -> list:
    return [strace, "-ff", "-ttt", "-T", "-y", "-s", "0", "-qq", "-o", prefix, "-e", "trace=" + ",".join(SYSCALLS),
            "--", *argv]


class _Desc:
    __slots__ = ("path", "pos", "append")

    def __init__(self, path: str, pos: int = 0, append: bool = False):
        self.path, self.pos, self.append = path, pos, append


def _unescape(text: str) -> str:
    """strace's C-style escapes in a path (\\" \\\\ \\n \\xNN ...) back to the path."""
    if "\\" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode(
            "utf-8", "surrogateescape")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return text


def _lines(files: dict, stats: ParseStats) -> list:
    """[(time, pid, call, args, ret, ret_path, latency)] of every process's file, by time (stable)."""
    calls = []
    for pid, text in files.items():
        for line in text.splitlines():
            if not line or line.startswith(("+++", "---")) or " --- " in line or " +++ " in line:
                continue
            stats.lines += 1
            latency = None
            m = _LATENCY.match(line)
            if m:
                line, latency = m.group(1), float(m.group(2))
            c = _CALL.match(line)
            if not c:
                stats.unparsed += 1
                continue
            calls.append((float(c.group(1)), pid, c.group(2), c.group(3), c.group(4), c.group(5), latency))
    calls.sort(key=lambda c: c[0])
    return calls


def _fd(args: str):
    """(fd, path or None) of a call's first argument."""
    m = _FD.match(args)
    if not m:
        return None, None
    fd = m.group(1)
    return (fd if fd == "AT_FDCWD" else int(fd)), (_unescape(m.group(2)) if m.group(2) is not None else None)


def _int(text: str):
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_strace(files: dict, cwd: str) -> tuple:
    """(events, ParseStats) from {pid: text of strace's file for that process}; events as bench.engines.trace.table
    describes them (time from the first call seen), for every regular path (not pipes, sockets, /dev, /proc).
    cwd: the traced command's starting directory, for unlink of a relative path."""
    stats = ParseStats()
    calls = _lines(files, stats)
    if not calls:
        return [], stats
    start = calls[0][0]
    tables: dict = {}
    sizes: dict = {}
    events = []

    names: dict = {}      # a renamed file's current path -> the name the trace knows it by

    def table(pid):
        return tables.setdefault(pid, {})

    def desc(pid, fd, path):
        path = names.get(path, path)
        t = table(pid)
        d = t.get(fd)
        if d is None or (path is not None and d.path != path):
            d = t[fd] = _Desc(path or f"<fd {fd}>")
        return d

    def emit(t, pid, path, op, offset=None, length=None, latency=None):
        path = names.get(path, path)
        if _is_file(path):
            events.append({"time_s": t - start, "pid": pid, "file": path, "op": op, "offset": offset,
                           "length": length, "latency_s": latency})

    for t, pid, call, args, ret, ret_path, latency in calls:
        rv = _int(ret) if ret != "?" else None
        if rv is None or rv < 0:
            stats.failed += rv is not None
            continue
        ret_path = _unescape(ret_path) if ret_path is not None else None
        if call in ("open", "openat", "creat"):
            flagtext = _QUOTED.sub("", args) if call != "creat" else "O_CREAT|O_TRUNC"
            path = ret_path or _quoted_path(args, cwd)
            path = names.get(path, path)
            d = table(pid)[rv] = _Desc(path, 0, "O_APPEND" in flagtext)
            if "O_TRUNC" in flagtext:
                sizes[path] = 0
            emit(t, pid, d.path, "create" if "O_CREAT" in flagtext else "open", latency=latency)
        elif call in ("read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev"):
            fd, path = _fd(args)
            if not isinstance(fd, int):
                stats.unparsed += 1
                continue
            d = desc(pid, fd, path)
            op = "read" if "read" in call else "write"
            if rv == 0:
                stats.eof_reads += op == "read"
                continue
            if call.startswith("p"):
                offset = _int(args.rsplit(", ", 1)[-1])
                if offset is None:
                    stats.unparsed += 1
                    continue
            else:
                offset = sizes.get(d.path, 0) if (op == "write" and d.append) else d.pos
                d.pos = offset + rv
            if op == "write":
                sizes[d.path] = max(sizes.get(d.path, 0), offset + rv)
            emit(t, pid, d.path, op, offset, rv, latency)
        elif call in ("sendfile", "copy_file_range"):
            if rv == 0:
                continue
            copied = _copy_args(call, args)
            if copied is None:
                stats.unparsed += 1
                continue
            for op, (fd, path, offset) in copied:
                d = desc(pid, fd, path)
                at = d.pos if offset is None else offset
                if offset is None:
                    d.pos = at + rv
                if op == "write":
                    sizes[d.path] = max(sizes.get(d.path, 0), at + rv)
                emit(t, pid, d.path, op, at, rv, latency)
        elif call == "lseek":
            fd, path = _fd(args)
            if isinstance(fd, int):
                desc(pid, fd, path).pos = rv
        elif call == "close":
            fd, path = _fd(args)
            if isinstance(fd, int):
                d = table(pid).pop(fd, None)
                emit(t, pid, path or (d.path if d else ""), "close", latency=latency)
        elif call in ("fsync", "fdatasync"):
            fd, path = _fd(args)
            if isinstance(fd, int):
                emit(t, pid, desc(pid, fd, path).path, "sync" if call == "fsync" else "datasync", latency=latency)
        elif call in ("dup", "dup2", "dup3") or (call == "fcntl" and "F_DUPFD" in args):
            fd, path = _fd(args)
            if isinstance(fd, int):
                table(pid)[rv] = desc(pid, fd, path)
        elif call in ("unlink", "unlinkat"):
            if "AT_REMOVEDIR" in args:
                continue
            base = cwd
            if call == "unlinkat":
                _, dir_path = _fd(args)
                base = dir_path or cwd
            path = _quoted_path(args, base)
            if path:
                emit(t, pid, path, "unlink", latency=latency)
        elif call in ("rename", "renameat", "renameat2"):
            old_new = _two_paths(args, cwd, call != "rename")
            if old_new:
                old_path, new_path = old_new
                names[new_path] = names.pop(old_path, old_path)
        elif call in ("clone", "clone3", "fork", "vfork"):
            if rv > 0:
                tables[rv] = table(pid) if "CLONE_FILES" in args else dict(table(pid))
    return events, stats


def _quoted_path(args: str, base: str):
    m = _QUOTED.search(args)
    if not m:
        return None
    path = _unescape(m.group(1))
    return os.path.normpath(os.path.join(base, path))


_ARG_FD = re.compile(r"^(\d+)(?:<(.*)>)?$")
_OFFSET = re.compile(r"^\[(\d+)\]")


def _split_args(args: str) -> list:
    """A call's top-level arguments (commas inside <paths>, [..] and {..} kept)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch in "<[{":
            depth += 1
        elif ch in ">]}" and depth:
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    out.append(args[start:].strip())
    return out


def _copy_args(call: str, args: str):
    """[("read", (fd, path, offset or None)), ("write", ...)] of sendfile(out, in, offset, count) or
    copy_file_range(in, off_in, out, off_out, len, flags); None when the arguments do not read as such."""
    parts = _split_args(args)
    if call == "sendfile" and len(parts) == 4:
        src, src_off, dst, dst_off = parts[1], parts[2], parts[0], "NULL"
    elif call == "copy_file_range" and len(parts) == 6:
        src, src_off, dst, dst_off = parts[0], parts[1], parts[2], parts[3]
    else:
        return None
    out = []
    for op, fd_text, off_text in (("read", src, src_off), ("write", dst, dst_off)):
        m = _ARG_FD.match(fd_text)
        if not m:
            return None
        off = _OFFSET.match(off_text)
        if off_text != "NULL" and not off:
            return None
        out.append((op, (int(m.group(1)), _unescape(m.group(2)) if m.group(2) else None,
                         int(off.group(1)) if off else None)))
    return out


def _two_paths(args: str, cwd: str, at: bool):
    """(old, new) absolute paths of rename(old, new) or renameat[2](olddirfd, old, newdirfd, new[, flags])."""
    quoted = list(_QUOTED.finditer(args))
    if len(quoted) != 2:
        return None
    bases = [cwd, cwd]
    if at:
        for i, (start, end) in enumerate(((0, quoted[0].start()), (quoted[0].end(), quoted[1].start()))):
            m = re.search(r"(?:AT_FDCWD|\d+)<(.*?)>", args[start:end])
            if m:
                bases[i] = _unescape(m.group(1))
    return tuple(os.path.normpath(os.path.join(b, _unescape(q.group(1)))) for b, q in zip(bases, quoted))


def _is_file(path) -> bool:
    """A path of a file on a file system: not a pipe, socket or anonymous inode ("pipe:[123]"), nor /dev, /proc,
    /sys (terminals, the program's own /proc reads)."""
    if not path or not path.startswith("/"):
        return False
    return not path.startswith(("/dev/", "/proc/", "/sys/")) or path.startswith("/dev/shm/")
