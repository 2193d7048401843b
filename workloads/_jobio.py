"""Shared I/O plumbing of the job workloads (terasort, aggregate): timed phases, cold writes, byte and op
counts per tier, the free-space check, and the IOPS per GB a pattern demands of its tier.

A job's phase record has the shape every engine produces (bench/analysis/metrics.py): name, tier, role, wall_s,
cpu_s, ops_read, ops_written, bytes_read, bytes_written (totals over both tiers), plus `io`, the same
counts for each role the phase touched ({"data": {...}, "temp": {...}}, each with its tier), since one job
phase can read one tier and write the other. The record's own tier and role are the phase's main one.

"Cold" writes, as the throttled tiers need them: write, fsync (throttles see fsynced writes, not background writeback),
then POSIX_FADV_DONTNEED so a later read reaches the device; ctx["cache"] keeps the pages (the fsync stays,
so cached and cold runs write the same way and differ only in what the page cache holds).
"""
from __future__ import annotations

import io as _io
import os
import resource
import shutil
import struct
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Mapping, Optional

from bench.core.errors import UserError
from bench.core.pagecache import drop_cache
from bench.core.units import SPACE_MARGIN, fmt_bytes

__all__ = ["IOCounts", "PhaseLog", "CountedWriter", "write_cold", "read_file", "read_range", "drop_cache",
           "write_block", "write_block_pieces", "BlockWriter", "read_block", "read_block_pieces", "meta_header",
           "check_free_space", "IO_CHUNK"]

