"""The runner: executes a plan, one fresh worker process per case, the monitor alongside, and writes the
run document after every case so that nothing measured is lost if the run is interrupted."""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import psutil
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench import __version__
from bench.emulate import make_container, remove_container
from bench.machine import fingerprint
from bench.model import Sample, unit_of
from bench.monitor import Monitor
from bench.scaling import scaling
from bench.store import SCHEMA_VERSION, Store
from bench.tiers import Tier
from bench.worker import case_dir_name

KILL_GRACE_S = 10.0


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_document(run_id: str, tiers: list, extra: Optional[dict] = None) -> dict:
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "partial", "started_at": _now(),
            "finished_at": None, "harness_version": __version__, "machine": fingerprint(),
            "tiers": [t.to_dict() for t in tiers], "cases": [], **(extra or {})}


def run_status(cases: list) -> str:
    failed = sum(1 for c in cases if c.get("error"))
    if not cases or failed == len(cases):
        return "failed"
    return "partial" if failed else "complete"


def case_samples(case_doc: dict) -> list:
    meta = {"workload": case_doc["workload"], "tier": case_doc["tier"], "engine": case_doc["engine"],
            "params": json.dumps(case_doc["params"], sort_keys=True), "repeat": case_doc["repeat"],
            "implementation": case_doc.get("implementation") or ""}
    if case_doc.get("temp_tier"):
        meta["temp_tier"] = case_doc["temp_tier"]
    return [(case_doc["id"], Sample(metric, value, unit_of(metric), meta))
            for metric, value in (case_doc.get("metrics") or {}).items() if value is not None]


class Runner:
    def __init__(self, store: Store, tiers: list, cgroup: Optional[str] = None, timeout_s: float = 600.0,
                 progress: bool = True, extra: Optional[dict] = None):
        self.store = store
        self.tiers = {t.name: t for t in tiers}
        self.cgroup = cgroup
        self.timeout_s = timeout_s
        self.progress = progress
        self.folder = store.create_run()
        self.doc = new_document(self.folder.name, tiers, extra)
        self.raw = self.folder / "raw"
        self._proc: Optional[subprocess.Popen] = None

    @property
    def run_id(self) -> str:
        return self.doc["run_id"]

    def _save(self) -> None:
        self.doc["status"] = run_status(self.doc["cases"])
        self.doc["scaling"] = scaling(self.doc)
        self.store.write_document(self.doc)
        rows = [row for c in self.doc["cases"] for row in case_samples(c)]
        self.store.write_samples(self.run_id, rows)

    def _tier_spec(self, tier: Tier) -> dict:
        d = tier.to_dict()
        d["iops_capacity_bytes"] = tier.iops_capacity_bytes
        return d

    def _remove_case_dirs(self, case) -> None:
        for name in {case.tier, case.temp_tier or case.tier}:
            shutil.rmtree(os.path.join(self.tiers[name].path, case_dir_name(self.run_id, case.id)),
                          ignore_errors=True)

    def run_case(self, case) -> dict:
        container = (make_container(f"tierbench-{self.run_id}-c{case.id}", case.memory_mb * 1024 ** 2)
                     if case.memory_mb else None)
        try:
            return self._run_case(case, container)
        finally:
            if container:
                remove_container(container)

    def _run_case(self, case, container: Optional[str]) -> dict:
        spec = {"case": case.to_dict(), "run_id": self.run_id, "raw_dir": str(self.raw),
                "tiers": {n: self._tier_spec(t) for n, t in self.tiers.items()},
                "cgroup": self.cgroup, "memory_cgroup": container, "timeout_s": self.timeout_s}
        spec_path = self.raw / f"case{case.id:03d}.spec.json"
        result_path = self.raw / f"case{case.id:03d}.result.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        devices = {self.tiers[n].device for n in {case.tier, case.temp_tier or case.tier}} - {None}
        error, result = None, {}
        with Monitor(devices) as monitor:
            self._proc = subprocess.Popen([sys.executable, "-m", "bench.worker", str(spec_path), str(result_path)],
                                          start_new_session=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True)
            try:
                _, stderr = self._proc.communicate(timeout=self.timeout_s + 60)
            except subprocess.TimeoutExpired:
                self._stop_worker()
                error = f"timed out after {self.timeout_s + 60:.0f} s"
                stderr = ""
            # On KeyboardInterrupt self._proc stays set, so that run() can stop the worker.
            rc, self._proc = self._proc.returncode, None
        _kill_leftovers(str(self.raw / f"case{case.id:03d}."))
        self._remove_case_dirs(case)
        if result_path.exists():
            result = json.loads(result_path.read_text())
            error = error or result.get("error")
        elif error is None:
            tail = (stderr or "").strip().splitlines()[-1:] or [f"exit code {rc}"]
            error = f"worker died: {tail[0]}"
        case_doc = {**case.to_dict(), "error": error, "metrics": result.get("metrics") or {},
                    "bottleneck": result.get("bottleneck") or "unknown", "phases": result.get("phases") or [],
                    "latency_bins_ns": result.get("latency_bins_ns") or {},
                    "implementation": result.get("implementation"), "threads": result.get("threads"),
                    "raw": [spec_path.name, result_path.name] + list(result.get("raw") or [])}
        if not error:
            case_doc["metrics"].update(monitor.summary())
        case_doc["monitor"] = {"interval_s": monitor.interval_s, "series": monitor.series}
        return case_doc

    def _stop_worker(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def run(self, cases: list) -> dict:
        """Run every case; on Ctrl-C/SIGTERM stop the current worker, keep what was measured, re-raise."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn()]
        current = None
        try:
            with Progress(*columns, transient=True, disable=not self.progress,
                          console=_stderr_console()) as bar:
                task = bar.add_task("starting", total=len(cases))
                for case in cases:
                    current = case
                    bar.update(task, description=f"{case.workload} on {case.tier} ({case.engine})")
                    self.doc["cases"].append(self.run_case(case))
                    current = None
                    self._save()
                    bar.advance(task)
        except KeyboardInterrupt:
            self._stop_worker()
            if current is not None:
                _kill_leftovers(str(self.raw / f"case{current.id:03d}."))
                self._remove_case_dirs(current)
                self.doc["cases"].append({**current.to_dict(), "error": "interrupted", "metrics": {},
                                          "bottleneck": "unknown", "phases": []})
            self.doc["interrupted"] = True
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.doc["finished_at"] = _now()
            self._save()
        return self.doc


def _kill_leftovers(marker: str) -> None:
    """SIGKILL processes a dead worker left behind (fio and its jobs run in sessions of their own): those whose
    command line names this case's files under the run's raw/ folder, which no other run shares."""
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in arg for arg in proc.info["cmdline"] or ()):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _stderr_console():
    from bench.output import stderr_console
    return stderr_console
