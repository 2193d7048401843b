"""A pattern case measured the SNIA PTS way (docs/steady-state.md): preconditioned (`--precondition`), and/or
in rounds of the workload until steady state (`--steady-state`), in the worker, through the case's engine.

- Preconditioning (bench.engines.precondition): sequential 128 KiB writes of the test region, twice; then the
  workload itself runs (once, or as the rounds).
- Rounds: the pattern with every phase time-based for `round_s` seconds, run again and again; after each, the
  PTS rule (bench.analysis.steady_state.judge) on the rounds' IOPS; it stops at the first steady window or after
  `max_rounds`. The case's phases and metrics are those of the last window's rounds (its average, as PTS
  reports), each phase record with its `round`; every round's figures and intervals are kept.
Each round's interval figures must add up to that round's operations (bench.analysis.intervals). Each round
also stores how long its tasks waited for a CPU (`run_queue_wait_s` over `run_queue_window_s`,
bench.execution.runqueue), so rounds that follow the machine's load instead of the device can be told apart.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Optional

from bench.analysis.intervals import check_interval_sums, interval_figures
from bench.analysis.metrics import case_metrics, check_phases
from bench.analysis.steady_state import WINDOW_ROUNDS, judge
from bench.core.pattern import Pattern
from bench.engines.precondition import precondition
from bench.execution.runqueue import RunQueueWait

__all__ = ["run_method", "round_pattern"]


def round_pattern(pattern: Pattern, round_s: float) -> Pattern:
    """The pattern as one round: every phase time-based for round_s seconds."""
    return Pattern(pattern.name, tuple(dataclasses.replace(p, runtime_s=round_s) for p in pattern.phases))


def _round_figures(out: dict, number: int) -> dict:
    m = case_metrics(out["phases"], None)
    return {"round": number, "wall_s": m["wall_s"], "iops": m.get("iops"),
            "bytes_per_s": (m.get("read_bytes_per_s") or 0) + (m.get("write_bytes_per_s") or 0) or None,
            "lat_p99_us": m.get("lat_p99_us"), "ops_read": m["ops_read"], "ops_written": m["ops_written"]}


def run_method(method: dict, pattern: Pattern, engine, dirs: dict, roles: dict, raw_dir: Path, stem: str,
               timeout_s: float, interval_s: Optional[float], show: Optional[Callable[[list], None]],
               device: Optional[str] = None) -> dict:
    """Run the case as `method` says ({"precondition": bool, "steady_state": None or {"round_s", "max_rounds"}})
    and return the engine output the worker expects (phases, implementation, raw) plus `figures` (interval
    figures, with their round), `precondition` and `steady_state` (module docstring). show(figures): the live
    view's sink. device: a raw block device the case runs on (fio; bench.tiers.raw), else None (files in dirs)."""
    on = {"device": device} if device else {}
    result: dict = {"raw": []}
    if method.get("precondition"):
        result["precondition"] = precondition(pattern, engine, dirs, roles, raw_dir, f"{stem}.pre", timeout_s,
                                              device=device)
        result["raw"] += result["precondition"].pop("raw")
    steady = method.get("steady_state")
    if not steady:
        out = engine.run(pattern, dirs, roles, raw_dir, stem, timeout_s, interval_s=interval_s,
                         on_interval=_live(show, None, 0.0), **on)
        result.update(out, raw=result["raw"] + out.get("raw", []))
        return result
    one = round_pattern(pattern, steady["round_s"])
    rounds, outs, figures, offset = [], [], [], 0.0
    verdict = judge([])
    for number in range(steady["max_rounds"]):
        with RunQueueWait(os.getpid()) as runqueue:
            out = engine.run(one, dirs, roles, raw_dir, f"{stem}.r{number:02d}", timeout_s, interval_s=interval_s,
                             on_interval=_live(show, number, offset), **on)
        check_phases(out["phases"], one)
        for rec in out["phases"]:
            rec["round"] = number
        figs = _round_figures(out, number)
        if "intervals" in out:
            mine = interval_figures(out["intervals"], round_number=number, offset_s=offset)
            check_interval_sums(mine, figs["ops_read"], figs["ops_written"], where=f"round {number}")
            figures += mine
        figs["t_start_s"] = offset
        # how long the round's tasks waited for a CPU (bench.execution.runqueue): a round that swings with the
        # machine's load rather than the device's state shows it here
        figs["run_queue_wait_s"], figs["run_queue_window_s"] = runqueue.wait_s, runqueue.window_s
        offset += max(figs["wall_s"], max((f["t_end_s"] - offset for f in figures if f["round"] == number),
                                          default=0.0))
        rounds.append(figs)
        outs.append(out)
        result["raw"] += out.get("raw", [])
        verdict = judge([r["iops"] or 0.0 for r in rounds])
        if verdict["steady"]:
            break
    window = outs[-WINDOW_ROUNDS:]
    share = _wait_share(rounds[-WINDOW_ROUNDS:])
    if share is not None and not verdict["steady"]:
        verdict["reason"] += (f"; the window's rounds waited for a CPU {share:.0%} of their time (run-queue wait "
                              "of their tasks over the rounds' time: near or above 100%, the rounds measured the "
                              "machine's load more than the device)")
    result.update({"phases": [rec for out in window for rec in out["phases"]],
                   "implementation": outs[-1].get("implementation"), "figures": figures,
                   "steady_state": {"tracked": "iops", "round_s": steady["round_s"],
                                    "max_rounds": steady["max_rounds"], "window_rounds": WINDOW_ROUNDS,
                                    "rounds": rounds, "run_queue_wait_share": share, **verdict}})
    return result


def _wait_share(rounds: list) -> Optional[float]:
    """The rounds' tasks' run-queue wait over the rounds' time (summed over tasks, so it can pass 1), None when
    it was not read (no schedstat)."""
    if not rounds or any(r.get("run_queue_wait_s") is None or not r.get("run_queue_window_s") for r in rounds):
        return None
    return sum(r["run_queue_wait_s"] for r in rounds) / sum(r["run_queue_window_s"] for r in rounds)


def _live(show, number: Optional[int], offset: float):
    if show is None:
        return None
    return lambda rows: show(interval_figures(rows, round_number=number, offset_s=offset))
