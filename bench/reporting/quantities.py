"""One name per quantity, for every table of the terminal and the report (and the charts' axes):

- "IOPS/GB supplied": IOPS a tier gave per 10^9 bytes of its capacity, measured by an I/O pattern (the pattern's
  own `iops_per_gb`);
- "IOPS/GB demanded": IOPS per GB a workload asked of the tier holding its data (`demanded_iops_per_gb` of a
  pattern; for a job, the I/O it drove on its data tier per GB of it, its `iops_per_gb`);
- "I/O MB/s": bytes read plus bytes written per second, 10^6 bytes (what the device moved);
- "sorted MB/s": a sort's input bytes per second of the sort (what the job got done; scaling uses it for jobs).

A figure not measured is None, never 0.
"""
from __future__ import annotations

from bench.analysis.stats import median

SUPPLIED = "IOPS/GB supplied"
DEMANDED = "IOPS/GB demanded"
IO_MBPS = "I/O MB/s"
SORTED_MBPS = "sorted MB/s"

# (name, how it is read from a case's metrics); the order is the tables' column order.
QUANTITIES = ("IOPS", IO_MBPS, SORTED_MBPS, "p50 us", "p99 us", "p99.9 us", SUPPLIED, DEMANDED, "wall s",
              "CPU %", "device %")


def is_job(ident: dict) -> bool:
    """Whether a case is a job (PyArrow/Polars or Spark) rather than an I/O pattern."""
    return ident.get("engine") in ("job", "spark") or ident.get("temp_tier") is not None


def case_figures(metrics: dict, job: bool) -> dict:
    """{quantity name: value} of one case's metrics (units as the names say; None when not measured)."""
    rd, wr = metrics.get("read_bytes_per_s"), metrics.get("write_bytes_per_s")
    io = None if rd is None and wr is None else ((rd or 0.0) + (wr or 0.0)) / 1e6
    sorted_mbps = metrics.get("sorted_bytes_per_s")
    demanded = metrics.get("demanded_iops_per_gb")
    return {"IOPS": metrics.get("iops"), IO_MBPS: io,
            SORTED_MBPS: None if sorted_mbps is None else sorted_mbps / 1e6,
            "p50 us": metrics.get("lat_p50_us"), "p99 us": metrics.get("lat_p99_us"),
            "p99.9 us": metrics.get("lat_p999_us"),
            SUPPLIED: None if job else metrics.get("iops_per_gb"),
            DEMANDED: demanded if demanded is not None else (metrics.get("iops_per_gb") if job else None),
            "wall s": metrics.get("wall_s"), "CPU %": metrics.get("cpu_util"), "device %": metrics.get("device_util")}


def group_figures(cases: list, job: bool) -> dict:
    """{quantity name: median over the successful repeats} of one case group."""
    per = [case_figures(c.get("metrics") or {}, job) for c in cases if not c.get("error")]
    return {name: median([f[name] for f in per if f[name] is not None]) for name in QUANTITIES}
