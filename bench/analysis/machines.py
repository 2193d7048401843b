"""Comparing machines (`tierbench compare --across-machines`): per machine and tier, IOPS, IOPS per GB,
throughput, p99 and terasort time, and with prices IOPS per dollar-hour and dollars per TB sorted
(CloudSort-style), the price and its source recorded with the comparison. A comparison, never a gate."""
from __future__ import annotations

import math
from typing import Optional

from bench.analysis.compare import case_identity, group_cases, median_metric
from bench.core.errors import UserError

_RECORD_BYTES = 100  # a terasort record (gensort format)


def parse_price(expr: str) -> tuple:
    """`RUN=USD_PER_HOUR` -> (run ref, price); UserError if malformed or not positive."""
    run, sep, value = (expr or "").partition("=")
    try:
        price = float(value)
    except ValueError:
        price = math.nan
    if not sep or not run.strip() or not math.isfinite(price) or price <= 0:
        raise UserError(f"--price {expr!r}: expected RUN=USD_PER_HOUR with a positive price (e.g. {run or 'RUN'}=0.624)")
    return run.strip(), price


def data_bytes(params: dict) -> Optional[float]:
    """Bytes a terasort case sorted, from its parameters (data_bytes/size/bytes, or records/rows x 100)."""
    for name in ("data_bytes", "size_bytes", "size", "bytes"):
        v = params.get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v)
    for name in ("records", "rows"):
        v = params.get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v) * _RECORD_BYTES
    return None


def across_machines(docs: list, prices: Optional[dict] = None, price_source: Optional[str] = None) -> dict:
    """Per run (machine) and tier and workload: median IOPS, IOPS per GB, throughput, p99 latency; terasort
    wall time and, with a price (USD per hour, per run id), IOPS per dollar-hour and dollars per TB sorted
    (CloudSort-style: price * wall_s / 3600 / TB sorted, TB = 10^12 bytes)."""
    prices = dict(prices or {})
    runs, rows, sorts = [], [], []
    for doc in docs:
        rid = doc.get("run_id")
        m = doc.get("machine") or {}
        price = prices.get(rid)
        runs.append({"run_id": rid, "hostname": m.get("hostname"), "cpu_model": m.get("cpu_model"),
                     "product_name": m.get("product_name"), "cpus": m.get("cpus"),
                     "price_usd_per_hour": price, "price_source": price_source if price is not None else None})
        tiers = {t.get("name"): t for t in doc.get("tiers") or []}
        for key, cases in group_cases(doc).items():
            ident = case_identity(key)
            workload, tier = ident["workload"], ident["tier"]
            t = tiers.get(tier) or {}
            common = {"run_id": rid, "hostname": m.get("hostname"), **ident, "tier_class": t.get("class"),
                      "emulated": bool(t.get("emulated"))}
            if workload == "terasort":
                wall = median_metric(cases, "wall_s")
                if wall is None:
                    continue
                size = data_bytes(common["params"])
                usd_per_tb = (price * wall / 3600.0 / (size / 1e12)) if price and size else None
                sorts.append(dict(common, wall_s=wall, data_bytes=size, usd_per_tb_sorted=usd_per_tb,
                                  price_usd_per_hour=price))
                continue
            iops = median_metric(cases, "iops")
            rd, wr = median_metric(cases, "read_bytes_per_s"), median_metric(cases, "write_bytes_per_s")
            throughput = None if rd is None and wr is None else (rd or 0.0) + (wr or 0.0)
            row = dict(common, iops=iops, iops_per_gb=median_metric(cases, "iops_per_gb"), bytes_per_s=throughput,
                       lat_p99_us=median_metric(cases, "lat_p99_us"), wall_s=median_metric(cases, "wall_s"),
                       repeats=len(cases), price_usd_per_hour=price,
                       iops_per_usd_hour=(iops / price) if (iops is not None and price) else None)
            rows.append(row)
    return {"mode": "across-machines", "runs": runs, "price_source": price_source, "rows": rows,
            "terasort": sorts, "exit_code": 0}


# The machine-level fields of the hardware class (bench.analysis.machine_class): CPU model, CPU count, memory to
# the GiB. Hostnames, kernels and tool versions change on one machine.
MACHINE_CLASS_FIELDS = ("cpu_model", "cpus", "memory_gib")


def same_machine_class(a: Optional[dict], b: Optional[dict]) -> bool:
    """True when two run documents' `machine` fingerprints agree on MACHINE_CLASS_FIELDS, each of them known
    (a fingerprint missing one of them matches nothing: not knowing is not agreeing)."""
    from bench.analysis.machine_class import machine_class

    a, b = machine_class(a), machine_class(b)
    return all(a.get(f) is not None and a.get(f) == b.get(f) for f in MACHINE_CLASS_FIELDS)
