"""Pure-Python reference of the builtin I/O engine (kernels.ioloop): same signature, same return shape.

A plain os.preadv / os.pwritev / os.fsync loop in Python threads. It is the reference the kernel's tests
compare against and the "plain Python pread loop" baseline of the benchmark; it is never used in place of
the kernel.

It also holds the engine's definition in executable form, shared with the kernel so that the two cannot
drift apart: argument checking and file opening (`check_args`, `open_files`, `raise_io_error`) are
imported by kernels.ioloop; the arithmetic (`mix64`, the keys, the op sequence, the write pattern, fio's
bins) is written again in C there and must give the same numbers here.

What one operation does is a function of (seed, job, op number) only, never of which thread ran it
(a counter-based generator, splitmix64, instead of a per-thread one): a size-based run therefore does the same
set of operations, reads/writes split and written bytes however many threads share the job, and this
reference reproduces the kernel's files byte for byte.

Checksums (`checksum_chunk` > 0, HDFS's bytes-per-checksum): every written or read buffer gets one CRC32C per
chunk, the CPU work a DataNode does for its `.meta` files. There is no `.meta` file to compare against: what an
ioloop write phase leaves is defined by (seed, job, file, offset, bs) — the write pattern of the seed, repeated
per block of `bs`, with every sector's stamp — so a read recomputes the CRC32C that chunk had when it was
written (`expected_chunk`) and a mismatch fails the run naming the file and the chunk's offset. A read phase
therefore says which write phase it verifies (`written_seed`, `written_bs`). This reference builds the expected
bytes and checksums them (crc32c_ref, pure Python: small sizes only); the kernel derives the same CRCs from
tables, without a second pass over the data (see kernels/ioloop.pyx).
"""
from __future__ import annotations

import errno
import itertools
import mmap
import os
import stat
import threading
import time

import numpy as np

from kernels.crc32c_ref import crc32c as _crc32c

__all__ = ["run_phase", "check_args", "check_interval", "open_files", "raise_io_error", "direction_result",
           "bin_value_ns", "bin_index_ns", "hist_to_bins", "interval_counts", "IntervalPoller", "PLAT_NR",
           "IMPLEMENTATION", "INTERVAL_MIN_S"]

IMPLEMENTATION = "python:ioloop_ref"

RW_MODES = ("read", "write", "randread", "randwrite", "randrw", "rw")
FILE_SERVICE = ("roundrobin", "sequential", "random")
MAX_THREADS = 4096

# fio's latency histogram layout (stat.h): 2**6 sub-buckets per power of two, 29 groups.
# fio's latency bins, one definition for both engines (kernels/latency_bins.py).
from kernels.latency_bins import PLAT_NR, PLAT_VAL, bin_index, bin_value, bins_from_array  # noqa: E402

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15    # 2**64 / golden ratio: splitmix64's increment
FILE_STEP = 0xD1B54A32D192ED03  # odd constants that separate the derived keys
PATTERN_SALT = 0x5851F42D4C957F2D
FILL_FOR_ZERO = 0x5A            # the write pattern has no zero bytes
SECTOR = 512                    # every sector of a written block starts with a 64-bit stamp
MAX_CHECKSUM_CHUNK = 1 << 16    # the kernel keeps 8 KiB of tables per sector of a chunk
# Queueing models (fio's ioengine names): psync, `iodepth` threads per job each with one pread/pwrite in
# flight; libaio, one thread per job keeping `iodepth` ops queued with Linux AIO; io_uring, the same with an
# io_uring (kernels/tb_uring.h). Which ops run is the same under every model. This reference runs threads
# for psync and libaio alike and has no io_uring: it refuses ioengine="io_uring" (run_phase says so).
IOENGINES = ("psync", "libaio", "io_uring")
ERR_EOF = -1                    # failure codes besides errno values
ERR_CHECKSUM = -2
OP_CHUNK = 4096                 # ops whose parameters the reference computes at once (NumPy)

_U64 = np.uint64


