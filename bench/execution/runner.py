"""The runner: executes a plan, one fresh worker process per case, the monitor alongside, and writes the
run document after every case so that nothing measured is lost if the run is interrupted.

The document exists from the start: the store creates the run folder with it (status `running`, this process's
pid, host and start time), so a run killed at any moment is seen as `interrupted` by readers (bench.store.run_state).
Each worker runs in a session of its own and dies with the runner (bench.execution.worker asks the kernel for SIGTERM when
its parent dies); when a case ends, every process still carrying the case's tag in its environment (the worker,
fio, fio's job processes — which start sessions of their own — and anything they started) is killed, with the
worker's process group."""
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

from bench import __version__
from bench.analysis.metrics import check_metrics
from bench.analysis.scaling import scaling
from bench.analysis.verdict import case_bottleneck
from bench.core.case import FLEET_HOST
from bench.core.errors import CaseError, StoreError
from bench.core.metric_registry import unit_of
from bench.core.sample import Sample
from bench.execution import stopping
from bench.execution.contention import ContentionProbe
from bench.execution.datasets import dataset_dir, remove_datasets
from bench.execution.drive_watch import DriveWatch
from bench.execution.machine import fingerprint
from bench.execution.monitor import Monitor
from bench.execution.provenance import revision, run_tags
from bench.execution.view import LiveFile, ProgressView, RunView
from bench.execution.worker import RESULT_RESERVE_BYTES, case_dir_name, reserve_name
from bench.store.intervals import FILE_NAME as INTERVALS_FILE
from bench.store.intervals import write_intervals
from bench.store.run_state import (
    INTERRUPTED,
    RUNNING,
    case_document,
    cases_status,
    process_identity,
    recover_cases,
)
from bench.store.runs import SCHEMA_VERSION, Store
from bench.tiers.cgroups import oom_kills
from bench.tiers.detect import Tier, shared_devices
from bench.tiers.emulate import make_container, remove_container

KILL_GRACE_S = 10.0
DEFAULT_INTERVAL_S = 1.0   # the figures over time: one row per second (`run --interval`)
LIVE_POLL_S = 0.25         # how often the runner looks for new intervals of the running case


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_document(run_id: Optional[str], tiers: list, extra: Optional[dict] = None,
                 machine_given: Optional[dict] = None) -> dict:
    """A run's first document: status `running`, naming this process (pid, host, start time), the revision under
    test and the run's tags (`extra["tags"]`: the user's --tag; bench.execution.provenance); machine_given: what
    the user said about the machine (bench.execution.machine.parse_given)."""
    extra = dict(extra or {})
    rev = revision()
    tags = run_tags(extra.pop("tags", None), rev)
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "status": RUNNING, "started_at": _now(),
            "finished_at": None, "harness_version": __version__, "machine": fingerprint(machine_given),
            "process": process_identity(), "tags": tags, **({"revision": rev} if rev else {}),
            "tiers": [t.to_dict() for t in tiers], "cases": [], **extra}


def run_status(cases: list) -> str:
    """complete / partial / failed from the cases (bench.store.run_state.cases_status)."""
    return cases_status(cases)


def case_samples(case_doc: dict) -> list:
    meta = {"workload": case_doc["workload"], "tier": case_doc["tier"], "engine": case_doc["engine"],
            "params": json.dumps(case_doc["params"], sort_keys=True), "repeat": case_doc["repeat"],
            "implementation": case_doc.get("implementation") or ""}
    if case_doc.get("temp_tier"):
        meta["temp_tier"] = case_doc["temp_tier"]
    if case_doc.get("host"):
        meta["host"] = case_doc["host"]
    return [(case_doc["id"], Sample(metric, value, unit_of(metric), meta))
            for metric, value in (case_doc.get("metrics") or {}).items() if value is not None]


