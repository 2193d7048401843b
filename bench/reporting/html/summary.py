"""The report's first screen: the summary block (bench.reporting.summary) as HTML, and the failed cases with
their error text and raw files."""
from __future__ import annotations

from bench.reporting.html.elements import esc, num, table


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:+.0f}%"


def _interval(low, high) -> str:
    if low is None or high is None:
        return "no interval (1 repeat)"
    return f"{low * 100:+.0f}% to {high * 100:+.0f}%"


def _comparisons(summary: dict) -> list:
    out = []
    for c in summary.get("comparisons") or []:
        head = f"{esc(c['base'])} &rarr; {esc(c['new'])}"
        if not c["comparable"]:
            out.append(f'<p class="verdict"><span class="badge na-badge">NOT A GATE</span> {head}: '
                       f"{esc(c['reason'])}</p>")
            continue
        n = len(c["regressions"])
        badge = ('<span class="badge pass">PASS</span>' if c["passed"]
                 else '<span class="badge fail">FAIL</span>')
        counts = ", ".join(f"{v} {k}" for k, v in sorted(c["counts"].items()))
        out.append(f'<p class="verdict">{badge} {head}: {n} regression(s), {c["improvements"]} improvement(s) '
                   f'<span class="meta">({esc(counts)})</span></p>')
        if c["regressions"]:
            by_case: dict = {}
            for r in c["regressions"]:
                by_case.setdefault(r["case"], []).append(r)
            rows = [([esc(case), "; ".join(
                f"<b>{esc(r['metric'])}</b> {_pct(None if r['ratio'] is None else r['ratio'] - 1)} "
                f"({_interval(None if r['ci_low'] is None else r['ci_low'] - 1, None if r['ci_high'] is None else r['ci_high'] - 1)}"
                f"; threshold {r['threshold_percent']:+g}%)" for r in regs)], "regressed")
                for case, regs in by_case.items()]
            out.append(table(["regressed case", "metrics: change new vs base (95% interval; threshold)"], rows,
                             left=2, wrap=(0, 1)))
    return out


def _machines(summary: dict) -> list:
    rows = summary.get("machines")
    if not rows:
        return []
    hosts = list(dict.fromkeys(h for r in rows for h in r["values"]))
    body = [[esc(r["workload"]), esc(r["metric_name"])]
            + [("<b>" + num(r["values"][h]) + "</b>" if h == r["winner"] else num(r["values"].get(h)))
               for h in hosts] + [esc(r["winner"].split(" (")[0]), _pct(r["margin"])] for r in rows]
    return ["<h3>Which machine wins</h3>",
            table(["workload", "figure"] + hosts + ["winner", "margin over next"], body, left=2, wrap=(0,))]


def _findings(entry: dict, multi: bool) -> list:
    """A row per finding; with two engines (the replay and Spark) a column per engine, each cell the verdict and
    the figure, coloured by the verdict."""
    found = entry.get("findings")
    if not found:
        return []
    engines = list(dict.fromkeys(f["engine"] for f in found))
    title = f"Findings of {esc(entry['run_id'])}" if multi else "Findings"
    if len(engines) == 1:
        rows = [([esc(f["claim"]), esc(f["verdict_text"]), esc(f["figure"])], _verdict_class(f["verdict"]))
                for f in found]
        return [f"<h3>{title}</h3>", table(["finding", "verdict", "measured"], rows, left=3, wrap=(0, 2))]
    by_id: dict = {}
    for f in found:
        by_id.setdefault(f["id"], {})[f["engine"]] = f
    rows = []
    for per in by_id.values():
        first = next(iter(per.values()))
        cells = [esc(first["claim"])]
        for e in engines:
            f = per.get(e)
            cells.append("-" if f is None else
                         f'<span class="{_verdict_class(f["verdict"])}">{esc(f["verdict_text"])}</span>'
                         f'<br><span class="meta">{esc(f["figure"])}</span>')
        rows.append(cells)
    return [f"<h3>{title}</h3>", table(["finding"] + [f"on {e}" for e in engines], rows, left=len(engines) + 1,
                                       wrap=tuple(range(len(engines) + 1)))]


def _verdict_class(verdict) -> str:
    return str(verdict or "").replace(",", "").replace(" ", "-")


def _best(entry: dict, multi: bool) -> list:
    rows = []
    for b in entry["best_tiers"]:
        if b["next_tier"] is None:
            rows.append([esc(b["workload"]), esc(b["best_tier"]), f"{num(b['best_median'])} {esc(b['metric_name'])}",
                         "only tier measured", "-"])
            continue
        better = "higher" if b["higher_is_better"] else "shorter"
        rows.append([esc(b["workload"]), f"<b>{esc(b['best_tier'])}</b>",
                     f"{num(b['best_median'])} {esc(b['metric_name'])}",
                     f"{_pct(b['margin'])} vs {esc(b['next_tier'])} ({num(b['next_median'])}; {better} is better)",
                     _interval(b["ci_low"], b["ci_high"])])
    if not rows:
        return []
    title = f"Best tier per workload, {esc(entry['run_id'])}" if multi else "Best tier per workload"
    return [f"<h3>{title}</h3>",
            table(["workload", "best tier", "median", "margin over the next tier", "95% interval of the margin"],
                  rows, left=2, wrap=(0, 3))]


def _bottlenecks(entry: dict, multi: bool) -> list:
    items = [b for b in entry["bottlenecks"] if b["bottleneck"] is not None]
    if not items:
        return []
    cells = "".join(f'<li><span class="bn bn-{esc(b["bottleneck"])}">{esc(b["bottleneck"])}</span> '
                    f'{esc(b["case"])}</li>' for b in items)
    title = f"Bottleneck of each case, {esc(entry['run_id'])}" if multi else "Bottleneck of each case"
    return [f"<h3>{title}</h3>", f'<ul class="cols">{cells}</ul>']


def summary_html(summary: dict) -> str:
    """The summary block: the verdict of a comparison, the winner table of machines, a scenario's findings, the
    best tier per workload and each case's bottleneck, in that order (what applies to these runs)."""
    multi = len(summary["runs"]) > 1
    out = _comparisons(summary) + _machines(summary)
    for entry in summary["per_run"]:
        out += _findings(entry, multi)
        # A comparison: the run under test (the last); machines: the winner table says it; else every run.
        if summary["kind"] in ("run", "scenario") or (summary["kind"] == "comparison"
                                                      and entry is summary["per_run"][-1]):
            out += _best(entry, multi) + _bottlenecks(entry, multi)
        n_failed = len(entry["failed"])
        if n_failed:
            out.append(f'<p class="verdict"><span class="badge fail">{n_failed} FAILED</span> '
                       f'case(s) in {esc(entry["run_id"])}: <a href="#failed">errors and raw files</a></p>')
    return "".join(out)


def failed_html(summary: dict) -> str:
    """Every failed case: its id, case, repeat, error text and the path of its raw files."""
    rows = []
    for entry in summary["per_run"]:
        for f in entry["failed"]:
            raw = "<br>".join(f"<code>{esc(r)}</code>" for r in f["raw"]) or "no raw file kept"
            rows.append(([esc(entry["run_id"]), esc(f["case_id"]), esc(f["case"]),
                          esc(None if f["repeat"] is None else int(f["repeat"]) + 1),
                          f'<pre class="err">{esc(f["error"])}</pre>', raw], "failed"))
    if not rows:
        return ""
    return table(["run", "case id", "case", "repeat", "error", "raw files"], rows, left=6, wrap=(2, 4, 5))