IO_CHUNK = 1 << 20          # bytes per read()/write() call: one counted operation


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds of this process (all its threads) or of its waited-for children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class IOCounts:
    """Bytes and operations per role ("data", "temp"), safe to update from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict = {}

    def _add(self, role: str, ops_key: str, bytes_key: str, nbytes: int, ops: int) -> None:
        with self._lock:
            c = self._counts.setdefault(role, {"ops_read": 0, "ops_written": 0, "bytes_read": 0,
                                               "bytes_written": 0})
            c[ops_key] += ops
            c[bytes_key] += nbytes

    def read(self, role: str, nbytes: int, ops: int = 1) -> None:
        self._add(role, "ops_read", "bytes_read", nbytes, ops)

    def wrote(self, role: str, nbytes: int, ops: int = 1) -> None:
        self._add(role, "ops_written", "bytes_written", nbytes, ops)

    def by_role(self) -> dict:
        with self._lock:
            return {role: dict(c) for role, c in self._counts.items()}


class PhaseLog:
    """The phase records of one job run. `with log.phase(name, role) as io:` times the block (wall and
    CPU seconds) and counts the I/O done through `io` (pass it to write_cold/read_file)."""

    def __init__(self, tiers: Mapping[str, str], children: bool = False):
        self.tiers = dict(tiers)
        self.records: list = []
        self._children = children

    def _cpu(self) -> float:
        own = cpu_seconds(resource.RUSAGE_SELF)
        return own + cpu_seconds(resource.RUSAGE_CHILDREN) if self._children else own

    @contextmanager
    def phase(self, name: str, role: str, **extra):
        io = IOCounts()
        record = {"name": name, "tier": self.tiers.get(role), "role": role}
        cpu0, wall0 = self._cpu(), time.monotonic()
        yield record, io
        wall, cpu = time.monotonic() - wall0, self._cpu() - cpu0
        per_role = io.by_role()
        totals = {k: sum(c[k] for c in per_role.values())
                  for k in ("ops_read", "ops_written", "bytes_read", "bytes_written")}
        record.update(wall_s=wall, cpu_s=cpu, **totals,
                      io={r: {"tier": self.tiers.get(r), **c} for r, c in sorted(per_role.items())}, **extra)
        self.records.append(record)

    def get(self, name: str) -> dict:
        return next(r for r in self.records if r["name"] == name)


def write_cold(path: str, data, io: IOCounts, role: str, cache: bool = False) -> int:
    """Write `data` (any buffer) to a new file at `path` in IO_CHUNK writes, fsync it, and drop its pages
    from the page cache unless `cache`. Returns the bytes written."""
    view = memoryview(data).cast("B")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        ops = 0
        for start in range(0, len(view), IO_CHUNK):
            chunk = view[start:start + IO_CHUNK]
            while chunk:
                written = os.write(fd, chunk)
                chunk = chunk[written:]
                ops += 1
        os.fsync(fd)
        if not cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    io.wrote(role, len(view), ops)
    return len(view)


def read_file(path: str, io: IOCounts, role: str) -> bytearray:
    """The whole file at `path`, read in IO_CHUNK reads (counted in `io` under `role`)."""
    size = os.path.getsize(path)
    buf = bytearray(size)
    view = memoryview(buf)
    ops = done = 0
    with open(path, "rb", buffering=0) as f:
        while done < size:
            n = f.readinto(view[done:done + IO_CHUNK])
            if not n:
                raise OSError(f"{path}: file shrank while reading ({done} of {size} bytes)")
            done += n
            ops += 1
    io.read(role, size, ops)
    return buf


def read_range(path: str, offset: int, length: int, io: IOCounts, role: str, segment: bool = False,
               cache: bool = False) -> bytearray:
    """`length` bytes of the file at `path` from `offset`, in IO_CHUNK reads (counted).

    `segment`: read it as Hadoop's ShuffleHandler serves a map-output segment (mapreduce.shuffle.manage.os.cache,
    on by default): the kernel reads just the segment (POSIX_FADV_RANDOM: no readahead into the neighbouring
    segments, which other reducers fetch at other times) and, unless `cache`, its pages are dropped once sent
    (POSIX_FADV_DONTNEED). Each segment fetch is then one positioned read on the device: a seek on a disk."""
    buf = bytearray(length)
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY)
    try:
        if segment:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        done = ops = 0
        while done < length:
            n = os.preadv(fd, [view[done:done + IO_CHUNK]], offset + done)
            if not n:
                raise OSError(f"{path}: {length} bytes at {offset} asked, file ends after {offset + done}")
            done += n
            ops += 1
        if segment and not cache:
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    io.read(role, length, ops)
    return buf


class CountedWriter(_io.RawIOBase):
    """A new file written sequentially with counted writes (IO_CHUNK at most per operation) that is fsynced
    and, unless `cache`, dropped from the page cache when closed: write_cold for a stream. Wrap it in
    pyarrow.PythonFile(writer, mode="w") to let Arrow write straight to the file (no in-memory copy)."""

    def __init__(self, path: str, io: IOCounts, role: str, cache: bool = False):
        super().__init__()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pos = 0
        self._io, self._role, self._cache = io, role, cache

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = ops = 0
        while done < len(view):
            done += os.write(self._fd, view[done:done + IO_CHUNK])
            ops += 1
        self._pos += done
        self._io.wrote(self._role, done, ops)
        return done

    def close(self) -> None:
        if not self.closed:
            try:
                os.fsync(self._fd)
                if not self._cache:
                    os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(self._fd)
        super().close()


# HDFS block files: the block, and a `.meta` sidecar = header (version 1: 2 bytes, checksum type CRC32C = 2:
# 1 byte, bytes per checksum: 4 bytes, big-endian) + one big-endian CRC32C per chunk (kernels.crc32c_chunks).
META_VERSION, CHECKSUM_CRC32C = 1, 2


def meta_header(bytes_per_checksum: int) -> bytes:
    return struct.pack(">HBI", META_VERSION, CHECKSUM_CRC32C, bytes_per_checksum)


def write_block(path: str, data, io: IOCounts, role: str, cache: bool, bytes_per_checksum: int = 512) -> int:
    """Write an HDFS-like block file and its `<path>.meta` (both cold); returns the bytes written."""
    return write_block_pieces(path, [data], io, role, cache, bytes_per_checksum)


class BlockWriter:
    """An HDFS-like block file and its .meta written as pieces arrive (a DataNode receiving packets), both
    streamed: what it holds is one piece's checksums and at most IO_CHUNK bytes of .meta, whatever the block's
    size. Every piece but the last must be a whole number of checksum chunks. `bytes` is what was written to
    both files once closed; closing fsyncs both (and drops them from the page cache unless `cache`)."""

    def __init__(self, path: str, io: IOCounts, role: str, cache: bool, bytes_per_checksum: int = 512):
        self.path, self.bytes_per_checksum, self.bytes = path, bytes_per_checksum, 0
        self._meta_pending = bytearray(meta_header(bytes_per_checksum))
        self._ragged = False
        self._block = CountedWriter(path, io, role, cache)
        self._meta = CountedWriter(path + ".meta", io, role, cache)

    def write(self, piece) -> None:
        from kernels import crc32c_chunks
        if self._ragged:
            raise ValueError(f"{self.path}: a block piece that is not whole {self.bytes_per_checksum}-byte "
                             "chunks must be the last")
        view = memoryview(piece).cast("B")
        self._meta_pending += crc32c_chunks(view, self.bytes_per_checksum)
        self._block.write(view)
        self._ragged = len(view) % self.bytes_per_checksum != 0
        if len(self._meta_pending) >= IO_CHUNK:
            self._meta.write(self._meta_pending)
            self._meta_pending = bytearray()

    def close(self) -> int:
        if not self._meta.closed:
            try:
                if self._meta_pending:
                    self._meta.write(self._meta_pending)
                self.bytes = self._block.tell() + self._meta.tell()
            finally:
                try:
                    self._block.close()
                finally:
                    self._meta.close()
        return self.bytes

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_block_pieces(path: str, pieces: Iterable, io: IOCounts, role: str, cache: bool,
                       bytes_per_checksum: int = 512) -> int:
    """write_block for a block made piece by piece (a piece in memory at a time, as a DataNode receives
    packets): every piece but the last must be a whole number of checksum chunks. Returns the bytes written."""
    with BlockWriter(path, io, role, cache, bytes_per_checksum) as block:
        for piece in pieces:
            block.write(piece)
    return block.bytes


def _meta_chunk(path: str, io: IOCounts, role: str) -> int:
    """The bytes per checksum of `path`'s .meta, after checking its header (CaseError if it is not CRC32C)."""
    from bench.core.errors import CaseError
    meta_path = path + ".meta"
    header = read_range(meta_path, 0, 7, io, role)
    version, kind, chunk = struct.unpack(">HBI", header)
    if (version, kind) != (META_VERSION, CHECKSUM_CRC32C) or chunk < 1:
        raise CaseError(f"{meta_path}: not a CRC32C block checksum file (version {version}, type {kind})")
    return chunk