def mix64(z: int) -> int:
    """splitmix64's finalizer on a 64-bit integer (the same as iol_mix64 in ioloop_clock.h)."""
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def seed_keys(seed: int, nfiles_per_job: list) -> tuple:
    """(job_keys, file_keys per job, pattern_key) derived from `seed`.

    Op c of job j is drawn from mix64(job_keys[j] + c * GOLDEN); file i of job j stamps its sectors with
    file_keys[j][i] + byte offset; the write buffer is the pattern of `pattern_key`.
    """
    seed_key = mix64(seed & MASK)
    job_keys = [mix64(seed_key + (j + 1) * GOLDEN) for j in range(len(nfiles_per_job))]
    file_keys = [[mix64(job_keys[j] + (i + 1) * FILE_STEP) for i in range(n)]
                 for j, n in enumerate(nfiles_per_job)]
    return job_keys, file_keys, mix64(seed_key ^ PATTERN_SALT)


def write_pattern(pattern_key: int, nbytes: int) -> np.ndarray:
    """The bytes every write buffer starts from: little-endian words mix64(key + i * GOLDEN), with zero
    bytes replaced so that no page is zero and the data does not compress."""
    words = -(-nbytes // 8)
    z = np.arange(words, dtype=_U64) * _U64(GOLDEN) + _U64(pattern_key)
    data = _mix64_np(z).astype("<u8").view(np.uint8)[:nbytes].copy()
    data[data == 0] = FILL_FOR_ZERO
    return data


def stamp_offsets(bs: int) -> range:
    """Offsets in a block of the 64-bit little-endian stamps (file key + byte offset in the file) that make
    every written sector distinct, so that deduplicating storage cannot cheat."""
    return range(0, bs - 7, SECTOR)


def expected_chunk(pattern: np.ndarray, file_key: int, offset: int, chunk: int) -> bytes:
    """The `chunk` bytes at `offset` of a file that an ioloop write phase wrote with block size len(pattern)
    (pattern = write_pattern(pattern_key, bs)): the pattern at offset % bs, each sector starting with its stamp
    file_key + file offset. `offset` and `chunk` are whole sectors, and a chunk never crosses a block."""
    start = offset % len(pattern)
    data = bytearray(pattern[start:start + chunk].tobytes())
    for s in range(0, chunk, SECTOR):
        data[s:s + 8] = ((file_key + offset + s) & MASK).to_bytes(8, "little")
    return bytes(data)


def bin_index_ns(value_ns: int) -> int:
    """fio's plat_val_to_idx: the bin holding a latency of `value_ns` ns (negative clock steps count as 0)."""
    return bin_index(max(0, int(value_ns)))


def bin_value_ns(index: int) -> int:
    """fio's plat_idx_to_val: the value in ns that stands for bin `index` (the middle of the bin)."""
    return bin_value(index)


def hist_to_bins(hist) -> dict:
    """{bin value ns: count} of the non-empty bins of a PLAT_NR-long histogram (fio json+ `clat_ns.bins`)."""
    counts = np.asarray(hist)
    if counts.shape != (PLAT_NR,):
        raise ValueError(f"a latency histogram has {PLAT_NR} bins, not shape {counts.shape}")
    return bins_from_array(counts)


# ---- argument checking and file opening, shared with kernels.ioloop ------------------------------------

def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return int(value)


def check_args(jobs, rw, bs, file_size, iodepth, rwmixread, direct, fsync_every, runtime_s,
                file_service, seed, checksum_chunk=0, written_seed=None, written_bs=None, ioengine=None) -> dict:
    """Check run_phase's arguments; returns the normalised settings both engines run from."""
    if isinstance(jobs, (str, bytes, os.PathLike)) or not jobs:
        raise ValueError("jobs must be a non-empty list of jobs, each a non-empty list of file paths")
    paths = []
    for number, job in enumerate(jobs):
        if isinstance(job, (str, bytes, os.PathLike)) or not job:
            raise ValueError(f"job {number} must be a non-empty list of file paths, not {job!r}")
        paths.append([os.fsdecode(os.fspath(p)) for p in job])
    if rw not in RW_MODES:
        raise ValueError(f"rw must be one of {', '.join(RW_MODES)}, not {rw!r}")
    if file_service not in FILE_SERVICE:
        raise ValueError(f"file_service must be one of {', '.join(FILE_SERVICE)}, not {file_service!r}")
    bs = _positive_int("bs", bs)
    file_size = _positive_int("file_size", file_size)
    if file_size % bs:
        raise ValueError(f"file_size ({file_size} bytes) must be a whole number of blocks of bs={bs}")
    iodepth = _positive_int("iodepth", iodepth)
    if len(paths) * iodepth > MAX_THREADS:
        raise ValueError(f"{len(paths)} jobs x iodepth {iodepth} is more than {MAX_THREADS} threads")
    rwmixread = _positive_int("rwmixread", rwmixread, 0)
    if rwmixread > 100:
        raise ValueError(f"rwmixread must be 0..100, not {rwmixread}")
    fsync_every = _positive_int("fsync_every", fsync_every, 0)
    if direct and bs % 512:
        raise ValueError(f"direct I/O needs bs a multiple of 512, not {bs}")
    if runtime_s is not None and not (isinstance(runtime_s, (int, float)) and runtime_s > 0):
        raise ValueError(f"runtime_s must be a positive number of seconds or None, not {runtime_s!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, not {seed!r}")
    mix = {"read": 100, "randread": 100, "write": 0, "randwrite": 0}.get(rw, rwmixread)
    chunk, written_seed, written_bs = _check_checksums(rw, bs, checksum_chunk, written_seed, written_bs)
    return {"ioengine": _ioengine(ioengine, direct, iodepth), "chunk": chunk, "written_seed": written_seed, "written_bs": written_bs,
            "paths": paths, "rw": rw, "bs": bs, "file_size": file_size, "iodepth": iodepth,
            "rwmix": mix, "random": rw.startswith("rand"), "service": FILE_SERVICE.index(file_service),
            "fsync_every": fsync_every, "direct": bool(direct), "runtime_s": runtime_s,
            "seed": int(seed), "reads": rw in ("read", "randread", "randrw", "rw")}


def _ioengine(ioengine, direct, iodepth) -> str:
    """The queueing model a phase runs with: `ioengine` (one of IOENGINES), or by default fio's choice in
    the fio job files: libaio for direct I/O with iodepth > 1, psync otherwise."""
    if ioengine is None:
        return "libaio" if direct and iodepth > 1 else "psync"
    if ioengine not in IOENGINES:
        raise ValueError(f"ioengine must be one of {', '.join(IOENGINES)}, not {ioengine!r}")
    return ioengine


def _check_checksums(rw, bs, chunk, written_seed, written_bs) -> tuple:
    chunk = _positive_int("checksum_chunk", chunk, 0)
    if not chunk:
        if written_seed is not None or written_bs is not None:
            raise ValueError("written_seed and written_bs say what a checksum-verifying read expects: "
                             "they need checksum_chunk > 0")
        return 0, None, None
    if chunk % SECTOR or chunk > MAX_CHECKSUM_CHUNK:
        raise ValueError(f"checksum_chunk must be a multiple of {SECTOR} bytes up to {MAX_CHECKSUM_CHUNK}, "
                         f"not {chunk}")
    if bs % chunk:
        raise ValueError(f"bs={bs} is not a whole number of checksum chunks of {chunk} bytes")
    if rw in ("randrw", "rw"):
        raise ValueError(f"checksums need a phase that only reads or only writes, not rw={rw}")
    if rw in ("write", "randwrite"):
        if written_seed is not None or written_bs is not None:
            raise ValueError("written_seed and written_bs are for read phases (what their checksums verify)")
        return chunk, None, None
    if isinstance(written_seed, bool) or not isinstance(written_seed, (int, np.integer)):
        raise ValueError("a read with checksum_chunk verifies what an ioloop write phase wrote over the same jobs: "
                         f"give that phase's seed as written_seed, not {written_seed!r}")
    written_bs = bs if written_bs is None else _positive_int("written_bs", written_bs)
    if written_bs % chunk:
        raise ValueError(f"written_bs={written_bs} is not a whole number of checksum chunks of {chunk} bytes")
    return chunk, int(written_seed), written_bs


def _device_size(fd: int) -> int:
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    return os.lseek(fd, 0, os.SEEK_END)  # block devices report their size this way


def open_files(cfg: dict) -> list:
    """Open every file of every job (one fd per path occurrence, job by job); returns the flat fd list.

    Phases that read need files of at least file_size (ValueError naming the file otherwise); write
    phases create missing files without truncating; randwrite extends short files to file_size.
    """
    flat = [p for job in cfg["paths"] for p in job]
    file_size = cfg["file_size"]
    if cfg["reads"]:
        for path in flat:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise ValueError(f"{path}: no such file; a {cfg['rw']} phase reads existing files of at least "
                                 f"{file_size} bytes (write them first)") from None
            if stat.S_ISREG(st.st_mode) and st.st_size < file_size:
                raise ValueError(f"{path}: {st.st_size} bytes, but a {cfg['rw']} phase reads {file_size} bytes "
                                 f"(write the file first)")
    if cfg["rw"] in ("read", "randread"):
        flags = os.O_RDONLY
    elif cfg["reads"]:
        flags = os.O_RDWR
    else:
        flags = os.O_RDWR | os.O_CREAT
    flags |= os.O_CLOEXEC | (os.O_DIRECT if cfg["direct"] else 0)
    fds = []
    try:
        for path in flat:
            try:
                fd = os.open(path, flags, 0o644)
            except OSError as exc:
                if cfg["direct"] and exc.errno == errno.EINVAL:
                    raise OSError(errno.EINVAL, "O_DIRECT is not supported by this filesystem "
                                  "(tmpfs has none; use direct=False)", path) from None
                raise
            fds.append(fd)
            size = _device_size(fd)
            if cfg["reads"] and size < file_size:
                raise ValueError(f"{path}: {size} bytes, but a {cfg['rw']} phase reads {file_size} bytes")
            if cfg["rw"] == "randwrite" and size < file_size and stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, file_size)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


