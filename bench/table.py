"""The run table: one row per (tier, workload, engine, parameters), medians over repeats."""
from __future__ import annotations

import json
import statistics
from collections import OrderedDict

from rich.table import Table

from bench.output import fmt_number

COLUMNS = (("IOPS", "iops", 1), ("MB/s", "bytes_per_s", 1e-6), ("p50 us", "lat_p50_us", 1),
           ("p99 us", "lat_p99_us", 1), ("p99.9 us", "lat_p999_us", 1), ("IOPS/GB", "iops_per_gb", 1),
           ("demands IOPS/GB", "demanded_iops_per_gb", 1),
           ("wall s", "wall_s", 1), ("CPU %", "cpu_util", 1))


def _value(metrics: dict, key: str):
    if key == "bytes_per_s":
        parts = [metrics.get("read_bytes_per_s"), metrics.get("write_bytes_per_s")]
        parts = [p for p in parts if p is not None]
        return sum(parts) if parts else None
    return metrics.get(key)


def grouped(doc: dict) -> "OrderedDict":
    groups = OrderedDict()
    for c in doc.get("cases", []):
        params = json.dumps(c.get("params", {}), sort_keys=True)
        key = (c.get("tier"), c.get("temp_tier"), c["workload"], c.get("engine"), params, c.get("workers"),
               bool(c.get("cache")), c.get("label"))
        groups.setdefault(key, []).append(c)
    return groups


def median_metric(cases: list, key: str):
    values = [v for v in (_value(c.get("metrics") or {}, key) for c in cases if not c.get("error"))
              if v is not None]
    return statistics.median(values) if values else None


def supplied_iops_per_gb(doc: dict) -> dict:
    """{tier: IOPS per GB it supplies}: the best median of the run's rand-read-4k groups on that tier."""
    out = {}
    for (tier, _, workload, *_rest), cases in grouped(doc).items():
        value = median_metric(cases, "iops_per_gb") if workload == "rand-read-4k" else None
        if value is not None:
            out[tier] = max(out.get(tier, 0.0), value)
    return out


def _params_text(params_json: str) -> str:
    params = json.loads(params_json)
    return " ".join(f"{k}={v}" for k, v in params.items()
                    if k not in ("size", "runtime_s", "document", "groupid") and v is not None) or "-"


def _case_label(params_json: str, workers, cache) -> str:
    text = _params_text(params_json)
    extra = ([f"workers={workers}"] if workers else []) + (["cache"] if cache else [])
    return " ".join([t for t in [text] if t != "-"] + extra) or "-"


CHECKSUM_MARK = " (crc)"
CHECKSUM_NOTE = ("(crc): the builtin engine computed HDFS CRC32C checksums that fio does not, so the fio/builtin "
                 "ratio compares different work; rerun with --param checksums=false to compare the I/O alone")


def _computed_checksums(cases: list) -> bool:
    """Whether a builtin case group computed checksums (its phase records count them)."""
    return any((p.get("checksums") or 0) > 0 for c in cases if not c.get("error") for p in c.get("phases") or [])


