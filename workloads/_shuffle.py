"""TeraSort's shuffle on the temp tier: the map runs' index files, a reduce partition's segments streamed out of
the runs, and the reduce-side merge with Hadoop's merge passes, all in memory of a set size.

A map task writes one run, `run-m-NNNNN.arrow` (an Arrow IPC file, one record batch per partition), and its index
`run-m-NNNNN.arrow.index`, as Hadoop writes `file.out` and `file.out.index`: per partition a big-endian entry of
(byte offset of the batch's message, its length, records, CRC32C of the records), then the CRC32C of the entries.
A reduce partition reads its entry of each index, finds the records after the batch's metadata (an Arrow IPC
message is the continuation marker 0xFFFFFFFF, the metadata's length, the metadata, then the body; the job checks
this layout on a tiny file before the map), and streams them in reads of `merge_buffer` bytes into
kernels.merge_stream, their CRC32C computed on the way and checked at the segment's end (CaseError: the temp data
was corrupted between map and reduce). At most `merge_factor` streams are merged at once; with more runs, merge
passes merge each `merge_factor` of them, in order (the merge stays stable), into `merge-PPPPP-L-NNNNN` files on
the temp tier (records, then their CRC32C), read back the same way and removed once read.
"""
from __future__ import annotations

import os
import struct

from bench.core.errors import CaseError
from workloads._jobio import CountedWriter, read_range

RECORD_BYTES = 100                      # gensort's records: a 10-byte key and 90 bytes of value
INDEX_ENTRY = struct.Struct(">QQQI")    # per partition: byte offset, length, records, CRC32C
IPC_CONTINUATION = 0xFFFFFFFF           # an Arrow IPC message starts with this, then its metadata's length


def batch_records_at(prefix: bytes, length: int, count: int) -> int:
    """Where a record batch message's records start, from its first 8 bytes; CaseError unless the message of
    `length` bytes holds `count` 100-byte records after its metadata, and only padding after them."""
    marker, meta = struct.unpack("<Ii", prefix)
    at, end = 8 + meta, 8 + meta + count * RECORD_BYTES
    if marker != IPC_CONTINUATION or meta <= 0 or not 0 <= length - end < 64:
        raise CaseError(f"not a record batch of {count} records in {length} bytes (marker {marker:#x}, "
                        f"metadata {meta} bytes)")
    return at


