"""The start barrier fio's jobs run as their exec_prerun (bench/engines/fio/barrier.sh), run for real: processes
that wait on a file lock until the last of N arrives."""
from __future__ import annotations

import subprocess
import time

from bench.engines.fio.job import BARRIER_SCRIPT


def _arrive(directory, n, timeout_s=30):
    return subprocess.Popen(["sh", str(BARRIER_SCRIPT), str(directory), str(n), str(timeout_s)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_every_job_waits_for_the_last():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        first = [_arrive(f"{tmp}/phase", 4) for _ in range(3)]
        time.sleep(1.0)
        assert all(p.poll() is None for p in first), "a job passed the barrier before all 4 had arrived"
        last = _arrive(f"{tmp}/phase", 4)
        for p in first + [last]:
            assert p.wait(timeout=10) == 0
            assert p.stderr.read() == ""


def test_a_job_that_never_arrives_does_not_hold_the_others_forever(tmp_path):
    started = time.monotonic()
    waiting = [_arrive(tmp_path / "phase", 3, timeout_s=1) for _ in range(2)]
    codes = [p.wait(timeout=30) for p in waiting]
    assert codes == [0, 0] and time.monotonic() - started >= 1.0
    assert "2 of 3 jobs arrived in 1 s; starting anyway" in "".join(p.stderr.read() for p in waiting)


def test_one_job_passes_at_once(tmp_path):
    assert _arrive(tmp_path / "phase", 1).wait(timeout=10) == 0
