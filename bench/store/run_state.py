"""A run's status, told truthfully: from its cases, and — for a run still marked `running` — from whether the
process that runs it is alive.

Statuses of a run document:
    running      the runner process is at work (or was, and its host is another machine: it cannot be checked)
    complete     every case ran without error
    partial      some cases failed, some did not
    failed       every case failed, or there was none
    interrupted  the runner process died (SIGKILL, power loss) before it finished: the document holds every case
                 that finished, recovered from raw/ where its result reached raw/ but not the document, and the
                 case that was running then, failed "interrupted"

The runner writes `process` ({pid, host, start_time}: the start time tells a reused pid apart) into the
document when it creates it, with status `running`; readers call `reconcile` to show a dead run as interrupted.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Optional

import psutil

RUNNING, INTERRUPTED = "running", "interrupted"
START_TIME_SLACK_S = 1.0   # psutil's create_time is read from /proc in clock ticks: allow rounding


def process_identity() -> dict:
    """{pid, host, start_time (s since the epoch)} of this process, for the run document."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start_time": psutil.Process().create_time()}


def process_alive(identity) -> Optional[bool]:
    """True/False whether the process `identity` names still runs; None when it cannot be told (another host,
    or no identity recorded)."""
    if not isinstance(identity, dict) or identity.get("host") != socket.gethostname():
        return None
    pid, started = identity.get("pid"), identity.get("start_time")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if isinstance(started, (int, float)) and abs(proc.create_time() - started) > START_TIME_SLACK_S:
            return False   # the pid now names another process
        return True
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True        # it exists: someone else's process with our runner's pid and start time


def cases_status(cases: list) -> str:
    """complete / partial / failed from the cases' errors (no case at all is a failed run)."""
    failed = sum(1 for c in cases if c.get("error"))
    if not cases or failed == len(cases):
        return "failed"
    return "partial" if failed else "complete"


def case_document(case: dict, result: dict, raw: list, error: Optional[str]) -> dict:
    """The run document's record of one case: the planned case, what its worker reported, and the error."""
    return {**case, "error": error, "metrics": dict(result.get("metrics") or {}),
            "bottleneck": result.get("bottleneck") or "unknown", "phases": result.get("phases") or [],
            "latency_bins_ns": result.get("latency_bins_ns") or {},
            "implementation": result.get("implementation"), "threads": result.get("threads"),
            "raw": list(raw) + list(result.get("raw") or []),
            **({"spark": result["spark"]} if result.get("spark") else {}),
            **({"replay": result["replay"]} if result.get("replay") else {})}


def reconcile(doc: dict, folder: Path) -> dict:
    """The document as readers must see it: a `running` run whose process is gone becomes `interrupted`, with
    the cases it lost recovered from raw/. Returns `doc` itself when nothing changes, else a new dict (the
    stored file is not rewritten: a reader may have no right to, and the truth is the same on every read)."""
    if doc.get("status") != RUNNING or process_alive(doc.get("process")) is not False:
        return doc
    out = dict(doc, status=INTERRUPTED, cases=list(doc.get("cases") or []))
    have = {c.get("id") for c in out["cases"] if isinstance(c, dict)}
    for case in recover_cases(Path(folder) / "raw", have):
        out["cases"].append(case)
    out["interrupted"] = True
    return out


def recover_cases(raw: Path, have: set) -> list:
    """Case records from raw/caseNNN.spec.json (+ .result.json) for the case ids not in `have`: a result that
    reached raw/ but not the document is kept as the worker wrote it; a case with no result failed
    "interrupted". Every recovered record goes through the check stored cases go through (the schema's case,
    bench.store.validate): a damaged result (wrong types, NaN, not JSON) makes its case failed with the reason
    and no figures, never a case with figures nobody can trust. An unreadable or damaged spec is skipped (the
    case is then missing, never invented)."""
    from bench.store.validate import JsonProblem, case_problem, loads

    out = []
    for spec_path in sorted(raw.glob("case[0-9][0-9][0-9]*.spec.json")):
        try:
            case = loads(spec_path.read_bytes())["case"]
        except (OSError, JsonProblem, KeyError, TypeError):
            continue
        if not isinstance(case, dict) or case.get("id") in have or case_problem(_as_failed(case, "check")):
            continue
        stem = spec_path.name[:-len(".spec.json")]
        result_path = raw / f"{stem}.result.json"
        try:
            result = loads(result_path.read_bytes())
            damage = "" if isinstance(result, dict) else "not a JSON object"
        except FileNotFoundError:
            result, damage = None, ""
        except (OSError, JsonProblem) as e:
            result, damage = None, getattr(e, "strerror", None) or str(e)
        if isinstance(result, dict) and not damage:
            error = result.get("error")
            try:
                record = case_document(case, result, [spec_path.name, result_path.name],
                                       error if isinstance(error, str) or error is None else str(error))
                damage = case_problem(record)
            except (TypeError, ValueError) as e:    # e.g. metrics a list, raw a number
                damage = f"{type(e).__name__}: {e}"
        if damage:
            record = _as_failed(case, f"recovered result {result_path.name} is damaged ({damage})")
            record["raw"] = [spec_path.name, result_path.name]
        elif result is None:
            record = case_document(case, {}, [spec_path.name],
                                   "interrupted: the run's process died during this case (no result)")
        record["recovered"] = True
        out.append(record)
    return out


def _as_failed(case: dict, error: str) -> dict:
    return case_document(case, {}, [], error)
