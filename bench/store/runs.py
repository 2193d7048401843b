"""The results store: one folder per run under the store's root.

    <root>/<run-id>/run.json         the run document (docs/run-document.md), written atomically
    <root>/<run-id>/samples.parquet  one row per Sample: run_id, case, metric, value, unit, timestamp, metadata
    <root>/<run-id>/raw/             tool outputs as the tools wrote them (fio JSON, job files, monitor series)

Run document format history (schema_version):
    1 (2026-11): first version: run_id, status, started_at, finished_at, harness_version, machine, tiers, cases.
       Later in 1: `process` ({pid, host, start_time}) of the runner, and the statuses `running` and
       `interrupted` (bench.store.run_state says what every status means).

Two runs at once never collide: a run id carries a random suffix and its folder is created exclusively.
A run folder is never without its run.json (create_run makes both in one rename). Reading checks every
document against docs/run-document.schema.json (bench.store.validate: the one check, also of the cases
recovered from raw/), with NaN, Infinity and runaway nesting refused as not JSON: one bad run.json is reported
and skipped by the listings, and refused with one line when asked for by name.
A write that fails (disk full, read-only, permission, the folder removed) is a StoreError naming the store.
The store only reads and writes documents; it never runs anything.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Optional

from bench.core.errors import StoreError, UserError
from bench.core.output import json_default
from bench.core.userfile import RUN_DOCUMENT, read_user_bytes
from bench.store.validate import JsonProblem, document_problem, loads

SCHEMA_VERSION = 1
SUPPORTED_SCHEMAS = (1,)
ENV_VAR = "TIERBENCH_RESULTS"


def default_root() -> Path:
    """$TIERBENCH_RESULTS, else results/ of the checkout this code runs from, else ./results."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "results" / "README.md").exists() and os.access(checkout / "results", os.W_OK):
        return checkout / "results"
    return Path.cwd() / "results"


def new_run_id(now: Optional[_dt.datetime] = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_schema(doc, where: str) -> dict:
    """`doc` if it is a run document this tierbench reads (its schema version, and the fields readers use with
    their types); else UserError with one line saying what is wrong."""
    if not isinstance(doc, dict):
        raise UserError(f"{where}: not a run document (a JSON {type(doc).__name__}, not an object)")
    version = doc.get("schema_version")
    if version not in SUPPORTED_SCHEMAS or isinstance(version, bool):
        raise UserError(f"{where}: run document schema_version {version!r} is not supported by this tierbench "
                        f"(it reads {', '.join(map(str, SUPPORTED_SCHEMAS))}); re-import the raw outputs with "
                        f"`tierbench import {where}/raw/*.json` or use the tierbench version that wrote it")
    problem = document_problem(doc)      # docs/run-document.schema.json, the one check (bench.store.validate)
    if problem:
        raise UserError(f"{where}: bad run document: {problem}")
    return doc


def _write_json(path: Path, doc: dict) -> None:
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=json_default) + "\n")


