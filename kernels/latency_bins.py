"""Latency histograms in fio's bin layout, and percentiles read from them.

fio keeps completion latencies in a log-linear histogram ("plat" bins, stat.h/stat.c): values below 128 ns
get one bin each; above that, every power of two is split into 64 equal sub-buckets (FIO_IO_U_PLAT_BITS = 6),
so a bin's width is at most 1/64 of its value (error under 0.8 %). 29 groups of 64 bins (1856 bins) reach
about 17 s; anything longer lands in the last bin. fio's json+ output lists the non-empty bins as
{"<bin value in ns>": count}, the bin value being the middle of the bin (`plat_idx_to_val`).

The builtin engine fills an array of `PLAT_NR` counts with the same layout (`bin_index`) and converts it with
`bins_from_array`, so its percentiles and fio's are computed by one definition (`percentile_from_bins`,
fio's `calc_clat_percentiles`): the q-th percentile is the value of the first bin at which the running count
reaches q/100 of all samples. For a single fio job this gives exactly the percentiles fio prints.

Everything here is in nanoseconds except `percentiles_us`, which converts once, at the end.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Mapping, Sequence

__all__ = [
    "PLAT_BITS", "PLAT_VAL", "PLAT_GROUP_NR", "PLAT_NR",
    "bin_index", "bin_value", "bins_from_array", "bins_to_array", "merge_bins",
    "percentile_from_bins", "percentiles_us",
]

PLAT_BITS = 6                        # fio's FIO_IO_U_PLAT_BITS: 2**6 sub-buckets per power of two
PLAT_VAL = 1 << PLAT_BITS            # FIO_IO_U_PLAT_VAL
PLAT_GROUP_NR = 29                   # FIO_IO_U_PLAT_GROUP_NR (fio >= 3.0, nanosecond histograms)
PLAT_NR = PLAT_GROUP_NR * PLAT_VAL   # FIO_IO_U_PLAT_NR = 1856 bins


def bin_index(value_ns: int) -> int:
    """The bin (0 .. PLAT_NR-1) that holds a latency of `value_ns` nanoseconds (fio's plat_val_to_idx).

    Values that need no more than PLAT_BITS+1 bits are their own bin; larger ones drop their low
    "error bits". Values past the last bin's range are counted in the last bin, as fio does.
    """
    value_ns = int(value_ns)
    if value_ns < 0:
        raise ValueError(f"latency must be >= 0 ns, not {value_ns}")
    msb = value_ns.bit_length() - 1 if value_ns else 0
    if msb <= PLAT_BITS:
        return value_ns
    error_bits = msb - PLAT_BITS
    base = (error_bits + 1) << PLAT_BITS
    offset = (PLAT_VAL - 1) & (value_ns >> error_bits)
    return min(base + offset, PLAT_NR - 1)


def bin_value(index: int) -> int:
    """The value in ns that stands for bin `index` (fio's plat_idx_to_val): the middle of the bin.

    Bins below 2*PLAT_VAL are one nanosecond wide and stand for their own value; above, the middle
    `base + (k + 0.5) * 2**error_bits` is a whole number because error_bits >= 1.
    """
    index = int(index)
    if not 0 <= index < PLAT_NR:
        raise ValueError(f"bin index must be in 0..{PLAT_NR - 1}, not {index}")
    if index < (PLAT_VAL << 1):
        return index
    error_bits = (index >> PLAT_BITS) - 1
    base = 1 << (error_bits + PLAT_BITS)
    k = index % PLAT_VAL
    return base + ((2 * k + 1) << (error_bits - 1))


def bins_from_array(counts: Sequence[int]) -> dict[int, int]:
    """{bin value ns: count} of the non-empty bins of an array laid out by `bin_index` (len <= PLAT_NR).

    Accepts any sequence of non-negative integers (a list, a NumPy array).
    """
    if len(counts) > PLAT_NR:
        raise ValueError(f"a latency histogram has at most {PLAT_NR} bins, not {len(counts)}")
    bins = {}
    for index, count in enumerate(counts):
        count = int(count)
        if count < 0:
            raise ValueError(f"bin {index} has a negative count {count}")
        if count:
            bins[bin_value(index)] = count
    return bins


def bins_to_array(bins_ns: Mapping[int, int]) -> list[int]:
    """The PLAT_NR-long count array for a {bin value ns: count} dict (the inverse of `bins_from_array`).

    Keys need not be exact bin values: each is counted in the bin that holds it.
    """
    counts = [0] * PLAT_NR
    for value, count in bins_ns.items():
        counts[bin_index(value)] += int(count)
    return counts


def merge_bins(*dicts: Mapping[int, int]) -> dict[int, int]:
    """Sum several {bin value ns: count} histograms into one (keys sorted ascending)."""
    merged: dict[int, int] = {}
    for bins in dicts:
        for value, count in bins.items():
            merged[int(value)] = merged.get(int(value), 0) + int(count)
    return dict(sorted(merged.items()))


def percentile_from_bins(bins_ns: Mapping[int, int], q: float) -> float:
    """The q-th percentile (0 < q <= 100) in ns of a {bin value ns: count} histogram, as fio computes it.

    fio walks the bins upwards and reports the value of the first bin at which the running count reaches
    q/100 of the total (calc_clat_percentiles, in long double). The comparison is done here in exact
    rational arithmetic on the same double `q`, which agrees with fio's except for totals beyond ~10**16.
    """
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    items = sorted((int(v), int(c)) for v, c in bins_ns.items() if c)
    total = sum(c for _, c in items)
    if not total:
        raise ValueError("no samples in the latency histogram")
    threshold = Fraction(q) * total / 100
    running = 0
    for value, count in items:
        running += count
        if running >= threshold:
            return float(value)
    return float(items[-1][0])  # unreachable: running == total >= threshold at the last bin


def percentiles_us(bins_ns: Mapping[int, int], qs: Iterable[float]) -> dict[float, float]:
    """{q: percentile in microseconds} for each q, from a histogram in ns (empty dict for no samples)."""
    if not any(bins_ns.values()):
        return {}
    return {float(q): percentile_from_bins(bins_ns, q) / 1000.0 for q in qs}
