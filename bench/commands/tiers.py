"""tierbench tiers detect|emulate|teardown."""
from __future__ import annotations

import os

from rich.table import Table

from bench.commands._hdd_flags import add_hdd_arguments, hdd_options
from bench.core.errors import UserError
from bench.core.output import emit_json, fmt_number, stderr_console
from bench.core.units import parse_size
from bench.tiers import cgroups, hdd_model
from bench.tiers import emulate as emu
from bench.tiers.detect import detect, detect_all_devices, parse_tier_spec

NAME = "tiers"
HELP = "detect, emulate or tear down storage tiers"


def add_arguments(p):
    sub = p.add_subparsers(dest="tiers_command", metavar="ACTION", parser_class=type(p))
    d = sub.add_parser("detect", help="resolve tiers and mounted devices to device, model, class and capacity")
    d.add_argument("--tier", action="append", default=[], metavar="NAME=PATH[:CLASS]")
    d.add_argument("--json", action="store_true")
    e = sub.add_parser("emulate", help="build emulated hdd, nvme and optane tiers (root)")
    e.add_argument("--dir", help=f"folder for backing files and mounts (default {emu.DEFAULT_DIR})")
    e.add_argument("--size", default="2g", help="size of each tier's loop device (default 2g)")
    add_hdd_arguments(e, drives_default=1)
    e.add_argument("--check", action="store_true",
                   help="only say whether emulated tiers can be built here (cgroup v1 or v2, root, tools): exit 0 or 2")
    e.add_argument("--json", action="store_true")
    t = sub.add_parser("teardown", help="remove the emulated tiers (exactly what `emulate` made)")
    t.add_argument("--dir", help="the folder given to `emulate --dir`")
    t.add_argument("--json", action="store_true")


def _tier_table(tiers: list, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("name", "class", "path", "device", "fs", "model", "capacity GB", "GB for IOPS/GB", "why"):
        table.add_column(col)
    for t in tiers:
        em = t.get("emulated")
        why = t.get("reason", "")
        if em:
            drive = em.get("drive") or {}
            why = (f"emulated: loop on {em.get('backing')}"
                   + (f", {drive['rpm']:g} rpm, seek {drive['seek_ms']:g} ms, {drive['mbps']:g} MB/s a drive"
                      if drive else "")
                   + (f", throttled {em['iops']} IOPS / {em['mbps']:g} MB/s" if em.get("iops") else "")
                   + (f" ({em['drives']} drives)" if (em.get("drives") or 1) > 1 else ""))
        table.add_row(t["name"], t["class"], t["path"], str(t.get("device") or "-"), str(t.get("filesystem") or "-"),
                      str(t.get("model") or "-"), fmt_number((t.get("capacity_bytes") or 0) / 1e9 or None),
                      fmt_number((t.get("nominal_capacity_bytes") or t.get("capacity_bytes") or 0) / 1e9 or None),
                      why)
    return table


def run(args) -> int:
    action = args.tiers_command
    if action == "detect":
        tiers = [detect(*parse_tier_spec(s)) if "=" in s else None for s in args.tier]
        if None in tiers:
            raise UserError("tiers detect: give tiers as NAME=PATH[:CLASS]")
        em = emu.Emulation.load()
        doc = {"tiers": [t.to_dict() for t in tiers], "devices": detect_all_devices(),
               "emulated": [t.to_dict() for t in em.tiers()] if em else []}
        if args.json:
            emit_json(doc)
            return 0
        if tiers:
            stderr_console.print(_tier_table(doc["tiers"], "tiers"))
        if doc["emulated"]:
            stderr_console.print(_tier_table(doc["emulated"], "emulated tiers"))
        table = Table(title="mounted block devices", title_justify="left")
        for col in ("device", "mount", "fs", "model", "rotational", "capacity GB", "class", "why"):
            table.add_column(col)
        for dev in doc["devices"]:
            table.add_row(dev["device"], dev["mount"], str(dev["filesystem"]), str(dev["model"] or "-"),
                          str(dev["rotational"]), fmt_number((dev["capacity_bytes"] or 0) / 1e9 or None),
                          dev["class"], dev["reason"])
        stderr_console.print(table)
        return 0
    if action == "emulate" and args.check:
        backend = emu.check_can_emulate()
        if args.hdd_model == "seek":
            hdd_model.binary()      # the drive-model daemon and FUSE: a UserError saying how to get them
        found = cgroups.detect()
        try:    # a probe group, made and removed: where a cgroup2 root cannot delegate, this is where it shows
            probe = backend.make_io_group(f"tierbench-check-{os.getpid()}")
            backend.remove(probe["path"])
        except OSError as e:
            raise UserError(f"cannot make a cgroup {backend.version} group in {found['io']}: {e.strerror}") from None
        if args.json:
            emit_json({"can_emulate": True, "cgroup": found})
        else:
            stderr_console.print(f"emulated tiers can be built here: cgroup {backend.version} "
                                 f"(throttles in {found['io']}"
                                 + (f", containers in {found['memory']})" if found["memory"] else
                                    f"; no containers: {'; '.join(found['missing'])})"))
        return 0
    if action == "emulate":
        try:
            size = parse_size(args.size)
        except ValueError as e:
            raise UserError(f"--size: {e}") from None
        em = emu.emulate(base_dir=args.dir, size=size, **hdd_options(args))
        tiers = [t.to_dict() for t in em.tiers()]
        if args.json:
            emit_json({"state": str(em.path), "cgroup": em.cgroup,
                       "cgroup_version": (em.cgroup_resource or {}).get("version", "v1"), "tiers": tiers})
        else:
            stderr_console.print(_tier_table(tiers, "emulated tiers (use them with --tier hdd, --tier nvme, ...)"))
            stderr_console.print(f"state: {em.path}; remove with `tierbench tiers teardown`")
        return 0
    if action == "teardown":
        removed = emu.teardown(args.dir)
        if args.json:
            emit_json({"removed": removed})
        else:
            stderr_console.print(f"removed {len(removed)} resources" if removed else "no emulated tiers to remove")
        return 0
    raise UserError("tiers: give an action: detect, emulate or teardown")
