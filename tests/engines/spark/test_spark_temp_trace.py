"""Recording a Spark case's temp I/O (bench/engines/spark/temp_trace.py) without Spark: a real program run behind
the same command prefix the workers get (strace, the container's join), its trace collected as a Spark case's is.
The whole thing with Spark: tests/scenarios/hadoop_tempdata/test_spark_recorded.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from bench.core.errors import CaseError
from bench.engines.spark import temp_trace
from bench.engines.trace.table import read_trace

needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace on PATH")

# writes `a` (1000 bytes) and `b` (500), reads `b` back, removes both: `a` leaves unread, as a map task's
# per-partition files do when Spark merges them through mmap
PROGRAM = """
import os, sys
d = sys.argv[1]
with open(os.path.join(d, "a"), "wb") as f: f.write(b"x" * 1000)
with open(os.path.join(d, "b"), "wb") as f: f.write(b"y" * 500)
with open(os.path.join(d, "b"), "rb") as f: f.read()
with open(sys.argv[2], "wb") as f: f.write(b"z" * 70)
os.unlink(os.path.join(d, "a")); os.unlink(os.path.join(d, "b"))
"""


def _run(prefix: list, *args) -> None:
    subprocess.run([*prefix, sys.executable, "-c", PROGRAM, *map(str, args)], check=True, timeout=60)


@needs_strace
def test_the_trace_holds_the_local_dirs_files_with_the_unread_bytes_counted(tmp_path):
    folder, local, elsewhere = tmp_path / "case000-spark", tmp_path / "spark-worker-1", tmp_path / "other"
    folder.mkdir()
    local.mkdir()
    _run(temp_trace.worker_prefix(folder, True, None), local, elsewhere)
    record = temp_trace.collect(folder, [str(local)], {"shuffle_read_bytes": 1000, "shuffle_write_bytes": 750,
                                                      "spill_disk_bytes": 0})
    assert record["file"] == "case000-spark/trace.parquet"
    t = record["totals"]
    assert (t["bytes_written"], t["bytes_read"], t["files"]) == (1500, 500, 2)     # not the file outside `local`
    assert record["coverage"] == {"read": 0.5, "write": 2.0, "read_missing_bytes": 500, "unread_removed_bytes": 1000}
    df = read_trace(folder / temp_trace.TRACE_NAME)
    assert df["time_s"].min() == 0.0
    assert not (folder / temp_trace.TRACE_DIR).exists()           # the raw strace files are gone: the trace stays


@needs_strace
def test_a_trace_without_local_dir_files_fails_the_case(tmp_path):
    folder, local = tmp_path / "case000-spark", tmp_path / "spark-worker-1"
    folder.mkdir()
    local.mkdir()
    subprocess.run([*temp_trace.worker_prefix(folder, True, None), "true"], check=True, timeout=60)
    with pytest.raises(CaseError, match="holds no file under their local dirs"):
        temp_trace.collect(folder, [str(local)], {})


def test_without_a_tracer_nothing_was_recorded_and_that_fails_the_case(tmp_path):
    (tmp_path / temp_trace.TRACE_DIR).mkdir()
    with pytest.raises(CaseError, match="wrote nothing"):
        temp_trace.collect(tmp_path, [str(tmp_path)], {})


def test_the_workers_join_the_container_and_nothing_else_does(tmp_path):
    from bench.tiers import cgroups

    if not cgroups.containers_available():
        pytest.skip("needs root and a memory cgroup (v1 or v2) for a container")
    group = cgroups.backend().make_container(f"tierbench-test-{tmp_path.name}", 512 * 1024 ** 2)
    try:
        prefix = temp_trace.worker_prefix(tmp_path, False, group)
        out = subprocess.run([*prefix, "cat", "/proc/self/cgroup"], capture_output=True, text=True, check=True)
        name = group.rstrip("/").rsplit("/", 1)[-1]
        assert any(line.endswith("/" + name) for line in out.stdout.splitlines()), out.stdout
        usage = temp_trace.container_usage(group)
        assert usage["limit_bytes"] == 512 * 1024 ** 2 and usage["peak_bytes"] > 0
    finally:
        cgroups.backend().remove(group)
    assert temp_trace.container_usage(None) is None


# holds 64 MiB of its own memory, then writes 96 MiB to a file in the local dir without fsync (page cache) and
# sleeps: with the room held at 8 MiB, most of the file must leave the page cache for the device
WRITER = """
import os, sys, time
held = bytearray(64 * 1024 ** 2)
for i in range(0, len(held), 4096):
    held[i] = 1
time.sleep(0.5)
with open(os.path.join(sys.argv[1], "shuffle_0_0_0.data"), "wb") as f:
    for _ in range(96):
        f.write(b"x" * 1024 ** 2)
        time.sleep(0.02)
time.sleep(1.0)
print(sum(int(v) for k, v in (l.split() for l in open(sys.argv[2] + "/memory.stat")) if k in ("total_cache", "file")))
"""


def test_the_node_container_holds_its_page_cache_room(tmp_path):
    from bench.engines.spark.node_memory import MARGIN_BYTES, CacheRoom
    from bench.tiers import cgroups

    if not cgroups.containers_available():
        pytest.skip("needs root and a memory cgroup (v1 or v2) for a container")
    local = tmp_path / "spark-worker-1"
    local.mkdir()
    ceiling, room = 1024 ** 3, 8 * 1024 ** 2
    group = cgroups.backend().make_container(f"tierbench-test-room-{os.getpid()}", ceiling)
    try:
        with CacheRoom(group, room, ceiling, [str(local)]) as follower:
            out = subprocess.run([*temp_trace.worker_prefix(tmp_path, False, group), sys.executable, "-c", WRITER,
                                  str(local), group], capture_output=True, text=True, check=True, timeout=120)
        record = follower.record()
        cached = int(out.stdout.split()[-1])
        assert record["started"] and record["limits_set"] > 0
        # the process holds ~64 MiB + the interpreter: the limit followed it, far under the ceiling (the lowest
        # limit may be set after the process ended, when it holds nothing)
        assert record["lowest_limit_bytes"] <= record["highest_limit_bytes"]
        assert 64 * 1024 ** 2 < record["highest_limit_bytes"] < 256 * 1024 ** 2
        assert cached <= room + MARGIN_BYTES + 8 * 1024 ** 2, cached     # + one reading's writes
        assert temp_trace.container_usage(group)["limit_bytes"] == ceiling      # set back when the job ends
    finally:
        cgroups.backend().remove(group)
