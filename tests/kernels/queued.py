"""Shared by the builtin engine's kernel tests (test_ioloop, test_uring): scratch folders, job file lists, and
the check that a queued run (Linux AIO or io_uring) does the reference's ops and leaves the reference's bytes."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from kernels import ioloop, ioloop_ref


def scratch_in(base: str, prefix: str = "tierbench-ioloop-"):
    """A fresh folder under `base` (the system temp dir where `base` is missing), removed afterwards."""
    parent = base if os.path.isdir(base) else None
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path)


def job_files(directory: Path, name: str, njobs: int, nfiles: int) -> list:
    return [[str(directory / f"{name}.{j}.{i}") for i in range(nfiles)] for j in range(njobs)]


def direct_or_skip(call):
    """Run `call`; skip where the scratch file system has no O_DIRECT (EINVAL not from io_uring itself)."""
    try:
        return call()
    except OSError as exc:
        if exc.errno == errno.EINVAL and "io_uring" not in str(exc):
            pytest.skip(f"O_DIRECT is not supported under /var/tmp here: {exc}")
        raise


def check_queued_matches_reference(directory: Path, rw: str, bs: int, file_size: int, njobs: int, nfiles: int,
                                   iodepth: int, service: str, mix: int, **kernel_kw) -> dict:
    """Run the phase with the kernel (its queued path, with `kernel_kw`) and with the reference, from the same
    files, and check: the same reads and writes, a latency for every op, the same end fsyncs, the same bytes
    left in every file. Returns the kernel's result."""
    runs = {}
    for engine, kw in ((ioloop, kernel_kw), (ioloop_ref, {})):
        jobs = job_files(directory, engine.IMPLEMENTATION.replace(":", "-"), njobs, nfiles)
        if rw not in ("write", "randwrite"):
            ioloop.run_phase(jobs, "write", bs, file_size, direct=False, seed=3)
        runs[engine] = (jobs, direct_or_skip(lambda: engine.run_phase(
            jobs, rw, bs, file_size, iodepth=iodepth, rwmixread=mix, file_service=service, seed=3, **kw)))
    (kjobs, got), (rjobs, want) = runs[ioloop], runs[ioloop_ref]
    assert got["read"]["ops"] + got["write"]["ops"] == njobs * nfiles * file_size // bs
    for d in ("read", "write"):
        assert got[d]["ops"] == want[d]["ops"] and got[d]["bytes"] == want[d]["bytes"]
        assert int(got[d]["hist"].sum()) == got[d]["ops"]
        if got[d]["ops"]:
            assert 0 < got[d]["lat_min_ns"] <= got[d]["lat_sum_ns"] / got[d]["ops"] <= got[d]["lat_max_ns"]
    assert got["fsyncs"] == want["fsyncs"] == (njobs * nfiles if got["write"]["ops"] else 0)
    for kpaths, rpaths in zip(kjobs, rjobs):
        for kp, rp in zip(kpaths, rpaths):
            assert Path(kp).read_bytes() == Path(rp).read_bytes()
    return got


def files_with_a_flipped_byte(directory: Path) -> tuple:
    """(jobs, the damaged file): 2 jobs of one 64 KiB file each, written in 8 KiB blocks (seed 9), then one bit
    flipped at byte 700 of the second file's sixth block (inside its 512-byte chunk at 5 * 8 KiB + 512)."""
    jobs = job_files(directory, "x", 2, 1)
    ioloop.run_phase(jobs, "write", 8 * 1024, 64 * 1024, direct=False, seed=9)
    bad = Path(jobs[1][0])
    data = bytearray(bad.read_bytes())
    data[5 * 8 * 1024 + 700] ^= 0x01
    bad.write_bytes(bytes(data))
    return jobs, bad
