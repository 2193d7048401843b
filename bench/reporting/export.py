"""`tierbench report`'s outputs from run documents: the HTML page (-o), each chart as its own PNG and SVG for
slides (--png DIR), and the summary block as data (--json). Every file goes through
bench.core.outpath (a regular file or a new path, never a link, device or FIFO; 0666 less the umask)."""
from __future__ import annotations

import io
import re

from bench.core.outpath import checked_output_dir, checked_output_path, write_output_file
from bench.reporting.html import collect_figures, render_report
from bench.reporting.summary import summary

__all__ = ["write_report", "chart_filename"]


def chart_filename(index: int, alt: str) -> str:
    """`03-iops-per-gb-per-tier`: the chart's order in the page, then its alt text as a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", alt.lower()).strip("-")[:80] or "chart"
    return f"{index:02d}-{slug}"


def _figure_bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight")
    return buf.getvalue()


def write_report(docs: list, *, output=None, png_dir=None, title: str = "tierbench report",
                 folders: dict = None, allow_system: bool = False, store=None) -> dict:
    """Write what was asked; return {"summary", "report", "bytes", "charts", "runs"} (paths as text, None where
    not written). folders: {run_id: run folder}, so failed cases name their raw files by path; store: the results
    store the runs came from (the cluster model's device baselines are looked up there, as `model` does)."""
    if output is not None:
        checked_output_path(output, what="-o", allow_system=allow_system)
    chart_dir = checked_output_dir(png_dir, what="--png", allow_system=allow_system) if png_dir is not None else None
    data = summary(docs, folders)
    with collect_figures() as figures:
        page = render_report(docs, title, folders=folders, summary_data=data, store=store)
    out = {"summary": data, "report": None, "bytes": None, "charts": [],
           "runs": [d.get("run_id") for d in docs]}
    if output is not None:
        write_output_file(output, page, what="-o", allow_system=allow_system)
        out.update(report=str(output), bytes=len(page.encode()))
    if chart_dir is not None:
        for i, (alt, fig) in enumerate(figures, 1):
            stem = chart_filename(i, alt)
            for fmt in ("png", "svg"):
                path = chart_dir / f"{stem}.{fmt}"
                write_output_file(path, _figure_bytes(fig, fmt), what="--png", allow_system=allow_system)
                out["charts"].append(str(path))
    return out