_OP_NAMES = ("read", "write", "fsync")


def raise_io_error(code: int, path: str, op: int, offset: int, chunk: int = 0, got: int = 0,
                    want: int = 0) -> None:
    """Raise the OSError for the first failed operation of a run (ERR_EOF: end of file during a read;
    ERR_CHECKSUM: the `chunk` bytes at `offset` have CRC32C `got` where `want` was written)."""
    if code == ERR_EOF:
        raise OSError(errno.EIO, f"unexpected end of file ({_OP_NAMES[op]} at offset {offset})", path)
    if code == ERR_CHECKSUM:
        raise OSError(errno.EIO, f"CRC32C mismatch in the {chunk}-byte chunk at offset {offset} "
                      f"({_OP_NAMES[op]}: 0x{got:08x}, written: 0x{want:08x})", path)
    raise OSError(code, f"{os.strerror(code)} ({_OP_NAMES[op]} at offset {offset})", path)


INTERVAL_MIN_S = 0.001    # figures over time in intervals of at least a millisecond


def check_interval(interval_s, on_interval) -> int:
    """The interval in ns (0: no figures over time) from run_phase's interval_s; ValueError when it is not a
    finite number of seconds >= INTERVAL_MIN_S, or on_interval is given without it or is not callable."""
    if interval_s is None:
        if on_interval is not None:
            raise ValueError("on_interval needs interval_s")
        return 0
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not \
            INTERVAL_MIN_S <= float(interval_s) < 1e9:
        raise ValueError(f"interval_s must be a number of seconds from {INTERVAL_MIN_S}, not {interval_s!r}")
    if on_interval is not None and not callable(on_interval):
        raise ValueError("on_interval must be callable")
    return int(round(float(interval_s) * 1e9))


