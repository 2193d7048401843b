"""The results store: one folder per run under the store's root.

    <root>/<run-id>/run.json         the run document (DESIGN.md), written atomically
    <root>/<run-id>/samples.parquet  one row per Sample: run_id, case, metric, value, unit, timestamp, metadata
    <root>/<run-id>/raw/             tool outputs as the tools wrote them (fio JSON, job files, monitor series)

Run document format history (schema_version):
    1 (2026-11): first version: run_id, status, started_at, finished_at, harness_version, machine, tiers, cases.

Two runs at once never collide: a run id carries a random suffix and its folder is created exclusively.
The store only reads and writes documents; it never runs anything.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from bench.errors import UserError

SCHEMA_VERSION = 1
SUPPORTED_SCHEMAS = (1,)
ENV_VAR = "TIERBENCH_RESULTS"


def default_root() -> Path:
    """$TIERBENCH_RESULTS, else results/ of the checkout this code runs from, else ./results."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    checkout = Path(__file__).resolve().parent.parent
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


def check_schema(doc: dict, where: str) -> dict:
    version = doc.get("schema_version")
    if version not in SUPPORTED_SCHEMAS:
        raise UserError(f"{where}: run document schema_version {version!r} is not supported by this tierbench "
                        f"(it reads {', '.join(map(str, SUPPORTED_SCHEMAS))}); re-import the raw outputs with "
                        f"`tierbench import {where}/raw/*.json` or use the tierbench version that wrote it")
    return doc


class Store:
    """A results store rooted at a folder (created on first write)."""

    def __init__(self, root: Optional[os.PathLike] = None):
        self.root = Path(root) if root is not None else default_root()

    # -- writing -------------------------------------------------------------------------------------
    def create_run(self, run_id: Optional[str] = None) -> Path:
        """Make the run's folder (and raw/) exclusively; returns the folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"results store {self.root}: cannot create it ({e.strerror})") from None
        for _ in range(5):
            rid = run_id or new_run_id()
            folder = self.root / rid
            try:
                folder.mkdir()
            except FileExistsError:
                if run_id:
                    raise UserError(f"run {run_id} already exists in {self.root}") from None
                continue
            (folder / "raw").mkdir()
            return folder
        raise UserError(f"could not allocate a run id in {self.root}")

    def write_document(self, doc: dict) -> Path:
        folder = self.root / doc["run_id"]
        path = folder / "run.json"
        atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=_json_default) + "\n")
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
        pq.write_table(pa.table(table, schema=schema), tmp)
        os.replace(tmp, path)
        return path

    # -- reading -------------------------------------------------------------------------------------
    def run_ids(self) -> list:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "run.json").is_file())

    def resolve(self, ref: str) -> Path:
        """A run folder from a run id, a unique prefix of one, `latest`, or a path to a run folder/run.json."""
        path = Path(ref)
        if path.name == "run.json" and path.is_file():
            return path.parent
        if path.is_dir() and (path / "run.json").is_file():
            return path
        ids = self.run_ids()
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

    def load(self, ref: str) -> dict:
        folder = self.resolve(ref)
        try:
            doc = json.loads((folder / "run.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{folder / 'run.json'}: unreadable run document ({e})") from None
        if not isinstance(doc, dict):
            raise UserError(f"{folder / 'run.json'}: not a run document")
        return check_schema(doc, str(folder))

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

    def summaries(self) -> list:
        """One small dict per readable run, oldest first (unreadable or foreign-schema runs say so)."""
        out = []
        for rid in self.run_ids():
            try:
                doc = self.load(rid)
            except UserError as e:
                out.append({"run_id": rid, "status": "unreadable", "error": str(e)})
                continue
            cases = doc.get("cases", [])
            out.append({
                "run_id": rid, "status": doc.get("status"), "started_at": doc.get("started_at"),
                "hostname": doc.get("machine", {}).get("hostname"),
                "cases": len(cases), "failed_cases": sum(1 for c in cases if c.get("error")),
                "workloads": sorted({c.get("workload") for c in cases if c.get("workload")}),
                "tiers": [t.get("name") for t in doc.get("tiers", [])],
            })
        return out


def _meta_str(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=_json_default)


def _json_default(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
