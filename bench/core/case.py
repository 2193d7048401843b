"""The one case identity: which fields make two cases the same measurement, across repeats and across runs
(plan.Case.key, compare, history, report, table, scaling, across machines all group cases by it)."""
from __future__ import annotations

import json
from typing import Any, Mapping

# What identifies a case across repeats and across runs: every field that changes what was measured.
# Scenario steps differ by `label` (and by temp tier, cache, workers or container) where params don't show it.
# `host`: the fio server a fleet case ran on (bench.execution.hosts), FLEET_HOST for the whole fleet, None on this
# machine: compare and history keep hosts apart.
CASE_KEY_FIELDS = ("workload", "tier", "temp_tier", "engine", "params", "workers", "cache", "label", "memory_mb",
                   "host")
FLEET_HOST = "fleet"


def case_key(case: Mapping[str, Any]) -> tuple:
    """The one case identity (plan.Case.key, compare, history, report, table, scaling, across machines):
    a hashable tuple in CASE_KEY_FIELDS order, from a case of a run document or a `Case.to_dict()`.
    `params` is its canonical JSON text; a missing field is None (`cache` False)."""
    out = []
    for name in CASE_KEY_FIELDS:
        value = case.get(name)
        if name == "params":
            value = json.dumps(dict(value or {}), sort_keys=True, default=str)
        elif name == "cache":
            value = bool(value)
        out.append(value)
    return tuple(out)


def case_key_dict(key: tuple) -> dict:
    """A case key back as a mapping (params decoded)."""
    d = dict(zip(CASE_KEY_FIELDS, key))
    d["params"] = json.loads(d["params"])
    return d
