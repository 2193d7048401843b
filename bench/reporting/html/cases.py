"""The report's tables: runs and machines, cases (medians over repeats), IOPS per GB, phases per step, and the
comparison of each run against the first (bench.analysis.compare, bench.analysis.machines)."""
from __future__ import annotations

from collections import Counter

from matplotlib.figure import Figure

from bench.analysis.compare import compare_runs, metric_values
from bench.analysis.machines import across_machines
from bench.analysis.stats import median
from bench.core.case import case_key, case_key_dict
from bench.core.errors import UserError
from bench.reporting.html.axes import chunks, colour, value_axis
from bench.reporting.html.elements import (
    case_texts,
    esc,
    group_by_case,
    img,
    na,
    num,
    table,
    tier_label,
    varying_params,
)
from bench.reporting.quantities import IO_MBPS, QUANTITIES, SUPPLIED, group_figures, is_job


def section_runs(docs) -> str:
    rows = []
    for d in docs:
        m = d.get("machine") or {}
        mem = m.get("memory_bytes")
        scen = d.get("scenario") or {}
        kind = (f"scenario {scen.get('name')}" + (" quick" if scen.get("quick") else "")
                + (f", {scen.get('repeats')} repeat(s)" if scen.get("repeats") else "")) if scen else \
            ("imported" if d.get("imported") else "run")
        rows.append(([esc(d.get("run_id")), esc(kind), esc(d.get("status")), esc(len(d.get("cases") or [])),
                      esc(d.get("started_at")), esc(m.get("hostname")), esc(m.get("cpu_model")), esc(m.get("cpus")),
                      esc(None if mem is None else f"{mem / 1e9:.1f} GB"), esc(m.get("kernel")),
                      esc(m.get("product_name")), esc(m.get("fio_version")), esc(d.get("harness_version"))],
                     "failed" if d.get("status") in ("failed", "interrupted") else ""))
    out = [table(["run", "kind", "status", "cases", "started", "host", "CPU", "cpus", "memory", "kernel",
                   "product", "fio", "harness"], rows, left=13)]
    tier_rows = []
    for d in docs:
        for t in d.get("tiers") or []:
            emu = t.get("emulated")
            emu_text = ('<span class="emu">emulated</span> ' + esc(_emulation_text(emu)) if isinstance(emu, dict)
                        else '<span class="emu">emulated</span>' if emu else "no")
            cap, nom = t.get("capacity_bytes"), t.get("nominal_capacity_bytes")
            tier_rows.append([esc(d.get("run_id")), esc(t.get("name")), esc(t.get("class")), esc(t.get("device")),
                              esc(None if cap is None else f"{cap / 1e9:.1f} GB"),
                              esc(None if nom is None else f"{nom / 1e9:.0f} GB"), emu_text])
    out.append("<h3>Tiers</h3>")
    out.append(table(["run", "tier", "class", "device", "capacity", "nominal capacity", "emulated"], tier_rows, 7)
                if tier_rows else na("tiers"))
    return "".join(out)


def _emulation_text(emu: dict) -> str:
    """An emulated tier's throttle in words: '4 drive(s), 600 IOPS, 720 MB/s' or 'unthrottled'."""
    limits = [f"{emu['iops']:g} IOPS" if emu.get("iops") else "", f"{emu['mbps']:g} MB/s" if emu.get("mbps") else ""]
    limits = [x for x in limits if x]
    return ", ".join([f"{emu['drives']} drive(s)"] if emu.get("drives") else []) + (
        (", " if emu.get("drives") else "") + (", ".join(limits) if limits else "unthrottled")) + (
        f"; {emu['backing']}" if emu.get("backing") else "")


# The cases table's figures: p50 and p99.9 are in the latency percentile chart; a table that fits a 1280 px
# window has room for the rest.
_CASE_FIGURES = tuple(q for q in QUANTITIES if q not in ("p50 us", "p99.9 us"))


def _setup(k: dict) -> str:
    """engine, workers, cache and container of a case, in one cell (each only where set)."""
    parts = [str(k["engine"]) if k["engine"] else "",
             f"{k['workers']} workers" if k["workers"] not in (None, 1) else "",
             "page cache" if k["cache"] else "", f"{k['memory_mb']} MB container" if k["memory_mb"] else ""]
    return ", ".join(p for p in parts if p)