def interval_counts(rows: dict) -> np.ndarray:
    """The `counts` array of run_phase's intervals from {interval number: (2, 2 + PLAT_NR) counts}: a row per
    interval up to the last one with a completion (zeros for intervals with none)."""
    n = max(rows) + 1 if rows else 0
    out = np.zeros((n, 2, 2 + PLAT_NR), dtype=np.uint64)
    for k, counts in rows.items():
        out[k] += counts
    return out


class IntervalPoller(threading.Thread):
    """Calls on_interval(index, counts) for each interval of a running phase, one interval after it ended (by
    then the threads have moved on and added it), then, at finish(), for the rest. rows(first, last) returns
    the counts of intervals first..last-1 as far as they exist. An exception from on_interval stops the calls
    and is raised again by finish(): the caller's bug is not lost with the thread."""

    def __init__(self, rows, interval_ns: int, on_interval):
        super().__init__(name="ioloop-intervals", daemon=True)
        self.rows, self.interval_ns, self.on_interval = rows, interval_ns, on_interval
        self.emitted = 0
        self.error = None
        self._halt = threading.Event()
        self._start_ns = time.monotonic_ns()

    def _emit(self, last: int) -> None:
        counts = self.rows(self.emitted, last)
        for k in range(len(counts)):
            self.on_interval(self.emitted + k, counts[k])
        self.emitted += len(counts)

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval_ns / 1e9 / 4):
                ready = (time.monotonic_ns() - self._start_ns) // self.interval_ns - 1
                if ready > self.emitted:
                    self._emit(ready)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        """Stop polling and call on_interval for the intervals not reported yet (the phase has ended)."""
        self._halt.set()
        self.join()
        if self.error is None:
            self._emit(1 << 62)
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def direction_result(ops, nbytes, hist, lat_min, lat_max, lat_sum) -> dict:
    return {"ops": int(ops), "bytes": int(nbytes), "hist": hist,
            "lat_min_ns": int(lat_min) if ops else None, "lat_max_ns": int(lat_max) if ops else None,
            "lat_sum_ns": int(lat_sum)}


