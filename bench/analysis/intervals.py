"""Figures over time: an engine's interval rows (bench.engines.fio.intervals, bench.engines.builtin) turned into
the per-interval figures the run stores (`intervals.parquet`, docs/run-document.md#figures-over-time), and the
check that they add up to the case's totals.

A figure row: phase, index, direction ("read" | "write"), t_start_s, t_end_s (seconds from the start of the
case's first I/O), active_s (seconds the direction ran in the interval), ops, bytes, iops (ops / active_s),
bytes_per_s (bytes / active_s), lat_p50_us, lat_p99_us, lat_p999_us (from the interval's own latency bins, the
way bench.analysis.metrics computes a case's: never from cumulative bins), and round (the steady-state round the
interval belongs to, None outside steady-state rounds). A figure that was not measured (no operations
completed, so no latency) is None, never 0; an interval in which the direction ran and completed nothing has
ops 0 and iops 0.0, which is a measurement (a stall).
"""
from __future__ import annotations

from typing import Optional

from bench.core.errors import CaseError
from bench.core.metric_registry import LATENCY_PERCENTILES
from kernels.latency_bins import percentile_from_bins

__all__ = ["interval_figures", "check_interval_sums", "SUM_TOLERANCE", "FIGURE_COLUMNS"]

# The per-interval operations of a case must add up to its total within this share. Both engines count
# both from the same counters, so they agree exactly unless an interval was lost; 1% leaves room for an
# engine that cuts intervals by sampling.
SUM_TOLERANCE = 0.01

FIGURE_COLUMNS = ("phase", "round", "index", "direction", "t_start_s", "t_end_s", "active_s", "ops", "bytes",
                  "iops", "bytes_per_s") + tuple(f"lat_{name}_us" for name in LATENCY_PERCENTILES)


def interval_figures(rows: list, round_number: Optional[int] = None, offset_s: float = 0.0) -> list:
    """The figure rows (module docstring) of an engine's interval rows, in their order; `offset_s` moves
    their times (a steady-state round's start in the case), `round_number` names their round."""
    out = []
    for row in rows:
        active = row["active_s"]
        fig = {"phase": row["phase"], "round": round_number, "index": int(row["index"]),
               "direction": row["direction"], "t_start_s": row["t_start_s"] + offset_s,
               "t_end_s": row["t_end_s"] + offset_s, "active_s": active, "ops": int(row["ops"]),
               "bytes": int(row["bytes"]),
               "iops": row["ops"] / active if active > 0 else None,
               "bytes_per_s": row["bytes"] / active if active > 0 else None}
        bins = row.get("bins") or {}
        for name, q in LATENCY_PERCENTILES.items():
            fig[f"lat_{name}_us"] = percentile_from_bins(bins, q) / 1000.0 if any(bins.values()) else None
        out.append(fig)
    return out


def check_interval_sums(figures: list, ops_read: int, ops_written: int, where: str = "case") -> None:
    """CaseError when the intervals' operations per direction differ from the case's totals by more than
    SUM_TOLERANCE: figures over time that do not add up to the case would tell another story than its totals."""
    for direction, total in (("read", ops_read), ("write", ops_written)):
        summed = sum(f["ops"] for f in figures if f["direction"] == direction)
        if abs(summed - total) > SUM_TOLERANCE * max(total, 1):
            raise CaseError(f"{where}: its {direction} intervals add up to {summed} operations, its total is "
                            f"{total} (more than {SUM_TOLERANCE:.0%} apart)")
