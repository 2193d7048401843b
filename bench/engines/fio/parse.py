"""Parse fio's JSON / json+ output (fio >= 3.0) into frozen records, converting units once, here.

Pure: `parse(text)` reads no globals, flags or environment. It accepts what fio really writes:
- text before, between or after the JSON (notes fio prints on stdout, "fio: ..." warnings);
- several JSON documents one after another (runs appended to one file): all are kept, in order;
- `jobs` (a local run) and `client_stats` (client/server: one entry per host and job, plus fio's
  "All clients" aggregate, whose `hostname` fio fills with the last client's; here its host is ALL_CLIENTS);
- the directions read, write, trim, and `mixed` (unified_rw_reporting); a zero-op direction is kept;
- json+ latency bins (`clat_ns.bins`, {"<ns>": count}), from which any percentile can be derived.
Output of fio before 3.0 (latencies in microseconds under `clat`, sizes in KiB) is refused.
Every number read is checked: a JSON number (not a string or boolean), finite (NaN, Infinity and 1e400 are
refused: Python's json module would accept them), not negative, whole where fio writes a count, at most 2^64
(fio's counters are 64-bit); a field of the wrong type is a UserError naming the job and field.

Units after parsing: bytes, seconds, microseconds, bytes per second, operations per second; histogram bins
stay in nanoseconds (the layout of kernels.latency_bins). fio's `bw` is KiB/s; `bw_bytes` (bytes/s) is used when
present. Latency is completion latency (`clat_ns`), the quantity fio computes its percentiles from; when a job
asked for `lat_percentiles` instead, `lat_ns` is used and `FioDirection.latency` says so.

bench.engines.fio.records turns a report into phase records, and bench.analysis.metrics.case_metrics those into the
run document's metrics (docs/run-document.md): the one path for `run` and `import`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from bench.core.errors import UserError

__all__ = ["ALL_CLIENTS", "DIRECTIONS", "FioDirection", "FioJob", "FioReport", "parse"]

ALL_CLIENTS = "All clients"
DIRECTIONS = ("read", "write", "trim", "mixed")
_VERSION = re.compile(r"^fio-(\d+)\.(\d+)")
_DOC_START = re.compile(r"^[ \t]*\{", re.MULTILINE)
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class FioDirection:
    """One direction (read, write, trim or mixed) of one fio job entry.

    ops: completed I/Os; bytes: bytes moved; runtime_s: seconds the direction ran (fio's runtime, ms / 1000);
    iops: fio's operations per second; bytes_per_s: fio's bandwidth in bytes per second.
    lat_samples: latency samples (fio's N); lat_mean_us / lat_min_us / lat_max_us: None without samples.
    percentiles_us: fio's own percentiles {q: us}; bins_ns: json+ histogram {bin value ns: count}
    (empty for plain json). latency: "clat" (completion latency) or "lat" (total latency).
    """
    ops: int
    bytes: int
    runtime_s: float
    iops: float
    bytes_per_s: float
    lat_samples: int = 0
    lat_mean_us: Optional[float] = None
    lat_min_us: Optional[float] = None
    lat_max_us: Optional[float] = None
    percentiles_us: Mapping[float, float] = field(default_factory=dict)
    bins_ns: Mapping[int, int] = field(default_factory=dict)
    latency: str = "clat"


@dataclass(frozen=True)
class FioJob:
    """One entry of fio's `jobs` (or `client_stats`): a job, or a whole group under group_reporting.

    host: None for a local run, the client's hostname, or ALL_CLIENTS for fio's aggregate of all clients.
    jobs_in_group: entries of the same document, host and group (1 with group_reporting).
    port: the fio server's port for a client/server entry (fio's `port`), else None.
    document: which JSON document of the input (0-based) the entry came from.
    options: the job's options over the document's global options, as fio printed them (strings).
    error: fio's error number for the job (0: none).
    cpu_s: CPU seconds the entry's jobs used (user + system), from fio's usr_cpu / sys_cpu (percent of the
    jobs' summed runtime) and job_runtime (ms); None when fio did not report them.
    """
    name: str
    host: Optional[str]
    groupid: int
    jobs_in_group: int
    directions: Mapping[str, FioDirection]
    document: int = 0
    options: Mapping[str, str] = field(default_factory=dict)
    error: int = 0
    cpu_s: Optional[float] = None
    port: Optional[int] = None


@dataclass(frozen=True)
class FioReport:
    """Everything parsed from one fio output. fio_version: as fio wrote it ("fio-3.33"), the versions joined
    with ", " when appended documents differ; timestamp: the first document's, seconds since the epoch.
    document_times_ms: each document's `timestamp_ms` (milliseconds since the epoch; None where fio wrote
    none), in order: with --status-interval fio appends a cumulative report per interval, then the final one
    (bench.engines.fio.intervals differences them)."""
    fio_version: str
    timestamp: Optional[int]
    jobs: tuple
    documents: int = 1
    document_times_ms: tuple = ()

    @property
    def hosts(self) -> tuple:
        """The client hosts of a client/server output (without ALL_CLIENTS); empty for a local run."""
        return tuple(sorted({j.host for j in self.jobs if j.host not in (None, ALL_CLIENTS)}))


def parse(text: str) -> FioReport:
    """Parse fio --output-format=json or json+ output (one or more documents, possibly with text around).

    Raises UserError (one line) for input with no JSON document, malformed JSON, a document that is not
    fio's, or output of fio before 3.0.
    """
    documents = _split_documents(text)
    jobs = []
    versions = []
    for number, doc in enumerate(documents):
        versions.append(_check_version(doc, number))
        jobs.extend(_document_jobs(doc, number))
    unique_versions = list(dict.fromkeys(versions))
    timestamp = documents[0].get("timestamp")
    times = tuple(None if doc.get("timestamp_ms") is None else
                  _whole(doc["timestamp_ms"], f"fio output document {number + 1}: 'timestamp_ms'")
                  for number, doc in enumerate(documents))
    return FioReport(", ".join(unique_versions),
                     _whole(timestamp, "fio output: 'timestamp'") if timestamp is not None else None,
                     tuple(jobs), len(documents), times)


_COUNTER_MAX = 2 ** 64


def _number(value, where: str) -> float:
    """A finite JSON number >= 0 (fio writes no negative figure we read); UserError naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where} is not a number ({type(value).__name__} {value!r:.40})")
    if isinstance(value, int) and not 0 <= value <= _COUNTER_MAX:
        raise UserError(f"{where} is out of range ({value!r:.40})")
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{where} must be a finite number >= 0, not {value!r:.40}")
    return float(value)