# ---- the reference engine ------------------------------------------------------------------------------

class _Job:
    """One job's shared state: its op counter, per-file cursors and op parameters computed chunk by chunk."""

    def __init__(self, key, fds, file_keys, paths, nb, cfg):
        self.key, self.fds, self.file_keys, self.paths, self.nb = key, fds, file_keys, paths, nb
        self.nfiles = len(fds)
        self.total = nb * self.nfiles
        self.counter = itertools.count()                   # next() is atomic under the GIL
        self.file_cursors = [itertools.count() for _ in fds]
        self.rwmix = cfg["rwmix"]
        self.chunks: dict = {}
        self.written = [False] * self.nfiles
        self.active = cfg["iodepth"]   # threads still running: the last one to stop end-fsyncs the job's files
        self.verify_keys = None   # file keys of the write phase that a verifying read checks

    def chunk(self, number: int) -> tuple:
        """(random block, is-read, random file) lists for ops number*OP_CHUNK .. +OP_CHUNK."""
        found = self.chunks.get(number)
        if found is None:
            c = np.arange(number * OP_CHUNK, (number + 1) * OP_CHUNK, dtype=_U64)
            h = _mix64_np(_U64(self.key) + c * _U64(GOLDEN))
            h2 = _mix64_np(h)
            found = ((h % _U64(self.nb)).tolist(), ((h2 % _U64(100)) < _U64(self.rwmix)).tolist(),
                     ((h2 >> _U64(32)) % _U64(self.nfiles)).tolist())
            self.chunks[number] = found
            self.chunks.pop(number - 4, None)  # threads lag each other by far less than 3 chunks
        return found


class _Stop(Exception):
    pass


def _worker(job: _Job, cfg: dict, pattern: np.ndarray, deadline_ns, stop: threading.Event, out: dict,
            errors: list, lock: threading.Lock, verify_pattern, end_fsync: bool, clock: tuple = (0, 0)) -> None:
    """One thread of a job (fio's psync model): sets up its buffers, runs its share of the job's ops, then
    merges its counts into `out`; the job's last thread end-fsyncs the files the job wrote.

    The first failure of the run goes into `errors` (an (errno or ERR_*, path, op, offset, ...) tuple, or
    the exception of a bug) and stops every thread."""
    bufs = _Buffers(cfg["bs"], pattern)
    tally = _Tally(*clock)
    try:
        _run_ops(job, cfg, bufs, tally, deadline_ns, stop, verify_pattern)
    except _Stop as failure:
        code, f, op, off, *crc = failure.args[0]
        _record_failure(errors, lock, stop, (code, job.paths[f], op, off, *crc))
    except BaseException as exc:  # a bug here must fail the run, not vanish with its thread
        with lock:
            errors.append(exc)
        stop.set()
    finally:
        bufs.close()
    if tally.merge(out, job, lock) and end_fsync:
        _end_fsync(job, out, errors, lock, stop)


