"""Pure-Python reference of the builtin I/O engine (kernels.ioloop): same signature, same return shape.

A plain os.preadv / os.pwritev / os.fsync loop in Python threads. It is the reference the kernel's tests
compare against and the "plain Python pread loop" baseline of the benchmark; it is never used in place of
the kernel.

It also holds the engine's definition in executable form, shared with the kernel so that the two cannot
drift apart: argument checking and file opening (`check_args`, `open_files`, `raise_io_error`) are
imported by kernels.ioloop; the arithmetic (`mix64`, the keys, the op sequence, the write pattern, fio's
bins) is written again in C there and must give the same numbers here.

The engine is in rooms, each kernel module with its reference beside it:
  kernels/ioloop.pyx           ioloop_ref.py           the driver: arguments, files, threads, the result
  kernels/ioloop_ops.pyx       ioloop_ops_ref.py       the op stream: keys, which op does what, failures
  kernels/ioloop_psync.pyx     ioloop_psync_ref.py     the psync loop: one transfer in flight per thread
  kernels/ioloop_queue.pyx     ioloop_queue_ref.py     the queued loop: Linux AIO or io_uring per job
  kernels/ioloop_account.pyx   ioloop_account_ref.py   the accounting: counts, fio's bins, intervals
  kernels/ioloop_checksum.pyx  ioloop_checksum_ref.py  the write pattern and the CRC32C checks
with kernels/ioloop_state.pxd, the structs they share. This module re-exports the names the references'
users reach through it (seed_keys, write_pattern, the bins, ...).
"""
from __future__ import annotations

import errno
import os
import stat
import threading
import time

import numpy as np

from kernels.ioloop_account_ref import (
    INTERVAL_MIN_S,
    PLAT_NR,
    IntervalPoller,
    bin_index_ns,
    bin_value_ns,
    check_interval,
    direction_result,
    directions,
    hist_to_bins,
    interval_counts,
    new_totals,
)
from kernels.ioloop_checksum_ref import (
    MAX_CHECKSUM_CHUNK,
    SECTOR,
    check_chunk,
    expected_chunk,
    stamp_offsets,
    write_pattern,
)
from kernels.ioloop_ops_ref import (
    ERR_CHECKSUM,
    ERR_EOF,
    FILE_SERVICE,
    GOLDEN,
    MASK,
    Job,
    mix64,
    raise_io_error,
    seed_keys,
)
from kernels.ioloop_psync_ref import worker
from kernels.ioloop_queue_ref import IOENGINES, choose_ioengine, refuse_uring, threads_per_job

__all__ = ["run_phase", "check_args", "check_interval", "open_files", "raise_io_error", "direction_result",
           "bin_value_ns", "bin_index_ns", "hist_to_bins", "interval_counts", "IntervalPoller", "PLAT_NR",
           "IMPLEMENTATION", "INTERVAL_MIN_S", "ERR_CHECKSUM", "ERR_EOF", "FILE_SERVICE", "GOLDEN", "IOENGINES",
           "MASK", "MAX_CHECKSUM_CHUNK", "SECTOR", "expected_chunk", "mix64", "seed_keys", "stamp_offsets",
           "write_pattern"]

IMPLEMENTATION = "python:ioloop_ref"

RW_MODES = ("read", "write", "randread", "randwrite", "randrw", "rw")
MAX_THREADS = 4096


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
    return {"ioengine": choose_ioengine(ioengine, direct, iodepth), "chunk": chunk, "written_seed": written_seed,
            "written_bs": written_bs, "paths": paths, "rw": rw, "bs": bs, "file_size": file_size,
            "iodepth": iodepth, "rwmix": mix, "random": rw.startswith("rand"),
            "service": FILE_SERVICE.index(file_service), "fsync_every": fsync_every, "direct": bool(direct),
            "runtime_s": runtime_s, "seed": int(seed), "reads": rw in ("read", "randread", "randrw", "rw")}


def _check_checksums(rw, bs, chunk, written_seed, written_bs) -> tuple:
    """(chunk, written_seed, written_bs) of run_phase's checksum arguments, checked: checksums need a phase that
    only reads or only writes, and a read names the write phase it verifies."""
    chunk = _positive_int("checksum_chunk", chunk, 0)
    if not chunk:
        if written_seed is not None or written_bs is not None:
            raise ValueError("written_seed and written_bs say what a checksum-verifying read expects: "
                             "they need checksum_chunk > 0")
        return 0, None, None
    check_chunk(chunk, bs)
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


# ---- the reference engine ------------------------------------------------------------------------------

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
    refuse_uring(cfg["ioengine"])
    fds = open_files(cfg)
    try:
        sizes = [len(p) for p in cfg["paths"]]
        job_keys, file_keys, pattern_key = seed_keys(cfg["seed"], sizes)
        pattern = write_pattern(pattern_key, cfg["bs"])
        nb = cfg["file_size"] // cfg["bs"]
        job_objs, first = [], 0
        for j, n in enumerate(sizes):
            job_objs.append(Job(job_keys[j], fds[first:first + n], file_keys[j], cfg["paths"][j], nb, cfg))
            first += n
        verify_pattern = None
        if cfg["written_seed"] is not None:   # what the write phase that a verifying read checks left
            _, written_keys, written_key = seed_keys(cfg["written_seed"], sizes)
            verify_pattern = write_pattern(written_key, cfg["written_bs"])
            for job, keys in zip(job_objs, written_keys):
                job.verify_keys = keys
        out = new_totals()
        errors: list = []
        stop, lock = threading.Event(), threading.Lock()
        cpu0 = time.process_time()
        start = time.monotonic_ns()
        deadline = None if runtime_s is None else start + int(runtime_s * 1e9)
        per_job = threads_per_job(cfg["ioengine"], cfg["iodepth"], reference=True)
        threads = [threading.Thread(target=worker, args=(job, cfg, pattern, deadline, stop, out, errors, lock,
                                                        verify_pattern, bool(end_fsync), (start, interval_ns)),
                                    daemon=True)
                   for job in job_objs for _ in range(per_job)]
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
    result.update(directions(out))
    return result
