"""The report's scenario sections: the hadoop-tempdata findings with each step's sort runtime, and the cluster model
with its assumptions (bench.scenarios.hadoop_tempdata)."""
from __future__ import annotations

from matplotlib.figure import Figure

from bench.analysis.compare import metric_values
from bench.analysis.stats import median
from bench.core.case import case_key_dict
from bench.core.errors import UserError
from bench.reporting.html.axes import colour
from bench.reporting.html.elements import (
    esc,
    group_by_case,
    img,
    na,
    num,
    step_text,
    table,
)
from bench.reporting.quantities import DEMANDED, SUPPLIED

RUNTIME_METRIC = "sort_s"     # a terasort step's runtime: the sort job (map + reduce), as bench.scenarios.hadoop_tempdata.findings uses


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
        rows.append(([esc(f.get("claim")), esc(f.get("form")), esc(f.get("figure")),
                      esc(f.get("verdict_text") or f.get("verdict")), esc(rule), esc(reason + (f" [{noise}]" if noise else ""))],
                     _verdict_class(f.get("verdict"))))
    return table(["claim", "form", "figure", "verdict", "threshold", "why"], rows, left=6, wrap=(0, 2, 4, 5))


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
        return na("runtime per step (terasort sort_s)")
    measured = [s for s in steps if s[1]]
    fig = Figure(figsize=(10, 1.0 + 0.42 * len(steps)))
    ax = fig.add_subplot()
    for i, (_, values, n) in enumerate(steps):
        if not values:
            ax.text(0, i, f"  not measured ({n} failed)", va="center", fontsize=8, color="#900")
            continue
        med, low, high = median(values), min(values), max(values)
        ax.barh(i, med, color=colour(0), height=0.6)
        ax.errorbar(med, i, xerr=[[med - low], [high - med]], fmt="none", ecolor="#222", capsize=4, lw=1.2)
        ax.plot(values, [i] * len(values), "o", ms=3.5, color=colour(1), zorder=3)
        ax.text(high, i, f"  {med:.2f} s (n={len(values)}" + (f", {low:.2f}-{high:.2f}" if len(values) > 1 else "")
                + ")", va="center", fontsize=8)
    ax.set_yticks(range(len(steps)), [s[0] for s in steps], fontsize=8)
    ax.set_ylabel("scenario step")
    ax.invert_yaxis()
    top = max((max(v) for _, v, _ in measured), default=1.0)
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel("sort runtime, map + reduce (s): bar median over repeats, whisker min-max, dots each repeat")
    ax.set_title(f"{doc.get('run_id')}: runtime per step")
    ax.grid(axis="x", alpha=.3)
    return img(fig, f"runtime per step {doc.get('run_id')}")


def section_findings(docs) -> str:
    from bench.scenarios.hadoop_tempdata import findings as findings_mod
    from bench.scenarios.hadoop_tempdata.fidelity import fidelity

    out = []
    for d in docs:
        if not _is_scenario(d):
            continue
        out.append(f"<h3>{esc(d.get('run_id'))}</h3>")
        engines = findings_mod.engines_of(d) or ["replay"]
        for engine in engines:
            found = findings_mod.findings(d, engine)
            if not found:
                continue
            note = findings_mod.header(found)
            out.append((f"<h4>on {esc(engine)}</h4>" if len(engines) > 1 else "")
                       + '<p class="meta">Recomputed by this tierbench from the run\'s measurements '
                       "(bench/scenarios/hadoop_tempdata/findings.py)" + (f": {esc(note)}" if note else ".") + "</p>")
            out.append(_findings_table(found))
        if "spark" in engines and "replay" in engines:
            out.append(_fidelity_table(fidelity(d)))
        out.append(_runtime_bars(d))
    return "".join(out)


def _fidelity_table(fid: dict) -> str:
    """The replay and Spark's recorded temp I/O replayed, against Spark on the same tiers and records
    (bench/scenarios/hadoop_tempdata/fidelity.py)."""
    def fmt(kind, v):
        return "not measured" if v is None else esc(f"{v:.0%}" if kind == "share" else f"{v:.3g}")

    word = {True: "yes", False: "no", None: "not measured"}
    rows = [([esc(r["figure"]), fmt(r["kind"], r["replay"]), fmt(r["kind"], r["spark"]),
              fmt(r["kind"], r.get("recorded")), word[r["differs"]], word[r.get("recorded_differs")]],
             "differs" if r["differs"] else "") for r in fid["rows"]]
    lines = "".join(f"<li>{esc(line)}</li>" for line in fid.get("summary") or [])
    return ("<h4>Replay fidelity: the replay (tierbench's terasort) and Spark's recorded temp I/O replayed, against "
            "Apache Spark</h4>"
            + table(["figure", "replay", "spark", "recorded Spark I/O replayed", "replay differs?",
                     "recorded differs?"], rows, left=1) + (f"<ul>{lines}</ul>" if lines else ""))


