"""A Spark case's temp I/O recorded at file level, and its Spark workers' memory container.

Recording: every worker daemon runs under strace (bench.engines.trace.strace's file calls, `-ff` and
`--seccomp-bpf`, so that only those calls stop the JVM's threads); the executors a worker starts are its children
and are traced with it. After the job the per-thread files become one trace of the files under the workers'
local dirs (shuffle data and index files, spills), stored as `trace.parquet` in the case's Spark folder: the
trace `tierbench replay` replays (bench.engines.trace.replay), exact in ops and bytes.

What a file-level tracer cannot see, measured and stated rather than assumed: Spark reads some of its temp data
through mmap (when FileChannel.transferTo cannot sendfile between two files, the JDK maps the source and writes
from the mapping: the merge of a map task's per-partition files into its shuffle file), and a mapped page moves no
bytes through read, pread or sendfile. `coverage` compares the trace with Spark's own metrics (bytes read in the
trace / Spark's shuffle-read bytes, bytes written / shuffle-write + disk-spill bytes) and counts the bytes
written to files that were removed with no traced read (`unread_removed_bytes`): temp data read back where the
tracer cannot see it, or never read; the replay writes those bytes and does not read them. The traced run pays
strace's cost: its runtime is not Spark's.

Container: with a memory cgroup (the case's `memory_mb`), only the workers join it, and with them the executors
they start (the shuffle's writers and readers, whose page cache it bounds); the master and the driver stay out,
as on a cluster, where the node's memory holds executors and not the driver.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from bench.core.errors import CaseError

__all__ = ["worker_prefix", "collect", "TRACE_DIR", "TRACE_NAME", "container_usage"]

TRACE_DIR = "strace"
TRACE_NAME = "trace.parquet"
# a shell that moves itself into the memory group, then becomes the worker (its pid kept, so that strace,
# when there is one, traces the worker itself)
_JOIN = 'echo $$ > "$0/cgroup.procs" && exec "$@"'


def worker_prefix(folder: Path, trace: bool, memory_cgroup: Optional[str]) -> list:
    """The command words before `spark-class ... Worker`: strace (trace) and the container's join (a cgroup)."""
    out = []
    if trace:
        from bench.engines.trace.record import strace_binary
        from bench.engines.trace.strace import strace_command

        (folder / TRACE_DIR).mkdir(parents=True, exist_ok=True)
        out += strace_command(str(folder / TRACE_DIR / "strace"), [], strace_binary())
        out.insert(1, "--seccomp-bpf")
    if memory_cgroup:
        out += ["sh", "-c", _JOIN, memory_cgroup]
    return out


def collect(folder: Path, local_dirs: list, spark_metrics: dict) -> dict:
    """Parse the workers' strace files into the trace of their local dirs, stored as folder/TRACE_NAME (the raw
    strace files are removed: the trace holds what a replay needs); returns the case's `trace` record: the file
    (relative to the run's raw folder), totals (bench.engines.trace.table.totals), the parser's stats and
    `coverage` against `spark_metrics` (shuffle_read_bytes, shuffle_write_bytes, spill_disk_bytes)."""
    import polars as pl

    from bench.engines.trace.strace import parse_strace
    from bench.engines.trace.table import to_table, totals, write_trace

    raw = folder / TRACE_DIR
    files = {}
    for path in sorted(raw.glob("strace.*")):
        pid = path.name.rsplit(".", 1)[-1]
        if pid.isdigit():
            files[int(pid)] = path.read_text(errors="surrogateescape")
    if not files:
        raise CaseError(f"spark: the workers ran under strace but it wrote nothing (see {folder.name}/)")
    events, stats = parse_strace(files, str(folder))
    roots = [d.rstrip("/") + "/" for d in local_dirs]
    events = [e for e in events if any(e["file"].startswith(r) for r in roots)]
    if not events:
        raise CaseError("spark: the trace of the workers holds no file under their local dirs")
    first = events[0]["time_s"]
    for e in events:            # the trace's time from the first local-dir event, not from the JVM's start
        e["time_s"] = max(0.0, e["time_s"] - first)
    table = to_table(events)
    write_trace(table, folder / TRACE_NAME)
    for path in raw.glob("strace.*"):
        path.unlink()
    raw.rmdir()
    t = totals(pl.from_arrow(table))
    read_want = spark_metrics.get("shuffle_read_bytes")
    write_want = (spark_metrics.get("shuffle_write_bytes") or 0) + (spark_metrics.get("spill_disk_bytes") or 0)
    coverage = {"read": t["bytes_read"] / read_want if read_want else None,
                "write": t["bytes_written"] / write_want if write_want else None,
                "read_missing_bytes": max(0, read_want - t["bytes_read"]) if read_want else None,
                "unread_removed_bytes": unread_removed_bytes(events)}
    return {"file": f"{folder.name}/{TRACE_NAME}", "tracer": "strace --seccomp-bpf", "totals": t,
            "parse": stats.to_dict(), "coverage": coverage,
            "local_dirs": [os.path.basename(d) for d in local_dirs]}


def unread_removed_bytes(events: list) -> int:
    """Bytes written to files the trace shows removed without a single traced read."""
    written, read, removed = {}, set(), set()
    for e in events:
        if e["op"] == "write":
            written[e["file"]] = written.get(e["file"], 0) + e["length"]
        elif e["op"] == "read":
            read.add(e["file"])
        elif e["op"] == "unlink":
            removed.add(e["file"])
    return sum(n for f, n in written.items() if f in removed and f not in read)


def container_usage(group: Optional[str]) -> Optional[dict]:
    """The workers' memory container after the job: its limit and peak usage (bytes; cgroup v1
    memory.max_usage_in_bytes, v2 memory.peak where the kernel has it), None without a container."""
    if not group:
        return None
    out = {}
    for key, names in (("limit_bytes", ("memory.limit_in_bytes", "memory.max")),
                       ("peak_bytes", ("memory.max_usage_in_bytes", "memory.peak"))):
        for name in names:
            try:
                text = Path(group, name).read_text().strip()
            except OSError:
                continue
            if text.isdigit():
                out[key] = int(text)
                break
    return out
