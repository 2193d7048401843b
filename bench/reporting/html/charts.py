"""The report's charts (matplotlib, embedded): latency percentile curves from latency bins, scaling curves, and
each case's monitor series (CPU per core, device busy %, device IOPS)."""
from __future__ import annotations

import statistics
from collections import Counter

from matplotlib import cm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bench.reporting.html.elements import (
    case_texts,
    esc,
    group_by_case,
    img,
    median_repeat,
    na,
    num,
    run_prefix,
    table,
)


def latency_percentiles(bins: dict) -> tuple:
    """fio json+ style bins {"<ns>": count} -> (latencies in us, cumulative fractions at each bin's midpoint).

    Midpoint fractions ((cumulative - count/2) / total) stay strictly inside (0, 1), so a logit axis can show them.
    """
    items = sorted((float(k), int(v)) for k, v in bins.items() if int(v) > 0)
    total = sum(c for _, c in items)
    xs, ys, cum = [], [], 0
    for ns, count in items:
        cum += count
        xs.append(ns / 1000.0)
        ys.append((cum - count / 2.0) / total)
    return xs, ys


def section_latency(docs) -> str:
    curves = {}  # direction -> {label: merged bins}
    for d in docs:
        texts = case_texts(d)
        for key, cases in group_by_case(d).items():
            for c in cases:
                if c.get("error"):
                    continue
                for direction, bins in (c.get("latency_bins_ns") or {}).items():
                    if not bins:
                        continue
                    label = run_prefix(docs, d) + texts[key]
                    merged = curves.setdefault(direction, {}).setdefault(label, Counter())
                    merged.update({k: int(v) for k, v in bins.items()})
    if not curves:
        return na("latency percentile curves (latency_bins_ns)")
    fig = Figure(figsize=(10, 4.2 * len(curves)))
    for i, (direction, by_label) in enumerate(sorted(curves.items())):
        ax = fig.add_subplot(len(curves), 1, i + 1)
        ax.set_prop_cycle(color=[cm.tab20(k % 20) for k in range(20)])
        for label, bins in sorted(by_label.items()):
            xs, ys = latency_percentiles(bins)
            if xs:
                ax.step(xs, ys, where="post", label=label)
        ax.set_xscale("log")
        ax.set_yscale("logit")
        lowest = min(y for bins in by_label.values() for y in latency_percentiles(bins)[1])
        ticks = [t for t in (0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999)
                 if t >= min(lowest, 0.01) and t <= 1 - min(lowest, 0.01)]
        ax.set_yticks(ticks, [f"{t * 100:g}" for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency (us, log)")
        ax.set_ylabel("percentile (logit scale)")
        ax.set_title(f"{direction} latency percentiles (repeats merged)")
        ax.grid(which="both", alpha=.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return img(fig, "latency percentile curves")


def section_scaling(docs) -> str:
    out = []
    for d in docs:
        points = [p for p in d.get("scaling") or [] if p.get("workers") is not None]
        if not points:
            continue
        lines = {}
        for p in points:
            where = f"{p.get('tier')}" + (f"/{p['temp_tier']}" if p.get("temp_tier") else "")
            lines.setdefault(f"{p.get('workload')} @ {where}", []).append(p)
        fig = Figure(figsize=(10, 3.8))
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for label, pts in sorted(lines.items()):
            pts.sort(key=lambda p: p["workers"])
            ws = [p["workers"] for p in pts]
            ax1.plot(ws, [p.get("throughput") for p in pts], marker="o", label=label)
            ax2.plot(ws, [p.get("efficiency") for p in pts], marker="o", label=label)
        workers = sorted({p["workers"] for p in points})
        for ax, what in ((ax1, "throughput (per s, log)"), (ax2, "efficiency (speedup / workers)")):
            ax.set_xscale("log", base=2)
            ax.set_xticks(workers, [str(w) for w in workers])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("workers")
            ax.set_ylabel(what)
            ax.grid(which="both", alpha=.3)
        ax1.set_yscale("log")
        ax2.set_ylim(0, 1.15)
        ax1.legend(fontsize=8)
        fig.suptitle(f"scaling: {d.get('run_id')}")
        fig.tight_layout()
        out.append(img(fig, f"scaling curves {d.get('run_id')}"))
        out.append(table(["workload", "tier", "temp", "workers", "throughput", "speedup", "efficiency",
                           "repeats", "bottleneck"],
                          [[esc(p.get("workload")), esc(p.get("tier")), esc(p.get("temp_tier")), esc(p.get("workers")),
                            num(p.get("throughput")), num(p.get("speedup")), num(p.get("efficiency")),
                            esc(p.get("repeats")), esc(p.get("bottleneck"))]
                           for p in sorted(points, key=lambda p: (str(p.get("workload")), str(p.get("tier")),
                                                                  str(p.get("temp_tier")), p["workers"]))], left=3))
    return "".join(out) or na("scaling")


def _device_names(doc: dict) -> dict:
    """{'loop0': 'hdd', ...}: the monitor names devices by kernel name; the report by tier."""
    out = {}
    for t in doc.get("tiers") or []:
        if t.get("device"):
            out.setdefault(str(t["device"]).rsplit("/", 1)[-1], t.get("name"))
    return out


def _monitor_figure(doc: dict, label: str, case: dict, repeats: int) -> str:
    mon = case["monitor"]
    series = mon["series"]
    t = series["t_s"]
    names = _device_names(doc)
    fig = Figure(figsize=(11, 2.5))
    ax_cpu, ax_busy, ax_iops = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    marker = "o" if len(t) < 12 else None
    per_core = series.get("cpu_busy_percent_per_core") or []
    if per_core:
        n = min(len(t), len(per_core))
        cores = max(len(s) for s in per_core[:n]) if n else 0
        columns = [[(s[i] if i < len(s) and s[i] is not None else float("nan")) for s in per_core[:n]]
                   for i in range(cores)]
        if cores <= 8:
            for i, col in enumerate(columns):
                ax_cpu.plot(t[:n], col, marker=marker, ms=3, lw=1, label=f"core {i}")
        else:
            rows = [[v for v in s if v is not None] for s in per_core[:n]]
            ax_cpu.fill_between(t[:n], [min(r) if r else float("nan") for r in rows],
                                [max(r) if r else float("nan") for r in rows], alpha=.25, label="min-max of cores")
            ax_cpu.plot(t[:n], [statistics.mean(r) if r else float("nan") for r in rows], lw=1.2, label="mean")
        ax_cpu.set_title(f"CPU busy per core ({cores} cores), %", fontsize=9)
    else:
        ax_cpu.set_title("CPU per core: not measured", fontsize=9)
    devices = sorted({k[: -len("_busy_percent")] for k in series if k.endswith("_busy_percent")})
    for dev in devices:
        name = names.get(dev, dev)
        busy = series.get(f"{dev}_busy_percent") or []
        n = min(len(t), len(busy))
        ax_busy.plot(t[:n], [float("nan") if v is None else v for v in busy[:n]], marker=marker, ms=3, lw=1,
                     label=f"{name} ({dev})")
        for direction, style in (("read", "-"), ("write", "--")):
            vals = series.get(f"{dev}_{direction}_iops") or []
            n = min(len(t), len(vals))
            ax_iops.plot(t[:n], [float("nan") if v is None else v for v in vals[:n]], style, marker=marker, ms=3,
                         lw=1, label=f"{name} {direction}")
    ax_busy.set_title("device busy, %" if devices else "device busy: not measured (no device)", fontsize=9)
    ax_iops.set_title("device IOPS (read solid, write dashed)" if devices else "device IOPS: not measured",
                      fontsize=9)
    for ax in (ax_cpu, ax_busy):
        ax.set_ylim(0, 105)
    for ax in (ax_cpu, ax_busy, ax_iops):
        ax.set_xlabel("time since the case started (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=.3)
        if ax.lines:
            ax.legend(fontsize=6, loc="best")
    shown = f"repeat {case.get('repeat')} of {repeats}, the median wall time" if repeats > 1 else "1 repeat"
    fig.suptitle(f"{label}  ({shown}; every {mon.get('interval_s')} s)", fontsize=9)
    fig.tight_layout()
    return img(fig, f"monitor {label}")


def section_monitor(docs) -> str:
    """Per case group: the median repeat's series (CPU per core, device busy %, device IOPS); groups whose cases
    ran shorter than one monitor interval, or have no monitor record (imported, interrupted), are named."""
    out = []
    for d in docs:
        figures, short, unmonitored, texts = [], [], 0, case_texts(d)
        for key, cases in group_by_case(d).items():
            label = run_prefix(docs, d) + texts[key]
            case = median_repeat(cases)
            if case is not None:
                figures.append(_monitor_figure(d, label, case, len(cases)))
            elif not any(c.get("monitor") for c in cases):
                unmonitored += 1
            elif any(not c.get("error") for c in cases):
                interval = next(c["monitor"].get("interval_s") for c in cases if c.get("monitor"))
                short.append(label + f" (shorter than one {interval} s interval)")
        if not figures and not short:
            continue
        out.append(f"<h3>{esc(d.get('run_id'))}</h3>")
        out.extend(figures)
        if short:
            out.append(na("monitor series of " + "; ".join(short), "no sample"))
        if unmonitored:
            out.append(na(f"{unmonitored} case(s) without a monitor record (imported or interrupted)",
                           "monitor series not measured"))
    return "".join(out) or na("monitor series")