def model_absence(docs) -> str:
    """Why no run's cluster model is shown (for the report's "not in these runs" line)."""
    from bench.scenarios.hadoop_tempdata import cluster_model

    reasons = [cluster_model.no_model_reason(d) for d in docs
               if any(c.get("workload") == "terasort" for c in d.get("cases") or [])]
    return "; ".join(reasons) or "no terasort case among these runs"


def section_model(docs, store=None) -> str:
    """Per run with a terasort the model can use: its layouts and assumptions (bench.scenarios.hadoop_tempdata
    .cluster_model); runs it cannot use are left out (model_absence says why). store: the results store the
    report reads (bench.store.runs.Store): a run's device baselines are then looked up as `model` looks them up
    (bench.scenarios.hadoop_tempdata.baselines.run_baselines: the run itself, else the newest run of the same
    machine class with the tier), and the section names the run that supplied them; a run none supplies is
    shown with the reason and the command that measures them. Without a store, only the run's own baselines."""
    from bench.scenarios.hadoop_tempdata import cluster_model
    from bench.scenarios.hadoop_tempdata.baselines import baseline_lines, run_baselines

    out, unsupplied = [], False
    for d in docs:
        if not any(c.get("workload") == "terasort" for c in d.get("cases") or []):
            continue
        lookup = store is not None and bool(cluster_model.layout_demand(d))
        try:
            result = cluster_model.model(d, baselines=run_baselines(store, d) if lookup else None)
        except UserError as e:
            if len(docs) > 1 or lookup:
                out.append(f"<h3>{esc(d.get('run_id'))}</h3>" + na("cluster model", str(e)))
                unsupplied = unsupplied or lookup
            continue
        out.append(f"<h3>{esc(d.get('run_id'))}</h3>")
        out.append('<p class="meta">' + "<br>".join(esc(line) for line in baseline_lines(result)) + "</p>")
        rows = []
        for lay in result["layouts"]:
            name = f"data {lay['data_tier']}, temp {lay['temp_tier']}" + (" + page cache" if lay.get("cache") else "")
            if "error" in lay:
                rows.append(([esc(name), esc(lay["error"])] + ["-"] * 6, "failed"))
                continue
            rows.append([esc(name), esc(lay.get("drives")), esc(lay.get("drives_limited_by")), esc(lay.get("nodes")),
                         num(lay.get("demanded_iops_per_gb")), num(lay.get("supplied_iops_per_gb")),
                         num(lay.get("cpu_bound_threads_per_drive")), num(lay.get("usd_per_tb"))])
        out.append(table(["layout", "drives", "limited by", "nodes", DEMANDED, SUPPLIED,
                           "CPU-bound below threads/drive", "USD per TB"], rows, left=1))
        scope = result.get("scope")
        out.append('<p class="meta">' + (f"Counted: {esc(scope)}. " if scope else "")
                   + "Formulas: bench/scenarios/hadoop_tempdata/cluster_model.py; change an assumption with "
                   "<code>tierbench model RUN --help</code>.</p>")
        out.append("<h4>Assumptions</h4>" + _assumptions(result))
    if out and not any("<table" in o for o in out) and not unsupplied:
        return ""
    return "".join(out)


def _assumptions(result: dict) -> str:
    """Every parameter the model assumed, with its unit and source (bench.scenarios.hadoop_tempdata.cluster_model: "assumed" where none)."""
    listed = result.get("assumptions")
    if isinstance(listed, list):
        rows = [[esc(a.get("name")), esc(a.get("value")), esc(a.get("unit")), esc(a.get("source"))] for a in listed]
    else:
        rows = [[esc(k), esc(v), "", "assumed (no source given)"] for k, v in (result.get("params") or {}).items()]
    return table(["parameter", "value", "unit", "source"], rows, left=1, wrap=(3,))
