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

import datetime as dt

from bench import __version__
from bench.core.errors import UserError
from bench.reporting.html.cases import section_cases, section_compare, section_iops_per_gb, section_phases, section_runs
from bench.reporting.html.charts import latency_percentiles, section_latency, section_monitor, section_scaling
from bench.reporting.html.elements import case_texts, esc, group_by_case, step_text
from bench.reporting.html.machines import section_machines
from bench.reporting.html.scenario import section_findings, section_model

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


def render_report(docs: list, title: str = "tierbench report") -> str:
    """The whole report as one HTML string (docs: run documents; with 2+ the first is the comparison base)."""
    if not docs:
        raise UserError("report needs at least one run")
    sections = [("runs", "Runs and machines", section_runs(docs)),
                ("findings", "Findings of the scenario", section_findings(docs)),
                ("model", "Cluster model", section_model(docs)),
                ("cases", "Cases", section_cases(docs)),
                ("phases", "Phases per step", section_phases(docs)),
                ("iops-per-gb", "IOPS per GB per tier", section_iops_per_gb(docs)),
                ("latency", "Latency percentiles", section_latency(docs)),
                ("scaling", "Scaling", section_scaling(docs)),
                ("monitor", "Monitor: CPU and devices per case", section_monitor(docs))]
    if len(docs) > 1:
        sections.append(("machines", "Machines side by side", section_machines(docs)))
        sections.append(("compare", f"Comparison against {docs[0].get('run_id')}", section_compare(docs)))
    nav = "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(name)}</h2>{content}</section>' for sid, name, content in sections)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"
            f'<p class="meta">{len(docs)} run(s): {esc(", ".join(str(d.get("run_id")) for d in docs))}. '
            f"Generated {generated} by tierbench {esc(__version__)}. Emulated tiers are marked "
            f'<span class="emu">emulated</span>.</p><nav>{nav}</nav>{body}</body></html>\n')