def _check_chunks(path: str, data, sums, first: int, chunk: int) -> None:
    """CaseError naming the first chunk of `data` (chunk number `first` of the block) whose CRC32C is not
    the .meta's, or saying that the lengths differ."""
    from bench.core.errors import CaseError
    from kernels import crc32c_chunks
    got = bytes(crc32c_chunks(data, chunk))
    if got != bytes(sums):
        bad = next((i for i in range(0, min(len(got), len(sums)), 4)
                    if got[i:i + 4] != bytes(sums[i:i + 4])), min(len(got), len(sums)))
        raise CaseError(f"{path}: checksum error in chunk {first + bad // 4} (bytes {(first + bad // 4) * chunk}..)"
                        if len(got) == len(sums) else
                        f"{path}: {len(data)} bytes do not match the {len(sums)} checksum bytes of its .meta")


def read_block(path: str, io: IOCounts, role: str, verify: bool = True, offset: int = 0,
               length: Optional[int] = None) -> bytearray:
    """Read an HDFS-like block file, or `length` bytes of it from `offset` (a map task's split: `offset` a
    whole number of checksum chunks); with `verify`, check them against the .meta (as a DataNode and the HDFS
    client do: its header, then the checksums of just those chunks) and raise CaseError naming the first bad
    chunk."""
    from bench.core.errors import CaseError
    whole = offset == 0 and length is None
    data = read_file(path, io, role) if whole else read_range(path, offset, length, io, role)
    if verify:
        meta_path = path + ".meta"
        chunk = _meta_chunk(path, io, role)
        if offset % chunk:
            raise CaseError(f"{path}: a read from byte {offset} does not start on a {chunk}-byte checksum chunk")
        first = offset // chunk
        want = 4 * -(-len(data) // chunk)
        if whole:
            sums = read_range(meta_path, 7, os.path.getsize(meta_path) - 7, io, role)
        else:
            sums = read_range(meta_path, 7 + 4 * first, want, io, role)
        _check_chunks(path, data, sums, first, chunk)
    return data


def read_block_pieces(path: str, io: IOCounts, role: str, piece_bytes: int):
    """A whole HDFS-like block file, checked against its .meta, as pieces of `piece_bytes` (rounded down to
    whole checksum chunks, at least one) read one at a time: a reader's memory is one piece, whatever the
    block's size. Yields bytearrays; raises CaseError at the first bad chunk, or before the first piece when
    the .meta's length does not fit the block's."""
    from bench.core.errors import CaseError
    meta_path = path + ".meta"
    chunk = _meta_chunk(path, io, role)
    size = os.path.getsize(path)
    if os.path.getsize(meta_path) - 7 != 4 * -(-size // chunk):
        raise CaseError(f"{path}: {size} bytes do not match the {os.path.getsize(meta_path) - 7} checksum bytes "
                        "of its .meta")
    step = max(1, piece_bytes // chunk) * chunk
    for offset in range(0, size, step):
        data = read_range(path, offset, min(step, size - offset), io, role)
        sums = read_range(meta_path, 7 + 4 * (offset // chunk), 4 * -(-len(data) // chunk), io, role)
        _check_chunks(path, data, sums, offset // chunk, chunk)
        yield data


def check_free_space(needs: Mapping[str, int], what: str, margin: float = SPACE_MARGIN) -> None:
    """Raise UserError unless each directory's file system has room for what will be written there.

    `needs` maps a directory to the bytes the job will keep there at its peak; directories on the same
    file system (data and temp on one tier) add up. `margin` covers file system overhead."""
    by_fs: dict = {}
    for directory, nbytes in needs.items():
        dev = os.stat(directory).st_dev
        entry = by_fs.setdefault(dev, {"dirs": [], "bytes": 0, "path": directory})
        entry["dirs"].append(directory)
        entry["bytes"] += nbytes
    for entry in by_fs.values():
        free = shutil.disk_usage(entry["path"]).free
        need = int(entry["bytes"] * margin)
        if need > free:
            raise UserError(f"{what} needs {fmt_bytes(need)} ({need} bytes, {margin:.2f} x its data) in "
                            f"{', '.join(entry['dirs'])} but its file system has {fmt_bytes(free)} "
                            f"({free} bytes) free: use smaller parameters or a bigger tier")
