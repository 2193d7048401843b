"""tierbench import: existing fio outputs (fio >= 3.0, json or json+, local or client/server) become a run.

Each job entry (one per reporting group with group_reporting) becomes a case named `fio:<job name>`; for
client/server output there is one case per host and one for fio's "All clients" aggregate. The files are
copied into the run's raw/ as they are."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from bench.analysis.metrics import iops_per_gb
from bench.core.errors import UserError
from bench.engines.fio.parse import ALL_CLIENTS, parse, phase_metrics
from bench.engines.fio.run import killed_jobs
from bench.execution.runner import case_samples, new_document, run_status
from bench.store.runs import Store
from bench.tiers.detect import Tier, detect, parse_tier_spec

NAME = "import"
HELP = "import existing fio JSON outputs (fio >= 3.0) as a run in the store"


def add_arguments(p):
    p.add_argument("files", nargs="+", metavar="FIO_JSON")
    p.add_argument("--tier", metavar="NAME=PATH[:CLASS]", help="the tier the outputs were measured on")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def _tier(spec) -> Tier:
    if not spec:
        return Tier(name="imported", cls="unknown", path="", reason="imported fio output: tier not given")
    name, path, cls = parse_tier_spec(spec)
    if path and os.path.isdir(path):
        return detect(name, path, cls)
    return Tier(name=name, cls=cls or "unknown", path=path or "",
                reason="imported: path not on this machine, device not detected")


def entry_problem(report, entry: dict, killed: list) -> Optional[str]:
    """Why an imported entry is not a measurement to trust (its case is stored failed, with this reason), or
    None: fio's own error number for the job, or an entry that moved nothing (a job process killed mid-run
    leaves fio reporting 0 bytes in 0 s, with latency samples that look real; fio's "got signal" notes, when
    the output holds them, are named)."""
    jobs = [j for j in report.jobs if (j.document, j.groupid, j.host) == (entry["document"], entry["groupid"],
                                                                          entry["host"])]
    errors = sorted({j.error for j in jobs if j.error})
    if errors:
        return f"fio reported error {', '.join(map(str, errors))} for this job"
    if not any(d.ops and d.bytes for j in jobs for d in j.directions.values()):
        signals = "; fio says " + ", ".join(f"job process {pid} got signal {sig}" for pid, sig in killed) \
            if killed else ""
        return f"the job moved no data (0 operations): it was killed or failed{signals}"
    return None


def cases_from(report, source: str, tier: Tier, first_id: int, killed: Optional[list] = None) -> list:
    hosts = sorted({j.host for j in report.jobs if j.host not in (None, ALL_CLIENTS)})
    selections = [None] + hosts if hosts else [None]
    cases = []
    for host in selections:
        for entry in phase_metrics(report, host):
            metrics = {k: v for k, v in entry.items()
                       if k not in ("name", "host", "groupid", "document") and v is not None}
            capacity = tier.iops_capacity_bytes
            if capacity and metrics.get("iops") is not None:
                metrics["iops_per_gb"] = iops_per_gb(metrics["iops"], capacity)
            cases.append({"id": first_id + len(cases), "workload": f"fio:{entry['name']}", "kind": "import",
                          "tier": tier.name, "engine": "fio", "repeat": 0,
                          "error": entry_problem(report, entry, killed or []),
                          "params": {"file": source, "host": entry["host"] or (ALL_CLIENTS if hosts else None),
                                     "groupid": entry["groupid"], "document": entry["document"]},
                          "metrics": metrics, "bottleneck": "unknown", "phases": [], "raw": [source],
                          "implementation": report.fio_version})
    return cases


def _check_metrics(cases: list, name: str) -> None:
    """Every figure about to be stored is a finite number (derived rates included)."""
    for case in cases:
        for key, value in case["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"{name}: job {case['workload']}: {key} would be {value!r}, not a finite number")


def run(args) -> int:
    """Read and check every input, resolve the tier and build every case first; only then create the run."""
    from bench.core.output import emit_json, stderr_console
    from bench.reporting.table import run_table

    inputs = []
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as e:
            raise UserError(f"{name}: cannot read it ({e.strerror})") from None
        try:
            text = data.decode("utf-8", errors="replace")
            inputs.append((name, data, parse(text), killed_jobs(text)))
        except UserError as e:
            raise UserError(f"{name}: {e}") from None
    tier = _tier(args.tier)
    cases, sources = [], []
    for name, data, report, killed in inputs:
        source = f"{len(cases):03d}-{Path(name).name}"
        found = cases_from(report, source, tier, len(cases), killed)
        if not found:
            raise UserError(f"{name}: the fio output holds no job entry ('jobs' is empty): nothing to import")
        _check_metrics(found, name)
        cases.extend(found)
        sources.append((source, data))
    store = Store(args.results)
    folder = store.create_run()
    doc = new_document(folder.name, [tier], {"imported": True})
    for source, data in sources:
        (folder / "raw" / source).write_bytes(data)
    doc["cases"] = cases
    doc["status"] = run_status(doc["cases"])
    doc["finished_at"] = doc["started_at"]
    store.write_document(doc)
    store.write_samples(doc["run_id"], [row for c in doc["cases"] for row in case_samples(c)])
    if args.json:
        emit_json(doc)
    else:
        stderr_console.print(run_table(doc))
        for case in doc["cases"]:
            if case["error"]:
                stderr_console.print(f"[red]failed[/red] case {case['id']} {case['workload']}: {case['error']}")
        stderr_console.print(f"imported {len(inputs)} file(s) as run {doc['run_id']} in {store.root}")
    return 0 if doc["status"] == "complete" else 1