def _run_ops(job: _Job, cfg: dict, bufs: _Buffers, tally: _Tally, deadline_ns, stop: threading.Event,
             verify_pattern) -> None:
    """The thread's transfer loop: each op of its share is transferred (timed), checksummed, counted, and
    after every fsync_every writes the file is fsynced; until the job has no op left (size-based), an op
    ends past `deadline_ns` (time-based) or another thread stops the run. Raises _Stop for a failed op.

    The read and the write are written out here, with what they use bound to locals, rather than called:
    a call per op costs this Python loop about 5 % of its IOPS (the engine's baseline in the benchmark)."""
    bs, chunk, fsync_every = cfg["bs"], cfg["chunk"], cfg["fsync_every"]
    fds, file_keys, written = job.fds, job.file_keys, job.written
    rview, wview, wbuf, stamps = bufs.rview, bufs.wview, bufs.wbuf, bufs.stamps
    account, now, preadv, pwritev = tally.add, time.monotonic_ns, os.preadv, os.pwritev
    since_fsync = 0
    for f, off, is_read in _op_stream(job, cfg, deadline_ns is not None, stop):
        fd = fds[f]
        if not is_read:   # every sector starts with its stamp: file key + byte offset (outside the clock)
            key = file_keys[f] + off
            for s in stamps:
                wbuf[s:s + 8] = ((key + s) & MASK).to_bytes(8, "little")
        try:
            if is_read:
                t0 = now()
                done = preadv(fd, rview, off)
                t1 = now()
            else:
                t0 = now()
                done = pwritev(fd, wview, off)
                t1 = now()
        except OSError as exc:
            raise _Stop((exc.errno, f, 0 if is_read else 1, off)) from None
        if done < bs:  # the kernel retries short transfers; a plain loop only sees EOF (reads) or ENOSPC here
            raise _Stop((ERR_EOF, f, 0, off) if is_read else (errno.ENOSPC, f, 1, off))
        if not is_read:
            written[f] = True
        if chunk:   # after the clock, as a DataNode checksums a packet after receiving / before sending it
            tally.checksums += _checksum_block(bufs, job, f, off, is_read, chunk, verify_pattern)
        account(0 if is_read else 1, t1 - t0, bs, t1)
        if fsync_every and not is_read:
            since_fsync += 1
            if since_fsync >= fsync_every:
                since_fsync = 0
                _fsync(fd, f, off)
                tally.fsyncs += 1
        if deadline_ns is not None and t1 >= deadline_ns:
            break


def _op_stream(job: _Job, cfg: dict, timed: bool, stop: threading.Event):
    """The ops this thread takes from its job, as (file index, byte offset, is-read): op c is drawn from
    the job's shared counter, and its file, block and direction depend on (seed, job, c) alone. Ends when
    the run is stopped or, size-based, when the job's ops are all taken; time-based runs wrap around."""
    bs, nb, nfiles, total, service = cfg["bs"], job.nb, job.nfiles, job.total, cfg["service"]
    rwmix, rnd = cfg["rwmix"], cfg["random"]
    chunk_number, blocks, reads, rfiles = -1, None, None, None
    while not stop.is_set():
        c = next(job.counter)
        if not timed and c >= total:
            return
        if c // OP_CHUNK != chunk_number:
            chunk_number = c // OP_CHUNK
            blocks, reads, rfiles = job.chunk(chunk_number)
        i = c % OP_CHUNK
        cc = c % total
        if rnd:
            blk = blocks[i]
            f = cc % nfiles if service == 0 else cc // nb if service == 1 else rfiles[i]
        elif service == 0:
            f, blk = cc % nfiles, cc // nfiles
        elif service == 1:
            f, blk = cc // nb, cc % nb
        else:
            f, blk = _next_block_of(job, rfiles[i], timed)
        yield f, blk * bs, rwmix >= 100 or (rwmix > 0 and reads[i])


def _next_block_of(job: _Job, f: int, timed: bool) -> tuple:
    """(file, block) of a sequential op with file_service=random: the next block of file `f` (time-based:
    wrapping around); size-based, the op has a block reserved by the job's counter: the next one of the
    first file from `f` on that has one left."""
    nb, nfiles = job.nb, job.nfiles
    if timed:
        return f, next(job.file_cursors[f]) % nb
    for _ in range(nfiles):
        blk = next(job.file_cursors[f])
        if blk < nb:
            break
        f = (f + 1) % nfiles
    return f, blk


class _Buffers:
    """Setup of a thread's read and write buffers of `bs` bytes, page-aligned (mmap) as O_DIRECT needs; the
    write buffer holds the write pattern (_run_ops stamps its sectors before each write). `rview` and
    `wview` are the one-buffer lists os.preadv / os.pwritev take."""

    def __init__(self, bs: int, pattern: np.ndarray):
        self.bs = bs
        self.rbuf = mmap.mmap(-1, max(bs, mmap.PAGESIZE))
        self.wbuf = mmap.mmap(-1, max(bs, mmap.PAGESIZE))
        self.wbuf[:bs] = pattern.tobytes()
        self.rview, self.wview = [memoryview(self.rbuf)[:bs]], [memoryview(self.wbuf)[:bs]]
        self.stamps = stamp_offsets(bs)

    def close(self) -> None:
        """Release the views and unmap the buffers."""
        self.rview[0].release()
        self.wview[0].release()
        self.rbuf.close()
        self.wbuf.close()


