"""`tierbench report`'s outputs from run documents: the HTML page (-o), each chart as its own PNG and SVG for
slides (--png DIR), and the summary block as data (--json). Every file goes through
bench.reporting.output_file.write_output (a regular file or a new path, 0666 less the umask)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from bench.core.errors import UserError
from bench.reporting.html import collect_figures, render_report
from bench.reporting.output_file import write_output
from bench.reporting.summary import summary

__all__ = ["write_report", "chart_filename"]


def chart_filename(index: int, alt: str) -> str:
    """`03-iops-per-gb-per-tier`: the chart's order in the page, then its alt text as a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", alt.lower()).strip("-")[:80] or "chart"
    return f"{index:02d}-{slug}"


def _chart_dir(directory) -> Path:
    path = Path(directory)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise UserError(f"--png {directory}: not a folder (a file, link or device is never written over)")
    if not path.exists():
        if not path.parent.is_dir():
            raise UserError(f"--png {directory}: folder {path.parent} does not exist")
        try:
            path.mkdir()
        except OSError as e:
            raise UserError(f"--png {directory}: cannot create it ({e.strerror})") from None
    return path


def _figure_bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight")
    return buf.getvalue()


def write_report(docs: list, *, output=None, png_dir=None, title: str = "tierbench report",
                 folders: dict = None) -> dict:
    """Write what was asked; return {"summary", "report", "bytes", "charts", "runs"} (paths as text, None where
    not written). folders: {run_id: run folder}, so failed cases name their raw files by path."""
    if output is not None:
        from bench.reporting.output_file import check_output_path
        check_output_path(output, "-o")
    chart_dir = _chart_dir(png_dir) if png_dir is not None else None
    data = summary(docs, folders)
    with collect_figures() as figures:
        page = render_report(docs, title, folders=folders, summary_data=data)
    out = {"summary": data, "report": None, "bytes": None, "charts": [],
           "runs": [d.get("run_id") for d in docs]}
    if output is not None:
        write_output(output, page, "-o")
        out.update(report=str(output), bytes=len(page.encode()))
    if chart_dir is not None:
        for i, (alt, fig) in enumerate(figures, 1):
            stem = chart_filename(i, alt)
            for fmt in ("png", "svg"):
                path = chart_dir / f"{stem}.{fmt}"
                write_output(path, _figure_bytes(fig, fmt), "--png")
                out["charts"].append(str(path))
    return out