class Store:
    """A results store rooted at a folder (created on first write)."""

    def __init__(self, root: Optional[os.PathLike] = None):
        if root is not None and (str(root).strip() == "" or "\0" in str(root)):
            raise UserError(f"--results {str(root)!r:.60}: not a folder name")
        self.root = Path(root) if root is not None else default_root()

    # -- writing -------------------------------------------------------------------------------------
    def create_run(self, run_id: Optional[str] = None, doc: Optional[dict] = None) -> Path:
        """Make the run's folder, with raw/ and run.json, in one step: they are built in a hidden temporary
        folder and renamed into place, so that a run folder never exists without its document (an interrupt
        at any moment leaves either nothing or a readable run). `doc` (its run_id is set here) is the first
        document; by default a `running` one naming this process. Returns the folder."""
        from bench.store.run_state import RUNNING, process_identity

        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"results store {self.root}: cannot create it ({e.strerror})") from None
        first = dict(doc) if doc is not None else {
            "schema_version": SCHEMA_VERSION, "status": RUNNING, "process": process_identity(),
            "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "finished_at": None, "cases": []}
        for _ in range(5):
            rid = run_id or new_run_id()
            folder = self.root / rid
            if folder.exists():
                if run_id:
                    raise UserError(f"run {run_id} already exists in {self.root}")
                continue
            tmp = self.root / f".{rid}.{secrets.token_hex(4)}.creating"
            try:
                tmp.mkdir()      # (not mkdtemp: the run folder gets the umask's mode, as any folder)
            except FileExistsError:
                continue
            except OSError as e:
                raise UserError(f"results store {self.root}: cannot create a run ({e.strerror})") from None
            try:
                (tmp / "raw").mkdir()
                first["run_id"] = rid
                _write_json(tmp / "run.json", first)
                # A directory renamed onto an existing non-empty one fails: two runs never share a folder.
                # (An existing *empty* folder would be replaced; only a foreign tool makes one.)
                os.rename(tmp, folder)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    if run_id:
                        raise UserError(f"run {run_id} already exists in {self.root}") from None
                    continue
                raise UserError(f"results store {self.root}: cannot create a run ({e.strerror})") from None
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if doc is not None:
                doc["run_id"] = rid
            return folder
        raise UserError(f"could not allocate a run id in {self.root}")

    @contextmanager
    def writing(self, path: os.PathLike):
        """Turn a failed write to `path` in the store (ENOSPC, EROFS, EACCES/EPERM, the folder removed) into
        StoreError: one line naming the store, the file and the error. The caller stops the run there; what
        was written before stays readable (documents are replaced atomically, never torn)."""
        try:
            yield
        except OSError as e:
            try:
                where = Path(path).relative_to(self.root)
            except ValueError:
                where = Path(path)
            reason = e.strerror or _errno_text(e)
            raise StoreError(f"results store {self.root}: cannot write {where} ({reason}); the run stopped, "
                             f"the cases already stored are kept") from None

    def write_document(self, doc: dict) -> Path:
        path = self.root / doc["run_id"] / "run.json"
        with self.writing(path):
            _write_json(path, doc)
        return path

    def write_raw(self, run_id: str, name: str, text: str) -> Path:
        """A file of the run's raw/ folder (a case's spec, a user's job file), StoreError when it cannot be."""
        path = self.root / run_id / "raw" / name
        with self.writing(path):
            try:
                path.write_text(text)
            except OSError:
                if path.is_file():
                    path.unlink()       # never a torn spec or reservation left behind
                raise
        return path

    def write_samples(self, run_id: str, rows: Iterable[tuple]) -> Path:
        """rows: (case_index, Sample). Metadata becomes columns `meta_<key>` (values as strings)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(rows)
        meta_keys = sorted({k for _, s in rows for k in s.metadata})
        table = {
            "run_id": [run_id] * len(rows),
            "case": [int(c) for c, _ in rows],
            "metric": [s.metric for _, s in rows],
            "value": [float(s.value) for _, s in rows],
            "unit": [s.unit for _, s in rows],
            "timestamp": [float(s.timestamp) for _, s in rows],
        }
        for key in meta_keys:
            table[f"meta_{key}"] = [None if key not in s.metadata else _meta_str(s.metadata[key]) for _, s in rows]
        schema = pa.schema([("run_id", pa.string()), ("case", pa.int64()), ("metric", pa.string()),
                            ("value", pa.float64()), ("unit", pa.string()), ("timestamp", pa.float64())]
                           + [(f"meta_{k}", pa.string()) for k in meta_keys])
        path = self.root / run_id / "samples.parquet"
        tmp = path.with_name(".samples.parquet.tmp")
        with self.writing(path):
            try:
                pq.write_table(pa.table(table, schema=schema), tmp)
                os.replace(tmp, path)
            except BaseException:
                if tmp.exists():
                    tmp.unlink()
                raise
        return path

    # -- reading -------------------------------------------------------------------------------------
    def run_ids(self) -> list:
        """The run folders (those holding a run.json; hidden folders are runs still being created)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and (p / "run.json").is_file())

    def resolve(self, ref: str) -> Path:
        """A run folder from a run id, a unique prefix of one, `latest`, `tag:KEY=VALUE[,...]` (the newest run
        with those tags), or a path to a run folder/run.json."""
        path = Path(ref)
        if path.name == "run.json" and path.is_file():
            return path.parent
        if path.is_dir() and (path / "run.json").is_file():
            return path
        ids = self.run_ids()
        if ref.startswith("tag:"):
            return self._newest_tagged(ref, ids)
        if ref == "latest":
            if not ids:
                raise UserError(f"no runs in {self.root}")
            return self.root / max(ids, key=lambda i: (self.root / i / "run.json").stat().st_mtime)
        if ref in ids:
            return self.root / ref
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) == 1:
            return self.root / matches[0]
        if len(matches) > 1:
            raise UserError(f"run id {ref!r} is ambiguous in {self.root}: {', '.join(matches[:5])}")
        raise UserError(f"no run {ref!r} in {self.root} (see `tierbench list`)")

    def _newest_tagged(self, ref: str, ids: list) -> Path:
        """`tag:KEY=VALUE[,KEY=VALUE...]`: the newest run (by started_at) carrying every tag."""
        from bench.core.tags import parse_tags, tags_match

        wanted = parse_tags([t for t in ref[4:].split(",")], flag=ref)
        if not wanted:
            raise UserError(f"{ref!r}: expected tag:KEY=VALUE[,KEY=VALUE...] (e.g. tag:branch=main)")
        found = []
        for rid in ids:
            try:
                doc = self.load(rid)
            except UserError:
                continue      # an unreadable run carries no tags anyone can trust
            if tags_match(doc, wanted):
                found.append((str(doc.get("started_at") or ""), rid))
        if not found:
            raise UserError(f"no run in {self.root} carries {ref[4:]} (see `tierbench list`)")
        return self.root / max(found)[1]

    def load(self, ref: str) -> dict:
        """The run document, checked (UserError, one line, when it cannot be used) and as readers must see it:
        a `running` run whose process died is shown `interrupted` (bench.store.run_state.reconcile)."""
        from bench.store.run_state import reconcile

        folder = self.resolve(ref)
        path = folder / "run.json"
        try:
            raw = read_user_bytes(path, what="run document", limit=RUN_DOCUMENT)   # regular, bounded, never blocks
        except UserError as e:
            reason = _one_line(e).replace(f"run document {path}: ", "", 1)
            raise UserError(f"{path}: unreadable run document ({reason})") from None
        try:
            doc = loads(raw)
        except JsonProblem as e:    # bad JSON, bad UTF-8, NaN/Infinity, nesting beyond any document of ours
            raise UserError(f"{path}: unreadable run document ({e})") from None
        return reconcile(check_schema(doc, str(folder)), folder)

    def samples(self, ref: str):
        """The run's samples as a polars DataFrame (empty frame if the run has none)."""
        import polars as pl

        path = self.resolve(ref) / "samples.parquet"
        if not path.exists():
            return pl.DataFrame(schema={"run_id": pl.Utf8, "case": pl.Int64, "metric": pl.Utf8,
                                        "value": pl.Float64, "unit": pl.Utf8, "timestamp": pl.Float64})
        return pl.read_parquet(path)

    def raw_dir(self, ref: str) -> Path:
        return self.resolve(ref) / "raw"

    def summaries(self, report=None) -> list:
        """One small dict per run, oldest first. A run whose document cannot be used is listed with status
        "unreadable" and its error (and `report`, a callable, is given one line saying which run and why); it
        never stops the others from being listed."""
        out = []
        for rid in self.run_ids():
            try:
                doc = self.load(rid)
            except UserError as e:
                if report is not None:
                    report(f"skipped run {rid}: {e}")
                out.append({"run_id": rid, "status": "unreadable", "error": str(e)})
                continue
            cases = doc["cases"]
            out.append({
                "run_id": rid, "status": doc.get("status"), "started_at": doc.get("started_at"),
                "finished_at": doc.get("finished_at"), "hostname": (doc.get("machine") or {}).get("hostname"),
                "cases": len(cases), "failed_cases": sum(1 for c in cases if c.get("error")),
                "workloads": sorted({c["workload"] for c in cases}),
                "tiers": [t.get("name") for t in doc.get("tiers") or []],
            })
        return out


def _errno_text(e: OSError) -> str:
    """The error's strerror; pyarrow's OSError carries none, only "... Detail: [errno N] text" in its message."""
    import re

    number = e.errno or next((int(m) for m in re.findall(r"\[errno (\d+)\]", str(e))), None)
    return os.strerror(number) if number else _one_line(e)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _meta_str(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=json_default)
