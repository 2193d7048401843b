"""Watching a case's modelled hard drive (the seek-aware emulated hdd tier, bench.tiers.hdd_model): the daemon
must be alive before the case starts and after it ends (its death fails the case with the reason, and every
later case on the tier fails the same way without running), and its counters around the case give the case's
figures on the drive (hdd_random_share, hdd_positioning_share, ...: bench.tiers.hdd_model.case_metrics).

A sleep-based model is only as good as its replies' timing: when the replies fell behind the modelled finish
times by more than LATE_SHARE of the modelled drive time (a machine too busy even for the daemon's real-time
threads), the case's figures may be wrong and the case fails, saying so.
"""
from __future__ import annotations

from typing import Optional

from bench.tiers import hdd_model

LATE_SHARE = 0.10


class DriveWatch:
    """For the emulated tiers a case uses (Tier objects): `start()` -> an error or None, `finish()` ->
    (error or None, metrics). Tiers without a drive-model daemon are ignored."""

    def __init__(self, tiers: list):
        self.tiers = [t for t in tiers if (t.emulated or {}).get("daemon")]
        self.before: dict = {}

    def _failure(self) -> Optional[str]:
        for t in self.tiers:
            why = hdd_model.failure(t.emulated)
            if why:
                return f"tier {t.name}: {why}"
        return None

    def start(self) -> Optional[str]:
        why = self._failure()
        if why:
            return why
        try:
            self.before = {t.name: hdd_model.read_stats(t.emulated) for t in self.tiers}
        except (OSError, ValueError) as e:
            return f"cannot read the hdd drive-model daemon's counters: {e}"
        return None

    def finish(self, measured_from: Optional[dict] = None) -> tuple:
        """measured_from: {tier: counters} read by the worker after laying out a shared dataset (bench.execution.
        worker): the case's figures start there, so that they cover what it measured and not the layout."""
        why = self._failure()
        if why:
            return f"{why} (it died during the case)", {}
        metrics = {}
        for t in self.tiers:
            try:
                after = hdd_model.read_stats(t.emulated)
            except (OSError, ValueError) as e:
                return f"cannot read the hdd drive-model daemon's counters: {e}", {}
            before = (measured_from or {}).get(t.name) or self.before[t.name]
            m = hdd_model.case_metrics(before, after)
            busy = sum(after[k] - before[k] for k in ("positioning_s", "transfer_s"))
            if busy > 0 and m["hdd_late_s"] > LATE_SHARE * busy:
                return (f"tier {t.name}: the drive model's replies fell behind by {m['hdd_late_s']:.3f} s, "
                        f"{m['hdd_late_s'] / busy:.0%} of the modelled drive time (over {LATE_SHARE:.0%}): the "
                        f"machine was too busy for the sleep-based model; its figures may be wrong"), {}
            metrics.update(m)
        return None, metrics
