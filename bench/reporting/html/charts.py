"""The report's charts (matplotlib, embedded): latency percentile curves from latency bins, scaling curves, and
each case's monitor series (CPU per core, device busy %, device IOPS)."""
from __future__ import annotations

import statistics
from collections import Counter

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bench.reporting.html.axes import MAX_SERIES, chunks, colour, value_axis
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
    """One chart per direction, at most MAX_SERIES curves each (more: small multiples sharing the x scale)."""
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
        return ""
    panels = [(direction, part) for direction, by_label in sorted(curves.items())
              for part in chunks(sorted(by_label.items()))]
    every_x = [x for _, part in panels for _, bins in part for x in latency_percentiles(bins)[0]]
    lowest = min(y for _, part in panels for _, bins in part for y in latency_percentiles(bins)[1])
    fig = Figure(figsize=(10, 3.6 * len(panels)))
    for i, (direction, part) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        for j, (label, bins) in enumerate(part):
            xs, ys = latency_percentiles(bins)
            if xs:
                ax.step(xs, ys, where="post", label=label, color=colour(j))
        value_axis(ax, every_x, "latency (us)", axis="x")     # one x scale for every panel
        ax.set_yscale("logit")
        ticks = [t for t in (0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999)
                 if t >= min(lowest, 0.01) and t <= 1 - min(lowest, 0.01)]
        ax.set_yticks(ticks, [f"{t * 100:g}" for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("percentile (%, logit scale)")
        more = f" ({i + 1} of {len(panels)})" if len(panels) > 1 else ""
        ax.set_title(f"{direction} latency percentiles (repeats merged){more}")
        ax.grid(which="both", alpha=.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return img(fig, "latency percentile curves")


def _scaling_unit(points) -> tuple:
    """(axis label, divisor): sorted MB/s for jobs that sort, I/O MB/s (read + write) otherwise
    (bench.analysis.scaling.throughput)."""
    if all(p.get("workload") == "terasort" for p in points):
        return "sorted MB/s (10^6 bytes per s)", 1e6
    return "I/O MB/s (10^6 bytes per s, read + write)", 1e6


def section_scaling(docs) -> str:
    """Per run: throughput against workers with the ideal line (the 1-worker throughput times the workers, dotted)
    and efficiency (speedup / workers) against the ideal 1.0; linear axes from zero."""
    out = []
    for d in docs:
        points = [p for p in d.get("scaling") or [] if p.get("workers") is not None]
        if not points:
            continue
        lines = {}
        for p in points:
            where = f"{p.get('tier')}" + (f"/{p['temp_tier']}" if p.get("temp_tier") else "")
            lines.setdefault(f"{p.get('workload')} @ {where}", []).append(p)
        label, scale = _scaling_unit(points)
        panels = chunks(sorted(lines.items()))
        fig = Figure(figsize=(10, 3.8 * len(panels)))
        workers = sorted({p["workers"] for p in points})
        drawn = []
        for row, part in enumerate(panels):
            ax1, ax2 = fig.add_subplot(len(panels), 2, 2 * row + 1), fig.add_subplot(len(panels), 2, 2 * row + 2)
            for j, (name, pts) in enumerate(part):
                pts.sort(key=lambda p: p["workers"])
                ws = [p["workers"] for p in pts]
                tps = [None if p.get("throughput") is None else p["throughput"] / scale for p in pts]
                ax1.plot(ws, tps, marker="o", label=name, color=colour(j))
                ax2.plot(ws, [p.get("efficiency") for p in pts], marker="o", label=name, color=colour(j))
                one = next((p for p in pts if p.get("speedup") == 1.0 and p.get("throughput")), None)
                if one is not None:
                    ideal = [one["throughput"] / scale * w / one["workers"] for w in workers]
                    ax1.plot(workers, ideal, ":", color=colour(j), lw=1.2,
                             label=f"ideal: {one['workers']}-worker figure x workers" if j == 0 else None)
                    drawn += ideal
                drawn += [t for t in tps if t is not None]
            ax2.axhline(1.0, ls=":", color="#555", lw=1.2, label="ideal (1.0)")
            for ax in (ax1, ax2):
                ax.set_xlim(0, max(workers) * 1.08)
                ax.set_xticks(workers, [str(w) for w in workers])
                ax.set_xlabel("workers (count)")
                ax.grid(alpha=.3)
            ax2.set_ylim(0, 1.15)
            ax2.set_ylabel("efficiency (speedup / workers, 1 = ideal)")
            ax1.legend(fontsize=8)
        for ax in fig.axes[0::2]:
            value_axis(ax, drawn, label)     # one y scale for every panel of the run
        fig.suptitle(f"scaling: {d.get('run_id')}")
        fig.tight_layout()
        out.append(img(fig, f"scaling curves {d.get('run_id')}"))
        out.append(table(["workload", "tier", "temp", "workers", label.split(" (")[0], "speedup", "efficiency",
                           "repeats", "bottleneck"],
                          [[esc(p.get("workload")), esc(p.get("tier")), esc(p.get("temp_tier")), esc(p.get("workers")),
                            num(None if p.get("throughput") is None else p["throughput"] / scale),
                            num(p.get("speedup")), num(p.get("efficiency")),
                            esc(p.get("repeats")), esc(p.get("bottleneck"))]
                           for p in sorted(points, key=lambda p: (str(p.get("workload")), str(p.get("tier")),
                                                                  str(p.get("temp_tier")), p["workers"]))], left=3))
    return "".join(out)


def _device_names(doc: dict) -> dict:
    """{'loop0': 'hdd', ...}: the monitor names devices by kernel name; the report by tier."""
    out = {}
    for t in doc.get("tiers") or []:
        if t.get("device"):
            out.setdefault(str(t["device"]).rsplit("/", 1)[-1], t.get("name"))
    return out


def _monitor_figure(doc: dict, label: str, case: dict, repeats: int) -> str:
    """CPU busy per core, and where the case's tiers have a block device its busy % and IOPS; a tier without one
    (memory, tmpfs) gets the CPU chart alone and says why, rather than empty device axes."""
    mon = case["monitor"]
    series = mon["series"]
    t = series["t_s"]
    names = _device_names(doc)
    devices = sorted({k[: -len("_busy_percent")] for k in series if k.endswith("_busy_percent")})
    fig = Figure(figsize=(11 if devices else 5, 2.6))
    ax_cpu = fig.add_subplot(1, 3 if devices else 1, 1)
    marker = "o" if len(t) < 12 else None
    per_core = series.get("cpu_busy_percent_per_core") or []
    if per_core:
        n = min(len(t), len(per_core))
        cores = max(len(s) for s in per_core[:n]) if n else 0
        columns = [[(s[i] if i < len(s) and s[i] is not None else float("nan")) for s in per_core[:n]]
                   for i in range(cores)]
        if cores <= MAX_SERIES:
            for i, col in enumerate(columns):
                ax_cpu.plot(t[:n], col, marker=marker, ms=3, lw=1, label=f"core {i}", color=colour(i))
        else:
            rows = [[v for v in s if v is not None] for s in per_core[:n]]
            ax_cpu.fill_between(t[:n], [min(r) if r else float("nan") for r in rows],
                                [max(r) if r else float("nan") for r in rows], alpha=.25, label="min-max of cores",
                                color=colour(0))
            ax_cpu.plot(t[:n], [statistics.mean(r) if r else float("nan") for r in rows], lw=1.2, label="mean",
                        color=colour(0))
        ax_cpu.set_title(f"CPU busy per core ({cores} cores)", fontsize=9)
    else:
        ax_cpu.set_title("CPU per core: not measured", fontsize=9)
    axes = [(ax_cpu, "CPU busy (%)")]
    if devices:
        ax_busy, ax_iops = fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3)
        for j, dev in enumerate(devices[:MAX_SERIES]):
            name = names.get(dev, dev)
            busy = series.get(f"{dev}_busy_percent") or []
            n = min(len(t), len(busy))
            ax_busy.plot(t[:n], [float("nan") if v is None else v for v in busy[:n]], marker=marker, ms=3, lw=1,
                         label=f"{name} ({dev})", color=colour(j))
            for direction, style in (("read", "-"), ("write", "--")):
                vals = series.get(f"{dev}_{direction}_iops") or []
                n = min(len(t), len(vals))
                ax_iops.plot(t[:n], [float("nan") if v is None else v for v in vals[:n]], style, marker=marker,
                             ms=3, lw=1, label=f"{name} {direction}", color=colour(j))
        ax_busy.set_title("device busy", fontsize=9)
        ax_iops.set_title("device IOPS (read solid, write dashed)", fontsize=9)
        drawn = [v for line in ax_iops.lines for v in line.get_ydata() if v == v]
        value_axis(ax_iops, drawn, "IOPS (per s)")
        axes += [(ax_busy, "device busy (%)"), (ax_iops, None)]
    for ax, ylabel in axes:
        if ylabel:
            ax.set_ylim(0, 105)
            ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlim(0, max(t) if t and max(t) > 0 else 1)
        ax.set_xlabel("time since the case started (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=.3)
        if ax.lines:
            ax.legend(fontsize=6, loc="best")
    shown = (f"repeat {int(case.get('repeat') or 0) + 1} of {repeats}, the median wall time" if repeats > 1
             else "1 repeat")
    nodev = "" if devices else "; no block device behind its tiers: device busy and IOPS not measured"
    fig.suptitle(f"{label}  ({shown}; every {mon.get('interval_s')} s{nodev})", fontsize=9)
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
    return "".join(out)