def _checksum_block(bufs: _Buffers, job: _Job, f: int, off: int, is_read: bool, chunk: int,
                    verify_pattern) -> int:
    """CRC32C of each `chunk` bytes of the block just transferred; a read's are checked against what the
    write phase it verifies left (_Stop with ERR_CHECKSUM, naming the chunk's offset, on a mismatch).
    Returns the number of chunks checksummed."""
    buf = bufs.rview[0] if is_read else bufs.wview[0]
    count = 0
    for s in range(0, bufs.bs, chunk):
        got = _crc32c(buf[s:s + chunk])
        count += 1
        if is_read:
            want = _crc32c(expected_chunk(verify_pattern, job.verify_keys[f], off + s, chunk))
            if got != want:
                raise _Stop((ERR_CHECKSUM, f, 0, off + s, chunk, got, want))
    return count


def _fsync(fd: int, f: int, off: int) -> None:
    """fsync_every's fsync of file index `f` after the write at `off`; _Stop on an error."""
    try:
        os.fsync(fd)
    except OSError as exc:
        raise _Stop((exc.errno, f, 2, off)) from None


class _Tally:
    """One thread's accounting: per direction (0 read, 1 write) ops, bytes, latency sum, min and max (ns)
    and fio's latency bins; fsyncs and checksummed chunks. Merged into the run's counts when the thread ends."""

    def __init__(self, start_ns: int = 0, interval_ns: int = 0):
        self.start_ns, self.interval_ns = start_ns, interval_ns
        self.intervals: dict = {}      # interval number -> (2, 2 + PLAT_NR) counts, by completion time
        self.hist = [[0] * PLAT_NR, [0] * PLAT_NR]
        self.ops, self.nbytes, self.lat_sum = [0, 0], [0, 0], [0, 0]
        self.lat_min, self.lat_max = [MASK, MASK], [0, 0]
        self.fsyncs = self.checksums = 0

    def add(self, d: int, lat: int, bs: int, t1: int = 0) -> None:
        """Count one op of direction `d` that moved `bs` bytes in `lat` ns and completed at t1 (ns)."""
        b = lat if lat < 2 * PLAT_VAL else bin_index_ns(lat)
        if self.interval_ns:
            k = max(t1 - self.start_ns, 0) // self.interval_ns
            row = self.intervals.get(k)
            if row is None:
                row = self.intervals[k] = np.zeros((2, 2 + PLAT_NR), dtype=np.uint64)
            row[d, 0] += 1
            row[d, 1] += bs
            row[d, 2 + b] += 1
        self.hist[d][b] += 1
        self.ops[d] += 1
        self.nbytes[d] += bs
        self.lat_sum[d] += lat
        if lat < self.lat_min[d]:
            self.lat_min[d] = lat
        if lat > self.lat_max[d]:
            self.lat_max[d] = lat

    def merge(self, out: dict, job: _Job, lock: threading.Lock) -> bool:
        """Add these counts to the run's `out` and mark the thread as ended; True for the job's last thread."""
        with lock:
            for d in (0, 1):
                out["hist"][d] += np.array(self.hist[d], dtype=np.uint64)
                out["ops"][d] += self.ops[d]
                out["bytes"][d] += self.nbytes[d]
                out["lat_sum"][d] += self.lat_sum[d]
                out["lat_min"][d] = min(out["lat_min"][d], self.lat_min[d])
                out["lat_max"][d] = max(out["lat_max"][d], self.lat_max[d])
            out["fsyncs"] += self.fsyncs
            out["checksums"] += self.checksums
            for k, row in self.intervals.items():
                if k in out["intervals"]:
                    out["intervals"][k] += row
                else:
                    out["intervals"][k] = row.copy()
            job.active -= 1
            return job.active == 0


def _record_failure(errors: list, lock: threading.Lock, stop: threading.Event, failure: tuple) -> None:
    """Keep `failure` (errno or ERR_*, path, op, offset, ...) if it is the run's first failed operation, and
    stop every thread."""
    with lock:
        if not any(isinstance(e, tuple) for e in errors):
            errors.append(failure)
    stop.set()


def _end_fsync(job: _Job, out: dict, errors: list, lock: threading.Lock, stop: threading.Event) -> None:
    """fio's end_fsync: a job, once all its I/O is done, fsyncs each file it wrote, while the other jobs
    still run or sync theirs."""
    for f, written in enumerate(job.written):
        if errors:
            return
        if written:
            try:
                os.fsync(job.fds[f])
            except OSError as exc:
                _record_failure(errors, lock, stop, (exc.errno, job.paths[f], 2, 0))
                return
            with lock:
                out["fsyncs"] += 1


