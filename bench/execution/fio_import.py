"""Existing fio outputs (fio >= 3.0, json or json+, local or client/server) as a stored run: `tierbench import`.

The figures take the one path that `run` takes: fio's JSON is parsed (bench.engines.fio.parse), its job entries
become phase records (bench.engines.fio.records) and each record a case through bench.analysis.metrics.case_metrics.
Each job entry (one per reporting group with group_reporting) becomes a case named `fio:<job name>`; client/server
output gives one case per host and entry (the case's `host`) and one per group for the fleet (host `fleet`:
summed over the hosts, as fio's "All clients" sums them, with percentiles from the hosts' merged bins). The files
are copied into the run's raw/ as they are.
Latency: json+ bins when present; else fio's own percentiles, mean and max (plain json), marked as such per
case (`latency_source`). Where: the machine is what the output says (client/server host names) or `unknown`,
never this machine; the tier is what the user declares (--tier, --capacity), never detected here.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from bench.analysis.metrics import case_metrics
from bench.core.case import FLEET_HOST
from bench.core.errors import UserError
from bench.core.units import parse_capacity
from bench.core.userfile import FIO_OUTPUT, check_json_depth, read_user_bytes
from bench.engines.fio.parse import parse
from bench.engines.fio.records import fleet_records, phase_records
from bench.engines.fio.run import killed_jobs
from bench.execution.runner import case_samples, new_document, run_status
from bench.store.runs import Store
from bench.tiers.detect import Tier, parse_tier_spec

__all__ = ["read_inputs", "import_tier", "import_machine", "latency_source", "cases_from", "import_runs"]


def import_tier(spec: Optional[str], capacity: Optional[str] = None) -> Tier:
    """The tier the outputs were measured on, as the user declares it (--tier NAME[=PATH[:CLASS]], --capacity
    SIZE): never detected here, as the outputs were measured on another machine (or at another time), and a
    device, capacity or class read on this machine would be borrowed, not measured. The capacity (of the
    device, for IOPS per GB) is the declared one, or none."""
    nominal = None
    if capacity is not None:
        try:
            nominal = parse_capacity(capacity)
        except ValueError as e:
            raise UserError(f"import --capacity {capacity!r}: {e}") from None
    reason = "imported: declared by the user (class, capacity), not detected on this machine"
    if not spec:
        return Tier(name="imported", cls="unknown", path="", nominal_capacity_bytes=nominal,
                    reason="imported fio output: tier not given, " + reason.split(": ", 1)[1])
    name, path, cls = parse_tier_spec(spec)
    return Tier(name=name, cls=cls or "unknown", path=path or "", nominal_capacity_bytes=nominal, reason=reason)


UNKNOWN = "unknown"


def import_machine(reports: list) -> dict:
    """The machine the outputs say they were measured on: fio's client/server output names its hosts (the
    `hostname` of each client entry); fio's local output names no machine, so it is `unknown`. Never this
    machine's fingerprint: an import is not a measurement made here, and compare must not gate it as one."""
    hosts = sorted({h for report in reports for h in report.hosts})
    versions = list(dict.fromkeys(r.fio_version for r in reports))
    return {"hostname": ", ".join(hosts) if hosts else UNKNOWN, "cpu_model": None, "cpus": None,
            "memory_bytes": None, "kernel": UNKNOWN, "product_name": None, "fio_version": ", ".join(versions),
            "python": UNKNOWN, "pyarrow": None, "polars": None,
            "source": "fio output: its client/server host names" if hosts else
                      "fio output: a local run's output does not say which machine ran it"}


def latency_source(record: dict) -> Optional[str]:
    """Where the case's latency figures come from: "bins" (fio json+ bins, percentiles derived from them),
    "fio-percentiles" (fio's own percentiles, mean and max of plain json, taken as fio computed them, not
    re-derived), or None (no latency in the output)."""
    directions = ("read", "write", "trim", "mixed")
    if any(record.get(f"bins_{d}") for d in directions):
        return "bins"
    if any(record.get(f"pct_{d}") or record.get(f"lat_{d}") for d in directions):
        return "fio-percentiles"
    return None


