"""What a trace says about a program's I/O (`tierbench show TRACE`), computed once when the trace is stored.

- by class and op: ops and bytes per file class (bench.engines.trace.table: temp, input, output, other) and op.
- request sizes: reads and writes per power-of-two size bucket (a request of n bytes counts in the first
  bucket >= n: 4 KiB holds 2049..4096 bytes).
- sequential share: of the reads and writes, those that start where the previous read or write of the same
  file (by any process) ended, by ops and by bytes. A device streams those; the rest cost a seek on a disk.
- read-after-write distance: for each read of a file the trace wrote earlier, the seconds since that file's
  last write and the bytes the whole trace moved in between (a page cache smaller than that has lost it).
  Given as p50/p90/max over those reads.
- temp files: created and removed in the trace. Lifetime (s, create to unlink); "written once, read once":
  every byte written once (bytes written = the file's extent) and read back exactly once (bytes read = bytes
  written) — the case's temp data, which a cache cannot help.
"""
from __future__ import annotations

__all__ = ["profile"]


def _quantiles(values: list) -> dict:
    if not values:
        return {"count": 0, "p50": None, "p90": None, "max": None}
    values = sorted(values)

    def q(f):
        return values[min(len(values) - 1, int(f * (len(values) - 1) + 0.5))]

    return {"count": len(values), "p50": q(0.5), "p90": q(0.9), "max": values[-1]}


def _bucket(n: int) -> int:
    b = 512
    while b < n:
        b *= 2
    return b


def profile(df, classes: dict) -> dict:
    """The characterisation of a trace (a polars DataFrame with bench.engines.trace.table's columns) with its
    files' classes ({file: class})."""
    by = {}
    sizes: dict = {}
    seq_ops = seq_bytes = io_ops = io_bytes = 0
    last_end: dict = {}
    last_write: dict = {}
    moved = 0
    raw_s, raw_b = [], []
    created, removed, written, read, extent = {}, {}, {}, {}, {}
    for t, f, op, off, n in zip(*(df[c].to_list() for c in ("time_s", "file", "op", "offset", "length"))):
        cls = classes.get(f, "other")
        key = (cls, op)
        ops_b = by.setdefault(key, [0, 0])
        ops_b[0] += 1
        if op in ("read", "write"):
            ops_b[1] += n
            io_ops += 1
            io_bytes += n
            bucket = sizes.setdefault(_bucket(n), [0, 0])
            bucket[op == "write"] += 1
            if last_end.get(f) == off:
                seq_ops += 1
                seq_bytes += n
            last_end[f] = off + n
            if op == "write":
                last_write[f] = (t, moved)
                written[f] = written.get(f, 0) + n
                extent[f] = max(extent.get(f, 0), off + n)
            else:
                read[f] = read.get(f, 0) + n
                if f in last_write:
                    raw_s.append(t - last_write[f][0])
                    raw_b.append(moved - last_write[f][1])
            moved += n
        elif op == "create":
            created.setdefault(f, t)
        elif op == "unlink":
            removed[f] = t
    temps = [f for f, c in classes.items() if c == "temp"]
    once = [f for f in temps if written.get(f) and written[f] == extent.get(f) and read.get(f) == written[f]]
    lifetimes = [removed[f] - created[f] for f in temps if f in created and f in removed and removed[f] >= created[f]]
    return {
        "by_class_op": [{"class": c, "op": o, "ops": v[0], "bytes": v[1]} for (c, o), v in sorted(by.items())],
        "request_sizes": [{"bytes": b, "reads": v[0], "writes": v[1]} for b, v in sorted(sizes.items())],
        "sequential_ops_share": seq_ops / io_ops if io_ops else None,
        "sequential_bytes_share": seq_bytes / io_bytes if io_bytes else None,
        "read_after_write_s": _quantiles(raw_s),
        "read_after_write_bytes": _quantiles(raw_b),
        "temp_files": {"count": len(temps), "written_once_read_once": len(once),
                       "bytes_written": sum(written.get(f, 0) for f in temps),
                       "lifetime_s": _quantiles(lifetimes)},
    }
