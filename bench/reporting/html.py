"""One self-contained HTML report from run documents: plain HTML and CSS, plots drawn with matplotlib (Agg, no
pyplot state) and embedded as data: URIs, no JavaScript and no external URL, so it opens offline and can be
attached to a CI job as a single file.

Cases are grouped by the one case identity, bench.core.case.case_key (workload, tier, temp tier, engine, params,
workers, cache, scenario step label, container memory): repeats of a case share it, and every scenario step is
its own case, shown under its label.

Sections, each shown only when its data exists ("not measured" otherwise): runs and machines; a scenario's
findings (bench.scenarios.hadoop_tempdata.findings, recomputed from the run's measurements) with the sort runtime of every step (median
bar, min-max whisker over repeats); the cluster model (bench.scenarios.hadoop_tempdata.cluster_model) with its assumptions; cases (medians
over repeats, with the bottleneck); the phases of each step; IOPS per GB; latency percentile curves (from fio
json+ style `latency_bins_ns`); scaling curves; each case's monitor series (CPU per core, device busy %, device
IOPS; stored per case as `case["monitor"] = {"interval_s", "series"}`); and with two or more runs the comparison
of each run against the first (bench.analysis.compare).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import statistics
from collections import Counter

from matplotlib import cm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bench import __version__
from bench.analysis.compare import compare_runs, median_metric, metric_values
from bench.analysis.machines import across_machines
from bench.analysis.stats import median
from bench.core.case import case_key, case_key_dict
from bench.core.errors import UserError

__all__ = ["render_report", "latency_percentiles", "group_by_case", "step_text", "case_texts"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1320px;color:#222;
     padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em} table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td.l,th.l{text-align:left} td.w{white-space:normal;min-width:14em;max-width:30em}
.na{color:#888;font-style:italic}
.scroll{overflow-x:auto;max-width:100%}
img{max-width:100%;height:auto;display:block;margin:.5em 0;border:1px solid #eee}
.regressed,.failed,.refuted,.contra-indicated,.not-confirmed{background:#fdd;color:#900;font-weight:bold}
.improved,.confirmed{background:#dfd;color:#060} .indicated{background:#efe;color:#060}
.changed{background:#ffe9c4} .inconclusive,.configured-not-measured,.not-measured{color:#888} .emu{color:#a60;font-weight:bold}
.meta{color:#555;font-size:.9em} nav a{margin-right:1em}
"""

_SUMMARY_METRICS = (("iops", "IOPS"), ("iops_per_gb", "IOPS/GB"), ("read_bytes_per_s", "read MB/s"),
                    ("write_bytes_per_s", "write MB/s"), ("lat_p50_us", "p50 us"), ("lat_p99_us", "p99 us"),
                    ("wall_s", "wall s"), ("cpu_util", "CPU %"), ("device_util", "device %"))
RUNTIME_METRIC = "sort_s"     # a terasort step's runtime: the sort job (map + reduce), as bench.scenarios.hadoop_tempdata.findings uses
# What the hadoop-tempdata steps whose key does not show it did (bench/scenarios/hadoop_tempdata/scenario.py).
_HALVED_STEPS = ("a-half", "e")


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


def _na(what: str, why: str = "not measured") -> str:
    return f'<p class="na">{_e(what)}: {_e(why)}</p>'