def run_phase(jobs, rw, bs, file_size, *, iodepth=1, rwmixread=50, direct=True, fsync_every=0,
              end_fsync=True, runtime_s=None, file_service="roundrobin", seed=0, checksum_chunk=0,
              written_seed=None, written_bs=None, ioengine=None, interval_s=None, on_interval=None) -> dict:
    """Run one I/O phase in Python threads; the same contract as kernels.ioloop.run_phase, except that
    ioengine="io_uring" is refused (ValueError): Python has no io_uring, and threads are not one.
    A thread's interval counts reach the shared ones when it ends (the kernel adds them once per interval),
    so on_interval sees each interval complete only at the end of the phase.

    Returns {"elapsed_s", "cpu_s", "read": {...}, "write": {...}, "fsyncs", "checksums",
    "implementation": "python:ioloop_ref"}.
    """
    cfg = check_args(jobs, rw, bs, file_size, iodepth, rwmixread, direct, fsync_every, runtime_s,
                      file_service, seed, checksum_chunk, written_seed, written_bs, ioengine)
    interval_ns = check_interval(interval_s, on_interval)
    if cfg["ioengine"] == "io_uring":
        raise ValueError("ioengine='io_uring': the Python reference engine has no io_uring (Python has no "
                         "binding for it); the compiled engine, kernels.ioloop, runs it")
    fds = open_files(cfg)
    try:
        sizes = [len(p) for p in cfg["paths"]]
        job_keys, file_keys, pattern_key = seed_keys(cfg["seed"], sizes)
        pattern = write_pattern(pattern_key, cfg["bs"])
        nb = cfg["file_size"] // cfg["bs"]
        job_objs, first = [], 0
        for j, n in enumerate(sizes):
            job_objs.append(_Job(job_keys[j], fds[first:first + n], file_keys[j], cfg["paths"][j], nb, cfg))
            first += n
        verify_pattern = None
        if cfg["written_seed"] is not None:   # what the write phase that a verifying read checks left
            _, written_keys, written_key = seed_keys(cfg["written_seed"], sizes)
            verify_pattern = write_pattern(written_key, cfg["written_bs"])
            for job, keys in zip(job_objs, written_keys):
                job.verify_keys = keys
        out = {"hist": [np.zeros(PLAT_NR, dtype=np.uint64), np.zeros(PLAT_NR, dtype=np.uint64)],
               "ops": [0, 0], "bytes": [0, 0], "lat_sum": [0, 0], "lat_min": [MASK, MASK],
               "lat_max": [0, 0], "fsyncs": 0, "checksums": 0, "intervals": {}}
        errors: list = []
        stop, lock = threading.Event(), threading.Lock()
        cpu0 = time.process_time()
        start = time.monotonic_ns()
        deadline = None if runtime_s is None else start + int(runtime_s * 1e9)
        threads = [threading.Thread(target=_worker, args=(job, cfg, pattern, deadline, stop, out, errors, lock,
                                                         verify_pattern, bool(end_fsync), (start, interval_ns)),
                                    daemon=True)
                   for job in job_objs for _ in range(cfg["iodepth"])]
        poller = None
        if on_interval is not None:
            def rows(first, last):
                with lock:
                    return interval_counts(out["intervals"])[first:last]
            poller = IntervalPoller(rows, interval_ns, on_interval)
            poller.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if poller is not None:
            poller.finish()
        for failure in errors:
            if isinstance(failure, BaseException):
                raise failure
        if errors:
            raise_io_error(*errors[0])
        elapsed = (time.monotonic_ns() - start) / 1e9
        cpu_s = time.process_time() - cpu0
    finally:
        for fd in fds:
            os.close(fd)
    result = {"elapsed_s": elapsed, "cpu_s": cpu_s, "fsyncs": out["fsyncs"], "checksums": out["checksums"],
              "implementation": IMPLEMENTATION, "ioengine": cfg["ioengine"]}
    if interval_ns:
        result["intervals"] = {"interval_s": interval_ns / 1e9, "start_ns": start,
                               "counts": interval_counts(out["intervals"])}
    for d, name in enumerate(("read", "write")):
        result[name] = direction_result(out["ops"][d], out["bytes"][d], out["hist"][d], out["lat_min"][d],
                                         out["lat_max"][d], out["lat_sum"][d])
    return result
