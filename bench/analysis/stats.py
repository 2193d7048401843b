"""Statistics for comparing noisy I/O figures: bootstrap CI of a ratio of medians, Mann-Whitney U, change points.

Why these: I/O figures are skewed (latency tails, throttled devices, page-cache luck) and repeats are few, so
the comparisons use medians and rank tests rather than means and t-tests.

- `bootstrap_ratio_ci`: percentile bootstrap of median(new) / median(base), each side resampled independently,
  vectorised with NumPy; seeded so the same inputs always give the same interval.
- `mann_whitney_p`: Mann-Whitney U, two-sided (scipy) or one-sided in a stated direction (exact permutation
  for few repeats). With few repeats the smallest p it can reach is 1 / C(n1 + n2, n1) one-sided (0.05 for 3
  against 3) and twice that two-sided; `min_attainable_p` says so, so callers can report "too few repeats"
  instead of "no difference".
- `change_points`: binary segmentation on a sequence (e.g. one metric's per-run medians over time). The sequence
  is first smoothed by a running median of 3 (a single outlying run is not a level shift); each segment is split
  where the CUSUM statistic |mean(left) - mean(right)| / sqrt(1/nl + 1/nr) peaks, and the split is kept when that
  statistic exceeds `z_threshold` noise units and the medians either side differ by at least `min_relative`.
  The noise unit is sigma = 1.4826 * MAD(first differences) / sqrt(2) of the raw sequence: differences cancel
  the steps themselves, so one real step does not inflate the noise estimate.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = ["RatioCI", "bootstrap_ratio_ci", "bootstrap_median_ci", "mann_whitney_p", "min_attainable_p", "ChangePoint", "change_points",
           "robust_sigma", "median3"]


@dataclass(frozen=True)
class RatioCI:
    """median(new) / median(base) with its bootstrap confidence interval (low, high); None where undefined."""
    ratio: Optional[float]
    low: Optional[float]
    high: Optional[float]
    confidence: float
    resamples: int


def median(values) -> Optional[float]:
    """The median of measured values, or None when there is none (a figure not measured is missing, never 0).
    The one median of tierbench's tables, findings, cluster model and report (statistics.median: for an even
    count, the mean of the two middle values)."""
    values = list(values)
    return statistics.median(values) if values else None


def _clean(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ratio_ci(base: Sequence[float], new: Sequence[float], resamples: int = 2000,
                       confidence: float = 0.95, seed: int = 0) -> RatioCI:
    """Percentile-bootstrap CI of median(new) / median(base).

    Each side is resampled with replacement `resamples` times (one (resamples, n) index array per side, so the
    whole bootstrap is two NumPy medians). The ratio is None when either side is empty or the base median is 0;
    the interval is None when a side has fewer than 2 values (a single value has no spread to resample).
    """
    b, n = _clean(base), _clean(new)
    if b.size == 0 or n.size == 0:
        return RatioCI(None, None, None, confidence, resamples)
    mb, mn = float(np.median(b)), float(np.median(n))
    if mb == 0:
        return RatioCI(None, None, None, confidence, resamples)
    ratio = mn / mb
    if b.size < 2 or n.size < 2:
        return RatioCI(ratio, None, None, confidence, resamples)
    rng = np.random.default_rng(seed)
    med_b = np.median(b[rng.integers(0, b.size, size=(resamples, b.size))], axis=1)
    med_n = np.median(n[rng.integers(0, n.size, size=(resamples, n.size))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = med_n / med_b
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return RatioCI(ratio, None, None, confidence, resamples)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return RatioCI(ratio, float(low), float(high), confidence, resamples)


def bootstrap_median_ci(values: Sequence[float], resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> tuple:
    """Percentile-bootstrap interval (low, high) of one sample's median, seeded like bootstrap_ratio_ci;
    (None, None) with fewer than 2 values (one value has no spread to resample)."""
    x = _clean(values)
    if x.size < 2:
        return None, None
    rng = np.random.default_rng(seed)
    meds = np.median(x[rng.integers(0, x.size, size=(resamples, x.size))], axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(meds, [tail, 100.0 - tail])
    return float(low), float(high)


def min_attainable_p(n1: int, n2: int, one_sided: bool = False) -> float:
    """The smallest p-value an exact Mann-Whitney U test can give with these sample sizes: 1 / C(n1 + n2, n1)
    one-sided (complete separation in the tested direction), twice that two-sided. One-sided: 3 against 3 is
    0.05, 4 against 4 0.0143, 5 against 5 0.00397; two-sided 0.1, 0.0286, 0.00794."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, (1.0 if one_sided else 2.0) / math.comb(n1 + n2, n1))


# The exact permutation distribution is enumerated up to this many splits (8 against 8 is 12,870); beyond it
# the normal approximation is close enough and scipy's asymptotic method is used.
_EXACT_SPLITS = 20_000


