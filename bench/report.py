"""One self-contained HTML report from run documents: plain HTML and CSS, plots drawn with matplotlib (Agg, no
pyplot state) and embedded as data: URIs, no JavaScript and no external URL, so it opens offline and can be
attached to a CI job as a single file.

Sections, each shown only when its data exists ("not measured" otherwise): runs and machines, tiers, cases
(medians over repeats, with the bottleneck), IOPS per GB per tier, latency percentile curves (from fio json+
style `latency_bins_ns`), phase breakdown per tier layout, scaling curves, the monitor's CPU and device series,
and — with two or more runs — the comparison of each run against the first (bench.compare).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import statistics
from collections import Counter

from matplotlib import cm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bench import __version__
from bench.compare import compare_runs, group_cases, metric_values
from bench.compare_machines import across_machines
from bench.errors import UserError

__all__ = ["render_report", "latency_percentiles"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1150px;color:#222;
     padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em} table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td.l,th.l{text-align:left} .na{color:#888;font-style:italic}
.scroll{overflow-x:auto;max-width:100%}
img{max-width:100%;height:auto;display:block;margin:.5em 0;border:1px solid #eee}
.regressed,.failed{background:#fdd;color:#900;font-weight:bold} .improved{background:#dfd;color:#060}
.changed{background:#ffe9c4} .inconclusive{color:#888} .emu{color:#a60;font-weight:bold}
.meta{color:#555;font-size:.9em} nav a{margin-right:1em}
"""

_SUMMARY_METRICS = (("iops", "IOPS"), ("iops_per_gb", "IOPS/GB"), ("read_bytes_per_s", "read MB/s"),
                    ("write_bytes_per_s", "write MB/s"), ("lat_p50_us", "p50 us"), ("lat_p99_us", "p99 us"),
                    ("wall_s", "wall s"), ("cpu_util", "CPU %"), ("device_util", "device %"))


def _e(value) -> str:
    return html.escape("-" if value is None else str(value))


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    v = float(value)
    if v == 0 or not math.isfinite(v):
        return str(v if v else 0)
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.{digits}g}"
    return f"{v:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))}f}"


