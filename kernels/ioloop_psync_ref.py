"""Pure-Python reference of the builtin engine's psync loop (kernels.ioloop_psync): one thread of a job with
one os.preadv / os.pwritev in flight, timed around the transfer alone; checksums, accounting and fsyncs after
the clock; the job's last thread end-fsyncs what the job wrote (fio's end_fsync).

The reference runs every queueing model with these threads (kernels/ioloop_queue_ref.py says why that is
its definition of the queued loop too): the same ops, however they are queued.
"""
from __future__ import annotations

import errno
import mmap
import os
import threading
import time

import numpy as np

from kernels.ioloop_account_ref import Tally
from kernels.ioloop_checksum_ref import checksum_block, stamp_offsets
from kernels.ioloop_ops_ref import ERR_EOF, MASK, Job, Stop, op_stream

__all__ = ["IMPLEMENTATION", "worker"]

IMPLEMENTATION = "python:ioloop_psync_ref"


class Buffers:
    """Setup of a thread's read and write buffers of `bs` bytes, page-aligned (mmap) as O_DIRECT needs; the
    write buffer holds the write pattern (run_ops stamps its sectors before each write). `rview` and
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


def worker(job: Job, cfg: dict, pattern: np.ndarray, deadline_ns, stop: threading.Event, out: dict,
           errors: list, lock: threading.Lock, verify_pattern, end_fsync: bool, clock: tuple = (0, 0)) -> None:
    """One thread of a job (fio's psync model): sets up its buffers, runs its share of the job's ops, then
    merges its counts into `out` (ioloop_account_ref.new_totals); the job's last thread end-fsyncs the files
    the job wrote. clock: (start ns, interval ns) of the figures over time.

    The first failure of the run goes into `errors` (an (errno or ERR_*, path, op, offset, ...) tuple, or
    the exception of a bug) and stops every thread."""
    bufs = Buffers(cfg["bs"], pattern)
    tally = Tally(*clock)
    try:
        _run_ops(job, cfg, bufs, tally, deadline_ns, stop, verify_pattern)
    except Stop as failure:
        code, f, op, off, *crc = failure.args[0]
        _record_failure(errors, lock, stop, (code, job.paths[f], op, off, *crc))
    except BaseException as exc:  # a bug here must fail the run, not vanish with its thread
        with lock:
            errors.append(exc)
        stop.set()
    finally:
        bufs.close()
    tally.merge(out, lock)
    with lock:
        job.active -= 1
        last = job.active == 0
    if last and end_fsync:
        _end_fsync(job, out, errors, lock, stop)


def _run_ops(job: Job, cfg: dict, bufs: Buffers, tally: Tally, deadline_ns, stop: threading.Event,
             verify_pattern) -> None:
    """The thread's transfer loop: each op of its share is transferred (timed), checksummed, counted, and
    after every fsync_every writes the file is fsynced; until the job has no op left (size-based), an op
    ends past `deadline_ns` (time-based) or another thread stops the run. Raises Stop for a failed op.

    The read and the write are written out here, with what they use bound to locals, rather than called:
    a call per op costs this Python loop about 5 % of its IOPS (the engine's baseline in the benchmark)."""
    bs, chunk, fsync_every = cfg["bs"], cfg["chunk"], cfg["fsync_every"]
    fds, file_keys, written = job.fds, job.file_keys, job.written
    rview, wview, wbuf, stamps = bufs.rview, bufs.wview, bufs.wbuf, bufs.stamps
    account, now, preadv, pwritev = tally.add, time.monotonic_ns, os.preadv, os.pwritev
    since_fsync = 0
    for f, off, is_read in op_stream(job, cfg, deadline_ns is not None, stop):
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
            raise Stop((exc.errno, f, 0 if is_read else 1, off)) from None
        if done < bs:  # the kernel retries short transfers; a plain loop only sees EOF (reads) or ENOSPC here
            raise Stop((ERR_EOF, f, 0, off) if is_read else (errno.ENOSPC, f, 1, off))
        if not is_read:
            written[f] = True
        if chunk:   # after the clock, as a DataNode checksums a packet after receiving / before sending it
            tally.checksums += checksum_block(rview[0] if is_read else wview[0], bs, chunk,
                                              job.verify_keys[f] if is_read else None, f, off,
                                              verify_pattern if is_read else None)
        account(0 if is_read else 1, t1 - t0, bs, t1)
        if fsync_every and not is_read:
            since_fsync += 1
            if since_fsync >= fsync_every:
                since_fsync = 0
                _fsync(fd, f, off)
                tally.fsyncs += 1
        if deadline_ns is not None and t1 >= deadline_ns:
            break


def _fsync(fd: int, f: int, off: int) -> None:
    """fsync_every's fsync of file index `f` after the write at `off`; Stop on an error."""
    try:
        os.fsync(fd)
    except OSError as exc:
        raise Stop((exc.errno, f, 2, off)) from None


def _record_failure(errors: list, lock: threading.Lock, stop: threading.Event, failure: tuple) -> None:
    """Keep `failure` (errno or ERR_*, path, op, offset, ...) if it is the run's first failed operation, and
    stop every thread."""
    with lock:
        if not any(isinstance(e, tuple) for e in errors):
            errors.append(failure)
    stop.set()


def _end_fsync(job: Job, out: dict, errors: list, lock: threading.Lock, stop: threading.Event) -> None:
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
