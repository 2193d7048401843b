"""The trace as tierbench stores it: one Parquet table, one row per event, in the order the events happened.

Columns (units in the names' sense of DESIGN.md):
    time_s     float64  seconds from the start of the traced command (or the first request of an imported trace)
    pid        int64    the process (strace -f) or the volume/disk number (block traces)
    file       string   the file's path as the program named it (block traces: the device or volume)
    op         string   one of OPS below
    offset     int64    bytes from the start of the file; null for events that are not reads or writes
    length     int64    bytes moved (a read's return value, not the size asked for); null likewise
    latency_s  float64  the call's duration as the tracer saw it (strace -T: includes the tracer's own delay);
                        null when the source does not say (Alibaba and Tencent traces, fio iologs)

Ops: `read`, `write` (length > 0 always: a read at end of file that moves nothing is no I/O and is not kept),
`open` (an existing file), `create` (opened with O_CREAT), `close`, `sync` (fsync), `datasync` (fdatasync),
`unlink`. A file's *class* follows from its events (file_classes): `temp` created and removed within the trace
(MapReduce's and sort's temp data), `input` only read, `output` written and kept, `other` the rest (read and
written, kept). Why classes and not paths: a replay maps every path into the tier, and the case's phases and
the characterisation are per class.
"""
from __future__ import annotations

from pathlib import Path

from bench.core.errors import UserError

__all__ = ["COLUMNS", "OPS", "IO_OPS", "to_table", "write_trace", "read_trace", "file_classes", "totals",
           "TRACE_FILE"]

TRACE_FILE = "trace.parquet"
COLUMNS = ("time_s", "pid", "file", "op", "offset", "length", "latency_s")
OPS = ("open", "create", "read", "write", "close", "sync", "datasync", "unlink")
IO_OPS = ("read", "write")
CLASSES = ("temp", "input", "output", "other")


def _schema():
    import pyarrow as pa

    return pa.schema([("time_s", pa.float64()), ("pid", pa.int64()), ("file", pa.string()), ("op", pa.string()),
                      ("offset", pa.int64()), ("length", pa.int64()), ("latency_s", pa.float64())])


def to_table(events: list):
    """A pyarrow Table from events (dicts with COLUMNS; missing offset/length/latency_s are null), sorted by
    time (stable: events at the same time keep their order). UserError when an event breaks the rules above."""
    import pyarrow as pa

    events = sorted(events, key=lambda e: e["time_s"])
    for i, e in enumerate(events):
        problem = _event_problem(e)
        if problem:
            raise UserError(f"trace event {i}: {problem}")
    cols = {c: [e.get(c) for e in events] for c in COLUMNS}
    return pa.table(cols, schema=_schema())


def _event_problem(e: dict) -> str:
    import math

    if e.get("op") not in OPS:
        return f"op {e.get('op')!r} is not one of {', '.join(OPS)}"
    t = e.get("time_s")
    if not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        return f"time {t!r} is not a finite number of seconds >= 0"
    if not isinstance(e.get("file"), str) or not e["file"]:
        return "no file"
    if e["op"] in IO_OPS:
        off, n = e.get("offset"), e.get("length")
        if not isinstance(off, int) or off < 0 or off >= 1 << 62:
            return f"{e['op']} offset {off!r} is not a whole number of bytes >= 0"
        if not isinstance(n, int) or n <= 0 or n >= 1 << 40:
            return f"{e['op']} length {n!r} is not a whole number of bytes > 0"
    lat = e.get("latency_s")
    if lat is not None and (not isinstance(lat, (int, float)) or not math.isfinite(lat) or lat < 0):
        return f"latency {lat!r} is not a finite number of seconds >= 0"
    return ""


def write_trace(table, path: Path) -> None:
    import os

    import pyarrow.parquet as pq

    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_trace(path: Path):
    """The stored trace as a polars DataFrame; UserError (one line) when it is missing or not a trace."""
    import polars as pl

    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise UserError(f"{path}: not a readable trace ({' '.join(str(e).split())[:200]})") from None
    if tuple(df.columns) != COLUMNS:
        raise UserError(f"{path}: not a tierbench trace (columns {', '.join(df.columns)})")
    return df


def file_classes(df) -> dict:
    """{file: class} (see the module's doc) from the trace's events."""
    import polars as pl

    per = df.group_by("file").agg(
        (pl.col("op") == "create").any().alias("created"), (pl.col("op") == "unlink").any().alias("removed"),
        (pl.col("op") == "read").any().alias("reads"), (pl.col("op") == "write").any().alias("writes"))
    out = {}
    for row in per.iter_rows(named=True):
        if row["created"] and row["removed"]:
            out[row["file"]] = "temp"
        elif row["reads"] and not row["writes"]:
            out[row["file"]] = "input"
        elif row["writes"] and not row["reads"]:
            out[row["file"]] = "output"
        else:
            out[row["file"]] = "other"
    return out


def totals(df) -> dict:
    """{ops_read, ops_written, bytes_read, bytes_written, syncs, files} of a trace: what a replay must match."""
    reads = df.filter(df["op"] == "read")
    writes = df.filter(df["op"] == "write")
    return {"ops_read": reads.height, "ops_written": writes.height,
            "bytes_read": int(reads["length"].sum() or 0), "bytes_written": int(writes["length"].sum() or 0),
            "syncs": df.filter(df["op"].is_in(["sync", "datasync"])).height,
            "files": df["file"].n_unique()}