def section_cases(docs) -> str:
    """Per run: a row per case (medians over repeats), its identity columns only where some case sets them."""
    out = []
    for d in docs:
        groups = group_by_case(d)
        varying, common = varying_params(groups)
        rows = []
        for key, cases in groups.items():
            k = case_key_dict(key)
            bottleneck = Counter(c.get("bottleneck") or "unknown" for c in cases if not c.get("error"))
            errors = sum(1 for c in cases if c.get("error"))
            params = ", ".join(f"{p}={v}" for p, v in k["params"].items() if (k["workload"], p) in varying)
            figures = group_figures(cases, is_job(k))
            rows.append(([esc(k["label"]), esc(k["workload"]), esc(k["tier"]), esc(k["temp_tier"]),
                          esc(_setup(k) or None), esc(params or "-"),
                          esc(len(cases)) + (f" ({errors} failed)" if errors else "")]
                         + [num(figures[name]) for name in _CASE_FIGURES]
                         + [esc(bottleneck.most_common(1)[0][0] if bottleneck else "-")],
                         "failed" if errors == len(cases) else ""))
        out.append(f"<h3>{esc(d.get('run_id'))}</h3>")
        headers = ["step", "workload", "tier (data)", "temp", "engine, setup", "params", "repeats",
                   *_CASE_FIGURES, "bottleneck"]
        # Columns no case of this run sets (e.g. step, temp of a plain run; sorted MB/s without a sort) are left out.
        keep = [i for i, h in enumerate(headers)
                if i in (1, 2, 6, len(headers) - 1) or any(r[0][i] not in ("-", "") for r in rows)]
        rows = [([r[0][i] for i in keep], r[1]) for r in rows]
        left = sum(1 for i in keep if i < 6)
        wrap = tuple(j for j, i in enumerate(keep) if headers[i] in ("engine, setup", "params"))
        out.append(table([headers[i] for i in keep], rows, left=left, wrap=wrap) if rows else na("cases"))
        shared = [f"{w}: " + ", ".join(f"{p}={v}" for p, v in sorted(ps.items())) for w, ps in common.items() if ps]
        if shared and rows:
            out.append('<p class="meta">Parameters every case of a workload shares: ' + esc("; ".join(shared))
                       + ". p50 and p99.9 latency: the latency percentile chart.</p>")
    return "".join(out)


