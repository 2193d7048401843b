"""Where output goes: `--json` prints exactly one JSON document on stdout; human output (tables, progress)
goes to stderr so that stdout stays clean for pipes."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rich.console import Console

OFF_TERMINAL_WIDTH = 160    # CI logs and files: wide enough for the run table, narrow enough to read
WIDE = 10_000               # --wide: no practical limit


def console_width(stream) -> int | None:
    """The width a console on `stream` should use: None (rich reads COLUMNS or the terminal) when COLUMNS is set
    or the stream is a terminal, else OFF_TERMINAL_WIDTH."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if stream.isatty() else OFF_TERMINAL_WIDTH


def stdout_console(wide: bool = False) -> Console:
    """Where a command prints its tables (never with --json)."""
    return Console(highlight=False, width=WIDE if wide else console_width(sys.stdout), soft_wrap=False)


stderr_console = Console(stderr=True, highlight=False, width=console_width(sys.stderr))


def json_default(value):
    """How a document's non-JSON values are written: objects by their to_dict(), paths as text, numpy scalars
    as numbers (run documents on disk and `--json` output alike)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(doc) -> None:
    """`doc` as one valid JSON document on stdout. A number JSON cannot hold (NaN, Infinity) is an error
    (one line, nothing printed), never written as Python's json module would (`NaN`, not JSON)."""
    from bench.core.errors import TierbenchError

    try:
        text = json.dumps(doc, indent=2, default=json_default, allow_nan=False)
    except ValueError as e:
        raise TierbenchError(f"cannot print the document as JSON: {e}") from None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def fmt_number(value, digits: int = 3) -> str:
    """A figure for a table: '-' when not measured, otherwise a compact number."""
    if value is None:
        return "-"
    value = float(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.{digits - 1}f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.{digits - 1}f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.{digits - 1}f}"
    return f"{value:.{digits}g}"
