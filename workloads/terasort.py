"""TeraSort, in-process: generate, sort through temp-tier runs, validate — with the I/O placed as Hadoop places it.

Phases (each timed on its own: wall and CPU seconds, bytes and operations per tier):
- "teragen" (data tier): `records` gensort records (kernels.teragen, identical to Hadoop's TeraGen) written as
  HDFS-like block files `part-m-NNNNN` of the whole records that fit in `block_size`, each with its `.meta`
  sidecar (CRC32C per 512 bytes, kernels.crc32c_chunks), a piece at a time. valsort's checksum is kept.
- "map" (reads data, writes temp): TeraSort's sampled range partitioner (kernels.sample_partition_bounds over
  keys read from up to 10 input splits, as TeraInputFormat samples 10 splits), then each map task reads its
  splits (a block each, or `split_size` bytes of one, verifying their chunks' checksums), sorts them (kernels.sort_records), cuts the sorted records at the
  partition bounds (kernels.partition_ids) and writes ONE run file on the temp tier: an Arrow IPC file with
  one record batch per partition (partition p = batch p, possibly empty), one column `record` of
  fixed_size_binary(100) holding whole records (key = first 10 bytes). Like Hadoop's map output (one file,
  a segment per reducer, and its index file `file.out.index`) the run's index — per partition the segment's
  byte range, record count and CRC32C (Hadoop's IFile checksums its segments) — goes to `<run>.index`
  beside it, itself checksummed.
- "reduce" (reads temp, writes data): partition p reads its entry of every run's index, then streams batch
  p of every run (the shuffle's M x R segment reads) in reads of `merge_buffer` bytes, each segment's CRC32C
  computed as it streams and checked at its end, through a k-way merge with a fixed output buffer
  (kernels.merge_stream) straight into `part-r-NNNNN` (+ .meta) on the data tier; one copy, as TeraSort sets
  output replication to 1. At most `merge_factor` segments are merged at once (Hadoop's io.sort.factor):
  with more map outputs, merge passes first write runs of `merge_factor` segments to the temp tier. A
  reducer's memory is then its merge buffers ((merge_factor + 1) x about `merge_buffer` bytes), not its
  partition's size. The shuffle's files and merge live in workloads/_shuffle.py.
- "validate" (data tier): valsort's checks on the output, read a piece at a time — records in order within
  and across files, the record count, and valsort's checksum (kernels.record_checksum) equal to the input's.
  Any failure raises CaseError: a wrong sort is never reported as a result (workloads/_valsort.py per file).
Nothing the job holds grows with the input beyond a map task's split (the map sorts one split in memory, as
Hadoop's map sort buffer holds its split's output): blocks, splits, runs and their indexes are found by number,
not kept in lists.
With `hdfs_readers` > 0, phase "hdfs-data" first writes other HDFS blocks on the data tier, and that many readers
stream them (64 KiB reads, cold) for as long as map and reduce run — a shared cluster's HDFS traffic; what they
read is reported as hdfs_read_bytes / hdfs_read_bytes_per_s, not as the sort's own I/O. `hdfs_read_mbps` paces
each reader (an open-loop load that does not grow when the tier has room to spare); 0 lets them take what they can.
Map tasks and reduce partitions run on a ThreadPoolExecutor of ctx["workers"] threads; each kernel call runs
on its own thread (threads=1) so that `workers` alone sets the parallelism. Files written on either tier are
fsynced and dropped from the page cache (unless ctx["cache"]), so every read in a later phase is cold.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.core.errors import CaseError
from workloads import job_workload
from workloads._hdfs_traffic import BackgroundReaders
from workloads._jobio import (
    IO_CHUNK,
    BlockWriter,
    CountedWriter,
    PhaseLog,
    check_free_space,
    drop_cache,
    read_block,
    read_range,
    write_block_pieces,
    write_cold,
)
from workloads._shuffle import INDEX_ENTRY, RECORD_BYTES, Shuffle, batch_records_at
from workloads._valsort import check_file

MiB = 1024 ** 2
OTHER_BLOCK_SIZE = 128 * MiB   # the other HDFS data's blocks: dfs.blocksize's default
KEY_BYTES = 10
SAMPLE_FILES = 10              # TeraInputFormat samples 10 splits
CHECKSUM_MASK = (1 << 64) - 1  # valsort's checksum is a 64-bit sum of record CRC32s


@dataclass(frozen=True)
class TeraSortParams:
    records: int = 10_000_000          # 100-byte records: 10 M = 1 GB
    partitions: int = 8                # reduce partitions (output files)
    map_tasks: int = 0                 # 0: one per input split
    block_size: int = 128 * MiB        # dfs.blocksize: input files hold the whole records that fit
    split_size: int = 0                # bytes per map input split (0: a block, Hadoop's default; smaller, as
                                       # mapreduce.input.fileinputformat.split.maxsize, is rounded down to whole
                                       # records and checksum chunks)
    sample_size: int = 100_000         # mapreduce.terasort.partitions.sample
    bytes_per_checksum: int = 512      # dfs.bytes-per-checksum of the .meta sidecars
    hdfs_readers: int = 0              # other HDFS clients streaming other blocks off the data tier meanwhile
    hdfs_read_bytes: int = 0           # the data they read (0: as much as the sort's input)
    hdfs_read_mbps: float = 0.0        # each reader's rate, MB/s (0: as fast as the tier lets it)
    merge_factor: int = 100            # segments merged at once (mapreduce.task.io.sort.factor, as TeraSort
                                       # runs are tuned); more map outputs than this: merge passes on temp
    merge_buffer: int = 1 * MiB        # bytes read from each merged segment at a time (whole records)

    def __post_init__(self):
        for name in ("records", "partitions", "block_size", "sample_size", "bytes_per_checksum", "merge_buffer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.hdfs_readers < 0 or self.hdfs_read_bytes < 0 or self.hdfs_read_mbps < 0:
            raise ValueError("hdfs_readers, hdfs_read_bytes and hdfs_read_mbps must be >= 0")
        if self.merge_factor < 2:
            raise ValueError(f"merge_factor must be >= 2 (segments merged at once), not {self.merge_factor}")
        if self.merge_buffer < RECORD_BYTES:
            raise ValueError(f"merge_buffer {self.merge_buffer} holds no 100-byte record")
        if self.map_tasks < 0:
            raise ValueError(f"map_tasks must be >= 0 (0: one per split), not {self.map_tasks}")
        if self.block_size < RECORD_BYTES:
            raise ValueError(f"block_size {self.block_size} holds no 100-byte record")
        if self.split_size and not (self.piece_bytes <= self.split_size):
            raise ValueError(f"split_size {self.split_size} is less than {self.piece_bytes} bytes, the smallest "
                             f"whole number of 100-byte records and {self.bytes_per_checksum}-byte checksum chunks")
        if self.split_size < 0:
            raise ValueError(f"split_size must be >= 0 (0: one split per block), not {self.split_size}")
        if self.map_tasks > self.splits:
            raise ValueError(f"map_tasks {self.map_tasks} is more than the {self.splits} input splits "
                             "(a map task reads whole splits)")

    @property
    def records_per_block(self) -> int:
        return self.block_size // RECORD_BYTES

    @property
    def blocks(self) -> int:
        return -(-self.records // self.records_per_block)

    @property
    def piece_bytes(self) -> int:
        """The smallest run of whole records that is also whole checksum chunks: splits start on one."""
        return math.lcm(RECORD_BYTES, self.bytes_per_checksum)

    @property
    def records_per_split(self) -> int:
        if not self.split_size:
            return self.records_per_block
        return min(self.records_per_block, self.split_size // self.piece_bytes * self.piece_bytes // RECORD_BYTES)

    @property
    def splits_per_block(self) -> int:
        return -(-self.records_per_block // self.records_per_split)

    @property
    def splits(self) -> int:
        whole, rest = divmod(self.records, self.records_per_block)
        return whole * self.splits_per_block + -(-rest // self.records_per_split)

    def split(self, index: int) -> tuple:
        """Input split `index`: (block number, first record in the block, records)."""
        block, nth = divmod(index, self.splits_per_block)
        in_block = min(self.records_per_block, self.records - block * self.records_per_block)
        start = nth * self.records_per_split
        return block, start, min(self.records_per_split, in_block - start)


def _meta_bytes(nbytes: int, bytes_per_checksum: int) -> int:
    return 7 + 4 * -(-nbytes // bytes_per_checksum)


def space_needed(p: TeraSortParams) -> tuple:
    """(bytes kept on the data tier, bytes kept on the temp tier) at the job's peak."""
    data = p.records * RECORD_BYTES
    meta = _meta_bytes(p.block_size, p.bytes_per_checksum) * p.blocks
    runs = data + (4096 + INDEX_ENTRY.size) * (p.partitions + 2) * (p.map_tasks or p.splits)  # Arrow framing
    if (p.map_tasks or p.splits) > p.merge_factor:
        runs += 2 * data     # merge passes: a pass's runs and the next pass's, at most the whole data each
    other = (p.hdfs_read_bytes or data) if p.hdfs_readers else 0
    return 2 * (data + meta) + other, runs


