"""Pure-Python reference of the builtin engine's op stream (kernels.ioloop_ops): which file, block and
direction each op of a job uses, the keys every choice is drawn from, and how a failed op is named.

What one operation does is a function of (seed, job, op number) only, never of which thread ran it
(a counter-based generator, splitmix64, instead of a per-thread one): a size-based run therefore does the same
set of operations, reads/writes split and written bytes however many threads share the job, and this
reference reproduces the kernel's files byte for byte. The arithmetic (`mix64`, the keys, the op sequence) is
written again in C in kernels/ioloop_ops.pxd and must give the same numbers here: `op_sequence` here and in the
kernel list the same ops (tests/kernels/test_ioloop_ops.py).
"""
from __future__ import annotations

import errno
import itertools
import os
import threading

import numpy as np

__all__ = ["ERR_CHECKSUM", "ERR_EOF", "FILE_SERVICE", "GOLDEN", "IMPLEMENTATION", "MASK", "Job", "Stop",
           "mix64", "op_sequence", "op_stream", "raise_io_error", "seed_keys"]

IMPLEMENTATION = "python:ioloop_ops_ref"

FILE_SERVICE = ("roundrobin", "sequential", "random")
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15    # 2**64 / golden ratio: splitmix64's increment
FILE_STEP = 0xD1B54A32D192ED03  # odd constants that separate the derived keys
PATTERN_SALT = 0x5851F42D4C957F2D
OP_CHUNK = 4096                 # ops whose parameters the reference computes at once (NumPy)
ERR_EOF = -1                    # failure codes besides errno values
ERR_CHECKSUM = -2

_U64 = np.uint64


def mix64(z: int) -> int:
    """splitmix64's finalizer on a 64-bit integer (the same as iol_mix64 in ioloop_clock.h)."""
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def mix64_np(z: np.ndarray) -> np.ndarray:
    """mix64 on a uint64 array (wrapping arithmetic, as in C)."""
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


class Job:
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
            h = mix64_np(_U64(self.key) + c * _U64(GOLDEN))
            h2 = mix64_np(h)
            found = ((h % _U64(self.nb)).tolist(), ((h2 % _U64(100)) < _U64(self.rwmix)).tolist(),
                     ((h2 >> _U64(32)) % _U64(self.nfiles)).tolist())
            self.chunks[number] = found
            self.chunks.pop(number - 4, None)  # threads lag each other by far less than 3 chunks
        return found


def op_stream(job: Job, cfg: dict, timed: bool, stop: threading.Event):
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


def _next_block_of(job: Job, f: int, timed: bool) -> tuple:
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


def op_sequence(job_key: int, nfiles: int, nb: int, bs: int, rwmix: int, random: bool, service: str,
                count: int, timed: bool = False) -> list:
    """The first `count` ops of one job (on one thread) as (file index, byte offset, is-read): size-based
    (timed False) the list ends with the job's last op; time-based it wraps around. rwmix: % of reads."""
    cfg = {"bs": bs, "service": FILE_SERVICE.index(service), "rwmix": rwmix, "random": bool(random),
           "iodepth": 1}
    job = Job(job_key & MASK, [None] * nfiles, [0] * nfiles, [""] * nfiles, nb, cfg)
    return list(itertools.islice(op_stream(job, cfg, timed, threading.Event()), count))


class Stop(Exception):
    """An op failed: args[0] is (errno or ERR_*, file index in the job, op (0 read, 1 write, 2 fsync),
    offset[, chunk, got, want])."""


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