def _exact_one_sided_p(base: np.ndarray, new: np.ndarray, alternative: str) -> float:
    """Exact permutation p of the rank-sum of NEW (mid-ranks for ties): every way to split the pooled values
    into groups of the two sizes is equally likely under no difference; p is the share of splits whose NEW
    rank-sum is as extreme as observed in the tested direction ("less": NEW lower; "greater": NEW higher)."""
    from itertools import combinations

    from scipy.stats import rankdata

    pooled = np.concatenate([new, base])
    ranks = rankdata(pooled)
    observed = ranks[: new.size].sum()
    sums = np.fromiter((ranks[list(c)].sum() for c in combinations(range(pooled.size), new.size)), dtype=float)
    eps = 1e-9
    hits = np.count_nonzero(sums <= observed + eps) if alternative == "less" else \
        np.count_nonzero(sums >= observed - eps)
    return float(hits / sums.size)


def mann_whitney_p(base: Sequence[float], new: Sequence[float], alternative: str = "two-sided") -> Optional[float]:
    """Mann-Whitney U p-value of NEW against BASE; None when a side is empty.

    `alternative`: "two-sided" (scipy.stats.mannwhitneyu), or one-sided "less" (NEW lower than BASE) /
    "greater" (NEW higher). One-sided tests with few values use the exact permutation distribution (ties by
    mid-ranks), so 3 against 3 completely separated gives exactly 0.05 and a tie never makes a p smaller than
    the exact test allows (scipy's normal approximation would). Identical constant samples have no ranks to
    test: their p is 1.0 (scipy returns NaN there).
    """
    from scipy.stats import mannwhitneyu

    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative {alternative!r}")
    b, n = _clean(base), _clean(new)
    if b.size == 0 or n.size == 0:
        return None
    if np.all(b == b[0]) and np.all(n == b[0]):
        return 1.0
    if alternative != "two-sided" and math.comb(b.size + n.size, n.size) <= _EXACT_SPLITS:
        return _exact_one_sided_p(b, n, alternative)
    p = float(mannwhitneyu(n, b, alternative=alternative).pvalue)
    return p if math.isfinite(p) else None


def robust_sigma(values: Sequence[float]) -> float:
    """Noise scale of a sequence that may hold steps: 1.4826 * MAD of its first differences / sqrt(2)."""
    x = _clean(values)
    if x.size < 3:
        return 0.0
    d = np.diff(x)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


@dataclass(frozen=True)
class ChangePoint:
    """A level shift: values[index:] differ from values[:index] (within the segment that was split)."""
    index: int
    before: float          # median of the segment left of the split
    after: float           # median of the segment right of the split
    relative_change: float  # after / before - 1 (None-safe: inf when before is 0)
    z: float               # CUSUM statistic in noise units (inf when the noise is 0)

    def to_dict(self) -> dict:
        return asdict(self)


def median3(values: Sequence[float]) -> np.ndarray:
    """Running median of 3 (ends: median of the first / last three): removes single outliers, keeps steps."""
    x = _clean(values)
    if x.size < 3:
        return x.copy()
    out = np.median(np.stack([x[:-2], x[1:-1], x[2:]]), axis=0)
    return np.concatenate([[np.median(x[:3])], out, [np.median(x[-3:])]])


def _best_split(x: np.ndarray, min_size: int):
    """The split maximising the CUSUM statistic |mean(left) - mean(right)| / sqrt(1/nl + 1/nr) (which peaks
    at a true step), or None when the segment is too short."""
    n = x.size
    if n < 2 * min_size:
        return None
    k = np.arange(min_size, n - min_size + 1)
    csum = np.cumsum(x)
    left_mean = csum[k - 1] / k
    right_mean = (csum[-1] - csum[k - 1]) / (n - k)
    stat = np.abs(left_mean - right_mean) / np.sqrt(1.0 / k + 1.0 / (n - k))
    i = int(np.argmax(stat))
    return int(k[i]), float(stat[i])


def change_points(values: Sequence[float], z_threshold: float = 5.0, min_relative: float = 0.02,
                  min_size: int = 3) -> list:
    """Binary segmentation: indices where the level of `values` shifts, as ChangePoints sorted by index.

    The noise scale is estimated once over the whole sequence (robust_sigma). Each segment (smoothed by median3)
    is split where the CUSUM statistic peaks; the split is kept when statistic / sigma > z_threshold and the raw
    medians either side differ by |after / before - 1| >= min_relative, and both halves (at least `min_size`
    long) are searched again. With z_threshold 5 pure noise of a few dozen points almost never shows one.
    """
    raw = _clean(values)
    if raw.size < 2 * min_size:
        return []
    sigma = robust_sigma(raw)
    x = median3(raw)
    found = []
    segments = [(0, x.size)]
    while segments:
        start, end = segments.pop()
        best = _best_split(x[start:end], min_size)
        if best is None:
            continue
        k, stat = best
        z = stat / sigma if sigma > 0 else (math.inf if stat > 0 else 0.0)
        before, after = float(np.median(raw[start:start + k])), float(np.median(raw[start + k:end]))
        rel = (after / before - 1.0) if before != 0 else (math.inf if after != before else 0.0)
        if z > z_threshold and abs(rel) >= min_relative:
            found.append(ChangePoint(start + k, before, after, rel, z))
            segments.append((start, start + k))
            segments.append((start + k, end))
    return sorted(found, key=lambda c: c.index)
