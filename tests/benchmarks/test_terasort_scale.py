"""TeraSort's cost as the work grows: 1 M, 10 M and 100 M records (100 MB, 1 GB, 10 GB), the native job and Spark.

Each size runs once as a user runs it — `tierbench run --workload terasort` in a fresh process, data and temp on one
directory tier on the disk — and its figures come from the run document the CLI prints: wall seconds (the case's
wall_s: its phases' walls added up; cli_wall_s: the whole command, start-up included), sort seconds (map + reduce; Spark: its job), CPU seconds (cpu_s: the case's process and, for Spark, the
driver's and the cluster's JVMs), peak RSS of the case's process (peak_rss_bytes; for Spark that is the Python
worker only, not the JVMs) and temp bytes per input byte (temp_bytes / input_bytes: the map's runs, their indexes
and merge passes; Spark: the shuffle files found). Beside them, largest_process_rss_bytes is the largest resident
set of any one process of the run that was waited for (wait4 of the CLI process: for Spark, its JVMs that were
reaped), each phase's wall and CPU seconds, bytes and bottleneck verdict (an I/O-bound phase runs at the disk's
rate, which on a virtual disk may differ between a 1 GB and a 10 GB working set), and the load averages before and
after, and the case's contention record (other work's CPU cores, run-queue wait: docs/run-document.md). pytest-benchmark's own time is the CLI's, start-up included;
the figures are in each benchmark's extra_info (bench-results/benchmarks.json after `make bench`) and printed.
Figures are reported, never asserted (docs/scale.md holds a run's table). test_merge_stream_fan_in times the
reduce's merge alone (kernels.merge_stream, from memory) at 8 and 75 runs: its cost per record as the fan-in grows.

Settings (environment):
    TIERBENCH_SCALE_RECORDS        sizes for the native job, comma-separated (default 1000000,10000000,100000000)
    TIERBENCH_SCALE_SPARK_RECORDS  sizes for Spark (default 1000000,10000000; empty: none)
    TIERBENCH_SCALE_DIR            where the tier directory is made (default /var/tmp: a disk, not RAM; a
                                   tmpfs or ramfs there is refused)
    TIERBENCH_SCALE_WORKERS        map/reduce workers (default 2)
A quick run: TIERBENCH_SCALE_RECORDS=100000 TIERBENCH_SCALE_SPARK_RECORDS= .venv/bin/python -m pytest -q -s \
    tests/benchmarks/test_terasort_scale.py --benchmark-enable --benchmark-only
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

RECORD_BYTES = 100
RAM_FILESYSTEMS = {"tmpfs", "ramfs"}


def _sizes(name: str, default: str) -> list:
    text = os.environ.get(name, default)
    try:
        sizes = [int(s) for s in text.replace("_", "").split(",") if s.strip()]
    except ValueError:
        raise pytest.UsageError(f"{name}={text!r}: a comma-separated list of record counts") from None
    if any(n < 1 for n in sizes):
        raise pytest.UsageError(f"{name}={text!r}: record counts are positive")
    return sizes


CASES = ([("native", n) for n in _sizes("TIERBENCH_SCALE_RECORDS", "1000000,10000000,100000000")] +
         [("spark", n) for n in _sizes("TIERBENCH_SCALE_SPARK_RECORDS", "1000000,10000000")])


def _filesystem(path: str) -> str:
    """The type of the file system holding `path` (the longest mount point above it in /proc/mounts)."""
    best, kind = "", "unknown"
    real = os.path.realpath(path)
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best, kind = point, fields[2]
    return kind


@pytest.fixture
def tier_dir():
    root = os.environ.get("TIERBENCH_SCALE_DIR", "/var/tmp")
    if not os.path.isdir(root):
        pytest.skip(f"TIERBENCH_SCALE_DIR {root} is not a directory")
    kind = _filesystem(root)
    if kind in RAM_FILESYSTEMS:
        pytest.skip(f"{root} is on {kind} (RAM): the scale benchmark measures a disk; set TIERBENCH_SCALE_DIR")
    folder = tempfile.mkdtemp(prefix="tierbench-scale-", dir=root)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_cli(argv: list, log_path: str) -> tuple:
    """Run the CLI; returns (exit status, stdout text, the largest RSS of it or a waited-for descendant, bytes)."""
    with open(log_path, "w+b") as out, open(log_path + ".err", "w+b") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(), usage.ru_maxrss * 1024, err.read().decode()[-3000:]


@pytest.mark.parametrize("engine,records", CASES, ids=[f"{e}-{n}" for e, n in CASES])
def test_terasort_scale(benchmark, tier_dir, engine, records):
    if engine == "spark" and shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 (make java)")
    workers = int(os.environ.get("TIERBENCH_SCALE_WORKERS", "2"))
    store = os.path.join(tier_dir, "store")
    tier = os.path.join(tier_dir, "tier")
    os.mkdir(tier)
    argv = [sys.executable, "-m", "bench", "run", "--workload", "terasort", "--tier", f"disk={tier}",
            "--data", "disk", "--temp", "disk", "--workers", str(workers), "--param", f"records={records}",
            "--results", store, "--json", *(["--engine", "spark"] if engine == "spark" else [])]
    result = {}

    def once():
        result["load_before"] = os.getloadavg()
        start = time.monotonic()
        result["cli"] = _run_cli(argv, os.path.join(tier_dir, "cli.out"))
        result["cli_wall_s"] = time.monotonic() - start
        result["load_after"] = os.getloadavg()

    benchmark.pedantic(once, rounds=1, iterations=1, warmup_rounds=0)
    status, stdout, largest_rss, stderr = result["cli"]
    assert status == 0, f"tierbench run exited {status}: {stderr}"
    doc = json.loads(stdout)
    case = doc["cases"][0]
    assert doc["status"] == "complete" and case["error"] is None, case["error"]
    m = case["metrics"]
    figures = {"engine": engine, "records": records, "input_bytes": m["input_bytes"], "workers": workers,
               "wall_s": m["wall_s"], "cli_wall_s": result["cli_wall_s"], "sort_s": m.get("sort_s"),
               "cpu_s": m["cpu_s"],
               "peak_rss_bytes": m["peak_rss_bytes"], "largest_process_rss_bytes": largest_rss,
               "temp_bytes_per_input_byte": (m["temp_bytes"] / m["input_bytes"]) if "temp_bytes" in m else None,
               "phases": {p["name"]: {"wall_s": round(p["wall_s"], 3),
                                      "cpu_s": None if p.get("cpu_s") is None else round(p["cpu_s"], 3),
                                      "bytes_read": p.get("bytes_read"), "bytes_written": p.get("bytes_written"),
                                      "bottleneck": p.get("bottleneck")} for p in case["phases"]},
               "load_before": result["load_before"], "load_after": result["load_after"],
               "contention": case.get("contention"),
               "run_id": doc["run_id"], "implementation": case.get("implementation"),
               "cpu_model": doc["machine"].get("cpu_model"), "cpus": doc["machine"].get("cpus")}
    benchmark.extra_info.update(figures)
    print("terasort-scale " + json.dumps(figures), file=sys.stderr)


# ---- the reduce's merge as its fan-in grows ------------------------------------------------------------------

MERGE_RECORDS = 3_000_000


@pytest.fixture(scope="module")
def merge_input():
    import kernels
    return kernels.teragen(0, MERGE_RECORDS)


@pytest.mark.parametrize("runs", [8, 75])
def test_merge_stream_fan_in(benchmark, merge_input, runs):
    """kernels.merge_stream over `runs` sorted runs of the same 3 M records, each streamed in 1 MiB buffers from
    memory (no I/O): the reduce's CPU per record at 10 M (8 runs a partition) and 100 M records (75)."""
    import kernels
    per_run = MERGE_RECORDS // runs
    sorted_runs = [kernels.sort_records(merge_input[i * per_run * RECORD_BYTES:(i + 1) * per_run * RECORD_BYTES],
                                        threads=1) for i in range(runs)]
    step = (1 << 20) // RECORD_BYTES * RECORD_BYTES

    def chunks(run):
        view = memoryview(run).cast("B")
        for at in range(0, len(view), step):
            yield view[at:at + step]

    merged = benchmark.pedantic(lambda: kernels.merge_stream([chunks(r) for r in sorted_runs], lambda v: None),
                                rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(runs=runs, records=merged, implementation=kernels.IMPLEMENTATION["merge_stream"])
