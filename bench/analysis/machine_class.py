"""Which runs a gate may hold against each other: the hardware class of what they measured, never its name.

On hosted CI every job runs on a fresh runner with a new hostname, boot id, loop device numbers and temporary
folders. None of those changes what a figure measures; the kind of machine and of storage does. Two runs are
gateable when these fields agree (the default class):

    cpu_model      the CPU's model string (/proc/cpuinfo)
    cpus           logical CPUs
    memory_gib     memory size rounded to the nearest GiB (the kernel's MemTotal moves by a few MiB between boots
                   and kernels)
    tier.class     for each tier the matched cases used (data and temp): hdd, nvme, optane, memory, ...
    tier.model     the device's model string (a virtual disk's "virtio" stays "virtio")
    tier.emulation an emulated tier's parameters, minus what names one instance (loop device, backing path) and
                   minus its throttle (an emulated drive's speed is what a gate measures, not its identity)
    tier.capacity  nominal capacity (what IOPS per GB divides by)

Recorded with every run but never blocking by default: hostname, kernel, product_name (the DMI product), and for
tiers their device name and path. A team that wants more (or less) declares the fields that must match with
`compare --same-class-as FIELD[,FIELD...]` (any of CLASS_FIELDS + OPTIONAL_FIELDS); the refusal lists every
field that differs, with both values.
"""
from __future__ import annotations

from typing import Iterable, Optional

from bench.core.errors import UserError

__all__ = ["CLASS_FIELDS", "OPTIONAL_FIELDS", "ALL_FIELDS", "parse_fields", "machine_class", "tier_class",
           "class_differences"]

CLASS_FIELDS = ("cpu_model", "cpus", "memory_gib", "tier.class", "tier.model", "tier.emulation", "tier.capacity")
OPTIONAL_FIELDS = ("hostname", "kernel", "product_name", "tier.device", "tier.path")
ALL_FIELDS = CLASS_FIELDS + OPTIONAL_FIELDS

# Parameters of an emulated tier that name one instance of it, or its speed: never part of its class.
_EMULATION_INSTANCE = frozenset({"loop", "device", "iops", "mbps", "path", "dir", "image", "mount", "pid", "socket"})
_GIB = 1024 ** 3


def parse_fields(values: Optional[Iterable[str]]) -> tuple:
    """`--same-class-as` values (repeatable, comma-separated) -> the fields that must match; the default class
    when none is given. UserError naming the unknown field and the known ones."""
    fields = []
    for value in values or ():
        for name in (v.strip() for v in str(value).split(",")):
            if not name:
                raise UserError(f"--same-class-as {value!r}: an empty field name")
            if name not in ALL_FIELDS:
                raise UserError(f"--same-class-as: unknown field {name!r} (known: {', '.join(ALL_FIELDS)})")
            if name not in fields:
                fields.append(name)
    return tuple(fields) if fields else CLASS_FIELDS


def _memory_gib(machine: dict) -> Optional[int]:
    b = machine.get("memory_bytes")
    if isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0:
        return int(round(b / _GIB))
    return None


def machine_class(machine: Optional[dict]) -> dict:
    """The machine-level fields of a run's fingerprint, as the class compares them."""
    m = machine or {}
    return {"cpu_model": m.get("cpu_model"), "cpus": m.get("cpus"), "memory_gib": _memory_gib(m),
            "hostname": m.get("hostname"), "kernel": m.get("kernel"), "product_name": m.get("product_name")}


def _emulation(e) -> object:
    if isinstance(e, dict):
        return {k: v for k, v in sorted(e.items()) if k not in _EMULATION_INSTANCE}
    return bool(e) or None


def tier_class(tier: Optional[dict]) -> dict:
    """A tier's fields as the class compares them (`tier.` prefix dropped)."""
    t = tier or {}
    return {"class": t.get("class"), "model": (t.get("model") or None) and str(t.get("model")).strip(),
            "emulation": _emulation(t.get("emulated")),
            "capacity": t.get("nominal_capacity_bytes") or t.get("capacity_bytes"),
            "device": t.get("device"), "path": t.get("path")}


def class_differences(base: dict, new: dict, tier_names: Iterable[str], fields=CLASS_FIELDS) -> list:
    """Every field of `fields` that differs between the two runs, as `field differs (A vs B)` strings; tier
    fields for each tier in `tier_names` that both runs have."""
    out = []
    mb, mn = machine_class(base.get("machine")), machine_class(new.get("machine"))
    for field in fields:
        if not field.startswith("tier.") and mb[field] != mn[field]:
            out.append(f"machine {field} differs ({mb[field]!r} vs {mn[field]!r})")
    tier_fields = [f.removeprefix("tier.") for f in fields if f.startswith("tier.")]
    tb = {t.get("name"): t for t in base.get("tiers") or []}
    tn = {t.get("name"): t for t in new.get("tiers") or []}
    for name in sorted({n for n in tier_names if n}):
        if name not in tb or name not in tn:
            continue
        a, b = tier_class(tb[name]), tier_class(tn[name])
        diffs = [f"tier.{f} {a[f]!r} vs {b[f]!r}" for f in tier_fields if a[f] != b[f]]
        if diffs:
            out.append(f"tier {name}: " + ", ".join(diffs))
    return out
