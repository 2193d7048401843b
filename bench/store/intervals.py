"""A run's figures over time on disk: `<run folder>/intervals.parquet`, sibling of samples.parquet.

One row per interval of one direction of one phase of one case (of one host, for a fleet), with the figures of
bench.analysis.intervals; the columns and their units are in docs/run-document.md#figures-over-time:

    run_id, case (the case document's id in run.json), host (null on one machine), workload, tier, engine,
    repeat, params (JSON, keys sorted), phase, round (steady-state round, null outside rounds), index,
    direction, t_start_s, t_end_s, active_s, ops, bytes, iops, bytes_per_s, lat_p50_us, lat_p99_us, lat_p999_us

A figure that was not measured is null. The file is rewritten whole (atomically) after every case, like
run.json, so an interrupted run keeps the intervals of its measured cases. Readers: `read_intervals(run_dir)`
(Polars); DuckDB reads the file as it is (`SELECT * FROM 'intervals.parquet'`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

__all__ = ["FILE_NAME", "COLUMNS", "write_intervals", "read_intervals"]

FILE_NAME = "intervals.parquet"

# (column, arrow type name); the one definition of the file's schema, for writing and for an empty read
COLUMNS = (("run_id", "string"), ("case", "int64"), ("host", "string"), ("workload", "string"),
           ("tier", "string"), ("engine", "string"), ("repeat", "int64"), ("params", "string"),
           ("phase", "string"), ("round", "int64"), ("index", "int64"), ("direction", "string"),
           ("t_start_s", "float64"), ("t_end_s", "float64"), ("active_s", "float64"), ("ops", "int64"),
           ("bytes", "int64"), ("iops", "float64"), ("bytes_per_s", "float64"), ("lat_p50_us", "float64"),
           ("lat_p99_us", "float64"), ("lat_p999_us", "float64"))


def _schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS])


def write_intervals(run_dir: os.PathLike, rows: Iterable[dict]) -> Path:
    """Write every row (dicts with the COLUMNS' keys; a missing key is null) to the run's intervals.parquet,
    replacing it atomically. Returns its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(rows)
    table = pa.table({name: [row.get(name) for row in rows] for name, _ in COLUMNS}, schema=_schema())
    path = Path(run_dir) / FILE_NAME
    tmp = path.with_name(f".{FILE_NAME}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_intervals(run_dir: os.PathLike):
    """The run's figures over time as a polars DataFrame, one row per interval (module docstring), ordered by
    case, host, phase, round, direction and index; an empty frame with the same columns when the run stored
    none (runs made before the file existed, or of jobs only)."""
    import polars as pl

    path = Path(run_dir) / FILE_NAME
    if not path.exists():
        import pyarrow as pa

        return pl.from_arrow(pa.table({name: [] for name, _ in COLUMNS}, schema=_schema()))
    return pl.read_parquet(path).sort(["case", "host", "phase", "round", "direction", "index"], nulls_last=False)
