"""kernels.ioloop_psync (fio's psync model: `iodepth` threads per job, one transfer in flight each) against its
reference, kernels.ioloop_psync_ref, through the engine's run_phase, with real files on tmpfs."""
from __future__ import annotations

from pathlib import Path

import pytest

from kernels import ioloop, ioloop_psync, ioloop_psync_ref, ioloop_ref
from tests.kernels.queued import job_files, scratch_in

KIB = 1024


@pytest.fixture
def scratch():
    yield from scratch_in("/dev/shm", "tierbench-ioloop-psync-")


def test_the_loop_names_its_model():
    assert ioloop_psync.MODEL == "psync"
    assert ioloop_psync.IMPLEMENTATION == "cython:ioloop_psync"
    assert ioloop_psync_ref.IMPLEMENTATION == "python:ioloop_psync_ref"


@pytest.mark.parametrize("rw, iodepth, fsync_every, service", [
    ("write", 1, 0, "roundrobin"),
    ("randwrite", 3, 2, "random"),
    ("write", 4, 3, "sequential"),
    ("rw", 2, 1, "random"),
])
def test_psync_threads_do_the_references_ops(scratch, rw, iodepth, fsync_every, service):
    """`iodepth` psync threads per job, direct or not: the same reads, writes, fsyncs and bytes in every file as
    the reference's threads."""
    runs = {}
    for engine in (ioloop, ioloop_ref):
        jobs = job_files(scratch, engine.IMPLEMENTATION.replace(":", "-"), 2, 2)
        if rw == "rw":
            ioloop.run_phase(jobs, "write", 4 * KIB, 64 * KIB, direct=False, seed=4)
        runs[engine] = (jobs, engine.run_phase(jobs, rw, 4 * KIB, 64 * KIB, iodepth=iodepth, direct=False,
                                               fsync_every=fsync_every, file_service=service, seed=4,
                                               rwmixread=40, ioengine="psync"))
    (kjobs, got), (rjobs, want) = runs[ioloop], runs[ioloop_ref]
    assert got["ioengine"] == want["ioengine"] == "psync"
    for d in ("read", "write"):
        assert got[d]["ops"] == want[d]["ops"] and got[d]["bytes"] == want[d]["bytes"]
    assert got["read"]["ops"] + got["write"]["ops"] == 2 * 2 * 16
    # fsync_every counts each thread's own writes: with one thread per job the fsyncs are those of the ops;
    # with more, how the job's writes fall to its threads decides the remainders, so only bounds hold.
    written_files = sum(1 for job in kjobs for p in job if Path(p).stat().st_size)
    writes, threads = got["write"]["ops"], 2 * iodepth
    for run in (got, want):
        if not fsync_every or iodepth == 1:
            assert run["fsyncs"] == written_files + (writes // fsync_every if fsync_every else 0)
        else:
            low = max(0, writes - threads * (fsync_every - 1)) // fsync_every
            assert written_files + low <= run["fsyncs"] <= written_files + writes // fsync_every
    for kpaths, rpaths in zip(kjobs, rjobs):
        for kp, rp in zip(kpaths, rpaths):
            assert Path(kp).read_bytes() == Path(rp).read_bytes()


def test_psync_checksums_verify_what_was_written(scratch):
    """A psync write with checksums, then a psync read verifying every chunk: both engines count every chunk."""
    jobs = job_files(scratch, "c", 1, 2)
    for engine in (ioloop, ioloop_ref):
        written = engine.run_phase(jobs, "write", 4 * KIB, 32 * KIB, iodepth=2, direct=False, seed=8,
                                   checksum_chunk=512, ioengine="psync")
        read = engine.run_phase(jobs, "randread", 4 * KIB, 32 * KIB, iodepth=3, direct=False, seed=1,
                                checksum_chunk=1024, written_seed=8, ioengine="psync")
        assert written["checksums"] == 2 * 8 * 8 and read["checksums"] == 2 * 8 * 4