class Shuffle:
    """The runs in `runs_dir` and their reduce-side merge. `kernels` is the kernels package (crc32c,
    merge_stream); `cache` keeps read pages in the page cache (else each segment is dropped once read)."""

    def __init__(self, runs_dir: str, partitions: int, merge_factor: int, merge_buffer: int, cache: bool,
                 kernels):
        self.runs_dir, self.partitions, self.merge_factor = runs_dir, partitions, merge_factor
        self.chunk_bytes = max(1, merge_buffer // RECORD_BYTES) * RECORD_BYTES
        self.cache, self.kernels = cache, kernels

    def run_path(self, task: int) -> str:
        return os.path.join(self.runs_dir, f"run-m-{task:05d}.arrow")

    def index_bytes(self, entries: bytes) -> bytes:
        """A run's index file: the entries (INDEX_ENTRY each, partition order), then their CRC32C."""
        return bytes(entries) + struct.pack(">I", self.kernels.crc32c(entries))

    def read_index(self, task: int, io) -> list:
        """Run `task`'s index: per partition (byte offset, length, records, CRC32C); CaseError if it is missing,
        its size is not the partitions' or its own checksum fails."""
        path = self.run_path(task) + ".index"
        want = INDEX_ENTRY.size * self.partitions + 4
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise CaseError(f"terasort: run index {os.path.basename(path)} is missing") from None
        if size != want:
            raise CaseError(f"terasort: run index {os.path.basename(path)} is {size} bytes, not {want} "
                            f"({self.partitions} partitions)")
        # Kept in the page cache (cache=True), as the ShuffleHandler's index cache keeps it in memory.
        raw = bytes(read_range(path, 0, size, io, "temp", segment=True, cache=True))
        if struct.unpack(">I", raw[-4:])[0] != self.kernels.crc32c(raw[:-4]):
            raise CaseError(f"terasort: run index {os.path.basename(path)} fails its CRC32C")
        return list(INDEX_ENTRY.iter_unpack(raw[:-4]))

    def _stream(self, path: str, offset: int, count: int, crc: int, io, what: str):
        """`count` records of the file at `path` from byte `offset`, as buffers of chunk_bytes (one buffer,
        reused: kernels.merge_stream asks for the next only when done with the last), read as shuffle segments
        are (no readahead; dropped once read unless `cache`); their CRC32C is computed as they stream and
        checked against `crc` at the end (CaseError naming `what`)."""
        crc32c = self.kernels.crc32c
        length = count * RECORD_BYTES
        buf = memoryview(bytearray(min(self.chunk_bytes, length)))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            running = done = 0
            while done < length:
                n = min(self.chunk_bytes, length - done)
                got = ops = 0
                while got < n:
                    r = os.preadv(fd, [buf[got:n]], offset + done + got)
                    if not r:
                        raise CaseError(f"terasort: {what} ends after {done + got} of {length} bytes")
                    got += r
                    ops += 1
                io.read("temp", n, ops)
                running = crc32c(buf[:n], running)
                yield buf[:n]
                done += n
            if running != crc:
                raise CaseError(f"terasort: {what} fails its CRC32C: the temp data was corrupted between "
                                "map and reduce")
            if not self.cache:
                os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def segment(self, task: int, part: int, io):
        """Partition `part` of map task `task`'s run, streamed: its place from the run's index, its records
        found after the batch's metadata."""
        offset, length, count, crc = self.read_index(task, io)[part]
        if not count:
            return
        path = self.run_path(task)
        what = f"run {os.path.basename(path)} partition {part}"
        prefix = read_range(path, offset, 8, io, "temp", segment=True, cache=True)
        try:
            at = batch_records_at(bytes(prefix), length, count)
        except (CaseError, struct.error) as e:
            raise CaseError(f"terasort: {what} is not an Arrow record batch ({e})") from None
        yield from self._stream(path, offset + at, count, crc, io, what)

    def _merged_file(self, path: str, io):
        """A merge pass's output (records, then their CRC32C, big-endian), streamed and checked; removed once
        read whole (it is temp data of this reduce only)."""
        size = os.path.getsize(path)
        if size < 4 or (size - 4) % RECORD_BYTES:
            raise CaseError(f"terasort: merge pass output {os.path.basename(path)} is not whole records "
                            f"and a checksum ({size} bytes)")
        crc = struct.unpack(">I", read_range(path, size - 4, 4, io, "temp", segment=True, cache=True))[0]
        yield from self._stream(path, 0, (size - 4) // RECORD_BYTES, crc, io,
                                f"merge pass output {os.path.basename(path)}")
        os.unlink(path)

    def _merge_passes(self, part: int, runs: int, io) -> tuple:
        """Hadoop's reduce-side merge passes: while partition `part` has more sources than merge_factor, merge
        each merge_factor of them into one file on the temp tier. Returns (a function giving source i of the
        last level, how many there are, bytes written)."""
        k, factor = self.kernels, self.merge_factor
        sources, count, written, level = (lambda i: self.segment(i, part, io)), runs, 0, 0
        while count > factor:
            level += 1
            groups = -(-count // factor)
            name = f"merge-{part:05d}-{level}-{{:05d}}"
            for g in range(groups):
                crc = 0
                with CountedWriter(os.path.join(self.runs_dir, name.format(g)), io, "temp", self.cache) as sink:
                    def write(view, sink=sink):
                        nonlocal crc
                        crc = k.crc32c(view, crc)
                        sink.write(view)
                    k.merge_stream([sources(i) for i in range(g * factor, min(count, (g + 1) * factor))], write)
                    sink.write(struct.pack(">I", crc))
                    written += sink.tell()
            sources = (lambda i, name=name: self._merged_file(os.path.join(self.runs_dir, name.format(i)), io))
            count = groups
        return sources, count, written

    def merge(self, part: int, runs: int, write, out_records: int, io) -> int:
        """Partition `part` of the `runs` runs, merged (passes first where needed) into write(view), out_records
        records at a time (kernels.merge_stream). Returns the bytes the merge passes wrote on the temp tier."""
        sources, count, written = self._merge_passes(part, runs, io)
        self.kernels.merge_stream([sources(i) for i in range(count)], write, out_records)
        return written
