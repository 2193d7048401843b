"""Pure-Python reference of the builtin engine's queued loop (kernels.ioloop_queue): the queueing models and
which one a phase runs with.

Queueing models (fio's ioengine names): psync, `iodepth` threads per job each with one pread/pwrite in flight
(kernels.ioloop_psync); libaio, one thread per job keeping `iodepth` ops queued with Linux AIO; io_uring, the
same with an io_uring (kernels/tb_uring.h). Which ops run is the same under every model: an op is a function
of (seed, job, op number) alone (kernels/ioloop_ops_ref.py), and a job's files end up with the same bytes.
So the reference of the queued loop is the psync loop's threads, `iodepth` of them per job
(kernels/ioloop_psync_ref.py), doing the same ops; Python has no io_uring, so the reference refuses
ioengine="io_uring" (`refuse_uring`) rather than run something else under its name.
"""
from __future__ import annotations

__all__ = ["IMPLEMENTATION", "IOENGINES", "choose_ioengine", "refuse_uring", "threads_per_job"]

IMPLEMENTATION = "python:ioloop_queue_ref"

IOENGINES = ("psync", "libaio", "io_uring")
QUEUED = ("libaio", "io_uring")   # one thread per job keeps `iodepth` ops in flight


def choose_ioengine(ioengine, direct, iodepth) -> str:
    """The queueing model a phase runs with: `ioengine` (one of IOENGINES), or by default fio's choice in
    the fio job files: libaio for direct I/O with iodepth > 1, psync otherwise."""
    if ioengine is None:
        return "libaio" if direct and iodepth > 1 else "psync"
    if ioengine not in IOENGINES:
        raise ValueError(f"ioengine must be one of {', '.join(IOENGINES)}, not {ioengine!r}")
    return ioengine


def threads_per_job(ioengine: str, iodepth: int, reference: bool = False) -> int:
    """Threads that run one job: the kernel's queued models one, keeping `iodepth` ops in flight; psync, and
    every model in the reference (`reference`), `iodepth` threads with one op in flight each."""
    return 1 if ioengine in QUEUED and not reference else iodepth


def refuse_uring(ioengine: str) -> None:
    """ValueError for ioengine="io_uring" in the reference engine: Python has no io_uring binding."""
    if ioengine == "io_uring":
        raise ValueError("ioengine='io_uring': the Python reference engine has no io_uring (Python has no "
                         "binding for it); the compiled engine, kernels.ioloop, runs it")
