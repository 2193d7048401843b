"""The machine fingerprint stored with every run: what a comparison must match, and what explains a figure."""
from __future__ import annotations

import math
import os
import platform
import re
import socket
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Optional

from bench import __version__
from bench.core import cloud_identity
from bench.core.errors import UserError

# Tests point this at a fake sysfs tree holding DMI values captured on real cloud machines; nothing else sets it.
SYSFS_ROOT_ENV = "TIERBENCH_SYSFS_ROOT"
_DMI_MAX_BYTES = 4096
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
_LABEL_VALUE_MAX = 128
# --label keys that set an identity field rather than a free label.
_LABEL_FIELDS = {"instance": "instance_type", "instance_type": "instance_type", "provider": "provider",
                 "region": "region", "zone": "zone"}


def _read(path: str) -> Optional[str]:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return text or None


def _read_small(path: Path) -> Optional[str]:
    """A sysfs attribute (at most 4 KiB read), stripped; None when absent, unreadable or empty."""
    try:
        with open(path, "rb") as f:
            data = f.read(_DMI_MAX_BYTES)
    except OSError:
        return None
    text = data.decode("utf-8", "replace").strip()
    return text or None


def sysfs_root() -> Path:
    return Path(os.environ.get(SYSFS_ROOT_ENV) or "/sys")


def dmi_fields(root: Optional[Path] = None) -> dict:
    """The DMI strings a cloud names itself by (bench.core.cloud_identity.DMI_FIELDS), None where absent."""
    base = (root or sysfs_root()) / "class" / "dmi" / "id"
    return {name: _read_small(base / name) for name in cloud_identity.DMI_FIELDS}


def nvme_volumes(root: Optional[Path] = None) -> list:
    """Every NVMe namespace with its model string and, where the model names one, the cloud volume it is."""
    base = (root or sysfs_root()) / "block"
    try:
        names = sorted(p.name for p in base.iterdir() if p.name.startswith("nvme"))
    except OSError:
        return []
    out = []
    for name in names:
        model = _read_small(base / name / "device" / "model")
        out.append({"device": name, "model": model, **(cloud_identity.volume_of(model) or {})})
    return out


def parse_given(labels=(), region: Optional[str] = None, price_per_hour: Optional[float] = None) -> dict:
    """`run --label KEY=VALUE ... --region R --price-per-hour USD` as {field: value, "labels": {...}}.
    UserError (one line) on a malformed label, a repeated key or a price that is not a positive number."""
    given: dict = {"labels": {}}
    for expr in labels or ():
        key, sep, value = (expr or "").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _LABEL_KEY.match(key) or not value or len(value) > _LABEL_VALUE_MAX \
                or not value.isprintable():
            raise UserError(f"--label {expr!r}: expected KEY=VALUE (key: lower-case letters, digits, _ . -; "
                            f"value: 1 to {_LABEL_VALUE_MAX} printable characters), e.g. instance=m5d.large")
        target = _LABEL_FIELDS.get(key)
        slot = given if target else given["labels"]
        name = target or key
        if name in slot:
            raise UserError(f"--label {expr!r}: {key} is given twice")
        slot[name] = value
    if region is not None:
        if "region" in given:
            raise UserError("--region and --label region=... both given: give the region once")
        if not region.strip() or len(region) > _LABEL_VALUE_MAX or not region.isprintable():
            raise UserError(f"--region {region!r}: expected a region name such as us-east-1")
        given["region"] = region.strip()
    if price_per_hour is not None:
        if not math.isfinite(price_per_hour) or price_per_hour <= 0:
            raise UserError(f"--price-per-hour {price_per_hour}: expected a positive price in US dollars per hour")
        given["price_usd_per_hour"] = float(price_per_hour)
    return given


def instance_identity(given: Optional[dict] = None, root: Optional[Path] = None) -> dict:
    """What the run ran on: provider, instance type and id, region, zone, price (each a field that says whether
    it was `detected` on the machine or `given` by the user, or null), free labels, the DMI strings read and the
    NVMe volumes. A given value that contradicts a detected one is refused (UserError): the document would lie."""
    given = dict(given or {"labels": {}})
    dmi = dmi_fields(root)
    found = cloud_identity.identify(dmi)
    out = {"provider": found["provider"], "instance_type": found["instance_type"],
           "instance_id": found["instance_id"], "region": None, "zone": None, "price_usd_per_hour": None}
    for name in ("provider", "instance_type", "region", "zone", "price_usd_per_hour"):
        if name not in given:
            continue
        detected = out.get(name)
        if detected is not None and detected["value"] != given[name]:
            flag = "--label " + ("instance" if name == "instance_type" else name)
            raise UserError(f"{flag}={given[name]}: this machine says {detected['value']} "
                            f"({detected['evidence']}); give the value the machine has, or none")
        if detected is None:
            out[name] = cloud_identity.field(given[name], "given", "run option")
    out["labels"] = dict(given.get("labels") or {})
    out["dmi"] = dmi
    out["volumes"] = nvme_volumes(root)
    return out


def cpu_model() -> Optional[str]:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def memory_bytes() -> Optional[int]:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


@lru_cache(maxsize=None)
def fio_version(fio: str = "fio") -> Optional[str]:
    try:
        out = subprocess.run([fio, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _package_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def free_page_reporting(base: str = "/sys/module/page_reporting/parameters") -> Optional[dict]:
    """Whether this (virtual) machine hands freed memory back to its host (virtio-balloon free page reporting)
    and how: then memory the guest has not freed recently costs a host page fault per page on first touch, so
    buffered writes on fast tiers time differently depending on what ran just before (see README, "Engines
    agree"). None when the kernel has no page reporting; `active` when it has reported memory."""
    order, reported = _read(f"{base}/page_reporting_order"), _read(f"{base}/reported_kib")
    if order is None:
        return None
    min_free = _read(f"{base}/min_free_ms")
    return {"order": int(order), "min_free_ms": int(min_free) if min_free else None,
            "active": bool(reported and int(reported) > 0)}


def cgroup_support() -> dict:
    """Which cgroups emulated tiers and containers can use here (bench.tiers.cgroups): {"version": "v1" | "v2" |
    "none", "missing": [what is not there, in words]}: where a run's tiers were emulated, and why not."""
    from bench.tiers.cgroups import detect
    found = detect()
    return {"version": found["version"], "missing": found["missing"]}


def fingerprint(given: Optional[dict] = None) -> dict:
    """hostname, CPU, memory, kernel, DMI product name (clouds put the instance type there), cgroups, tool
    versions, and `instance`: what the run ran on (instance_identity; `given` from parse_given)."""
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "kernel": platform.release(),
        "product_name": _read_small(sysfs_root() / "class" / "dmi" / "id" / "product_name"),
        "instance": instance_identity(given),
        "free_page_reporting": free_page_reporting(),
        "cgroup": cgroup_support(),
        "fio_version": fio_version(),
        "python": platform.python_version(),
        "pyarrow": _package_version("pyarrow"),
        "polars": _package_version("polars"),
        "harness_version": __version__,
    }
