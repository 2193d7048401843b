"""The report's building blocks: escaping, numbers, tables, embedded figures, and the names of cases and steps."""
from __future__ import annotations

import base64
import html
import io
import math
from contextlib import contextmanager
from contextvars import ContextVar

from matplotlib.figure import Figure

from bench.core.case import case_key, case_key_dict

# What the hadoop-tempdata steps whose key does not show it did (bench/scenarios/hadoop_tempdata/scenario.py).
_HALVED_STEPS = ("a-half", "e")


def esc(value) -> str:
    return html.escape("-" if value is None else str(value))


def num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    v = float(value)
    if v == 0 or not math.isfinite(v):
        return str(v if v else 0)
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.{digits}g}"
    return f"{v:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))}f}"


_FIGURES: ContextVar = ContextVar("report_figures", default=None)


@contextmanager
def collect_figures():
    """Within the block, every chart the report embeds is also appended, as (alt text, Figure), to the list it
    yields: `report --png DIR` writes them one by one, and the chart tests read their axes."""
    sink: list = []
    token = _FIGURES.set(sink)
    try:
        yield sink
    finally:
        _FIGURES.reset(token)


def img(fig: Figure, alt: str) -> str:
    sink = _FIGURES.get()
    if sink is not None:
        sink.append((alt, fig))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def na(what: str, why: str = "not measured") -> str:
    return f'<p class="na">{esc(what)}: {esc(why)}</p>'


def table(headers, rows, left=1, wrap=()) -> str:
    """rows: lists of HTML cells, or (cells, row class). Columns < left are left-aligned; those in wrap wrap."""
    def cell(tag, i, c):
        cls = " ".join(x for x in ("l" if i < left or i in wrap else "", "w" if i in wrap else "") if x)
        return f'<{tag} class="{cls}">{c}</{tag}>' if cls else f"<{tag}>{c}</{tag}>"

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(headers))
    body = []
    for row in rows:
        cls = ""
        if isinstance(row, tuple) and len(row) == 2 and isinstance(row[1], str) and isinstance(row[0], list):
            row, cls = row
        cells = "".join(cell("td", i, c) for i, c in enumerate(row))
        body.append(f'<tr class="{esc(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def tier_label(doc: dict, name) -> str:
    for t in doc.get("tiers") or []:
        if t.get("name") == name:
            return f"{name} ({t.get('class')}{', emulated' if t.get('emulated') else ''})"
    return str(name)


def run_prefix(docs, doc) -> str:
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
        if d["engine"] not in ("job", None):
            parts.append(f"on {d['engine']}")       # the same step on another engine (Spark): its own case
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
    varying, _ = varying_params(groups)
    return {key: step_text(key, doc, varying) for key in groups}


def varying_params(groups) -> tuple:
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


def median_repeat(cases: list):
    """The successful repeat with the median wall time (the one the monitor plot shows), or None."""
    ok = [c for c in cases if not c.get("error") and ((c.get("monitor") or {}).get("series") or {}).get("t_s")]
    if not ok:
        return None
    ok.sort(key=lambda c: (c.get("metrics") or {}).get("wall_s") or 0.0)
    return ok[(len(ok) - 1) // 2]