class TeraSortJob:
    """One TeraSort run; its phases are methods so that a test can reach in between them."""

    def __init__(self, p: TeraSortParams, ctx: dict):
        import kernels  # a missing kernel is an ImportError here: no fallback
        self.kernels = kernels
        self.p, self.ctx = p, ctx
        self.workers = max(1, int(ctx.get("workers") or 1))
        self.cache = bool(ctx.get("cache"))
        self.log = PhaseLog(ctx["tiers"])
        self.input_dir = os.path.join(ctx["dirs"]["data"], "terasort-input")
        self.output_dir = os.path.join(ctx["dirs"]["data"], "terasort-output")
        self.runs_dir = os.path.join(ctx["dirs"]["temp"], "terasort-runs")
        self.input_checksum = 0
        self.bounds = b""
        self.map_outputs = 0            # runs written by the map (run i: run_path(i) and its index)
        self.temp_bytes = 0             # bytes written on the temp tier: runs, their indexes, merge passes
        self.outputs: list = []         # per partition: path (partitions is a parameter, not the input's size)
        self.shuffle = Shuffle(self.runs_dir, p.partitions, p.merge_factor, p.merge_buffer, self.cache, kernels)

    def _pool(self):
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="terasort")

    def _each(self, task, count: int) -> int:
        """task(i) for i in 0..count-1 on `workers` threads, each taking the next number when it is free;
        returns the sum of the results. Holds a counter, not a list of tasks or results, so that nothing
        grows with the number of tasks; the first error stops the others' next tasks and is raised."""
        lock, state = threading.Lock(), {"next": 0, "sum": 0, "failed": False}

        def worker():
            while True:
                with lock:
                    i = state["next"]
                    if i >= count or state["failed"]:
                        return
                    state["next"] += 1
                try:
                    result = task(i)
                except BaseException:
                    state["failed"] = True
                    raise
                with lock:
                    state["sum"] += result or 0

        with self._pool() as pool:
            futures = [pool.submit(worker) for _ in range(min(self.workers, count))]
            for f in futures:
                f.result()
        return state["sum"]

    def input_path(self, block: int) -> str:
        return os.path.join(self.input_dir, f"part-m-{block:05d}")

    def run_path(self, task: int) -> str:
        return self.shuffle.run_path(task)

    # ---- teragen -----------------------------------------------------------------------------------
    def _write_blocks(self, folder: str, name: str, first_record: int, records: int, io,
                      block_size: int = 0) -> tuple:
        """Records first_record.. (gensort's, kernels.teragen) as HDFS-like block files `<name>NNNNN` of
        block_size (default: the input's), each with its .meta, written a piece (about a MiB) at a time, blocks in parallel.
        Returns (the number of blocks, valsort checksum)."""
        p, k = self.p, self.kernels
        per_piece = max(1, IO_CHUNK // p.piece_bytes) * p.piece_bytes // RECORD_BYTES
        per_block = (block_size or p.block_size) // RECORD_BYTES
        blocks = -(-records // per_block)

        def one(index):
            path = os.path.join(folder, f"{name}{index:05d}")
            first = index * per_block
            count = min(per_block, records - first)
            checksum = 0

            def pieces():
                nonlocal checksum
                for start in range(first, first + count, per_piece):
                    data = k.teragen(first_record + start, min(per_piece, first + count - start), threads=1)
                    checksum += k.record_checksum(data, threads=1)
                    yield data
            write_block_pieces(path, pieces(), io, "data", self.cache, p.bytes_per_checksum)
            return checksum

        return blocks, self._each(one, blocks) & CHECKSUM_MASK

    def teragen(self) -> None:
        p = self.p
        os.mkdir(self.input_dir)    # inside the case directory: never recreates a vanished tier root
        with self.log.phase("teragen", "data") as (record, io):
            _, self.input_checksum = self._write_blocks(self.input_dir, "part-m-", 0, p.records, io)
            record["records"] = p.records

    def split(self, index: int) -> tuple:
        """Input split `index`: (block path, byte offset in the block, records)."""
        block, start, count = self.p.split(index)
        return self.input_path(block), start * RECORD_BYTES, count

    def other_hdfs_data(self, nbytes: int) -> list:
        """Blocks of other HDFS data on the data tier (phase "hdfs-data"), for readers running alongside:
        ordinary blocks of up to dfs.blocksize's default, 128 MiB, whatever the sort's own block size."""
        folder = os.path.join(self.ctx["dirs"]["data"], "hdfs-other")
        os.mkdir(folder)
        records = max(1, nbytes // RECORD_BYTES)
        with self.log.phase("hdfs-data", "data") as (record, io):
            blocks, _ = self._write_blocks(folder, "blk_", self.p.records, records, io, OTHER_BLOCK_SIZE)
            record["blocks"] = blocks
        return [os.path.join(folder, f"blk_{i:05d}") for i in range(blocks)]

    # ---- map ---------------------------------------------------------------------------------------
    def _sample(self, io) -> bytes:
        """Records from the start of up to 10 evenly spaced input splits (what TeraSort samples)."""
        splits = self.p.splits
        step = max(1, splits // SAMPLE_FILES)
        chosen = [self.split(i) for i in range(0, splits, step)[:SAMPLE_FILES]]
        per_split = -(-self.p.sample_size // len(chosen))
        parts = [read_range(path, offset, min(per_split, count) * RECORD_BYTES, io, "data")
                 for path, offset, count in chosen]
        if not self.cache:      # the map tasks' reads of these files must be cold too
            drop_cache({path for path, _, _ in chosen})
        return b"".join(parts)

    def _map_splits(self, task: int) -> range:
        """The input splits map task `task` reads (whole splits, as evenly as they go)."""
        splits = self.p.splits
        tasks = self.p.map_tasks or splits
        return range(splits * task // tasks, splits * (task + 1) // tasks)

    @staticmethod
    def _schema():
        import pyarrow as pa
        return pa.schema([("record", pa.binary(RECORD_BYTES))])

    def _ipc_header_bytes(self) -> int:
        """Where an Arrow IPC file's first record batch message starts: after the 8-byte magic and the
        schema message (written with the first batch). Checked on a tiny file, with the layout the reduce
        relies on to stream a batch's records without reading it whole (a message is the continuation
        marker, its metadata's length, the metadata, then the records, padded), so that a pyarrow that lays
        files out otherwise fails here rather than mid-reduce."""
        import pyarrow as pa
        import pyarrow.ipc as ipc
        schema = self._schema()
        header = 8 + schema.serialize().size
        sink = pa.BufferOutputStream()
        records = bytes(i % 251 for i in range(3 * RECORD_BYTES))
        with ipc.new_file(sink, schema) as writer:
            writer.write_batch(pa.record_batch([pa.Array.from_buffers(pa.binary(RECORD_BYTES), 3,
                                                                      [None, pa.py_buffer(records)])],
                                              schema=schema))
        raw = sink.getvalue()
        try:
            message = ipc.read_message(raw.slice(header))
            assert ipc.read_record_batch(message, schema).num_rows == 3
            at = batch_records_at(bytes(raw[header:header + 8]), len(message.serialize()), 3)
            assert bytes(raw[header + at:header + at + len(records)]) == records
        except (pa.ArrowException, AssertionError, CaseError) as e:
            raise CaseError(f"terasort: cannot locate record batches in this pyarrow's IPC files ({e})") from None
        return header

    def map(self) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.ipc as ipc

        p, k = self.p, self.kernels
        os.mkdir(self.runs_dir)
        schema, header = self._schema(), self._ipc_header_bytes()
        with self.log.phase("map", "temp") as (record, io):
            self.bounds = k.sample_partition_bounds(self._sample(io), p.partitions, p.sample_size, seed=0)

            def one(index):
                splits = [self.split(i) for i in self._map_splits(index)]
                blocks = [read_block(path, io, "data", offset=offset, length=count * RECORD_BYTES)
                          for path, offset, count in splits]
                data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
                ordered = k.sort_records(data, threads=1)
                del data, blocks
                pids = k.partition_ids(ordered, self.bounds)
                cuts = np.searchsorted(pids, np.arange(p.partitions + 1), side="left")
                cuts[-1] = len(pids)
                path = self.run_path(index)
                index_entries = bytearray()
                # Straight to the file through a 1 MiB buffer (Arrow writes each message in small pieces),
                # counted, fsynced and dropped on close: no in-memory copy of the run.
                with CountedWriter(path, io, "temp", self.cache) as sink:
                    stream = pa.BufferedOutputStream(pa.PythonFile(sink, mode="w"), IO_CHUNK)
                    writer = ipc.new_file(stream, schema)
                    for part in range(p.partitions):
                        lo, hi = int(cuts[part]), int(cuts[part + 1])
                        segment = ordered[lo * RECORD_BYTES:hi * RECORD_BYTES]
                        array = pa.Array.from_buffers(pa.binary(RECORD_BYTES), hi - lo,
                                                      [None, pa.py_buffer(segment)])
                        begin = stream.tell() if part else header
                        writer.write_batch(pa.record_batch([array], schema=schema))
                        index_entries += INDEX_ENTRY.pack(begin, stream.tell() - begin, hi - lo,
                                                          k.crc32c(segment))
                    writer.close()
                    stream.close()
                # The run's index, as Hadoop's file.out.index beside its map output (checksummed too): a
                # reduce reads its entry and then just its segment.
                return os.path.getsize(path) + write_cold(path + ".index", self.shuffle.index_bytes(index_entries),
                                                          io, "temp", self.cache)

            self.map_outputs = p.map_tasks or p.splits
            self.temp_bytes = self._each(one, self.map_outputs)
            record["map_tasks"] = self.map_outputs

    # ---- reduce ------------------------------------------------------------------------------------
    def read_index(self, task: int, io) -> list:
        """Run `task`'s index (workloads._shuffle.read_index)."""
        return self.shuffle.read_index(task, io)

    def reduce(self) -> None:
        p = self.p
        os.mkdir(self.output_dir)
        out_records = max(1, IO_CHUNK // p.piece_bytes) * p.piece_bytes // RECORD_BYTES
        self.outputs = [os.path.join(self.output_dir, f"part-r-{part:05d}") for part in range(p.partitions)]
        with self.log.phase("reduce", "temp") as (record, io):
            def one(part):
                with BlockWriter(self.outputs[part], io, "data", self.cache, p.bytes_per_checksum) as block:
                    return self.shuffle.merge(part, self.map_outputs, block.write, out_records, io)
            self.temp_bytes += self._each(one, p.partitions)
            record["partitions"] = p.partitions

    # ---- validate ----------------------------------------------------------------------------------
    def check_file(self, path: str, io) -> dict:
        """valsort's figures of one output file (workloads._valsort.check_file), a piece of about 8 MB at a time."""
        piece_bytes = max(1, 8 * IO_CHUNK // self.p.piece_bytes) * self.p.piece_bytes
        return check_file(path, io, piece_bytes, self.kernels.record_checksum)

    def validate(self) -> dict:
        """valsort's checks; returns {"records", "checksum", "duplicate_keys"}. Raises CaseError."""
        with self.log.phase("validate", "data") as (record, io):
            with self._pool() as pool:
                files = list(pool.map(lambda path: self.check_file(path, io), self.outputs))
            problems = [f"{os.path.basename(f['path'])}: {f['unordered']} records out of order"
                        for f in files if f["unordered"]]
            previous, duplicates = None, sum(f["duplicates"] for f in files)
            for f in files:
                if f["records"] == 0:
                    continue
                if previous is not None and f["first"] < previous["last"]:
                    problems.append(f"{os.path.basename(f['path'])} starts below the end of "
                                    f"{os.path.basename(previous['path'])}")
                duplicates += previous is not None and f["first"] == previous["last"]
                previous = f
            total = sum(f["records"] for f in files)
            checksum = sum(f["checksum"] for f in files) & CHECKSUM_MASK
            if total != self.p.records:
                problems.append(f"{total} records in the output, {self.p.records} in the input")
            if checksum != self.input_checksum:
                problems.append(f"output checksum {checksum:x} is not the input's {self.input_checksum:x}")
            if problems:
                raise CaseError("terasort: validation failed: " + "; ".join(problems))
            record.update(valid=True, records=total, checksum=f"{checksum:x}")
        return {"records": total, "checksum": checksum, "duplicate_keys": int(duplicates)}

    # ---- the whole job -----------------------------------------------------------------------------
    def implementation(self) -> str:
        import pyarrow as pa
        impl = self.kernels.IMPLEMENTATION
        return (f"kernels[teragen={impl['teragen']} sort={impl['sort_records']} crc32c={impl['crc32c']}]"
                f"+pyarrow-{pa.__version__}-ipc")

    def metrics(self, validated: dict) -> dict:
        p, log = self.p, self.log
        input_bytes = p.records * RECORD_BYTES
        sort_s = log.get("map")["wall_s"] + log.get("reduce")["wall_s"]
        m = {"records_count": p.records, "input_bytes": input_bytes, "output_bytes": input_bytes,
             "temp_bytes": self.temp_bytes, "map_tasks_count": self.map_outputs,
             "partitions_count": p.partitions, "sort_s": sort_s,
             "duplicate_keys_count": validated["duplicate_keys"]}
        if sort_s > 0:
            m["sorted_bytes_per_s"] = input_bytes / sort_s
        for name in ("teragen", "map", "reduce", "validate"):
            wall = log.get(name)["wall_s"]
            if wall > 0:
                m[f"{name}_bytes_per_s"] = input_bytes / wall
        return m


def run(p: TeraSortParams, ctx: dict) -> dict:
    data_bytes, temp_bytes = space_needed(p)
    needs = {ctx["dirs"]["data"]: data_bytes}
    needs[ctx["dirs"]["temp"]] = needs.get(ctx["dirs"]["temp"], 0) + temp_bytes
    check_free_space(needs, f"terasort of {p.records} records ({data_bytes} bytes of input and output, "
                            f"{temp_bytes} bytes of temp runs)")
    job = TeraSortJob(p, ctx)
    job.teragen()
    traffic = None
    if p.hdfs_readers:
        paths = job.other_hdfs_data(p.hdfs_read_bytes or p.records * RECORD_BYTES)
        with BackgroundReaders(paths, p.hdfs_readers, job.cache, p.hdfs_read_mbps * 10 ** 6) as traffic:
            job.map()
            job.reduce()
    else:
        job.map()
        job.reduce()
    validated = job.validate()
    metrics = job.metrics(validated)
    if traffic is not None:
        metrics["hdfs_read_bytes"] = traffic.bytes
        metrics["hdfs_read_ops_count"] = traffic.ops
        if traffic.seconds > 0:
            metrics["hdfs_read_bytes_per_s"] = traffic.bytes / traffic.seconds
    return {"phases": job.log.records, "metrics": metrics, "threads": job.workers,
            "implementation": job.implementation()}


WORKLOAD = job_workload(
    "terasort", TeraSortParams, run,
    "TeraSort: gensort input on the data tier, sorted runs (Arrow IPC) on the temp tier, merged output, valsort",
    quick={"records": 200_000, "partitions": 4, "block_size": 4 * MiB})
