"""The machine fingerprint stored with every run: what a comparison must match, and what explains a figure."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Optional

from bench import __version__


def _read(path: str) -> Optional[str]:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return text or None


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


def fingerprint() -> dict:
    """hostname, CPU, memory, kernel, DMI product name (clouds put the instance type there), cgroups, tool
    versions."""
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "kernel": platform.release(),
        "product_name": _read("/sys/class/dmi/id/product_name"),
        "free_page_reporting": free_page_reporting(),
        "cgroup": cgroup_support(),
        "fio_version": fio_version(),
        "python": platform.python_version(),
        "pyarrow": _package_version("pyarrow"),
        "polars": _package_version("polars"),
        "harness_version": __version__,
    }