def section_iops_per_gb(docs) -> str:
    """Bars of the IOPS per GB each tier supplied (median over repeats, whisker min-max), grouped by tier; at most
    MAX_SERIES series a chart (more: small multiples with one common y scale). Linear from zero unless the bars
    span more than two decades (bench.reporting.html.axes.value_axis)."""
    bars = {}  # (run, tier) -> {series: (median, low, high)}
    # Series are named by the params that vary across all the runs, so that the same case has one colour.
    varying, _ = varying_params([key for d in docs for key in group_by_case(d)])
    for d in docs:
        for key, cases in group_by_case(d).items():
            k = case_key_dict(key)
            if k["engine"] in ("job", "spark") or k["temp_tier"] is not None:
                continue    # a job's I/O per GB is what it demands of the tier: in the cases table
            values = [v for v in metric_values(cases, "iops_per_gb") if v > 0]
            if not values:
                continue
            series = k["workload"] + "".join(f" {p}={val}" for p, val in k["params"].items()
                                             if (k["workload"], p) in varying)
            bars.setdefault((d.get("run_id"), tier_label(d, k["tier"])), {})[series] = (
                median(values), min(values), max(values))
    if not bars:
        return ""
    series_names = list(dict.fromkeys(w for v in bars.values() for w in v))
    groups = list(bars)
    panels = chunks(series_names)
    drawn = [x for v in bars.values() for m in v.values() for x in m]
    multi = len(docs) > 1
    fig = Figure(figsize=(10, 3.6 * len(panels) + 0.6))
    for row, part in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, row + 1)
        width = 0.8 / max(1, len(part))
        for i, w in enumerate(part):
            xs = [g + (i - (len(part) - 1) / 2) * width for g in range(len(groups))]
            meds = [bars[g][w][0] if w in bars[g] else float("nan") for g in groups]
            low = [bars[g][w][0] - bars[g][w][1] if w in bars[g] else 0 for g in groups]
            high = [bars[g][w][2] - bars[g][w][0] if w in bars[g] else 0 for g in groups]
            ax.bar(xs, meds, width, label=w, color=colour(i))
            ax.errorbar(xs, meds, yerr=[low, high], fmt="none", ecolor="#222", capsize=3, lw=1)
        ax.set_xticks(range(len(groups)), [f"{r}: {t}" if multi else t for r, t in groups], fontsize=8,
                      rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center")
        value_axis(ax, drawn, "IOPS per GB supplied (IOPS per 10^9 bytes of capacity)")
        ax.set_xlabel("run: tier" if multi else "tier")
        more = f" ({row + 1} of {len(panels)})" if len(panels) > 1 else ""
        ax.set_title(f"IOPS per GB each tier supplied: median over repeats, whisker min-max{more}")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.grid(axis="y", which="both", alpha=.3)
    fig.tight_layout()
    return img(fig, "IOPS per GB per tier")


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


def section_phases(docs) -> str:
    """Per run: one stacked bar per case (each scenario step its own), phases in the order they ran, and a table
    of each phase's median wall time and bottleneck verdict."""
    out = []
    per_run = [(d, _step_phases(d)) for d in docs]
    # One x scale for every run's chart, so that the same bar length is the same time in each.
    longest = max((sum(w for _, w, _ in phases if w is not None) for _, rows in per_run for _, phases, _ in rows),
                  default=0.0)
    for d, rows in per_run:
        if not rows:
            continue
        names = list(dict.fromkeys(name for _, phases, _ in rows for name, *_ in phases))
        colours = {name: colour(i) for i, name in enumerate(names)}
        fig = Figure(figsize=(10, 1.3 + 0.42 * len(rows)))
        ax = fig.add_subplot()
        for i, (_, phases, _) in enumerate(rows):
            left = 0.0
            for name, wall, _ in phases:
                if wall is not None:
                    ax.barh(i, wall, left=left, color=colours[name], height=0.62, edgecolor="white", linewidth=0.5)
                    left += wall
        ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
        ax.set_ylabel("case")
        ax.invert_yaxis()
        ax.set_xlim(0, (longest or 1.0) * 1.05)
        ax.set_xlabel("wall time (s), median over repeats; phases in the order they ran; one scale for all runs")
        ax.set_title(f"{d.get('run_id')}: phases of each case")
        ax.grid(axis="x", alpha=.3)
        handles = [ax.barh([0], [0], color=colours[n])[0] for n in names]
        ax.legend(handles=handles, labels=names, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        table_rows = []
        for label, phases, n in rows:
            by_name = {name: (wall, verdict) for name, wall, verdict in phases}
            cells = [f"{num(by_name[name][0])} s {esc(by_name[name][1])}" if name in by_name else "" for name in names]
            total = sum(w for _, w, _ in phases if w is not None)
            table_rows.append([esc(label), esc(n)] + cells + [num(total)])
        out.append(f"<h3>{esc(d.get('run_id'))}</h3>" + img(fig, f"phases per case {d.get('run_id')}"))
        out.append(table(["case", "repeats"] + names + ["sum s"], table_rows, left=1, wrap=(0,)))
        out.append('<p class="meta">Each phase: median wall time over the repeats and its bottleneck verdict '
                   '(bench/analysis/verdict.py).</p>')
    return "".join(out)


def section_compare(docs) -> str:
    if len(docs) < 2:
        return ""
    base, out = docs[0], []
    for new in docs[1:]:
        out.append(f"<h3>{esc(base.get('run_id'))} &rarr; {esc(new.get('run_id'))}</h3>")
        try:
            result = compare_runs(base, new)
        except UserError as e:
            out.append(f'<p class="meta">No regression verdicts: {esc(e)}. Side by side instead:</p>')
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
                rows.append(([esc(entry["case"]) if first else "", esc(r["metric"]), f"{r['n_base']}/{r['n_new']}",
                              num(r["median_base"]), num(r["median_new"]), num(r["ratio"]), ci,
                              num(r["p_value"], 2), f"{r['threshold_percent']:+g}%", esc(verdict)], r["verdict"]))
                first = False
        counts = ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))
        out.append(f'<p class="meta">{"PASS" if result["passed"] else "FAIL"}: {esc(counts)}. Ratio = median NEW / '
                   f'median BASE, {int(result["confidence"] * 100)}% bootstrap CI, Mann-Whitney U p; '
                   f'regressed/improved when the CI lies beyond the threshold and p &lt; {result["alpha"]}.</p>')
        out.append(table(["case", "metric", "n", "base", "new", "ratio", "CI", "p", "threshold", "verdict"], rows, 2,
                         wrap=(0, 9))
                   if rows else '<p class="na">no case in both runs</p>')
        only = [("only in " + str(base.get("run_id")), result["only_in_base"]),
                ("only in " + str(new.get("run_id")), result["only_in_new"])]
        for what, labels in only:
            if labels:
                out.append(f'<p class="meta">{esc(what)} ({len(labels)}): {esc("; ".join(map(str, labels)))}</p>')
    return "".join(out)


def _across_table(result: dict, docs: list) -> str:
    """bench.analysis.machines rows side by side, each case named as elsewhere in the report (step_text)."""
    texts = {d.get("run_id"): case_texts(d) for d in docs}

    def name(r):
        return texts.get(r["run_id"], {}).get(case_key(r)) or r.get("case") or r["workload"]

    rows = [[esc(r["hostname"]), esc(r["run_id"]), esc(name(r)), num(r["iops"]), num(r["iops_per_gb"]),
             num(None if r["bytes_per_s"] is None else r["bytes_per_s"] / 1e6), num(r["lat_p99_us"]), "-"]
            for r in result["rows"]]
    rows += [[esc(r["hostname"]), esc(r["run_id"]), esc(name(r)), "-", "-", "-", "-", num(r["wall_s"])]
             for r in result["terasort"]]
    return table(["machine", "run", "case", "IOPS", SUPPLIED, IO_MBPS, "p99 us", "wall s"], rows, 3)
