"""The formats CI systems read, from a stored run or from a gate's result (bench.analysis.compare.compare_runs).

    junit                          JUnit XML (the Apache Ant shape that Jenkins, GitLab, GitHub test-report
                                   actions read; windyroad/JUnit-Schema JUnit.xsd): a run's cases, or a gate's
                                   gating metrics, as test cases; a failed case or a regression is a <failure>,
                                   an inconclusive metric <skipped> (a <failure> under --strict)
    github-summary                 Markdown for $GITHUB_STEP_SUMMARY: the verdict first, then a table
    github-action-benchmark        benchmark-action/github-action-benchmark's custom-tool JSON: a list of
    github-action-benchmark-smaller  {name, unit, value, range, extra}; one file per direction, as the action
                                   takes one (`tool: customBiggerIsBetter` / `customSmallerIsBetter`)
    bencher                        Bencher Metric Format (BMF): {benchmark: {measure: {value, lower_value,
                                   upper_value}}} (bencher.dev/docs/reference/bencher-metric-format)
    csv                            one row per case and metric, for spreadsheets

Dashboard formats carry each case's median over its repeats, with the lowest and highest repeat as its range;
only directional metrics (higher or lower is better) go to dashboards. From a gate they carry NEW's figures.
Every function is pure: a document in, text out.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Optional
from xml.sax.saxutils import escape, quoteattr

from bench.analysis.compare import case_label, group_cases, metric_values
from bench.analysis.stats import median
from bench.core.metric_registry import HIGHER, LOWER, direction, unit_of

__all__ = ["FORMATS", "render", "run_rows"]

FORMATS = ("junit", "github-summary", "github-action-benchmark", "github-action-benchmark-smaller", "bencher", "csv")

_UNIT_TEXT = {"iops": "IOPS", "bytes_per_s": "B/s", "us": "us", "s": "s", "iops_per_gb": "IOPS/GB",
              "bytes": "bytes", "count": "count", "percent": "%", "ratio": "ratio", "per_s": "1/s"}


def _unit(metric: str) -> str:
    try:
        return _UNIT_TEXT.get(unit_of(metric), unit_of(metric))
    except ValueError:
        return ""


def run_rows(doc: dict) -> list:
    """One row per case (repeats together) and measured metric: {case, workload, tier, metric, unit,
    direction, n, median, min, max, errors}. A metric no repeat measured has no row (never a 0)."""
    rows = []
    for key, cases in group_cases(doc).items():
        label = case_label(key)
        errors = [str(c.get("error")) for c in cases if c.get("error")]
        names = sorted({m for c in cases for m, v in (c.get("metrics") or {}).items() if v is not None})
        for metric in names:
            values = metric_values(cases, metric)
            if not values:
                continue
            d = direction(metric)
            rows.append({"case": label, "workload": cases[0].get("workload"), "tier": cases[0].get("tier"),
                         "metric": metric, "unit": _unit(metric),
                         "direction": {HIGHER: "higher", LOWER: "lower", 0: "exact"}.get(d, "info"),
                         "n": len(values), "median": median(values), "min": min(values), "max": max(values),
                         "errors": len(errors), "contended": sum(1 for c in cases
                                                                 if (c.get("contention") or {}).get("contended"))})
        if not names and errors:
            rows.append({"case": label, "workload": cases[0].get("workload"), "tier": cases[0].get("tier"),
                         "metric": None, "unit": "", "direction": None, "n": 0, "median": None, "min": None,
                         "max": None, "errors": len(errors), "contended": 0})
    return rows


# -- JUnit --------------------------------------------------------------------------------------------------

def _timestamp(doc: dict) -> str:
    """JUnit's timestamp: ISO 8601 without a zone (the schema's pattern), UTC."""
    s = str((doc or {}).get("started_at") or "1970-01-01T00:00:00")
    return s[:19]


def _junit_doc(suite: dict, cases: list) -> str:
    """cases: [(name, classname, time_s, outcome, message, text)] with outcome pass/failure/error/skipped."""
    counts = {k: sum(1 for c in cases if c[3] == k) for k in ("failure", "error", "skipped")}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>",
           f'  <testsuite package="tierbench" id="0" name={quoteattr(suite["name"])} '
           f'timestamp={quoteattr(suite["timestamp"])} hostname={quoteattr(suite["hostname"] or "localhost")} '
           f'tests="{len(cases)}" failures="{counts["failure"]}" errors="{counts["error"]}" '
           f'skipped="{counts["skipped"]}" time="{sum(c[2] for c in cases):.3f}">', "    <properties>"]
    for name, value in suite["properties"]:
        out.append(f"      <property name={quoteattr(name)} value={quoteattr(str(value))}/>")
    out.append("    </properties>")
    for name, classname, time_s, outcome, message, text in cases:
        head = f"    <testcase name={quoteattr(name)} classname={quoteattr(classname)} time=\"{time_s:.3f}\""
        if outcome == "pass":
            out.append(head + "/>")
            continue
        out.append(head + ">")
        if outcome == "skipped":
            out.append(f"      <skipped message={quoteattr(message)}/>")
        else:
            out.append(f"      <{outcome} message={quoteattr(message)} type=\"{'regression' if outcome == 'failure' else 'case-error'}\">"
                       f"{escape(text)}</{outcome}>")
        out.append("    </testcase>")
    out += [f"    <system-out>{escape(suite['summary'])}</system-out>", "    <system-err></system-err>",
            "  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def _props(doc: dict) -> list:
    props = [("run_id", doc.get("run_id")), ("status", doc.get("status"))]
    props += [(f"tag.{k}", v) for k, v in sorted((doc.get("tags") or {}).items())]
    return [(k, v) for k, v in props if v is not None]


def junit_run(doc: dict) -> str:
    """A run: one test case per case (repeats together); a case with a failed repeat is a <failure>."""
    cases = []
    for key, group in group_cases(doc).items():
        errors = [str(c.get("error")) for c in group if c.get("error")]
        wall = sum(float((c.get("metrics") or {}).get("wall_s") or 0.0) for c in group)
        label = case_label(key)
        if errors:
            cases.append((label, f"tierbench.{group[0].get('workload')}", wall, "failure",
                          f"{len(errors)} of {len(group)} repeats failed", "\n".join(errors)))
        else:
            cases.append((label, f"tierbench.{group[0].get('workload')}", wall, "pass", "", ""))
    m = doc.get("machine") or {}
    failed = sum(1 for c in cases if c[3] != "pass")
    suite = {"name": f"tierbench run {doc.get('run_id')}", "timestamp": _timestamp(doc),
             "hostname": m.get("hostname"), "properties": _props(doc),
             "summary": f"run {doc.get('run_id')}: {doc.get('status')}, {len(cases)} cases, {failed} failed"}
    return _junit_doc(suite, cases)


def _gate_line(r: dict) -> str:
    ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.3f}"
    ci = "-" if r.get("ci_low") is None else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
    p = "-" if r.get("p_value") is None else f"{r['p_value']:.3g}"
    return (f"{r['metric']}: {r['verdict']}{' (' + r['reason'] + ')' if r.get('reason') else ''}; ratio {ratio}, "
            f"CI {ci}, p {p}, threshold {r['threshold_percent']:+g}%, n {r['n_base']}/{r['n_new']}")


def junit_gate(result: dict) -> str:
    """A gate: one test case per case and gating metric; regressed/changed/failed is a <failure>, inconclusive a
    <skipped> (a <failure> when the gate was --strict); a case that failed in NEW is a <failure> of its own."""
    cases = []
    for entry in result["cases"]:
        classname = f"tierbench.{entry.get('workload')}"
        if entry.get("status") == "failed":
            cases.append((f"{entry['case']} [case]", classname, 0.0, "failure", "failed in NEW",
                          f"every repeat failed in NEW ({entry['errors_new']} errors)"))
        for r in entry["metrics"]:
            if not r.get("gating"):
                continue
            name = f"{entry['case']} [{r['metric']}]"
            line = _gate_line(r)
            if r.get("fails_gate"):
                cases.append((name, classname, 0.0, "failure", f"{r['metric']} {r['verdict']}", line))
            elif r["verdict"] == "inconclusive":
                cases.append((name, classname, 0.0, "skipped", f"inconclusive: {r.get('reason') or ''}", ""))
            else:
                cases.append((name, classname, 0.0, "pass", "", ""))
    b, n = result["base"], result["new"]
    props = [("base", b.get("run_id")), ("new", n.get("run_id")), ("strict", result.get("strict")),
             ("alpha", result.get("alpha"))] + [(f"new.tag.{k}", v) for k, v in sorted((n.get("tags") or {}).items())]
    suite = {"name": f"tierbench gate {b.get('run_id')} -> {n.get('run_id')}",
             "timestamp": _timestamp({"started_at": n.get("started_at")}), "hostname": n.get("hostname"),
             "properties": [(k, v) for k, v in props if v is not None],
             "summary": f"{'PASS' if result['passed'] else 'FAIL'}: "
                        + ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))}
    return _junit_doc(suite, cases)


# -- Markdown for GitHub ------------------------------------------------------------------------------------

def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def summary_gate(result: dict) -> str:
    b, n = result["base"], result["new"]
    head = "PASS" if result["passed"] else "FAIL"
    lines = [f"## tierbench gate: {head}", "",
             f"`{b['run_id']}` → `{n['run_id']}`; ratio = median NEW / median BASE, "
             f"{int(result['confidence'] * 100)}% bootstrap interval, one-sided Mann-Whitney p"
             + ("; **strict**: inconclusive fails" if result.get("strict") else ""), ""]
    if result["regressions"]:
        lines += ["### Failing", ""]
        lines += [f"- **{_md(r['case'])}**: {_md(r['metric'] or 'case')} {r['verdict']}"
                  + (f" (ratio {r['ratio']:.3f})" if r.get("ratio") is not None else "")
                  + (f": {_md(r['reason'])}" if r.get("reason") else "") for r in result["regressions"]]
        lines.append("")
    lines += ["| case | metric | n | base | new | ratio | interval | p | threshold | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for entry in result["cases"]:
        for r in entry["metrics"]:
            if not r.get("gating"):
                continue
            ci = "-" if r.get("ci_low") is None else f"{r['ci_low']:.3f}–{r['ci_high']:.3f}"
            verdict = r["verdict"] + (f" ({_md(r['reason'])})" if r.get("reason") else "")
            lines.append(f"| {_md(entry['case'])} | {r['metric']} | {r['n_base']}/{r['n_new']} | "
                         f"{_fmt(r['median_base'])} | {_fmt(r['median_new'])} | {_fmt(r['ratio'])} | {ci} | "
                         f"{_fmt(r['p_value'])} | {r['threshold_percent']:+g}% | {verdict} |")
    contended = sum(e.get("contended_base", 0) + e.get("contended_new", 0) for e in result["cases"])
    if contended:
        lines += ["", f"{contended} repeat(s) were measured on a contended machine (see `tierbench show`)."]
    return "\n".join(lines) + "\n"


def summary_run(doc: dict) -> str:
    rows = [r for r in run_rows(doc) if r["metric"] in (None, "iops", "read_bytes_per_s", "write_bytes_per_s",
                                                         "lat_p99_us", "wall_s")]
    failed = sum(1 for c in doc.get("cases") or [] if c.get("error"))
    lines = [f"## tierbench run `{doc.get('run_id')}`: {doc.get('status')}", "",
             f"{len(doc.get('cases') or [])} cases, {failed} failed"
             + "".join(f"; {k}={_md(v)}" for k, v in sorted((doc.get("tags") or {}).items())), "",
             "| case | metric | n | median | min | max | unit |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {_md(r['case'])} | {r['metric'] or 'failed'} | {r['n']} | {_fmt(r['median'])} | "
                     f"{_fmt(r['min'])} | {_fmt(r['max'])} | {r['unit']} |")
    return "\n".join(lines) + "\n"


# -- dashboards ---------------------------------------------------------------------------------------------

def github_action_benchmark(doc: dict, bigger: bool = True) -> str:
    want = HIGHER if bigger else LOWER
    out = []
    for r in run_rows(doc):
        if r["metric"] is None or direction(r["metric"]) != want:
            continue
        out.append({"name": f"{r['case']} {r['metric']}", "unit": r["unit"], "value": r["median"],
                    "range": f"{r['min']:.6g}..{r['max']:.6g}",
                    "extra": f"median of {r['n']} repeats; {r['direction']} is better; run {doc.get('run_id')}"})
    return json.dumps(out, indent=1) + "\n"


def bencher(doc: dict) -> str:
    out: dict = {}
    for r in run_rows(doc):
        if r["metric"] is None or direction(r["metric"]) not in (HIGHER, LOWER):
            continue
        slug = r["metric"].replace("_", "-")[:64]
        out.setdefault(r["case"][:1024], {})[slug] = {"value": r["median"], "lower_value": r["min"],
                                                      "upper_value": r["max"]}
    return json.dumps(out, indent=1) + "\n"


# -- CSV ----------------------------------------------------------------------------------------------------

def csv_run(doc: dict) -> str:
    buf = io.StringIO()
    fields = ["run_id", "case", "workload", "tier", "metric", "unit", "direction", "n", "median", "min", "max",
              "errors", "contended"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in run_rows(doc):
        w.writerow(dict(r, run_id=doc.get("run_id")))
    return buf.getvalue()


def csv_gate(result: dict) -> str:
    buf = io.StringIO()
    fields = ["base", "new", "case", "metric", "gating", "n_base", "n_new", "median_base", "median_new", "ratio",
              "ci_low", "ci_high", "p_value", "threshold_percent", "verdict", "reason", "fails_gate"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for entry in result["cases"]:
        for r in entry["metrics"]:
            w.writerow(dict(r, base=result["base"]["run_id"], new=result["new"]["run_id"], case=entry["case"]))
    return buf.getvalue()


def render(fmt: str, doc: Optional[dict] = None, gate: Optional[dict] = None) -> str:
    """`fmt` (one of FORMATS) of a run document, or of a gate's result (dashboards take the gate's NEW run,
    passed as `doc`)."""
    if fmt == "junit":
        return junit_gate(gate) if gate is not None else junit_run(doc)
    if fmt == "github-summary":
        return summary_gate(gate) if gate is not None else summary_run(doc)
    if fmt == "csv":
        return csv_gate(gate) if gate is not None else csv_run(doc)
    if fmt in ("github-action-benchmark", "github-action-benchmark-smaller"):
        return github_action_benchmark(doc, bigger=fmt == "github-action-benchmark")
    if fmt == "bencher":
        return bencher(doc)
    raise ValueError(f"unknown format {fmt!r}")
