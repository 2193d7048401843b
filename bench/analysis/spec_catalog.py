"""The spec catalog: published storage figures of cloud instance types (bench/analysis/catalog/*.toml, data, each
entry with its source), and users' own catalogs merged in (`compare --machines --catalog FILE`).

An entry (`[[instance]]`) names provider, instance_type ("*" for any), tier_class, optionally volume (the cloud
volume kind, bench.core.cloud_identity.volume_of) and devices, and any of the figures in SPEC_METRICS, with
`source` (document URL, title) and `source_date` (when it was read). A user entry with the same provider,
instance_type, tier_class and volume replaces the built-in one.

Holding a measurement against a spec (`spec_check`): the spec applies where the run's instance (provider and
instance type) and the tier (class, and volume kind where both are known) match; a median more than
BELOW_SPEC_FRACTION (10%) below the spec is flagged `below-spec`.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Optional

from bench.core.errors import UserError

__all__ = ["SPEC_METRICS", "BELOW_SPEC_FRACTION", "load_catalog", "find_spec", "spec_check"]

BUILTIN_DIR = Path(__file__).resolve().parent / "catalog"
MAX_CATALOG_BYTES = 1 << 20          # a catalog is a small text file; a larger one is refused, not read
BELOW_SPEC_FRACTION = 0.10
# catalog field -> (workload, metric) it is held against
SPEC_METRICS = {
    "read_iops_4k": ("rand-read-4k", "iops"),
    "write_iops_4k": ("rand-write-4k", "iops"),
    "read_bytes_per_s": ("seq-read-1m", "read_bytes_per_s"),
    "write_bytes_per_s": ("seq-write-1m", "write_bytes_per_s"),
}
_TEXT = ("provider", "instance_type", "tier_class", "volume", "source", "source_date", "price_source")
_NUMBERS = ("devices", "capacity_bytes", "price_usd_per_hour", *SPEC_METRICS)
_REQUIRED = ("provider", "instance_type", "tier_class", "source", "source_date")


def _read_toml(path: Path, flag: str) -> dict:
    try:
        if not path.is_file():
            raise UserError(f"{flag} {path}: not a regular file")
        with open(path, "rb") as f:
            data = f.read(MAX_CATALOG_BYTES + 1)
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot read it ({e.strerror})") from None
    if len(data) > MAX_CATALOG_BYTES:
        raise UserError(f"{flag} {path}: larger than {MAX_CATALOG_BYTES} bytes; a catalog is a small TOML file")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"{flag} {path}: not valid TOML ({' '.join(str(e).split())})") from None


def _entry(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: an [[instance]] entry must be a table")
    unknown = sorted(set(raw) - set(_TEXT) - set(_NUMBERS))
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(_TEXT + _NUMBERS)})")
    for name in _REQUIRED:
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise UserError(f"{where}: {name} is required (a non-empty string)")
    for name in _TEXT:
        if name in raw and not isinstance(raw[name], str):
            raise UserError(f"{where}: {name} must be a string")
    for name in _NUMBERS:
        v = raw.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise UserError(f"{where}: {name} must be a positive number (got {v!r})")
    if not any(name in raw for name in SPEC_METRICS):
        raise UserError(f"{where}: no figure given (one of {', '.join(SPEC_METRICS)})")
    return dict(raw)


def _entries(data: dict, where: str) -> list:
    extra = sorted(set(data) - {"instance"})
    if extra:
        raise UserError(f"{where}: unknown table(s) {', '.join(extra)}; entries are [[instance]] tables")
    items = data.get("instance") or []
    if not isinstance(items, list):
        raise UserError(f"{where}: `instance` must be an array of tables ([[instance]])")
    return [dict(_entry(raw, f"{where} entry {i + 1}"), catalog=where) for i, raw in enumerate(items)]


def _identity(e: dict) -> tuple:
    return (e["provider"], e["instance_type"], e["tier_class"], e.get("volume"))


def load_catalog(user_files=()) -> list:
    """The built-in entries, then each user file's (a user entry replaces a built-in one of the same identity).
    UserError (one line) for a file that is missing, too large, not TOML, or holds a malformed entry."""
    merged: dict = {}
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        for e in _entries(_read_toml(path, "catalog"), f"catalog/{path.name}"):
            merged[_identity(e)] = e
    for name in user_files or ():
        path = Path(name)
        for e in _entries(_read_toml(path, "--catalog"), str(path)):
            merged[_identity(e)] = e
    return list(merged.values())


def find_spec(catalog: list, provider: Optional[str], instance_type: Optional[str], tier_class: Optional[str],
              volume: Optional[str] = None) -> Optional[dict]:
    """The entry for this instance and tier: exact instance type first (the volume must agree where both the
    entry and the tier name one), then "*" (whose volume, if it names one, the tier must be known to be).
    None without a provider, or without an entry."""
    if not provider or not tier_class:
        return None
    best = None
    for e in catalog:
        if e["provider"] != provider or e["tier_class"] != tier_class:
            continue
        if volume and e.get("volume") and e["volume"] != volume:
            continue
        if e["instance_type"] == instance_type and instance_type:
            return e
        # A wildcard entry describes a volume type, not an instance: only a tier known to be that volume gets it.
        if e["instance_type"] == "*" and (not e.get("volume") or e["volume"] == volume):
            best = best or e
    return best


def spec_check(entry: Optional[dict], workload: str, metric: str, measured: Optional[float]) -> Optional[dict]:
    """{spec, field, ratio, verdict ("below-spec" | "meets-spec"), source, source_date} for a measured median
    against the entry's figure for this workload and metric; None where the entry has no such figure."""
    if entry is None:
        return None
    for name, (w, m) in SPEC_METRICS.items():
        if w == workload and m == metric and entry.get(name):
            spec = float(entry[name])
            out = {"field": name, "spec": spec, "ratio": None, "verdict": "not-measured",
                   "source": entry["source"], "source_date": entry["source_date"], "catalog": entry["catalog"],
                   "instance_type": entry["instance_type"]}
            if measured is not None:
                out["ratio"] = measured / spec
                out["verdict"] = "below-spec" if measured < (1.0 - BELOW_SPEC_FRACTION) * spec else "meets-spec"
            return out
    return None
