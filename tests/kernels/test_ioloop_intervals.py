"""kernels.ioloop's figures over time (interval_s, on_interval) against its reference, with real files."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from kernels import ioloop, ioloop_ref
from tests.kernels.queued import job_files, scratch_in

KIB = 1024
ENGINES = [ioloop, ioloop_ref]


@pytest.fixture
def scratch():
    yield from scratch_in("/dev/shm")


def _written(scratch, name="iv", njobs=1, nfiles=1, file_size=256 * KIB):
    jobs = job_files(scratch, name, njobs, nfiles)
    ioloop.run_phase(jobs, "write", 4 * KIB, file_size, direct=False)
    return jobs


@pytest.mark.parametrize("engine", ENGINES, ids=lambda m: m.__name__)
@pytest.mark.parametrize("rw,iodepth", [("randread", 1), ("randrw", 3), ("write", 2)])
def test_interval_counts_add_up_to_the_totals(scratch, engine, rw, iodepth):
    """Every op is counted in exactly one interval: per direction, the intervals' ops, bytes and latency bins
    sum to the phase's totals and histogram (size-based and time-based alike)."""
    jobs = _written(scratch, njobs=2)
    for runtime_s in (None, 0.3):
        result = engine.run_phase(jobs, rw, 4 * KIB, 256 * KIB, iodepth=iodepth, direct=False,
                                  runtime_s=runtime_s, interval_s=0.05)
        got = result["intervals"]
        counts = got["counts"]
        assert got["interval_s"] == pytest.approx(0.05)
        assert counts.dtype == np.uint64 and counts.shape[1:] == (2, 2 + engine.PLAT_NR)
        for d, name in enumerate(("read", "write")):
            assert int(counts[:, d, 0].sum()) == result[name]["ops"]
            assert int(counts[:, d, 1].sum()) == result[name]["bytes"]
            assert np.array_equal(counts[:, d, 2:].sum(axis=0), np.asarray(result[name]["hist"]))
        # an interval holds what completed within it: none lies beyond the phase's end
        assert len(counts) <= int(result["elapsed_s"] / 0.05) + 1
        if runtime_s:
            assert len(counts) >= 4, "a 0.3 s phase in 0.05 s intervals spans several intervals"


@pytest.mark.parametrize("engine", ENGINES, ids=lambda m: m.__name__)
def test_on_interval_sees_every_interval_once_in_order(scratch, engine):
    """on_interval is called once per interval, in order (while the phase runs, and for the last ones when it
    has ended), and what it was given is what the result stores."""
    jobs = _written(scratch)
    calls = []

    def seen(index, counts):
        calls.append((index, counts.copy()))

    result = engine.run_phase(jobs, "randread", 4 * KIB, 256 * KIB, direct=False, runtime_s=0.5, interval_s=0.1,
                              on_interval=seen)
    counts = result["intervals"]["counts"]
    assert [k for k, _ in calls] == list(range(len(counts)))
    assert np.array_equal(np.stack([c for _, c in calls]), counts)


def test_kernel_reports_intervals_while_the_phase_runs(scratch):
    """The compiled engine shows an interval about one interval after it ended, not only at the end."""
    jobs = _written(scratch)
    early = []
    done = threading.Event()
    ioloop.run_phase(jobs, "randread", 4 * KIB, 256 * KIB, direct=False, runtime_s=0.8, interval_s=0.1,
                     on_interval=lambda k, c: early.append(not done.is_set()))
    done.set()
    assert early and any(early), "no interval was shown before the phase ended"


@pytest.mark.parametrize("engine", ENGINES, ids=lambda m: m.__name__)
def test_interval_arguments_are_checked(scratch, engine):
    jobs = _written(scratch)
    for bad in (0, -1, float("nan"), "1", True, 1e-6):
        with pytest.raises(ValueError, match="interval_s"):
            engine.run_phase(jobs, "read", 4 * KIB, 256 * KIB, direct=False, interval_s=bad)
    with pytest.raises(ValueError, match="on_interval needs interval_s"):
        engine.run_phase(jobs, "read", 4 * KIB, 256 * KIB, direct=False, on_interval=print)
    with pytest.raises(ValueError, match="callable"):
        engine.run_phase(jobs, "read", 4 * KIB, 256 * KIB, direct=False, interval_s=0.1, on_interval=3)
    assert "intervals" not in engine.run_phase(jobs, "read", 4 * KIB, 256 * KIB, direct=False)


@pytest.mark.parametrize("engine", ENGINES, ids=lambda m: m.__name__)
def test_a_failing_on_interval_fails_the_call(scratch, engine):
    """A bug in the caller's on_interval is raised by run_phase, not lost with the thread that called it."""
    jobs = _written(scratch)

    def broken(index, counts):
        raise RuntimeError("display broke")

    with pytest.raises(RuntimeError, match="display broke"):
        engine.run_phase(jobs, "randread", 4 * KIB, 256 * KIB, direct=False, runtime_s=0.3, interval_s=0.05,
                         on_interval=broken)
