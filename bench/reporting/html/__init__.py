"""One self-contained HTML report from run documents: plain HTML and CSS, plots drawn with matplotlib (Agg, no
pyplot state) and embedded as data: URIs, no JavaScript and no external URL, so it opens offline and can be
attached to a CI job as a single file.

The first screen answers the question: the summary block (bench.reporting.summary: a comparison's PASS/FAIL and
regressions, the machines' winner table, a scenario's findings, the best tier per workload and each case's
bottleneck), then every failed case with its error and raw files, then the detail.

Cases are grouped by the one case identity, bench.core.case.case_key (workload, tier, temp tier, engine, params,
workers, cache, scenario step label, container memory): repeats of a case share it, and every scenario step is
its own case, shown under its label.

Detail sections, each shown only when its data exists (the others are named once at the end, "not in these
runs: ..."): runs and machines; a scenario's findings (bench.scenarios.hadoop_tempdata.findings, recomputed from
the run's measurements) with the sort runtime of every step; the cluster model with its assumptions; cases
(medians over repeats, with the bottleneck); the phases of each step; IOPS per GB; iodepth/numjobs sweeps;
latency percentile curves (from fio json+ style `latency_bins_ns`); scaling curves; each case's monitor series
(`case["monitor"] = {"interval_s", "series"}`); and with two or more runs the comparison of each run against the
first (bench.analysis.compare). Charts follow bench.reporting.html.axes.
"""
from __future__ import annotations

import datetime as dt

from bench import __version__
from bench.core.errors import UserError
from bench.reporting.html.cases import section_cases, section_compare, section_iops_per_gb, section_phases, section_runs
from bench.reporting.html.charts import latency_percentiles, section_latency, section_monitor, section_scaling
from bench.reporting.html.elements import case_texts, collect_figures, esc, group_by_case, step_text
from bench.reporting.html.machines import section_machines
from bench.reporting.html.scenario import model_absence, section_findings, section_model
from bench.reporting.html.summary import failed_html, summary_html
from bench.reporting.html.timeseries import section_over_time, section_sweeps, stored_frames

__all__ = ["render_report", "latency_percentiles", "group_by_case", "step_text", "case_texts", "collect_figures"]


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;color:#222;
     padding:.6em 1em;line-height:1.35}
h1{font-size:1.35em;margin:.2em 0} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{margin:.7em 0 .3em;font-size:1.05em}
table{border-collapse:collapse;margin:.3em 0 .8em;font-size:.82em;max-width:100%}
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:right;overflow-wrap:break-word}
th{background:#f3f3f3} td.l,th.l{text-align:left} td.w{min-width:8em;overflow-wrap:anywhere}
.na{color:#888;font-style:italic}
img{max-width:100%;height:auto;display:block;margin:.5em 0;border:1px solid #eee}
pre.err{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font-size:.95em;text-align:left}
code{overflow-wrap:anywhere}
.regressed,.failed,.refuted,.contra-indicated,.not-confirmed{background:#fdd;color:#900;font-weight:bold}
.improved,.confirmed{background:#dfd;color:#060} .indicated{background:#efe;color:#060}
.changed{background:#ffe9c4} .inconclusive,.configured-not-measured,.not-measured{color:#666} .emu{color:#a60;font-weight:bold}
.meta{color:#555;font-size:.88em} nav{font-size:.88em} nav a{margin-right:.8em}
#summary{border:2px solid #0072B2;border-radius:6px;padding:.1em .9em .3em;margin:.4em 0}
#summary h2{margin:.2em 0;border:0;font-size:1.2em}
#summary table{font-size:.8em}
.verdict{font-size:1.05em;margin:.35em 0}
.badge{display:inline-block;padding:.05em .5em;border-radius:4px;font-weight:bold;color:#fff}
.pass{background:#009E73} .fail{background:#D55E00} .na-badge{background:#777}
ul.cols{columns:2;margin:.2em 0;padding-left:1.2em;font-size:.85em} ul.cols li{break-inside:avoid}
.bn{display:inline-block;min-width:4.5em;font-weight:bold} .bn-cpu{color:#D55E00} .bn-io{color:#0072B2}
.bn-mixed{color:#CC79A7} .bn-unknown{color:#777}
"""


def render_report(docs: list, title: str = "tierbench report", folders: dict = None,
                  summary_data: dict = None, store=None) -> str:
    """The whole report as one HTML string (docs: run documents; with 2+ the first is the comparison base).
    folders: {run_id: run folder} so failed cases name their raw files by path; summary_data: the summary block
    (bench.reporting.summary.summary) when the caller computed it already; store: the results store the runs
    came from (bench.store.runs.Store), where the cluster model looks up device baselines as `model` does."""
    if not docs:
        raise UserError("report needs at least one run")
    from bench.reporting.summary import summary  # imports this package's elements: here, not at the top

    data = summary_data if summary_data is not None else summary(docs, folders)
    frames, steady = stored_frames(docs, folders)
    sections = [("failed", "Failed cases: errors and raw files", failed_html(data)),
                ("runs", "Runs and machines", section_runs(docs)),
                ("findings", "Findings of the scenario", section_findings(docs)),
                ("model", "Cluster model", section_model(docs, store)),
                ("cases", "Cases", section_cases(docs)),
                ("phases", "Phases per step", section_phases(docs)),
                ("iops-per-gb", "IOPS per GB per tier", section_iops_per_gb(docs)),
                ("sweeps", "Queue depth and job count sweeps", section_sweeps(docs)),
                ("over-time", "Figures over time: IOPS and p99 per interval", section_over_time(docs, frames, steady)),
                ("latency", "Latency percentiles", section_latency(docs)),
                ("scaling", "Scaling", section_scaling(docs)),
                ("monitor", "Monitor: CPU and devices per case", section_monitor(docs))]
    if len(docs) > 1:
        sections.append(("machines", "Machines side by side", section_machines(docs)))
        sections.append(("compare", f"Comparison against {docs[0].get('run_id')}", section_compare(docs)))
    shown = [s for s in sections if s[2]]
    absent = [name + (f" ({model_absence(docs)})" if sid == "model" else "")
              for sid, name, content in sections if not content and sid != "failed"]
    nav = "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name, _ in shown)
    body = "".join(f'<section id="{sid}"><h2>{esc(name)}</h2>{content}</section>' for sid, name, content in shown)
    missing = (f'<p class="na" id="not-in-these-runs">Not in these runs: {esc("; ".join(absent))}.</p>'
               if absent else "")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = ", ".join(f"{d.get('run_id')} ({d.get('status')})" for d in docs)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"
            f'<p class="meta">{esc(runs)}. Generated {generated} by tierbench {esc(__version__)}. Emulated tiers '
            f'are marked <span class="emu">emulated</span>.</p>'
            f'<section id="summary"><h2>Summary</h2>{summary_html(data)}</section>'
            f"<nav>{nav}</nav>{body}{missing}</body></html>\n")
