"""The bottleneck rule (bench/analysis/verdict.py), on numbers and on real cases built to be CPU-bound (tmpfs plus
checksum work) — the I/O-bound case (the throttled hdd tier) is in tests/tiers/test_emulate.py."""
import subprocess

import pytest

from bench.analysis.verdict import CPU_BOUND, IO_BOUND, bottleneck, case_bottleneck, cpu_fraction
from tests.conftest import cli_json


@pytest.mark.parametrize("cpu_s,wall_s,threads,cpus,expected", [
    (1.9, 2.0, 1, 2, "cpu"), (3.0, 2.0, 2, 2, "cpu"), (3.0, 2.0, 8, 2, "cpu"),   # threads capped at the CPUs
    (0.1, 2.0, 1, 2, "io"), (1.0, 2.0, 1, 2, "mixed"), (2.0, 2.0, 2, 2, "mixed"), (1.0, 2.0, 2, 2, "io"),
    (None, 2.0, 1, 2, "unknown"), (1.0, 0.0, 1, 2, "unknown"),
])
def test_rule(cpu_s, wall_s, threads, cpus, expected):
    assert bottleneck(cpu_s, wall_s, threads, cpus) == expected


def test_thresholds_are_ordered():
    assert 0 < IO_BOUND < CPU_BOUND < 1
    assert cpu_fraction(1.5, 1.0, 4, 2) == pytest.approx(0.75)


@pytest.mark.parametrize("cpu_s,wall_s,wait_s,window_s,expected", [
    (0.5, 1.0, 0.3, 1.0, "cpu-starved"),    # on a CPU half the time, queued for one 30% more: it wanted a CPU
    (0.5, 1.0, 0.6, 2.0, "cpu-starved"),    # the wait's share is over the window it was watched (30%)
    (0.5, 1.0, 0.1, 1.0, "mixed"),          # 60% together: still mixed
    (0.2, 1.0, 0.05, 1.0, "io"),            # asleep most of the time: I/O
    (0.9, 1.0, 0.5, 1.0, "cpu"),            # it got its CPU: cpu, whatever else waited
    (0.2, 1.0, None, None, "io"),           # no wait measured: the plain rule
])
def test_starved_rule(cpu_s, wall_s, wait_s, window_s, expected):
    assert case_bottleneck(cpu_s, wall_s, 1, wait_s, window_s, cpus=2) == expected


TMPFS_CPU_CASE = ("run", "--tier", "mem=/dev/shm", "--workload", "hdfs-read", "--engine", "builtin",
                  "--param", "block_size=16m", "--param", "blocks=32", "--param", "readers=1")


def test_checksummed_reads_on_tmpfs_are_cpu_bound(store):
    """Checksummed reads from memory: CPU work. On a busy machine the case's thread waits for a CPU instead of
    running, which is still never waiting for I/O: cpu, or cpu-starved with the wait measured."""
    doc = cli_json(*TMPFS_CPU_CASE, "--results", store)
    (case,) = doc["cases"]
    assert case["error"] is None and case["phases"][0]["checksums"] > 0
    assert case["bottleneck"] in ("cpu", "cpu-starved"), (case["metrics"], case["contention"])
    if case["bottleneck"] == "cpu-starved":
        assert case["contention"]["run_queue_wait_s"] > 0


def test_the_same_case_beside_two_cpu_hogs_is_contended_and_never_io(store):
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        doc = cli_json(*TMPFS_CPU_CASE, "--results", store)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    (case,) = doc["cases"]
    assert case["error"] is None
    assert case["contention"]["contended"] and case["contention"]["other_cpu_cores"] > 0.75, case["contention"]
    assert case["bottleneck"] in ("cpu", "cpu-starved"), (case["metrics"], case["contention"])
