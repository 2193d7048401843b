"""The bottleneck rule (bench/analysis/verdict.py), on numbers and on real cases built to be CPU-bound (tmpfs plus
checksum work) — the I/O-bound case (the throttled hdd tier) is in tests/test_emulate.py."""
import pytest

from bench.analysis.verdict import CPU_BOUND, IO_BOUND, bottleneck, cpu_fraction
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


def test_checksummed_reads_on_tmpfs_are_cpu_bound(store):
    doc = cli_json("run", "--tier", "mem=/dev/shm", "--workload", "hdfs-read", "--engine", "builtin",
                   "--param", "block_size=16m", "--param", "blocks=4", "--param", "readers=1",
                   "--results", store)
    (case,) = doc["cases"]
    assert case["error"] is None and case["phases"][0]["checksums"] > 0
    assert case["bottleneck"] == "cpu", case["metrics"]