def _table(headers, rows, left=1, wrap=()) -> str:
    """rows: lists of HTML cells, or (cells, row class). Columns < left are left-aligned; those in wrap wrap."""
    def cell(tag, i, c):
        cls = " ".join(x for x in ("l" if i < left or i in wrap else "", "w" if i in wrap else "") if x)
        return f'<{tag} class="{cls}">{c}</{tag}>' if cls else f"<{tag}>{c}</{tag}>"

    head = "".join(cell("th", i, _e(h)) for i, h in enumerate(headers))
    body = []
    for row in rows:
        cls = ""
        if isinstance(row, tuple) and len(row) == 2 and isinstance(row[1], str) and isinstance(row[0], list):
            row, cls = row
        cells = "".join(cell("td", i, c) for i, c in enumerate(row))
        body.append(f'<tr class="{_e(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<div class=\"scroll\"><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _tier_label(doc: dict, name) -> str:
    for t in doc.get("tiers") or []:
        if t.get("name") == name:
            return f"{name} ({t.get('class')}{', emulated' if t.get('emulated') else ''})"
    return str(name)


def _run_prefix(docs, doc) -> str:
    return f"{doc.get('run_id')}: " if len(docs) > 1 else ""


def group_by_case(doc: dict) -> dict:
    """{bench.core.case.case_key: [case, ...]} in document order: repeats of one case share a key."""
    groups: dict = {}
    for case in doc.get("cases") or []:
        groups.setdefault(case_key(case), []).append(case)
    return groups


def step_text(key: tuple, doc: dict = None, varying=frozenset()) -> str:
    """A case as a short line: its step label first (a scenario step), then what sets it apart: the tiers
    (data/temp for a job), cache, workers, the params in `varying` ({(workload, param)}), engine (patterns)."""
    d = case_key_dict(key)
    job = d["engine"] == "job" or d["temp_tier"] is not None
    parts = [f"{d['label']}:" if d["label"] else "", str(d["workload"])]
    if job:
        parts.append(f"data {d['tier']}, temp {d['temp_tier'] or d['tier']}")
    else:
        parts.append(f"@ {d['tier']}" + (f" ({d['engine']})" if d["engine"] else ""))
    parts += [f"{k}={v}" for k, v in d["params"].items() if (d["workload"], k) in varying]
    if d["cache"]:
        parts.append("+ page cache")
    if d["workers"] not in (None, 1):
        parts.append(f"{d['workers']} workers")
    if d["label"] in _HALVED_STEPS and ((doc or {}).get("scenario") or {}).get("half"):
        parts.append(f"[half the hdd drives: {doc['scenario']['half']}]")
    return " ".join(p for p in parts if p)


def case_texts(doc: dict) -> dict:
    """{case key: step_text} for every case group of a run, naming the params that tell its groups apart."""
    groups = group_by_case(doc)
    varying, _ = _varying_params(groups)
    return {key: step_text(key, doc, varying) for key in groups}


def _varying_params(groups) -> tuple:
    """(params that differ between groups of the same workload, {workload: params common to all its groups})."""
    by_workload: dict = {}
    for key in groups:
        d = case_key_dict(key)
        by_workload.setdefault(d["workload"], []).append(d["params"])
    varying, common = set(), {}
    for workload, plist in by_workload.items():
        names = {k for p in plist for k in p}
        same = {k: plist[0].get(k) for k in names if all(p.get(k) == plist[0].get(k) for p in plist)}
        varying |= {(workload, k) for k in names - set(same)}
        common[workload] = same
    return varying, common


# -- sections -----------------------------------------------------------------------------------------------

def _section_runs(docs) -> str:
    rows = []
    for d in docs:
        m = d.get("machine") or {}
        mem = m.get("memory_bytes")
        scen = d.get("scenario") or {}
        kind = (f"scenario {scen.get('name')}" + (" quick" if scen.get("quick") else "")
                + (f", {scen.get('repeats')} repeat(s)" if scen.get("repeats") else "")) if scen else \
            ("imported" if d.get("imported") else "run")
        rows.append(([_e(d.get("run_id")), _e(kind), _e(d.get("status")), _e(len(d.get("cases") or [])),
                      _e(d.get("started_at")), _e(m.get("hostname")), _e(m.get("cpu_model")), _e(m.get("cpus")),
                      _e(None if mem is None else f"{mem / 1e9:.1f} GB"), _e(m.get("kernel")),
                      _e(m.get("product_name")), _e(m.get("fio_version")), _e(d.get("harness_version"))],
                     "failed" if d.get("status") in ("failed", "interrupted") else ""))
    out = [_table(["run", "kind", "status", "cases", "started", "host", "CPU", "cpus", "memory", "kernel",
                   "product", "fio", "harness"], rows, left=13)]
    tier_rows = []
    for d in docs:
        for t in d.get("tiers") or []:
            emu = t.get("emulated")
            emu_text = ('<span class="emu">emulated</span> ' + _e(_emulation_text(emu)) if isinstance(emu, dict)
                        else '<span class="emu">emulated</span>' if emu else "no")
            cap, nom = t.get("capacity_bytes"), t.get("nominal_capacity_bytes")
            tier_rows.append([_e(d.get("run_id")), _e(t.get("name")), _e(t.get("class")), _e(t.get("device")),
                              _e(None if cap is None else f"{cap / 1e9:.1f} GB"),
                              _e(None if nom is None else f"{nom / 1e9:.0f} GB"), emu_text])
    out.append("<h3>Tiers</h3>")
    out.append(_table(["run", "tier", "class", "device", "capacity", "nominal capacity", "emulated"], tier_rows, 7)
                if tier_rows else _na("tiers"))
    return "".join(out)


def _emulation_text(emu: dict) -> str:
    """An emulated tier's throttle in words: '4 drive(s), 600 IOPS, 720 MB/s' or 'unthrottled'."""
    limits = [f"{emu['iops']:g} IOPS" if emu.get("iops") else "", f"{emu['mbps']:g} MB/s" if emu.get("mbps") else ""]
    limits = [x for x in limits if x]
    return ", ".join([f"{emu['drives']} drive(s)"] if emu.get("drives") else []) + (
        (", " if emu.get("drives") else "") + (", ".join(limits) if limits else "unthrottled")) + (
        f"; {emu['backing']}" if emu.get("backing") else "")


def _is_scenario(doc) -> bool:
    return bool(doc.get("scenario")) or any(c.get("label") for c in doc.get("cases") or [])


def _verdict_class(verdict) -> str:
    """A verdict as a CSS class: "contra-indicated", "configured-not-measured", ..."""
    return str(verdict or "").replace(",", "").replace(" ", "-")


def _findings_table(found: list) -> str:
    """One row per finding (bench.scenarios.hadoop_tempdata.findings): the claim and its form, the figure, the verdict with its repeat
    count, the threshold it was judged against, why, and any comparison set aside as noise."""
    rows = []
    for f in found:
        threshold = f.get("threshold")
        rule = threshold.get("rule") if isinstance(threshold, dict) else threshold
        reason = f.get("reason") or ""
        noise = "; ".join(f.get("noise") or [])
        rows.append(([_e(f.get("claim")), _e(f.get("form")), _e(f.get("figure")),
                      _e(f.get("verdict_text") or f.get("verdict")), _e(rule), _e(reason + (f" [{noise}]" if noise else ""))],
                     _verdict_class(f.get("verdict"))))
    return _table(["claim", "form", "figure", "verdict", "threshold", "why"], rows, left=6, wrap=(0, 2, 4, 5))


def _runtime_bars(doc) -> str:
    """Horizontal bars: each step's median sort runtime over repeats, a min-max whisker and every repeat as a dot."""
    steps = []
    for key, cases in group_by_case(doc).items():
        d = case_key_dict(key)
        values = metric_values(cases, RUNTIME_METRIC)
        if d["workload"] != "terasort" or not d["label"]:
            continue
        steps.append((step_text(key, doc).replace("terasort ", ""), values, len(cases)))
    if not steps:
        return _na("runtime per step (terasort sort_s)")
    measured = [s for s in steps if s[1]]
    fig = Figure(figsize=(10, 1.0 + 0.42 * len(steps)))
    ax = fig.add_subplot()
    for i, (_, values, n) in enumerate(steps):
        if not values:
            ax.text(0, i, f"  not measured ({n} failed)", va="center", fontsize=8, color="#900")
            continue
        med, low, high = median(values), min(values), max(values)
        ax.barh(i, med, color="#4c78a8", height=0.6)
        ax.errorbar(med, i, xerr=[[med - low], [high - med]], fmt="none", ecolor="#222", capsize=4, lw=1.2)
        ax.plot(values, [i] * len(values), "o", ms=3.5, color="#f58518", zorder=3)
        ax.text(high, i, f"  {med:.2f} s (n={len(values)}" + (f", {low:.2f}-{high:.2f}" if len(values) > 1 else "")
                + ")", va="center", fontsize=8)
    ax.set_yticks(range(len(steps)), [s[0] for s in steps], fontsize=8)
    ax.invert_yaxis()
    top = max((max(v) for _, v, _ in measured), default=1.0)
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel("sort runtime, map + reduce (s): bar median over repeats, whisker min-max, dots each repeat")
    ax.set_title(f"{doc.get('run_id')}: runtime per step")
    ax.grid(axis="x", alpha=.3)
    return _img(fig, f"runtime per step {doc.get('run_id')}")


def _section_findings(docs) -> str:
    from bench.scenarios.hadoop_tempdata import findings as findings_mod

    out = []
    for d in docs:
        if not _is_scenario(d):
            continue
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>")
        found = findings_mod.findings(d)
        if found:
            header = getattr(findings_mod, "header", None)
            note = header(found) if callable(header) else ""
            out.append('<p class="meta">Recomputed by this tierbench from the run\'s measurements (bench/scenarios/hadoop_tempdata/findings.py)'
                       + (f": {_e(note)}" if note else ".") + "</p>")
            out.append(_findings_table(found))
        out.append(_runtime_bars(d))
    return "".join(out) or _na("findings", "no scenario run among these runs (tierbench scenario hadoop-tempdata)")


def _section_model(docs) -> str:
    from bench.scenarios.hadoop_tempdata import cluster_model

    out = []
    for d in docs:
        if not any(c.get("workload") == "terasort" for c in d.get("cases") or []):
            continue
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>")
        try:
            result = cluster_model.model(d)
        except UserError as e:
            out.append(_na("cluster model", str(e)))
            continue
        rows = []
        for lay in result["layouts"]:
            name = f"data {lay['data_tier']}, temp {lay['temp_tier']}" + (" + page cache" if lay.get("cache") else "")
            if "error" in lay:
                rows.append(([_e(name), _e(lay["error"])] + ["-"] * 6, "failed"))
                continue
            rows.append([_e(name), _e(lay.get("drives")), _e(lay.get("drives_limited_by")), _e(lay.get("nodes")),
                         _num(lay.get("demanded_iops_per_gb")), _num(lay.get("supplied_iops_per_gb")),
                         _num(lay.get("cpu_bound_threads_per_drive")), _num(lay.get("usd_per_tb"))])
        out.append(_table(["layout", "drives", "limited by", "nodes", "IOPS/GB demanded", "IOPS/GB supplied",
                           "CPU-bound below threads/drive", "USD per TB"], rows, left=1))
        scope = result.get("scope")
        out.append('<p class="meta">' + (f"Counted: {_e(scope)}. " if scope else "")
                   + "Formulas: bench/scenarios/hadoop_tempdata/cluster_model.py; change an assumption with "
                   "<code>tierbench model RUN --help</code>.</p>")
        out.append("<h4>Assumptions</h4>" + _assumptions(result))
    return "".join(out) or _na("cluster model", "no terasort case among these runs")


def _assumptions(result: dict) -> str:
    """Every parameter the model assumed, with its unit and source (bench.scenarios.hadoop_tempdata.cluster_model: "assumed" where none)."""
    listed = result.get("assumptions")
    if isinstance(listed, list):
        rows = [[_e(a.get("name")), _e(a.get("value")), _e(a.get("unit")), _e(a.get("source"))] for a in listed]
    else:
        rows = [[_e(k), _e(v), "", "assumed (no source given)"] for k, v in (result.get("params") or {}).items()]
    return _table(["parameter", "value", "unit", "source"], rows, left=1, wrap=(3,))


def _section_cases(docs) -> str:
    out = []
    for d in docs:
        groups = group_by_case(d)
        varying, common = _varying_params(groups)
        rows = []
        for key, cases in groups.items():
            k = case_key_dict(key)
            bottleneck = Counter(c.get("bottleneck") or "unknown" for c in cases if not c.get("error"))
            errors = sum(1 for c in cases if c.get("error"))
            params = ", ".join(f"{p}={v}" for p, v in k["params"].items() if (k["workload"], p) in varying)
            medians = [median_metric(cases, m) for m, _ in _SUMMARY_METRICS]
            medians = [v / 1e6 if v is not None and m.endswith("bytes_per_s") else v
                       for v, (m, _) in zip(medians, _SUMMARY_METRICS)]
            rows.append(([_e(k["label"]), _e(k["workload"]), _e(k["tier"]),
                          _e(k["temp_tier"]), _e(k["engine"]), _e(params or "-"), _e(k["workers"]),
                          "yes" if k["cache"] else "", _e(f"{k['memory_mb']} MB" if k["memory_mb"] else None),
                          _e(len(cases)), _e(errors)] + [_num(v) for v in medians]
                         + [_e(bottleneck.most_common(1)[0][0] if bottleneck else "-")],
                         "failed" if errors == len(cases) else ""))
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>")
        headers = (["step", "workload", "tier (data)", "temp", "engine", "params", "workers", "cache", "container",
                    "repeats", "errors"] + [label for _, label in _SUMMARY_METRICS] + ["bottleneck"])
        # Identity columns no case of this run sets (e.g. step, temp, workers of a plain run) are left out.
        keep = [i for i, h in enumerate(headers)
                if i >= 9 or i in (1, 2) or any(r[0][i] not in ("-", "") for r in rows)]
        rows = [([r[0][i] for i in keep], r[1]) for r in rows]
        left = sum(1 for i in keep if i < 6)
        out.append(_table([headers[i] for i in keep], rows, left=left) if rows else _na("cases"))
        shared = [f"{w}: " + ", ".join(f"{p}={v}" for p, v in sorted(ps.items())) for w, ps in common.items() if ps]
        if shared and rows:
            out.append('<p class="meta">Parameters every case of a workload shares: ' + _e("; ".join(shared))
                       + "</p>")
    return "".join(out)


def _section_iops_per_gb(docs) -> str:
    bars = {}  # (run, tier) -> {series: value}
    # Series are named by the params that vary across all the runs, so that the same case has one colour.
    varying, _ = _varying_params([key for d in docs for key in group_by_case(d)])
    for d in docs:
        for key, cases in group_by_case(d).items():
            v = median_metric(cases, "iops_per_gb")
            k = case_key_dict(key)
            if v is not None and v > 0:
                series = k["workload"] + "".join(f" {p}={val}" for p, val in k["params"].items()
                                                 if (k["workload"], p) in varying)
                if k["workload"] == "terasort" and k["label"]:
                    continue    # a job's IOPS per GB on its data tier: shown per step in the cases table
                bars.setdefault((d.get("run_id"), _tier_label(d, k["tier"])), {})[series] = v
    if not bars:
        return _na("IOPS per GB")
    series_names = list(dict.fromkeys(w for v in bars.values() for w in v))
    groups = list(bars)
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot()
    ax.set_prop_cycle(color=[cm.tab20(k % 20) for k in range(20)])
    width = 0.8 / max(1, len(series_names))
    for i, w in enumerate(series_names):
        xs = [g + (i - (len(series_names) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [bars[g].get(w, float("nan")) for g in groups], width, label=w)
    multi = len(docs) > 1
    ax.set_xticks(range(len(groups)), [f"{r}: {t}" if multi else t for r, t in groups], fontsize=8,
                  rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center")
    ax.set_yscale("log")
    ax.set_ylabel("IOPS per GB (10^9 bytes, log)")
    ax.set_title("IOPS per GB per tier (median over repeats)")
    ax.legend(fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
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
        texts = case_texts(d)
        for key, cases in group_by_case(d).items():
            for c in cases:
                if c.get("error"):
                    continue
                for direction, bins in (c.get("latency_bins_ns") or {}).items():
                    if not bins:
                        continue
                    label = _run_prefix(docs, d) + texts[key]
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
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _img(fig, "latency percentile curves")


def _phase_tiers(phase: dict) -> str:
    """Where a phase did its I/O: 'hdd' or, for a job phase touching two tiers, 'data hdd + temp nvme'."""
    io_map = phase.get("io") or {}
    if len(io_map) > 1:
        return " + ".join(f"{role} {rec.get('tier')}" for role, rec in io_map.items())
    return str(phase.get("tier"))


def _step_phases(doc: dict) -> list:
    """[(step text, [(phase, median wall_s, bottleneck)], successful repeats)] of the run's multi-phase cases."""
    rows, texts = [], case_texts(doc)
    for key, cases in group_by_case(doc).items():
        ok = [c for c in cases if not c.get("error") and c.get("phases")]
        if not ok or len(ok[0]["phases"]) < 2:
            continue
        per_phase: dict = {}
        for c in ok:
            for p in c["phases"]:
                entry = per_phase.setdefault(p.get("name"), {"wall": [], "bottleneck": Counter()})
                if p.get("wall_s") is not None:
                    entry["wall"].append(float(p["wall_s"]))
                entry["bottleneck"][p.get("bottleneck") or "unknown"] += 1
        rows.append((texts[key], [(name, median(e["wall"]),
                                            e["bottleneck"].most_common(1)[0][0]) for name, e in per_phase.items()],
                     len(ok)))
    return rows


def _section_phases(docs) -> str:
    """Per run: one stacked bar per case (each scenario step its own), phases in the order they ran, and a table
    of each phase's median wall time and bottleneck verdict."""
    out = []
    for d in docs:
        rows = _step_phases(d)
        if not rows:
            continue
        names = list(dict.fromkeys(name for _, phases, _ in rows for name, *_ in phases))
        colours = {name: cm.tab10(i % 10) for i, name in enumerate(names)}
        fig = Figure(figsize=(10, 1.3 + 0.42 * len(rows)))
        ax = fig.add_subplot()
        for i, (_, phases, _) in enumerate(rows):
            left = 0.0
            for name, wall, _ in phases:
                if wall is not None:
                    ax.barh(i, wall, left=left, color=colours[name], height=0.62, edgecolor="white", linewidth=0.5)
                    left += wall
        ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("wall time (s, median over repeats), phases in the order they ran")
        ax.set_title(f"{d.get('run_id')}: phases of each case")
        ax.grid(axis="x", alpha=.3)
        handles = [ax.barh([0], [0], color=colours[n])[0] for n in names]
        ax.legend(handles=handles, labels=names, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        table_rows = []
        for label, phases, n in rows:
            by_name = {name: (wall, verdict) for name, wall, verdict in phases}
            cells = [f"{_num(by_name[name][0])} s {_e(by_name[name][1])}" if name in by_name else "" for name in names]
            total = sum(w for _, w, _ in phases if w is not None)
            table_rows.append([_e(label), _e(n)] + cells + [_num(total)])
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>" + _img(fig, f"phases per case {d.get('run_id')}"))
        out.append(_table(["case", "repeats"] + names + ["sum s"], table_rows, left=1, wrap=(0,)))
        out.append('<p class="meta">Each phase: median wall time over the repeats and its bottleneck verdict '
                   '(bench/analysis/verdict.py).</p>')
    return "".join(out) or _na("phase breakdown (cases with two or more phases)")


def _section_scaling(docs) -> str:
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
        out.append(_img(fig, f"scaling curves {d.get('run_id')}"))
        out.append(_table(["workload", "tier", "temp", "workers", "throughput", "speedup", "efficiency",
                           "repeats", "bottleneck"],
                          [[_e(p.get("workload")), _e(p.get("tier")), _e(p.get("temp_tier")), _e(p.get("workers")),
                            _num(p.get("throughput")), _num(p.get("speedup")), _num(p.get("efficiency")),
                            _e(p.get("repeats")), _e(p.get("bottleneck"))]
                           for p in sorted(points, key=lambda p: (str(p.get("workload")), str(p.get("tier")),
                                                                  str(p.get("temp_tier")), p["workers"]))], left=3))
    return "".join(out) or _na("scaling")


def _device_names(doc: dict) -> dict:
    """{'loop0': 'hdd', ...}: the monitor names devices by kernel name; the report by tier."""
    out = {}
    for t in doc.get("tiers") or []:
        if t.get("device"):
            out.setdefault(str(t["device"]).rsplit("/", 1)[-1], t.get("name"))
    return out


def _median_repeat(cases: list):
    """The successful repeat with the median wall time (the one the monitor plot shows), or None."""
    ok = [c for c in cases if not c.get("error") and ((c.get("monitor") or {}).get("series") or {}).get("t_s")]
    if not ok:
        return None
    ok.sort(key=lambda c: (c.get("metrics") or {}).get("wall_s") or 0.0)
    return ok[(len(ok) - 1) // 2]


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
    return _img(fig, f"monitor {label}")


def _section_monitor(docs) -> str:
    """Per case group: the median repeat's series (CPU per core, device busy %, device IOPS); groups whose cases
    ran shorter than one monitor interval, or have no monitor record (imported, interrupted), are named."""
    out = []
    for d in docs:
        figures, short, unmonitored, texts = [], [], 0, case_texts(d)
        for key, cases in group_by_case(d).items():
            label = _run_prefix(docs, d) + texts[key]
            case = _median_repeat(cases)
            if case is not None:
                figures.append(_monitor_figure(d, label, case, len(cases)))
            elif not any(c.get("monitor") for c in cases):
                unmonitored += 1
            elif any(not c.get("error") for c in cases):
                interval = next(c["monitor"].get("interval_s") for c in cases if c.get("monitor"))
                short.append(label + f" (shorter than one {interval} s interval)")
        if not figures and not short:
            continue
        out.append(f"<h3>{_e(d.get('run_id'))}</h3>")
        out.extend(figures)
        if short:
            out.append(_na("monitor series of " + "; ".join(short), "no sample"))
        if unmonitored:
            out.append(_na(f"{unmonitored} case(s) without a monitor record (imported or interrupted)",
                           "monitor series not measured"))
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
            out.append(_across_table(across_machines([base, new]), [base, new]))
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
        out.append(_table(["case", "metric", "n", "base", "new", "ratio", "CI", "p", "threshold", "verdict"], rows, 2)
                   if rows else '<p class="na">no case in both runs</p>')
        only = [("only in " + str(base.get("run_id")), result["only_in_base"]),
                ("only in " + str(new.get("run_id")), result["only_in_new"])]
        for what, labels in only:
            if labels:
                out.append(f'<p class="meta">{_e(what)} ({len(labels)}): {_e("; ".join(map(str, labels)))}</p>')
    return "".join(out)


def _across_table(result: dict, docs: list) -> str:
    """bench.analysis.machines rows side by side, each case named as elsewhere in the report (step_text)."""
    texts = {d.get("run_id"): case_texts(d) for d in docs}

    def name(r):
        return texts.get(r["run_id"], {}).get(case_key(r)) or r.get("case") or r["workload"]

    rows = [[_e(r["hostname"]), _e(r["run_id"]), _e(name(r)), _num(r["iops"]), _num(r["iops_per_gb"]),
             _num(None if r["bytes_per_s"] is None else r["bytes_per_s"] / 1e6), _num(r["lat_p99_us"]), "-"]
            for r in result["rows"]]
    rows += [[_e(r["hostname"]), _e(r["run_id"]), _e(name(r)), "-", "-", "-", "-", _num(r["wall_s"])]
             for r in result["terasort"]]
    return _table(["machine", "run", "case", "IOPS", "IOPS/GB", "MB/s", "p99 us", "wall s"], rows, 3)


def render_report(docs: list, title: str = "tierbench report") -> str:
    """The whole report as one HTML string (docs: run documents; with 2+ the first is the comparison base)."""
    if not docs:
        raise UserError("report needs at least one run")
    sections = [("runs", "Runs and machines", _section_runs(docs)),
                ("findings", "Findings of the scenario", _section_findings(docs)),
                ("model", "Cluster model", _section_model(docs)),
                ("cases", "Cases", _section_cases(docs)),
                ("phases", "Phases per step", _section_phases(docs)),
                ("iops-per-gb", "IOPS per GB per tier", _section_iops_per_gb(docs)),
                ("latency", "Latency percentiles", _section_latency(docs)),
                ("scaling", "Scaling", _section_scaling(docs)),
                ("monitor", "Monitor: CPU and devices per case", _section_monitor(docs))]
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
