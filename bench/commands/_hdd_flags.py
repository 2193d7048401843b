"""The emulated hdd's flags, shared by `tiers emulate`, `run --emulate` and `scenario --emulate` (one place for
their names, defaults and help; not a command: the leading underscore keeps it out of the CLI's list)."""
from __future__ import annotations

from bench.core.errors import UserError
from bench.tiers import emulate as emu
from bench.tiers import hdd_model

_D = hdd_model.DriveParams()


def add_hdd_arguments(p, drives_default=None, drives_help: str = "drives behind the hdd tier (a node's data "
                                                                    "drives): N times the IOPS, rate and capacity"):
    p.add_argument("--hdd-model", choices=hdd_model.MODELS, default=hdd_model.DEFAULT_MODEL,
                   help="seek: a drive-model daemon (seeks, rotation, reordering; docs/hdd-model.md); "
                        "throttle: a cgroup IOPS/bandwidth throttle (not disk-like, not repeatable)")
    p.add_argument("--hdd-rpm", type=float, metavar="RPM", help=f"seek model: spindle speed (default {_D.rpm:g})")
    p.add_argument("--hdd-seek-ms", type=float, metavar="MS",
                   help=f"seek model: average seek (default {_D.seek_ms:g}, a 7,200 rpm enterprise drive's datasheet)")
    p.add_argument("--hdd-mbps", type=float, default=emu.DEFAULT_HDD_MBPS, metavar="MB/S",
                   help=f"per drive: media rate (seek) or throttle per direction (default {emu.DEFAULT_HDD_MBPS})")
    p.add_argument("--hdd-iops", type=int, default=emu.DEFAULT_HDD_IOPS, metavar="N",
                   help=f"throttle model: IOPS per direction per drive (default {emu.DEFAULT_HDD_IOPS})")
    p.add_argument("--hdd-drives", type=int, default=drives_default, metavar="N", help=drives_help)


def hdd_options(args, drives_default: int = 1, emulate: bool = True) -> dict:
    """The keyword arguments of bench.tiers.emulate.emulate that the flags give; a UserError when a flag is
    given without emulation (it would change nothing)."""
    given = [flag for flag, value, default in (
        ("--hdd-model", args.hdd_model, hdd_model.DEFAULT_MODEL), ("--hdd-rpm", args.hdd_rpm, None),
        ("--hdd-seek-ms", args.hdd_seek_ms, None), ("--hdd-mbps", args.hdd_mbps, emu.DEFAULT_HDD_MBPS),
        ("--hdd-iops", args.hdd_iops, emu.DEFAULT_HDD_IOPS), ("--hdd-drives", args.hdd_drives, None))
        if value != default]
    if given and not emulate:
        raise UserError(f"{', '.join(given)}: for emulated tiers built by this command (give --emulate)")
    return {"hdd_model_name": args.hdd_model, "hdd_rpm": args.hdd_rpm, "hdd_seek_ms": args.hdd_seek_ms,
            "hdd_mbps": args.hdd_mbps, "hdd_iops": args.hdd_iops,
            "hdd_drives": drives_default if args.hdd_drives is None else args.hdd_drives}
