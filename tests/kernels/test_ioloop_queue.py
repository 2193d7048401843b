"""kernels.ioloop_queue (fio's libaio and io_uring models: one thread per job, `iodepth` ops in flight) and its
reference, kernels.ioloop_queue_ref: which model a phase runs with, and a queued run doing the reference's ops
and leaving its bytes (direct I/O on a disk filesystem; skips, saying why, where O_DIRECT fails there)."""
from __future__ import annotations

import pytest

from kernels import ioloop, ioloop_queue, ioloop_queue_ref, ioloop_ref
from tests.kernels.queued import check_queued_matches_reference, job_files, scratch_in

KIB = 1024


@pytest.fixture
def disk_scratch():
    yield from scratch_in("/var/tmp", "tierbench-ioloop-queue-")


@pytest.fixture
def scratch():
    yield from scratch_in("/dev/shm", "tierbench-ioloop-queue-")


def test_models():
    assert ioloop_queue.MODELS == ioloop_queue_ref.QUEUED == ("libaio", "io_uring")
    assert set(ioloop_queue_ref.IOENGINES) == set(ioloop_queue.MODELS) | {"psync"}


@pytest.mark.parametrize("ioengine, direct, iodepth, model", [
    (None, True, 4, "libaio"),
    (None, True, 1, "psync"),
    (None, False, 8, "psync"),
    ("libaio", False, 1, "libaio"),
    ("io_uring", True, 2, "io_uring"),
])
def test_choose_ioengine(ioengine, direct, iodepth, model):
    assert ioloop_queue_ref.choose_ioengine(ioengine, direct, iodepth) == model
    assert ioloop_queue_ref.threads_per_job(model, iodepth) == (1 if model != "psync" else iodepth)
    assert ioloop_queue_ref.threads_per_job(model, iodepth, reference=True) == iodepth


def test_the_engine_reports_the_model_it_chose(scratch):
    jobs = job_files(scratch, "m", 1, 1)
    result = ioloop.run_phase(jobs, "write", 4 * KIB, 16 * KIB, iodepth=4, direct=False)
    assert result["ioengine"] == ioloop_queue_ref.choose_ioengine(None, False, 4) == "psync"


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_an_unknown_model_is_refused(engine):
    with pytest.raises(ValueError, match="ioengine must be one of psync, libaio, io_uring"):
        engine.run_phase([["/nonexistent/x"]], "write", 4096, 8192, ioengine="posixaio")


def test_the_reference_refuses_io_uring():
    with pytest.raises(ValueError, match="no io_uring"):
        ioloop_queue_ref.refuse_uring("io_uring")
    ioloop_queue_ref.refuse_uring("libaio")


@pytest.mark.parametrize("rw, iodepth, service, mix", [
    ("randwrite", 5, "random", 50),
    ("randrw", 3, "roundrobin", 60),
])
def test_libaio_does_the_references_ops(disk_scratch, rw, iodepth, service, mix):
    got = check_queued_matches_reference(disk_scratch, rw, 4 * KIB, 24 * 4 * KIB, 2, 2, iodepth, service, mix,
                                         ioengine="libaio")
    assert got["ioengine"] == "libaio"