def run_table(doc: dict) -> Table:
    tiers = {t["name"]: t for t in doc.get("tiers", [])}
    rows = []
    flagged = False
    groups = grouped(doc)
    supplied = supplied_iops_per_gb(doc)
    m_demand = lambda cases: median_metric(cases, "demanded_iops_per_gb")  # noqa: E731
    for (tier, temp, workload, engine, params, workers, cache, step), cases in groups.items():
        label = tier + (f" (emulated {tiers[tier]['class']})" if tiers.get(tier, {}).get("emulated") else "")
        if temp and temp != tier:
            label += f" / temp {temp}"
        ok = [c for c in cases if not c.get("error")]
        cells = [fmt_number(None if (m := median_metric(cases, key)) is None else m * scale)
                 for _, key, scale in COLUMNS]
        verdicts = sorted({c.get("bottleneck") or "unknown" for c in ok}) or ["-"]
        ratio = "-"
        if engine in ("fio", "builtin"):
            other = groups.get((tier, temp, workload, "builtin" if engine == "fio" else "fio", params, workers,
                                cache, step))
            mine, theirs = median_metric(cases, "iops"), median_metric(other or [], "iops")
            if mine and theirs:
                ratio = f"{(mine / theirs if engine == 'fio' else theirs / mine):.2f}"
                if _computed_checksums(cases if engine == "builtin" else other):
                    ratio += CHECKSUM_MARK
                    flagged = True
        n = f"{len(ok)}" + (f" ({len(cases) - len(ok)} failed)" if len(ok) < len(cases) else "")
        workload_text = workload + (f" [{step}]" if step else "")
        rows.append([label, workload_text, engine, _case_label(params, workers, cache), n, *cells,
                     "/".join(verdicts), ratio])
        rows[-1].append(fmt_number(supplied.get(tier)) if m_demand(cases) is not None else "-")
    titles = (["tier", "workload", "engine", "params", "n"] + [t for t, _, _ in COLUMNS]
              + ["bound", "fio/builtin", "tier supplies IOPS/GB"])
    keep = [i for i, title in enumerate(titles) if i < 5 or any(r[i] not in ("-", "unknown") for r in rows)]
    table = Table(title=f"run {doc['run_id']} ({doc.get('status')})", title_justify="left",
                  caption=CHECKSUM_NOTE if flagged else None, caption_justify="left")
    for i in keep:
        table.add_column(titles[i], justify="left" if i < 5 or titles[i] == "bound" else "right")
    for r in rows:
        table.add_row(*[r[i] for i in keep])
    return table


def failures(doc: dict) -> list:
    return [f"case {c['id']} {c['workload']} on {c['tier']}: {c['error']}" for c in doc.get("cases", [])
            if c.get("error")]


def phases_table(doc: dict):
    """Per job case group: each phase's wall and CPU seconds, MB moved per tier, and its verdict (medians)."""
    rows = []
    for (tier, temp, workload, engine, params, workers, cache, step), cases in grouped(doc).items():
        ok = [c for c in cases if not c.get("error") and c.get("phases")]
        if not ok or engine != "job":
            continue
        layout = (f"{workload}{f' [{step}]' if step else ''} data {tier} temp {temp or tier}"
                  + (f" workers={workers}" if workers else "") + (" cache" if cache else ""))
        for i, phase in enumerate(ok[0]["phases"]):
            same = [c["phases"][i] for c in ok if len(c["phases"]) > i]
            med = lambda key: statistics.median([p.get(key) or 0 for p in same])  # noqa: E731
            ios = phase.get("io") or {phase.get("role", "data"): phase}
            moved = ", ".join(f"{io.get('tier')} r{(io.get('bytes_read') or 0) / 1e6:.0f}/w"
                              f"{(io.get('bytes_written') or 0) / 1e6:.0f} MB" for io in ios.values())
            rows.append([layout if i == 0 else "", phase["name"], fmt_number(med("wall_s")),
                         fmt_number(med("cpu_s")), moved,
                         "/".join(sorted({p.get("bottleneck") or "unknown" for p in same}))])
    if not rows:
        return None
    table = Table(title="phases (medians over repeats)", title_justify="left")
    for col in ("case", "phase", "wall s", "CPU s", "I/O per tier", "bound"):
        table.add_column(col, justify="right" if col in ("wall s", "CPU s") else "left")
    for r in rows:
        table.add_row(*r)
    return table


def scaling_table(doc: dict):
    rows = doc.get("scaling") or []
    if not rows:
        return None
    table = Table(title="scaling with workers", title_justify="left")
    for col in ("workload", "tier", "workers", "MB/s", "speedup", "efficiency", "bound"):
        table.add_column(col, justify="right" if col in ("workers", "MB/s", "speedup", "efficiency") else "left")
    for r in rows:
        tier = r["tier"] + (f" / temp {r['temp_tier']}" if r.get("temp_tier") and r["temp_tier"] != r["tier"] else "")
        table.add_row(r["workload"], tier, str(r["workers"]), fmt_number(r["throughput"] / 1e6),
                      f"{r['speedup']:.2f}x", f"{r['efficiency']:.0%}", r["bottleneck"])
    return table
