"""The hadoop-tempdata findings and the replay's fidelity as terminal tables that fit FINDINGS_WIDTH columns:
each finding on one row (verdict, claim, form, measured figure, threshold; cells wrapped inside their column),
and its `why` on the lines below the row, indented, across the whole width, not in a column beside it."""
from __future__ import annotations

import textwrap
from itertools import zip_longest

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.scenarios.hadoop_tempdata.findings import VERDICT_STYLE, header

FINDINGS_WIDTH = 160
_GAP = 2


def _wrap(text: str, width: int) -> list:
    return textwrap.wrap(str(text), width=max(4, width), break_long_words=True, break_on_hyphens=False) or [""]


def _widths(shares: tuple, width: int) -> list:
    """Column widths from their shares of the usable width (the gaps taken off first)."""
    usable = width - _GAP * (len(shares) - 1)
    return [max(6, int(usable * s / sum(shares))) for s in shares]


def wrapped_rows(headers: list, rows: list, shares: tuple, width: int) -> Text:
    """A plain grid: rows of [(text, style)] cells wrapped inside columns sized by `shares` of `width`, each row
    optionally followed by (label, text) lines below it (row = (cells, below or None))."""
    widths = _widths(shares, width)
    out = Text()

    def line(cells):
        wrapped = [(_wrap(text, w), style) for (text, style), w in zip(cells, widths)]
        for parts in zip_longest(*[lines for lines, _ in wrapped], fillvalue=""):
            for i, (part, (_, style)) in enumerate(zip(parts, wrapped)):
                out.append(part.ljust(widths[i]) if i < len(widths) - 1 else part, style=style or None)
                if i < len(widths) - 1:
                    out.append(" " * _GAP)
            out.rstrip()
            out.append("\n")

    line([(h, "bold") for h in headers])
    out.append("-" * min(width, sum(widths) + _GAP * (len(widths) - 1)) + "\n", style="dim")
    for cells, below in rows:
        line(cells)
        if below:
            label, text = below
            for part in _wrap(f"{label}: {text}", width - 4):
                out.append("    " + part + "\n", style="dim")
    out.rstrip()
    return out


def findings_table(found: list, width: int = FINDINGS_WIDTH) -> Group:
    """The findings of one engine: verdict, claim, form, measured, threshold; the why below each row."""
    width = min(width or FINDINGS_WIDTH, FINDINGS_WIDTH)
    note = header(found)
    rows = []
    for f in found:
        style = VERDICT_STYLE.get(f["verdict"], "")
        rows.append(([(f["verdict_text"], style), (f["claim"], ""), (f["form"], ""), (f["figure"], ""),
                      ((f["threshold"] or {}).get("rule", "-"), "")],
                     ("why", f["reason"] + (f" [noise: {'; '.join(f['noise'])}]" if f.get("noise") else ""))
                     if f.get("reason") else None))
    title = Text("hadoop-tempdata: the case's findings, on this machine", style="bold")
    parts = [title] + ([Text("\n".join(_wrap(note, width)), style="yellow")] if note else [])
    parts.append(wrapped_rows(["verdict", "finding", "form", "measured", "threshold"], rows, (14, 34, 9, 30, 18),
                              width))
    return Group(*parts)


def engines_findings_table(by_engine: dict, width: int = FINDINGS_WIDTH) -> Group:
    """The findings with a column per engine (the replay's and Spark's): each cell the verdict and the figure;
    each engine's why below the row."""
    width = min(width or FINDINGS_WIDTH, FINDINGS_WIDTH)
    engines = list(by_engine)
    rows = []
    for found in zip(*(by_engine[e] for e in engines)):
        cells = [(found[0]["claim"], ""), (found[0]["form"], ""),
                 ((found[0]["threshold"] or {}).get("rule", "-"), "")]
        cells += [(f"{f['verdict_text']}: {f['figure']}", VERDICT_STYLE.get(f["verdict"], "")) for f in found]
        whys = "; ".join(f"{e}: {f['reason']}" for e, f in zip(engines, found) if f.get("reason"))
        rows.append((cells, ("why", whys) if whys else None))
    shares = (26, 8, 16) + (30,) * len(engines)
    return Group(Text("hadoop-tempdata: the case's findings, per engine", style="bold"),
                 wrapped_rows(["finding", "form", "threshold", *engines], rows, shares, width))


def fidelity_table(fid: dict) -> Table:
    """Replay vs Spark vs Spark's recorded temp I/O replayed, on the same tiers and records, and where the replay
    and the recorded replay differ from Spark."""
    table = Table(title="replay fidelity: the replay (tierbench's terasort), Apache Spark, and Spark's recorded temp "
                        "I/O replayed; same tiers and records", title_justify="left")
    for col in ("figure", "replay", "spark", "recorded", "replay differs?", "recorded differs?"):
        table.add_column(col)
    word = {True: "[yellow]yes[/yellow]", False: "no", None: "not measured"}
    for r in fid["rows"]:
        fmt = (lambda v: "-" if v is None else f"{v:.0%}") if r["kind"] == "share" else \
            (lambda v: "-" if v is None else f"{v:.3g}")
        table.add_row(r["figure"], fmt(r["replay"]), fmt(r["spark"]), fmt(r.get("recorded")), word[r["differs"]],
                      word[r.get("recorded_differs")])
    return table