def _img(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _na(what: str) -> str:
    return f'<p class="na">{_e(what)}: not measured</p>'


def _table(headers, rows, left=1) -> str:
    head = "".join(f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cls = ""
        if isinstance(row, tuple) and len(row) == 2 and isinstance(row[1], str) and isinstance(row[0], list):
            row, cls = row
        cells = "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<div class=\"scroll\"><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _median(cases, metric):
    vals = metric_values(cases, metric)
    return statistics.median(vals) if vals else None


def _tier_label(doc: dict, name) -> str:
    for t in doc.get("tiers") or []:
        if t.get("name") == name:
            return f"{name} ({t.get('class')}{', emulated' if t.get('emulated') else ''})"
    return str(name)


# -- sections -----------------------------------------------------------------------------------------------

def _section_runs(docs) -> str:
    rows = []
    for d in docs:
        m = d.get("machine") or {}
        mem = m.get("memory_bytes")
        rows.append([_e(d.get("run_id")), _e(d.get("status")), _e(d.get("started_at")), _e(m.get("hostname")),
                     _e(m.get("cpu_model")), _e(m.get("cpus")), _e(None if mem is None else f"{mem / 1e9:.1f} GB"),
                     _e(m.get("kernel")), _e(m.get("product_name")), _e(m.get("fio_version")),
                     _e(d.get("harness_version"))])
    out = [_table(["run", "status", "started", "host", "CPU", "cpus", "memory", "kernel", "product", "fio",
                   "harness"], rows, left=11)]
    tier_rows = []
    for d in docs:
        for t in d.get("tiers") or []:
            emu = t.get("emulated")
            emu_text = ('<span class="emu">emulated</span> ' + _e(", ".join(f"{k}={v}" for k, v in emu.items()
                                                                          if k != "loop")) if isinstance(emu, dict)
                        else '<span class="emu">emulated</span>' if emu else "no")
            cap, nom = t.get("capacity_bytes"), t.get("nominal_capacity_bytes")
            tier_rows.append([_e(d.get("run_id")), _e(t.get("name")), _e(t.get("class")), _e(t.get("device")),
                              _e(None if cap is None else f"{cap / 1e9:.1f} GB"),
                              _e(None if nom is None else f"{nom / 1e9:.0f} GB"), emu_text])
    out.append("<h3>Tiers</h3>")
    out.append(_table(["run", "tier", "class", "device", "capacity", "nominal capacity", "emulated"], tier_rows, 7)
               if tier_rows else _na("tiers"))
    return "".join(out)


def _section_cases(docs) -> str:
    out = []
    for d in docs:
        rows = []
        for key, cases in group_cases(d).items():
            bottleneck = Counter(c.get("bottleneck") or "unknown" for c in cases if not c.get("error"))
            errors = sum(1 for c in cases if c.get("error"))
            rows.append(([_e(key[0]), _e(_tier_label(d, key[1]) if key[1] else "-"), _e(key[3]),
                          _e(", ".join(f"{k}={v}" for k, v in json.loads(key[4]).items())),
                          _e(len(cases)), _e(errors)]
                         + [_num(_median(cases, m) / 1e6 if m.endswith("bytes_per_s") and _median(cases, m) is not None
                                 else _median(cases, m)) for m, _ in _SUMMARY_METRICS]
                         + [_e(bottleneck.most_common(1)[0][0] if bottleneck else "-")],
                         "failed" if errors == len(cases) else ""))
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>")
        out.append(_table(["workload", "tier", "engine", "params", "repeats", "errors"]
                          + [label for _, label in _SUMMARY_METRICS] + ["bottleneck"], rows, left=4)
                   if rows else _na("cases"))
    return "".join(out)


def _section_iops_per_gb(docs) -> str:
    bars = {}  # (run, tier) -> {workload: value}
    for d in docs:
        for key, cases in group_cases(d).items():
            v = _median(cases, "iops_per_gb")
            if v is not None and v > 0:
                bars.setdefault((d.get("run_id"), _tier_label(d, key[1])), {})[key[0]] = v
    if not bars:
        return _na("IOPS per GB")
    workloads = sorted({w for v in bars.values() for w in v})
    groups = list(bars)
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(workloads))
    for i, w in enumerate(workloads):
        xs = [g + (i - (len(workloads) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [bars[g].get(w, 0) for g in groups], width, label=w)
    multi = len(docs) > 1
    ax.set_xticks(range(len(groups)), [f"{r}: {t}" if multi else t for r, t in groups], fontsize=8,
                  rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center")
    ax.set_yscale("log")
    ax.set_ylabel("IOPS per GB (10^9 bytes, log)")
    ax.set_title("IOPS per GB per tier")
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=.3)
    return _img(fig, "IOPS per GB per tier")


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


def _section_latency(docs) -> str:
    curves = {}  # direction -> {label: merged bins}
    for d in docs:
        for key, cases in group_cases(d).items():
            for c in cases:
                for direction, bins in (c.get("latency_bins_ns") or {}).items():
                    if not bins:
                        continue
                    label = (f"{d.get('run_id')}: " if len(docs) > 1 else "") + f"{key[0]} @ {key[1]}"
                    merged = curves.setdefault(direction, {}).setdefault(label, Counter())
                    merged.update({k: int(v) for k, v in bins.items()})
    if not curves:
        return _na("latency percentile curves (latency_bins_ns)")
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
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _img(fig, "latency percentile curves")


def _layout(doc, key, cases) -> str:
    params = json.loads(key[4])
    if params.get("data") or params.get("temp"):
        return f"data={params.get('data', '-')} temp={params.get('temp', '-')}"
    tiers = []
    for p in cases[0].get("phases") or []:
        if p.get("tier") and p["tier"] not in tiers:
            tiers.append(p["tier"])
    return "/".join(tiers) or str(key[1])


def _section_phases(docs) -> str:
    rows = []  # (label, {phase: median wall_s})
    for d in docs:
        for key, cases in group_cases(d).items():
            ok = [c for c in cases if not c.get("error") and c.get("phases")]
            if not ok:
                continue
            per_phase = {}
            for c in ok:
                for p in c["phases"]:
                    if p.get("wall_s") is not None:
                        per_phase.setdefault(f"{p.get('name')} @ {p.get('tier')}", []).append(float(p["wall_s"]))
            if per_phase:
                label = (f"{d.get('run_id')}: " if len(docs) > 1 else "") + f"{key[0]} [{_layout(d, key, ok)}]"
                rows.append((label, {k: statistics.median(v) for k, v in per_phase.items()}))
    if not rows:
        return _na("phase breakdown")
    multi_phase = [r for r in rows if len(r[1]) > 1]
    note = ""
    if multi_phase and len(multi_phase) < len(rows):
        note = f'<p class="meta">{len(rows) - len(multi_phase)} single-phase case(s) left out.</p>'
        rows = multi_phase
    phases = list(dict.fromkeys(p for _, ph in rows for p in ph))
    fig = Figure(figsize=(10, 1.2 + 0.45 * len(rows)))
    ax = fig.add_subplot()
    left = [0.0] * len(rows)
    for name in phases:
        widths = [ph.get(name, 0.0) for _, ph in rows]
        ax.barh(range(len(rows)), widths, left=left, label=name)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(range(len(rows)), [r for r, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("wall time (s, median over repeats)")
    ax.set_title("phase breakdown per tier layout")
    ax.legend(fontsize=7, ncol=min(4, len(phases)), loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.4 / len(rows)))
    return _img(fig, "phase breakdown") + note


def _section_scaling(docs) -> str:
    out = []
    for d in docs:
        points = [p for p in d.get("scaling") or [] if p.get("workers") is not None]
        if not points:
            continue
        lines = {}
        for p in points:
            lines.setdefault(f"{p.get('workload')} @ {p.get('tier')}", []).append(p)
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
        out.append(_img(fig, f"scaling curves {d.get('run_id')}"))
        out.append(_table(["workload", "tier", "workers", "throughput", "speedup", "efficiency", "bottleneck"],
                          [[_e(p.get("workload")), _e(p.get("tier")), _e(p.get("workers")), _num(p.get("throughput")),
                            _num(p.get("speedup")), _num(p.get("efficiency")), _e(p.get("bottleneck"))]
                           for p in sorted(points, key=lambda p: (str(p.get("workload")), str(p.get("tier")),
                                                                  p["workers"]))], left=2))
    return "".join(out) or _na("scaling")


def _section_monitor(docs) -> str:
    out = []
    for d in docs:
        series = ((d.get("monitor") or {}).get("series") or {})
        t = series.get("t_s")
        cpu = {k: v for k, v in series.items() if k.startswith("cpu_") and v}
        dev = {k: v for k, v in series.items() if k.endswith("_busy_percent") and v}
        if not t or not (cpu or dev):
            continue
        fig = Figure(figsize=(10, 5))
        for i, (group, title) in enumerate(((cpu, "CPU (%)"), (dev, "device busy (%)"))):
            ax = fig.add_subplot(2, 1, i + 1)
            for name, values in sorted(group.items()):
                n = min(len(t), len(values))
                ax.plot(t[:n], [float("nan") if v is None else v for v in values[:n]],
                        label=name.removesuffix("_percent"))
            ax.set_ylabel(title)
            ax.set_ylim(0, 105)
            ax.grid(alpha=.3)
            if group:
                ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.axes[-1].set_xlabel("time (s)")
        fig.suptitle(f"monitor: {d.get('run_id')} (every {d['monitor'].get('interval_s', '?')} s)")
        fig.tight_layout()
        out.append(_img(fig, f"monitor {d.get('run_id')}"))
    return "".join(out) or _na("monitor series")


def _section_compare(docs) -> str:
    if len(docs) < 2:
        return ""
    base, out = docs[0], []
    for new in docs[1:]:
        out.append(f"<h3>{_e(base.get('run_id'))} &rarr; {_e(new.get('run_id'))}</h3>")
        try:
            result = compare_runs(base, new)
        except UserError as e:
            out.append(f'<p class="meta">No regression verdicts: {_e(e)}. Side by side instead:</p>')
            out.append(_across_table(across_machines([base, new])))
            continue
        rows = []
        for entry in result["cases"]:
            first = True
            for r in entry["metrics"]:
                if r["direction"] in ("exact", "info") and r["verdict"] in ("equal", "inconclusive"):
                    continue
                ci = "-" if r["ci_low"] is None else f"{r['ci_low']:.3f} &ndash; {r['ci_high']:.3f}"
                verdict = r["verdict"] + (f" ({r['reason']})" if r["verdict"] == "inconclusive" and r["reason"] else "")
                rows.append(([_e(entry["case"]) if first else "", _e(r["metric"]), f"{r['n_base']}/{r['n_new']}",
                              _num(r["median_base"]), _num(r["median_new"]), _num(r["ratio"]), ci,
                              _num(r["p_value"], 2), f"{r['threshold_percent']:+g}%", _e(verdict)], r["verdict"]))
                first = False
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))
        out.append(f'<p class="meta">{"PASS" if result["passed"] else "FAIL"}: {_e(counts)}. Ratio = median NEW / '
                   f'median BASE, {int(result["confidence"] * 100)}% bootstrap CI, Mann-Whitney U p; '
                   f'regressed/improved when the CI lies beyond the threshold and p &lt; {result["alpha"]}.</p>')
        out.append(_table(["case", "metric", "n", "base", "new", "ratio", "CI", "p", "threshold", "verdict"], rows, 2))
        for label in result["only_in_base"] + result["only_in_new"]:
            out.append(f'<p class="meta">not in both runs: {_e(label)}</p>')
    return "".join(out)


def _across_table(result: dict) -> str:
    rows = [[_e(r["hostname"]), _e(r["run_id"]), _e(r["tier"]), _e(r["workload"]), _num(r["iops"]),
             _num(r["iops_per_gb"]), _num(None if r["bytes_per_s"] is None else r["bytes_per_s"] / 1e6),
             _num(r["lat_p99_us"])] for r in result["rows"]]
    rows += [[_e(r["hostname"]), _e(r["run_id"]), _e(r["tier"]), "terasort", "-", "-", "-",
              f"wall {_num(r['wall_s'])} s"] for r in result["terasort"]]
    return _table(["machine", "run", "tier", "workload", "IOPS", "IOPS/GB", "MB/s", "p99 us"], rows, 4)


def render_report(docs: list, title: str = "tierbench report") -> str:
    """The whole report as one HTML string (docs: run documents; with 2+ the first is the comparison base)."""
    if not docs:
        raise UserError("report needs at least one run")
    sections = [("runs", "Runs and machines", _section_runs(docs)), ("cases", "Cases", _section_cases(docs)),
                ("iops-per-gb", "IOPS per GB per tier", _section_iops_per_gb(docs)),
                ("latency", "Latency percentiles", _section_latency(docs)),
                ("phases", "Phase breakdown per tier layout", _section_phases(docs)),
                ("scaling", "Scaling", _section_scaling(docs)),
                ("monitor", "Monitor: CPU and devices", _section_monitor(docs))]
    if len(docs) > 1:
        sections.append(("compare", f"Comparison against {docs[0].get('run_id')}", _section_compare(docs)))
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>' for sid, name, content in sections)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
            f'<p class="meta">{len(docs)} run(s): {_e(", ".join(str(d.get("run_id")) for d in docs))}. '
            f"Generated {generated} by tierbench {_e(__version__)}. Emulated tiers are marked "
            f'<span class="emu">emulated</span>.</p><nav>{nav}</nav>{body}</body></html>\n')