def _whole(value, where: str) -> int:
    number = _number(value, where)
    if number != int(number):
        raise UserError(f"{where} must be a whole number, not {value!r:.40}")
    return int(value)


def _key_number(text, where: str, whole: bool):
    """A number written as a JSON object key (json+ bins: "<ns>", percentiles: "99.000000")."""
    try:
        value = int(text) if whole else float(text)
    except (TypeError, ValueError):
        raise UserError(f"{where} has a key that is not a number ({text!r:.40})") from None
    return _whole(value, where) if whole else _number(value, where)


def _refuse_constant(name: str):
    raise UserError(f"fio output holds {name}, which is not a finite number (fio writes none)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UserError(f"fio output holds the number {text[:40]}, which is out of range")
    return value


def _split_documents(text: str) -> list:
    if not isinstance(text, str):
        raise TypeError(f"parse() takes the output text, not {type(text).__name__}")
    decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
    documents = []
    position = 0
    while True:
        # a document starts right after the previous one, or at a '{' that begins a line of other text
        start = _SPACE.match(text, position).end()
        if not text.startswith("{", start):
            match = _DOC_START.search(text, position)
            if match is None:
                break
            start = match.end() - 1
        try:
            doc, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError as e:
            raise UserError(f"fio output is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except RecursionError:
            raise UserError("fio output is not fio's JSON: nested too deeply") from None
        if not isinstance(doc, dict) or not ("jobs" in doc or "client_stats" in doc):
            raise UserError(f"JSON document {len(documents) + 1} is not fio output (no 'jobs' or 'client_stats')")
        documents.append(doc)
    if not documents:
        raise UserError("no fio JSON found in the output (run fio with --output-format=json+)")
    return documents


def _check_version(doc: dict, number: int) -> str:
    version = doc.get("fio version")
    where = f" (document {number + 1})" if number else ""
    if not isinstance(version, str):
        raise UserError(f"fio output{where} has no 'fio version': it comes from fio older than 3.0, which "
                        "tierbench cannot read; rerun with fio 3.x")
    match = _VERSION.match(version)
    if match is None:
        raise UserError(f"fio output{where} has an unknown 'fio version' {version!r}")
    if int(match.group(1)) < 3:
        raise UserError(f"fio output{where} comes from {version}: tierbench reads fio >= 3.0 output "
                        "(older fio reports latency in usec and sizes in KiB); rerun with fio 3.x")
    return version


def _document_jobs(doc: dict, number: int) -> list:
    client = "client_stats" in doc
    entries = doc["client_stats"] if client else doc.get("jobs")
    if not isinstance(entries, list):
        raise UserError(f"fio output document {number + 1}: 'jobs' is not a list")
    where = f"fio output document {number + 1}"
    global_options = _options(doc.get("global options"), f"{where}: 'global options'")
    raw = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("jobname"), str):
            raise UserError(f"{where}: a job entry has no 'jobname' string")
        host, port = None, None
        if client:
            if "port" in entry:
                port = _whole(entry["port"], f"{where}: job {entry['jobname']:.40}: 'port'")
            hostname = entry.get("hostname", "")
            if not isinstance(hostname, str) or not hostname.strip():
                raise UserError(f"{where}: job {entry['jobname']:.40}: a client/server entry's 'hostname' is not a "
                                "non-empty string (fio names the server it ran on there)")
            host = ALL_CLIENTS if entry["jobname"] == ALL_CLIENTS else hostname
        groupid = _whole(entry.get("groupid", 0), f"fio job {entry['jobname']:.40}: 'groupid'")
        raw.append((entry, host, groupid, port))
    group_sizes: dict = {}
    for _, host, groupid, port in raw:
        group_sizes[(host, port, groupid)] = group_sizes.get((host, port, groupid), 0) + 1
    jobs = []
    for entry, host, groupid, port in raw:
        name = entry["jobname"]
        directions = {d: _direction(entry[d], f"{name:.40}.{d}") for d in DIRECTIONS if d in entry}
        options = dict(global_options)
        options.update(_options(entry.get("job options"), f"fio job {name:.40}: 'job options'"))
        jobs.append(FioJob(name, host, groupid, group_sizes[(host, port, groupid)], directions, number, options,
                           _whole(entry.get("error", 0), f"fio job {name:.40}: 'error'"), _cpu_seconds(entry, name),
                           port if host != ALL_CLIENTS else None))
    return jobs


def _options(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{where} is not an object")
    return {str(k): str(v) for k, v in value.items()}


def _cpu_seconds(entry: dict, name: str) -> Optional[float]:
    """None when fio did not report the CPU figures; a UserError when it reported them wrong."""
    if not all(k in entry for k in ("usr_cpu", "sys_cpu", "job_runtime")):
        return None
    usr, sys_, runtime = (_number(entry[k], f"fio job {name:.40}: {k!r}") for k in ("usr_cpu", "sys_cpu", "job_runtime"))
    return (usr + sys_) / 100.0 * runtime / 1000.0


def _direction(d: dict, jobname: str) -> FioDirection:
    """One direction; `jobname` is "<job>.<direction>" for messages."""
    if not isinstance(d, dict):
        raise UserError(f"fio job {jobname}: not an object")
    if "clat_ns" not in d:
        if "clat" in d:
            raise UserError(f"fio job {jobname}: latency in 'clat' (usec) instead of 'clat_ns': output of fio "
                            "older than 3.0, which tierbench cannot read; rerun with fio 3.x")
        raise UserError(f"fio job {jobname}: a direction without 'clat_ns' latencies")
    field = f"fio job {jobname}"
    for key in ("total_ios", "io_bytes", "runtime", "iops") + (("bw_bytes",) if "bw_bytes" in d else ("bw",)):
        if key not in d:
            raise UserError(f"{field}: no {key!r}")
    bytes_per_s = _number(d["bw_bytes"], f"{field}.bw_bytes") if "bw_bytes" in d \
        else _number(d["bw"], f"{field}.bw") * 1024.0
    ops, nbytes = _whole(d["total_ios"], f"{field}.total_ios"), _whole(d["io_bytes"], f"{field}.io_bytes")
    runtime_s, iops = _number(d["runtime"], f"{field}.runtime") / 1000.0, _number(d["iops"], f"{field}.iops")
    kind, lat = _latency_block(d, field)
    where = f"{field}.{kind}_ns"
    samples = _whole(lat.get("N", 0), f"{where}.N")
    if not samples:
        return FioDirection(ops, nbytes, runtime_s, iops, bytes_per_s, latency=kind)
    for key in ("mean", "min", "max"):
        if key not in lat:
            raise UserError(f"{where}: {samples} samples but no {key!r}")
    percentiles = {_key_number(q, f"{where}.percentile", False): _number(v, f"{where}.percentile[{q!s:.20}]") / 1000.0
                   for q, v in _object(lat.get("percentile"), f"{where}.percentile").items()}
    if any(q > 100 for q in percentiles):
        raise UserError(f"{where}.percentile has a percentile above 100")
    bins = {}
    for v, c in _object(lat.get("bins"), f"{where}.bins").items():
        count = _whole(c, f"{where}.bins[{v!s:.20}]")
        if count:
            bins[_key_number(v, f"{where}.bins", True)] = count
    return FioDirection(ops, nbytes, runtime_s, iops, bytes_per_s, samples,
                        _number(lat["mean"], f"{where}.mean") / 1000.0, _number(lat["min"], f"{where}.min") / 1000.0,
                        _number(lat["max"], f"{where}.max") / 1000.0,
                        dict(sorted(percentiles.items())), dict(sorted(bins.items())), kind)


def _object(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{where} is not an object")
    return value


def _latency_block(d: dict, field: str = "fio job") -> tuple:
    """("clat", clat_ns), unless only lat_ns carries percentiles or bins (the job set lat_percentiles)."""
    clat = _object(d.get("clat_ns"), f"{field}.clat_ns")
    lat = _object(d.get("lat_ns"), f"{field}.lat_ns")
    if not ("percentile" in clat or "bins" in clat) and ("percentile" in lat or "bins" in lat):
        return "lat", lat
    return "clat", clat
