"""`tierbench replay TRACE --tier ...`: a stored trace replayed on each tier as cases of a new run.

Everything that can be refused is refused before the run exists: the trace (a run from `record` or
`import-trace` holding trace.parquet), the tiers (bench.execution.session: the tier guard, one run per tier),
fio on PATH, and room for the replay's files on every tier. The run's raw/ keeps a copy of the trace, so the
replay run stands alone; each case is `replay:<trace run id>` on one tier, engine fio, params {trace, timed}.
"""
from __future__ import annotations

import shutil

from bench.core.errors import UserError
from bench.core.units import fmt_bytes
from bench.engines.fio.run import fio_binary
from bench.engines.trace.iolog import footprint_bytes
from bench.engines.trace.table import TRACE_FILE, read_trace
from bench.execution.config import REPEAT_MAX, Config, check_timeout
from bench.execution.plan import Case
from bench.execution.runner import Runner
from bench.execution.session import TierSession
from bench.store.runs import Store
from bench.tiers.guard import free_bytes

__all__ = ["replay", "load_trace"]


def load_trace(store: Store, ref: str) -> tuple:
    """(trace run document, path of its trace.parquet, the trace) of a stored trace; UserError otherwise."""
    doc = store.load(ref)
    path = store.resolve(ref) / TRACE_FILE
    if doc.get("kind") != "trace" or not path.is_file():
        raise UserError(f"run {doc['run_id']} is not a trace (make one with `tierbench record` or "
                        f"`tierbench import-trace`)")
    return doc, path, read_trace(path)


def replay(ref: str, tier_flags: list, *, results=None, timed: bool = False, repeat: int = 1,
           timeout_s: float = 600.0, allow_system_path: bool = False, allow_shared_tier: bool = False) -> dict:
    """Replay the trace `ref` on every tier of tier_flags; returns the run document."""
    if not tier_flags:
        raise UserError("replay: give the tiers to replay on (--tier NAME=PATH, repeatable)")
    if not isinstance(repeat, int) or not 1 <= repeat <= REPEAT_MAX:
        raise UserError(f"--repeat {repeat}: give a whole number from 1 to {REPEAT_MAX}")
    timeout_s = check_timeout(timeout_s, "--timeout")
    store = Store(results)
    tdoc, path, df = load_trace(store, ref)
    if not df.filter(df["op"].is_in(["read", "write"])).height:
        raise UserError(f"trace {tdoc['run_id']} holds no reads or writes: nothing to replay")
    fio_binary()
    need = footprint_bytes(df)
    cfg = Config(results=results, timeout_s=timeout_s, allow_system_path=allow_system_path,
                 allow_shared_tier=allow_shared_tier)
    with TierSession(cfg, tier_flags) as session:
        for t in session.tiers:
            free, note = free_bytes(t.path)
            if need > free:
                raise UserError(f"tier {t.name}: the replay's files take up to {fmt_bytes(need)}; {t.path} has "
                                f"{fmt_bytes(free)}{note} free")
        params = {"trace": tdoc["run_id"], "timed": bool(timed)}
        cases = [Case(len(session.tiers) * r + i, f"replay:{tdoc['run_id']}", "replay", t.name, "fio", dict(params), r)
                 for r in range(repeat) for i, t in enumerate(session.tiers)]
        runner = Runner(store, session.tiers, cgroup=session.cgroup, timeout_s=timeout_s,
                        extra={"replay_of": {"trace": tdoc["run_id"], "timed": bool(timed),
                                             "totals": (tdoc.get("trace") or {}).get("totals")}})
        copy = runner.raw / TRACE_FILE
        shutil.copyfile(path, copy)
        runner.replay = {"trace": tdoc["run_id"], "trace_path": str(copy), "timed": bool(timed)}
        return runner.run(cases)
