"""The answer first: the summary block of a report (`report`, top of the HTML; `report --json`, as data).

What it says depends on what the runs are:
- two or more runs comparable as a gate: PASS/FAIL of each against the first, and its regressions
  (bench.analysis.compare.compare_runs, the same verdicts as `tierbench compare`);
- runs of different machines (other hosts or declared instances; with a different hardware class not comparable
  as a gate, else shown beside the gate's verdict): the winner of each workload and tier, with its margin
  over the runner-up (bench.analysis.machines.across_machines: median IOPS, higher wins; terasort median wall
  time, lower wins);
- a scenario run: its findings with their verdicts (bench.scenarios.hadoop_tempdata.findings), per engine;
- every run: the best tier of each workload (cases that differ only in their tier), its margin over the next tier
  and the 95% bootstrap interval of that ratio (bench.analysis.stats.bootstrap_ratio_ci; none with one repeat a
  side), and each case's bottleneck verdict; its failed cases with their error and raw files.

The margin is a ratio of medians minus one: 0.39 means the best tier's median IOPS is 1.39x the next one's (for a
lower-is-better time, the next one's time is 1.39x the best one's).
"""
from __future__ import annotations

from collections import Counter

from bench.analysis.compare import compare_runs, metric_values
from bench.analysis.machines import across_machines
from bench.analysis.stats import bootstrap_ratio_ci, median
from bench.core.case import case_key_dict
from bench.core.errors import UserError
from bench.reporting.html.elements import case_texts, group_by_case, varying_params

__all__ = ["summary"]


def _primary(ident: dict, cases: list) -> tuple:
    """(metric, name with unit, higher is better) that ranks tiers for this case: IOPS for an I/O pattern, the
    sort's runtime for terasort, the wall time for any other job."""
    if ident["engine"] in ("job", "spark") or ident["temp_tier"] is not None:
        if metric_values(cases, "sort_s"):
            return "sort_s", "sort time (s)", False
        return "wall_s", "wall time (s)", False
    return "iops", "IOPS", True


def _setup_text(ident: dict, varying: set) -> str:
    """A case without its tier: workload, label, the params that vary, temp tier, cache, workers."""
    parts = [f"{ident['label']}:" if ident["label"] else "", str(ident["workload"])]
    parts += [f"{k}={v}" for k, v in ident["params"].items() if (ident["workload"], k) in varying]
    if ident["engine"] not in ("job", "fio", None):
        parts.append(f"on {ident['engine']}")
    if ident["temp_tier"] is not None:
        parts.append(f"(temp data on {ident['temp_tier']})")
    if ident["cache"]:
        parts.append("+ page cache")
    if ident["workers"] not in (None, 1):
        parts.append(f"{ident['workers']} workers")
    return " ".join(p for p in parts if p)


def best_tiers(doc: dict) -> list:
    """Per set of cases that differ only in their tier: the best tier, its median, the margin over the next tier
    and the interval of that ratio; a single tier is listed with no margin (nothing to beat)."""
    groups = group_by_case(doc)
    varying, _ = varying_params(groups)
    setups: dict = {}
    for key, cases in groups.items():
        ident = case_key_dict(key)
        if ident["label"]:
            continue        # a scenario step: its findings say which layout wins
        rest = tuple((k, v) for k, v in sorted(ident.items()) if k not in ("tier", "params")) + \
            (("params", tuple(sorted((k, repr(v)) for k, v in ident["params"].items()))),)
        setups.setdefault(rest, []).append((ident, cases))
    out = []
    for entries in setups.values():
        ident0 = entries[0][0]
        metric, name, higher = _primary(ident0, entries[0][1])
        ranked = []
        for ident, cases in entries:
            values = metric_values(cases, metric)
            if values:
                ranked.append((median(values), ident["tier"], values))
        if not ranked:
            continue
        ranked.sort(key=lambda r: r[0], reverse=higher)
        best = ranked[0]
        row = {"workload": _setup_text(ident0, varying), "metric": metric, "metric_name": name,
               "higher_is_better": higher, "best_tier": best[1], "best_median": best[0], "n_best": len(best[2]),
               "next_tier": None, "next_median": None, "margin": None, "ci_low": None, "ci_high": None}
        if len(ranked) > 1:
            nxt = ranked[1]
            base, new = (nxt[2], best[2]) if higher else (best[2], nxt[2])
            ci = bootstrap_ratio_ci(base, new, seed=len(out))
            row.update(next_tier=nxt[1], next_median=nxt[0], n_next=len(nxt[2]),
                       margin=None if ci.ratio is None else ci.ratio - 1.0,
                       ci_low=None if ci.low is None else ci.low - 1.0,
                       ci_high=None if ci.high is None else ci.high - 1.0)
        out.append(row)
    return out


def bottlenecks(doc: dict) -> list:
    """[{case, bottleneck, repeats}] per case group: the verdict most of its successful repeats got."""
    texts = case_texts(doc)
    out = []
    for key, cases in group_by_case(doc).items():
        votes = Counter(c.get("bottleneck") or "unknown" for c in cases if not c.get("error"))
        out.append({"case": texts[key], "bottleneck": votes.most_common(1)[0][0] if votes else None,
                    "repeats": len(cases), "failed": sum(1 for c in cases if c.get("error"))})
    return out


