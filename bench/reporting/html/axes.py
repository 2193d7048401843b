"""Chart rules, in one place, so that no chart of the report misleads:

- rates and ratios on a linear axis from zero, unless the data span more than two decades (max / min > 100):
  then a log axis, and the label says "log scale" (value_axis);
- every axis labelled with its unit (the callers pass "IOPS per GB (per 10^9 bytes)", "latency (us)", ...);
- a colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008) of 8 colours, so at most
  MAX_SERIES series share one chart; more go to small multiples (chunks) with one common scale.
"""
from __future__ import annotations

import math

# Okabe-Ito, darkest first; yellow last (weak on white, only the 8th series gets it).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
MAX_SERIES = len(PALETTE)
LOG_SPAN = 100.0     # two decades


def finite_positive(values) -> list:
    return [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]


def needs_log(values) -> bool:
    """Whether the data span more than two decades (the one rule for choosing a log axis)."""
    vals = finite_positive(values)
    return bool(vals) and max(vals) / min(vals) > LOG_SPAN


def value_axis(ax, values, label: str, axis: str = "y", top=None) -> str:
    """Scale and label one value axis of `ax` by the rule above; returns "log" or "linear".
    `values` are all the values drawn on it (bar tops, whisker ends); `top` an upper limit to respect."""
    vals = finite_positive(values) + ([float(top)] if top else [])
    setter_scale = ax.set_yscale if axis == "y" else ax.set_xscale
    setter_lim = ax.set_ylim if axis == "y" else ax.set_xlim
    setter_label = ax.set_ylabel if axis == "y" else ax.set_xlabel
    if needs_log(vals):
        setter_scale("log")
        setter_lim(min(vals) / 1.5, max(vals) * 1.5)
        setter_label(f"{label}, log scale")
        return "log"
    setter_scale("linear")
    setter_lim(0, (max(vals) * 1.1) if vals else 1.0)
    setter_label(label)
    return "linear"


def chunks(items: list, size: int = MAX_SERIES) -> list:
    """`items` in consecutive groups of at most `size` (the series of each small multiple)."""
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def colour(i: int) -> str:
    return PALETTE[i % MAX_SERIES]
