"""Sizes, with the two conventions tierbench uses and why:

- Binary (`parse_size`, KiB..PiB): transfer sizes, file sizes and memory, as fio and the kernel count them:
  4k = 4096 bytes, 1m = 1 MiB. Workload parameters (`--param bs=64k`) and `tiers emulate --size` use it.
- Decimal (`parse_capacity`): a tier's capacity, as drives are sold: 8T = 8 x 10^12 bytes. IOPS per GB is per
  10^9 bytes (bench.analysis.metrics.iops_per_gb), so a config's `capacity = "8T"` gives the figures drive
  makers quote.
"""
from __future__ import annotations

import math
import re

KiB, MiB, GiB, TiB, PiB = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4, 1024 ** 5
CAPACITY_MAX_BYTES = 10 ** 18          # 1 EB, decimal as drives are sold

_SIZE = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_MULTIPLIER = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": TiB, "p": PiB}
_DECIMAL = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([KMGTP]?)B?\s*$", re.IGNORECASE)
_DECIMAL_MULTIPLIER = {"": 1, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15}


def parse_size(text) -> int:
    """An integer with an optional binary suffix: 4k, 64KiB, 128m, 1g, 1.5m (fio's convention: k = 1024).
    Exact (integer arithmetic, no float rounding); ValueError for anything else."""
    match = _SIZE.match(str(text))
    if not match or len(match.group(1)) + len(match.group(2) or "") > 30:
        raise ValueError(f"not a number or size: {text!r}")
    whole, fraction, suffix = match.group(1), match.group(2) or "", match.group(3).lower()
    scaled = int(whole + fraction) * _MULTIPLIER[suffix]
    divisor = 10 ** len(fraction)
    if scaled % divisor:
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return scaled // divisor


def parse_capacity(value) -> int:
    """A capacity in bytes from "8T", "1.6T", "500G" (decimal, as drives are sold) or a number of bytes; a positive
    finite size up to 1 EB. ValueError otherwise."""
    if isinstance(value, str):
        match = _DECIMAL.match(value)
        if not match:
            raise ValueError(f"expected a size like \"8T\" or \"1.6T\", not {value!r:.40}")
        number = float(match.group(1)) * _DECIMAL_MULTIPLIER[match.group(2).upper()]
    else:
        number = value
    if not math.isfinite(number) or not 1 <= number <= CAPACITY_MAX_BYTES:
        raise ValueError(f"must be from 1 byte to 1E (10^18 bytes), not {value!r:.40}")
    return int(number)


SPACE_MARGIN = 1.05   # file system overhead (metadata, block rounding) on top of the bytes a case writes


def fmt_bytes(n: float) -> str:
    """Binary units, one decimal (whole bytes below 1 KiB): 512 B, 11.6 GiB, 10.0 TiB; TiB is the largest."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