def failed_cases(doc: dict, folder=None) -> list:
    """[{case_id, case, error, raw}] of every failed case; raw: its raw files, under the run's folder when known
    (else as stored, relative to results/<run-id>/raw/)."""
    texts = case_texts(doc)
    out = []
    for key, cases in group_by_case(doc).items():
        for c in cases:
            if not c.get("error"):
                continue
            raw = [str(folder / "raw" / r) if folder is not None else f"raw/{r}" for r in c.get("raw") or []]
            out.append({"case_id": c.get("id"), "case": texts[key], "repeat": c.get("repeat"),
                        "error": str(c["error"]), "raw": raw})
    return out


def scenario_findings(doc: dict) -> list:
    """[{engine, id, claim, verdict, verdict_text, figure}] of a scenario run, recomputed from its cases."""
    if not (doc.get("scenario") or any(c.get("label") for c in doc.get("cases") or [])):
        return []
    from bench.scenarios.hadoop_tempdata import findings as findings_mod

    out = []
    for engine in findings_mod.engines_of(doc) or ["replay"]:
        for f in findings_mod.findings(doc, engine):
            out.append({"engine": engine, "id": f.get("id"), "claim": f.get("claim"), "verdict": f.get("verdict"),
                        "verdict_text": f.get("verdict_text") or f.get("verdict"), "figure": f.get("figure")})
    return out


def _comparison(base: dict, new: dict) -> dict:
    out = {"base": base.get("run_id"), "new": new.get("run_id")}
    try:
        result = compare_runs(base, new)
    except UserError as e:
        return dict(out, comparable=False, reason=str(e))
    return dict(out, comparable=True, passed=result["passed"], counts=result["counts"],
                regressions=[{k: r[k] for k in ("case", "metric", "verdict", "ratio", "ci_low", "ci_high",
                                                 "threshold_percent")} for r in result["regressions"]],
                improvements=sum(1 for e in result["cases"] for r in e["metrics"] if r["verdict"] == "improved"))


def machine_winners(docs: list) -> list:
    """Per workload and tier measured on two or more machines: the machine that wins, by how much over the next."""
    result = across_machines(docs)
    # Parameters that differ between rows of the same workload name the row (iodepth=1 and 32 stay apart).
    seen: dict = {}
    for r in result["rows"] + result["terasort"]:
        seen.setdefault(r["workload"], set()).update((k, repr(v)) for k, v in (r.get("params") or {}).items())
    varying = {w: {k for k, _ in pairs if len({v for kk, v in pairs if kk == k}) > 1} for w, pairs in seen.items()}

    def params_text(r) -> str:
        return "".join(f" {k}={v}" for k, v in sorted((r.get("params") or {}).items())
                       if k in varying[r["workload"]])

    table: dict = {}
    for r in result["rows"]:
        if r.get("iops") is not None:
            what = f"{r['workload']} @ {r['tier']}{params_text(r)}"
            table.setdefault((what, "IOPS", True), {})[f"{r['hostname']} ({r['run_id']})"] = r["iops"]
    for r in result["terasort"]:
        what = (f"terasort data {r['tier']}" + (f", temp {r['temp_tier']}" if r.get("temp_tier") else "")
                + params_text(r))
        table.setdefault((what, "wall time (s)", False), {})[f"{r['hostname']} ({r['run_id']})"] = r["wall_s"]
    out = []
    for (what, name, higher), values in table.items():
        if len(values) < 2:
            continue
        ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=higher)
        (win, wv), (_, nv) = ranked[0], ranked[1]
        margin = (wv / nv if higher else nv / wv) - 1.0 if wv and nv else None
        out.append({"workload": what, "metric_name": name, "higher_is_better": higher, "values": values,
                    "winner": win, "margin": margin})
    return out


def summary(docs: list, folders: dict = None) -> dict:
    """The summary block as data (see the module docstring); folders: {run_id: its run folder} for raw paths."""
    folders = folders or {}
    out = {"runs": [{"run_id": d.get("run_id"), "status": d.get("status"),
                     "hostname": (d.get("machine") or {}).get("hostname"),
                     "scenario": (d.get("scenario") or {}).get("name")} for d in docs]}
    comparisons = [_comparison(docs[0], d) for d in docs[1:]]
    if comparisons:
        out["comparisons"] = comparisons
        # Several machines (hosts, or declared instances): the winner table, beside the gate's verdict where the
        # runs are of one hardware class (bench.analysis.machine_class) and so also gateable.
        from bench.reporting.html.machines import machines_differ

        if any(not c["comparable"] for c in comparisons) or machines_differ(docs):
            out["machines"] = machine_winners(docs)
    out["per_run"] = []
    for d in docs:
        entry = {"run_id": d.get("run_id"), "best_tiers": best_tiers(d), "bottlenecks": bottlenecks(d),
                 "failed": failed_cases(d, folders.get(d.get("run_id")))}
        found = scenario_findings(d)
        if found:
            entry["findings"] = found
        out["per_run"].append(entry)
    if comparisons and all(c["comparable"] for c in comparisons):
        out["kind"] = "comparison"
    elif comparisons:
        out["kind"] = "machines"
    elif out["per_run"][0].get("findings"):
        out["kind"] = "scenario"
    else:
        out["kind"] = "run"
    return out