class Runner:
    def __init__(self, store: Store, tiers: list, cgroup: Optional[str] = None, timeout_s: float = 600.0,
                 progress: bool = True, extra: Optional[dict] = None, fleet: Optional[list] = None,
                 job_file: Optional[dict] = None, spark_master: Optional[str] = None,
                 replay: Optional[dict] = None, machine_given: Optional[dict] = None,
                 interval_s: Optional[float] = DEFAULT_INTERVAL_S, view=None, method: Optional[dict] = None,
                 other_runs=None):
        """fleet: the hosts of a fleet run (bench.execution.hosts.check_hosts records, each with `tiers`
        {tier: path on that host}); every case then runs on all of them through fio's client mode and gives
        a case document per host and one for the fleet (bench.core.case.FLEET_HOST).
        job_file: a user's fio job file (bench.execution.jobfile_case.load_jobfile) that the `jobfile` cases run;
        the document names it (job_file {name, sha256}) and raw/ keeps it as it was given.
        interval_s: the length of an interval of the figures over time (intervals.parquet) that every pattern
        and job-file case stores, per host on a fleet (None: none); view: what shows the run while it goes (bench.execution.view.RunView: the
        live panel or a line per interval from bench.reporting.live); none given, a plain progress bar on
        stderr (or nothing with progress=False).
        method: how pattern cases are measured beyond one run (bench.execution.rounds: {"precondition": bool,
        "steady_state": None or {"round_s", "max_rounds"}}); the document says so (`method`)."""
        self.fleet = fleet
        self.job_file = job_file
        self.replay = replay     # `replay` cases: {trace (run id), trace_path, timed} (bench.engines.trace.replay)
        self.spark_trace = False  # Spark cases: record the workers' temp I/O (bench.engines.spark.temp_trace)
        if fleet:
            extra = dict(extra or {}, hosts=fleet)
        else:   # tiers on one device (bench.tiers.detect.shared_devices): said when the run starts, and stored
            extra = dict(extra or {}, shared_devices=shared_devices(tiers))
            for group in extra["shared_devices"]:
                _stderr_console().print(f"warning: tiers {' and '.join(group['tiers'])} share one device "
                                        f"({group['device']}): their figures are that device's, and each "
                                        f"disturbs the other's when both are in use", style="yellow",
                                        highlight=False)
        if job_file:
            extra = dict(extra or {}, job_file={"name": job_file["name"], "sha256": job_file["sha256"],
                                                "quick": job_file["quick"]})
        self.store = store
        self.spark_master = spark_master     # --spark-master: Spark cases use this cluster instead of their own
        self.tiers = {t.name: t for t in tiers}
        self._datasets: dict = {}    # case id -> the shared dataset directory it reads (run(): its cases)
        self._last_use: dict = {}    # a shared dataset's directory -> the last case of run() that reads it
        self.cgroup = cgroup
        self.timeout_s = timeout_s
        self.progress = progress
        self.interval_s = interval_s
        self.method = method if method and (method.get("precondition") or method.get("steady_state")) else None
        if self.method:
            extra = dict(extra or {}, method=self.method)
        self.view = view if view is not None else (ProgressView() if progress else RunView())
        self.intervals: list = []     # the figure rows of every case so far (bench.store.intervals)
        self.doc = new_document(None, tiers, extra, machine_given)
        self.folder = store.create_run(doc=self.doc)    # folder and running document in one step
        self.raw = self.folder / "raw"
        if job_file:
            store.write_raw(self.run_id, f"job-file-{job_file['name']}", job_file["text"])
        self._proc: Optional[subprocess.Popen] = None
        self._pending_intervals: dict = {}     # the case's figure rows by host (None: this machine)
        self._worker_pgid: Optional[int] = None
        # other_runs(): the other tierbench runs on this run's devices now (bench.tiers.guard.TierLocks);
        # checked at the start and after every case, every one seen is kept in the document's `shared_device`
        self._other_runs = other_runs
        self._note_shared_devices()

    def _note_shared_devices(self) -> None:
        if self._other_runs is None:
            return
        seen = {(d["device"], r["pid"]): (d, r) for d in self.doc.get("shared_device", []) for r in d["runs"]}
        for d in self._other_runs():
            for r in d["runs"]:
                if (d["device"], r["pid"]) not in seen:
                    _stderr_console().print(f"{_device_label(d['device'])} (tier {', '.join(d['tiers'])}) is in use by "
                                            f"another tierbench run ({r['command']}): both runs' figures include "
                                            f"the other's load", markup=False, soft_wrap=True)
                seen.setdefault((d["device"], r["pid"]), (d, r))
        if seen:
            devices: dict = {}
            for (device, _), (d, r) in seen.items():
                devices.setdefault(device, {"device": device, "tiers": d["tiers"], "runs": []})["runs"].append(r)
            self.doc["shared_device"] = list(devices.values())

    @property
    def run_id(self) -> str:
        return self.doc["run_id"]

    def _save(self, final: bool = True) -> None:
        if not final:
            self.doc["status"] = RUNNING
        elif self.doc.get("interrupted"):
            self.doc["status"] = INTERRUPTED     # stopped by Ctrl-C/SIGTERM: its cases say how far it got
        else:
            self.doc["status"] = run_status(self.doc["cases"])
        self.doc["scaling"] = scaling(self.doc)
        self.store.write_document(self.doc)
        rows = [row for c in self.doc["cases"] for row in case_samples(c)]
        self.store.write_samples(self.run_id, rows)
        if self.intervals:
            write_intervals(self.folder, self.intervals)

    def _tier_spec(self, tier: Tier) -> dict:
        d = tier.to_dict()
        d["iops_capacity_bytes"] = tier.iops_capacity_bytes
        return d

    def _remove_case_dirs(self, case) -> None:
        if self.fleet:
            return      # a fleet case makes no directory: fio removes its files on the hosts (unlink)
        for name in {case.tier, case.temp_tier or case.tier}:
            if self.tiers[name].raw:
                continue        # a raw device tier: the case made no directory, and nothing is removed from it
            shutil.rmtree(os.path.join(self.tiers[name].path, case_dir_name(self.run_id, case.id)),
                          ignore_errors=True)

    def _dataset_dir(self, case):
        """The run's shared dataset directory the case reads its data from, or None (bench.execution.datasets)."""
        return dataset_dir(case.to_dict(), self._tier_spec(self.tiers[case.tier]), self.run_id, fleet=bool(self.fleet),
                           precondition=bool((self.method or {}).get("precondition")))

    def _drop_dataset(self, case) -> None:
        """A case that failed may have left its dataset half-written: the next case lays it out anew."""
        path = self._datasets.get(case.id)
        if path:
            shutil.rmtree(path, ignore_errors=True)

    def remove_datasets(self) -> None:
        """Remove the run's shared datasets from its tiers (at the end of the run, however it ends)."""
        if not self.fleet:
            remove_datasets([t.path for t in self.tiers.values() if not t.raw], self.run_id)

    def run_case_documents(self, case) -> list:
        """The case's documents: one, or for a fleet run one per host and one for the fleet."""
        if not self.fleet:
            return [self.run_case(case)]
        return self._fleet_documents(case, self.run_case(case))

    def _fleet_documents(self, case, doc: dict) -> list:
        """Split a fleet case's worker result (kept in doc["fleet_result"]) into a document per host, in the
        order given, and the fleet's; ids follow the run's documents."""
        result = doc.pop("fleet_result", None) or {}
        if result.get("servers_unsure"):    # a server may still run this case's job: no further case on it
            self.doc["stopped"] = ("the fleet's servers may still run case " + str(case.id) + "'s job ("
                                   + "; ".join(f"{n}: {why}" for n, why in result["servers_unsure"].items())
                                   + "): the run stopped rather than measure the next case beside it")
        base = case.to_dict()
        names = [h["name"] for h in self.fleet] + [FLEET_HOST]
        out = []
        for name in names:
            part = result.get("fleet") if name == FLEET_HOST else (result.get("hosts") or {}).get(name)
            part = dict(part or {}, implementation=result.get("implementation"))
            error = doc["error"] or part.get("error") or (None if part.get("metrics") else "no result")
            record = case_document(dict(base, host=name), part, doc["raw"], error)
            if part.get("intervals") and not error:      # a host's own (bench.engines.fio.fleet_logs)
                self._note_intervals(record, name, part["intervals"])
            record["id"] = len(self.doc["cases"]) + len(out)
            record["plan_id"] = case.id
            out.append(record)
        return out

    def run_case(self, case) -> dict:
        container = (make_container(f"tierbench-{self.run_id}-c{case.id}", case.memory_mb * 1024 ** 2,
                                    near=self.cgroup)
                     if case.memory_mb else None)
        try:
            case_doc = self._run_case(case, container)
            if container:
                _blame_oom(case_doc, container, case.memory_mb)
            return case_doc
        finally:
            if container:
                remove_container(container)

    def _run_case(self, case, container: Optional[str]) -> dict:
        spec = {"case": case.to_dict(), "run_id": self.run_id, "raw_dir": str(self.raw),
                "tiers": {n: self._tier_spec(t) for n, t in self.tiers.items()},
                "cgroup": self.cgroup, "memory_cgroup": container, "timeout_s": self.timeout_s,
                "parent_pid": os.getpid(), "spark_master": self.spark_master,
                "interval_s": self.interval_s if case.kind in ("pattern", "jobfile") else None,
                "method": self.method if case.kind == "pattern" else None,
                "live_path": str(self.raw / f"case{case.id:03d}.live.jsonl")}
        if self.fleet:
            spec["fleet"] = {"hosts": self.fleet}
        shared = self._datasets.get(case.id)
        if shared:      # last_use: the worker removes the dataset after this case (even if tierbench dies)
            spec["dataset"] = {"dir": shared, "last_use": self._last_use[shared] == case.id}
        if self.job_file:
            spec["job_file"] = self.job_file
        if self.replay:
            spec["replay"] = self.replay
        if self.spark_trace and case.engine == "spark":
            spec["spark_trace"] = True
        spec_path = self.raw / f"case{case.id:03d}.spec.json"
        result_path = self.raw / f"case{case.id:03d}.result.json"
        # Room for the result on a store that fills up during the case (bench.execution.worker.write_result);
        # written first: a store too full for it stops the run before the case leaves any trace in raw/.
        reserve = self.store.write_raw(self.run_id, reserve_name(result_path.name), " " * RESULT_RESERVE_BYTES)
        try:
            self.store.write_raw(self.run_id, spec_path.name, json.dumps(spec, indent=1))
        except StoreError:
            reserve.unlink()
            raise
        devices = set() if self.fleet else \
            {self.tiers[n].device for n in {case.tier, case.temp_tier or case.tier}} - {None}
        error, result = None, {}
        probe = ContentionProbe()
        watch = DriveWatch([self.tiers[n] for n in {case.tier, case.temp_tier or case.tier}]
                           if not self.fleet else [])
        gone = watch.start()
        if gone:
            return case_document(case.to_dict(), {}, [], gone)
        with Monitor(devices) as monitor:
            tag = self._case_tag(case)
            self._proc = subprocess.Popen([sys.executable, "-m", "bench.execution.worker", str(spec_path), str(result_path)],
                                          start_new_session=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True, env={**os.environ, CASE_TAG: tag})
            self._worker_pgid = self._proc.pid
            live = LiveFile(spec["live_path"])
            limit_s = self._worker_limit_s(case)
            deadline = time.monotonic() + limit_s
            while True:
                try:
                    _, stderr = self._proc.communicate(timeout=LIVE_POLL_S)
                    break
                except subprocess.TimeoutExpired:   # retrying communicate() loses no output
                    self._show(case, live)
                    if time.monotonic() > deadline:
                        self._stop_worker()
                        error = f"timed out after {limit_s:.0f} s"
                        stderr = ""
                        break
            self._show(case, live)
            # On KeyboardInterrupt self._proc stays set, so that run() can stop the worker.
            rc, self._proc = self._proc.returncode, None
        self._end_case(case)
        (self.raw / reserve_name(result_path.name)).unlink(missing_ok=True)
        if result_path.exists():
            try:
                result = json.loads(result_path.read_text())
            except (OSError, ValueError) as e:
                result = {"error": f"worker wrote an unreadable result ({e})"}
            error = error or result.get("error")
        elif error is None:
            tail = (stderr or "").strip().splitlines()[-1:] or [_exit_words(rc)]
            error = f"worker died: {tail[0]}"
        if not error and rc != 0:
            error = f"worker exited with status {rc} after reporting success"
        dataset = result.pop("dataset", None)
        drive_error, drive_metrics = watch.finish((dataset or {}).get("drive_stats"))
        error = drive_error or error      # a dead drive is the reason the case's I/O failed
        case_doc = case_document(case.to_dict(), result, [spec_path.name, result_path.name], error)
        for key in ("precondition", "steady_state"):
            if result.get(key):
                case_doc[key] = result[key]
        if dataset:
            case_doc["dataset"] = {k: dataset[k] for k in ("dir", "laid_out")}
        if case_doc["error"]:
            self._drop_dataset(case)
        if result.get("intervals") and not error:
            self._note_intervals(case_doc, None, result["intervals"])
        if self.fleet:      # the monitor watched this machine, not the hosts: its figures are no host's
            case_doc["fleet_result"] = result
            return case_doc
        if not error:
            summary = dict(monitor.summary(), **drive_metrics)
            try:
                check_metrics(summary)
                case_doc["metrics"].update(summary)
            except CaseError as e:
                case_doc["error"] = f"monitor: {e}"
        case_doc["monitor"] = {"interval_s": monitor.interval_s, "series": monitor.series}
        case_doc["contention"] = probe.finish(result.get("threads"),
                                              (result.get("metrics") or {}).get("cluster_cpu_s") or 0.0)
        wait, window = result.get("run_queue_wait_s"), result.get("run_queue_window_s")
        case_doc["contention"].update(run_queue_wait_s=wait, run_queue_window_s=window)
        if not case_doc["error"] and result.get("engine_wall_s"):
            case_doc["bottleneck"] = case_bottleneck(case_doc["metrics"].get("cpu_s"), result["engine_wall_s"],
                                                     result.get("threads") or 1, wait, window)
        return case_doc

    def _worker_limit_s(self, case) -> float:
        """Seconds the worker may run: the per-run timeout for each engine run it makes (the case, or each of its
        steady-state rounds and its preconditioning), plus a minute for its setup and cleanup."""
        runs = 1
        if self.method and case.kind == "pattern":
            runs = (self.method["steady_state"] or {}).get("max_rounds", 1) + (1 if self.method["precondition"] else 0)
        return self.timeout_s * runs + 60

    def _show(self, case, live: "LiveFile") -> None:
        for fig in live.read_new():
            self.view.interval(case, fig)

    def _note_intervals(self, case_doc: dict, host, figures: list) -> None:
        """Say in the case document that its figures over time are in intervals.parquet, and hold them (by
        host: None on this machine) until the document is kept (_keep_intervals)."""
        case_doc["intervals"] = {"interval_s": self.interval_s, "rows": len(figures), "file": INTERVALS_FILE}
        self._pending_intervals[host] = figures

    def _keep_intervals(self, docs: list) -> None:
        """The figure rows of the case just documented (its local document, or each fleet host's), for
        intervals.parquet."""
        pending, self._pending_intervals = self._pending_intervals, {}
        for doc in docs:
            figures = pending.get(doc.get("host")) if doc.get("intervals") else None
            if not figures:
                continue
            meta = {"run_id": self.run_id, "case": doc["id"], "host": doc.get("host"), "workload": doc["workload"],
                    "tier": doc["tier"], "engine": doc["engine"], "repeat": doc["repeat"],
                    "params": json.dumps(doc["params"], sort_keys=True)}
            self.intervals.extend({**meta, **fig} for fig in figures)

    def _case_tag(self, case) -> str:
        return f"{self.run_id}-c{case.id}"

    def _end_case(self, case) -> None:
        """Kill whatever the case left running (its tag in the environment, its files in the command line,
        the worker's process group), then remove its directories on the tiers."""
        _kill_leftovers(str(self.raw / f"case{case.id:03d}."), self._case_tag(case), self._worker_pgid)
        self._worker_pgid = None
        self._remove_case_dirs(case)

    def _stop_worker(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:     # its group ended between poll() and killpg()
            proc.wait()

    def run(self, cases: list, finish: bool = True) -> dict:
        """Run every case; on Ctrl-C/SIGTERM stop the current worker, keep what was measured, re-raise.
        finish=False leaves the run `running` for more cases (a scenario's stages); call finish() at the end.
        An interrupt always finishes the run, as `interrupted`; from the first interrupt on, further ones only
        hurry the worker's end (bench.execution.stopping) and never cut the saving short.
        A store that cannot be written (StoreError) stops the run at once: nothing more is run or written;
        the document keeps the cases saved before, raw/ the last case's result, and readers see the run
        `interrupted` with that case recovered (bench.store.run_state.reconcile)."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        current = None
        self._datasets = {c.id: self._dataset_dir(c) for c in cases}
        self._last_use = {path: case_id for case_id, path in self._datasets.items() if path}
        try:
            with self.view.running(cases):
                for case in cases:
                    current = case
                    self.view.case_started(case)
                    self._pending_intervals = {}
                    docs = self.run_case_documents(case)
                    self.doc["cases"].extend(docs)
                    self._keep_intervals(docs)
                    current = None
                    self._note_shared_devices()
                    self._save(final=False)
                    self.view.case_ended(case, docs)
                    if self.doc.get("stopped"):
                        _stderr_console().print(f"stopped: {self.doc['stopped']}", markup=False)
                        break
        except KeyboardInterrupt:
            stopping.begin(lambda: self._proc)
            self._interrupted(current)
            self.remove_datasets()
            if finish:
                self.finish()
            finish = False
            raise
        except StoreError:
            finish = False
            self._stop_worker()
            if current is not None:
                self._end_case(current)
            self.remove_datasets()
            raise
        finally:
            if not stopping.begun():
                signal.signal(signal.SIGTERM, previous)
            if finish:
                self.finish()
        return self.doc

    def _interrupted(self, current) -> None:
        """After Ctrl-C/SIGTERM: stop the worker, record the case it ran (its result if it finished, else
        failed "interrupted"), mark the run interrupted."""
        self._stop_worker()
        if current is not None:
            self._end_case(current)
            # The worker, stopped by SIGTERM, says "interrupted" in its result (or it had finished).
            have = {c.get("id") for c in self.doc["cases"]}
            recovered = [c for c in recover_cases(self.raw, have) if c.get("id") == current.id
                         and (self.raw / f"case{current.id:03d}.result.json").exists()]
            if recovered:
                recovered[0].pop("recovered", None)
            if self.fleet:      # every host's document and the fleet's, failed "interrupted"
                self.doc["cases"].extend(self._fleet_documents(
                    current, case_document(current.to_dict(), {}, [], "interrupted")))
            else:
                self.doc["cases"].append(recovered[0] if recovered else
                                         case_document(current.to_dict(), {}, [], "interrupted"))
        self.doc["interrupted"] = True

    def finish(self) -> dict:
        """Close the run: its final status from the cases, and finished_at; its shared datasets removed."""
        self.remove_datasets()
        self.doc["finished_at"] = _now()
        self._save()
        return self.doc


CASE_TAG = "TIERBENCH_CASE"   # environment variable naming the case a process works for (inherited by fio)


def _exit_words(rc: Optional[int]) -> str:
    """A worker's exit status in words: `killed by SIGKILL` for a signal (Popen's negative code), else the code."""
    if rc is not None and rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def _blame_oom(case_doc: dict, container: str, memory_mb: int) -> None:
    """A failed case whose container's OOM killer fired says so, with the container's limit: the kernel killed
    a process of the case for memory, whatever the worker could still report."""
    kills = oom_kills(container)
    if case_doc.get("error") and kills:
        case_doc["error"] = (f"out of memory: the kernel's OOM killer killed {kills} process(es) in the case's "
                             f"{memory_mb} MB container (memory cgroup {Path(container).name}; its page cache, and "
                             f"the pages of files it writes to tmpfs, count against the limit) [{case_doc['error']}]")
        case_doc["oom_kills"] = kills


def _kill_leftovers(marker: str, tag: Optional[str] = None, pgid: Optional[int] = None) -> list:
    """SIGKILL what a case left running; returns the pids killed. Found: the processes whose environment
    carries CASE_TAG=tag (the worker sets nothing: it inherits the tag, and so do fio and fio's job processes,
    which call setsid() and leave every process group), those whose command line names this case's files
    under the run's raw/ folder (`marker`, which no other run shares), and the worker's process group."""
    killed = []
    me = os.getpid()
    for proc in psutil.process_iter(["cmdline", "pid"]):
        if proc.info["pid"] == me:
            continue
        try:
            mine = any(marker in arg for arg in proc.info["cmdline"] or ())
            if not mine and tag is not None:
                mine = proc.environ().get(CASE_TAG) == tag
            if mine:
                proc.kill()
                killed.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return killed


def _device_label(target: str) -> str:
    """A device lock's target as words: a block device node, or a file system (by its root directory)."""
    return f"device {target}" if target.startswith("/dev/") and not os.path.isdir(target) else f"file system {target}"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _stderr_console():
    from bench.core.output import stderr_console
    return stderr_console