def record_problem(record: dict, killed: list) -> Optional[str]:
    """Why an imported record is not a measurement to trust (its case is stored failed, with this reason), or
    None: fio's own error number for the job, or an entry that moved nothing (a job process killed mid-run
    leaves fio reporting 0 bytes in 0 s, with latency samples that look real; fio's "got signal" notes, when
    the output holds them, are named)."""
    if record["error"]:
        return f"fio reported error {record['error']} for this job"
    if not any(record.get(k) for k in ("bytes_read", "bytes_written", "bytes_trim", "bytes_mixed")):
        signals = "; fio says " + ", ".join(f"job process {pid} got signal {sig}" for pid, sig in killed) \
            if killed else ""
        return f"the job moved no data (0 operations): it was killed or failed{signals}"
    return None


def cases_from(report, source: str, tier: Tier, first_id: int, killed: Optional[list] = None) -> list:
    """The cases of one parsed fio output: per host (None for a local run) and per job entry, then the fleet."""
    selections = {host: phase_records(report, host) for host in (report.hosts or (None,))}
    if report.hosts:
        selections[FLEET_HOST] = fleet_records(selections)
    cases = []
    for host, records in selections.items():
        for rec in records:
            metrics = {k: v for k, v in case_metrics([rec], tier.iops_capacity_bytes).items() if v is not None}
            cases.append({"id": first_id + len(cases), "workload": f"fio:{rec['name']}", "kind": "import",
                          "tier": tier.name, "engine": "fio", "repeat": 0, "host": host,
                          "latency_source": latency_source(rec),
                          "error": record_problem(rec, killed or []),
                          "params": {"file": source, "groupid": rec["groupid"], "document": rec["document"]},
                          "metrics": metrics, "bottleneck": "unknown", "phases": [], "raw": [source],
                          "implementation": report.fio_version})
    return cases


def _check_metrics(cases: list, name: str) -> None:
    """Every figure about to be stored is a finite number (derived rates included)."""
    for case in cases:
        for key, value in case["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"{name}: job {case['workload']}: {key} would be {value!r}, not a finite number")


def read_inputs(names: list) -> list:
    """[(name, bytes, FioReport, killed jobs)] of every file; UserError naming the file for the first bad one."""
    inputs = []
    for name in names:
        data = read_user_bytes(name, what="import", limit=FIO_OUTPUT)
        try:
            text = data.decode("utf-8", errors="replace")
            check_json_depth(text, where=name)
            inputs.append((name, data, parse(text), killed_jobs(text)))
        except UserError as e:
            raise UserError(f"{name}: {e}") from None
    return inputs


def import_runs(names: list, tier_spec: Optional[str], results: Optional[str],
                capacity: Optional[str] = None) -> tuple:
    """Read and check every input, take the tier as declared and build every case first; only then create the
    run. Returns (run document, store)."""
    inputs = read_inputs(names)
    tier = import_tier(tier_spec, capacity)
    cases, sources = [], []
    for name, data, report, killed in inputs:
        source = f"{len(cases):03d}-{Path(name).name}"
        found = cases_from(report, source, tier, len(cases), killed)
        if not found:
            raise UserError(f"{name}: the fio output holds no job entry ('jobs' is empty): nothing to import")
        _check_metrics(found, name)
        cases.extend(found)
        sources.append((source, data))
    store = Store(results)
    folder = store.create_run()
    doc = new_document(folder.name, [tier], {"imported": True})
    doc["machine"] = import_machine([report for _, _, report, _ in inputs])
    for source, data in sources:
        with store.writing(folder / "raw" / source):
            (folder / "raw" / source).write_bytes(data)
    doc["cases"] = cases
    doc["status"] = run_status(doc["cases"])
    doc["finished_at"] = doc["started_at"]
    store.write_document(doc)
    store.write_samples(doc["run_id"], [row for c in doc["cases"] for row in case_samples(c)])
    return doc, store
