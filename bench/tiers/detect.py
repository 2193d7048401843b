"""Tiers: named places to put data, and what device is behind each.

Detection reads /proc/mounts and /sys/block only. Classification rules (in order):
  tmpfs/ramfs → memory; nfs/cifs/ceph/fuse/9p → network; pmem* → pmem; an Optane model → optane;
  nvme* → nvme; rotational=0 → ssd; rotational=1 on a real disk → hdd;
  rotational=1 on a virtual disk (virtio, Xen, VMware, Hyper-V) → unknown, because virtual disks report
  rotational=1 whatever the host's media is — we say so instead of guessing.
A declared class (`--tier NAME=PATH:CLASS` or `class = ...` in the config) wins over detection; the
detected class and reason stay in the tier's record.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from bench.core.errors import UserError
from bench.tiers import raw
from bench.tiers.guard import check_place
from bench.tiers.mounts import mount_of, mounts

CLASSES = ("hdd", "ssd", "nvme", "optane", "pmem", "memory", "network", "unknown")
_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "9p", "lustre", "beegfs", "gpfs")
_MEMORY_FS = ("tmpfs", "ramfs")
_OPTANE_MODEL = re.compile(r"optane|SSDPE21|SSDPED1|SSDPF21|P4800X|P5800X|900P|905P|DC P48|DC P58", re.I)
_VIRTUAL_DRIVERS = {"virtio_blk": "virtio", "xen_blkfront": "Xen", "vmw_pvscsi": "VMware", "hv_storvsc": "Hyper-V"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class Tier:
    name: str
    cls: str
    path: str
    device: Optional[str] = None
    model: Optional[str] = None
    rotational: Optional[bool] = None
    filesystem: Optional[str] = None
    capacity_bytes: Optional[int] = None
    nominal_capacity_bytes: Optional[int] = None
    emulated: Optional[dict] = None
    reason: str = ""
    detected_class: Optional[str] = None
    raw: bool = False               # a raw block device (bench.tiers.raw), not a directory

    @property
    def iops_capacity_bytes(self) -> Optional[int]:
        """Capacity used for IOPS per GB: the nominal (declared or emulated) one if set, else the device's."""
        return self.nominal_capacity_bytes or self.capacity_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("cls")
        if not d["raw"]:
            del d["raw"]        # stored only where true: a directory tier's record is as it always was
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Tier":
        d = dict(d)
        d["cls"] = d.pop("class")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def parse_tier_spec(spec: str) -> tuple:
    """`NAME=PATH[:CLASS]` → (name, path, class or None); `NAME` alone → (name, None, None)."""
    if "=" not in spec:
        if not _NAME.match(spec):
            raise UserError(f"--tier {spec!r}: expected NAME=PATH[:CLASS] or the name of a known tier")
        return spec, None, None
    name, rest = spec.split("=", 1)
    if not _NAME.match(name):
        raise UserError(f"--tier {spec!r}: tier name must be letters, digits, '_', '-' or '.'")
    path, cls = rest, None
    if ":" in rest:
        head, tail = rest.rsplit(":", 1)
        if tail in CLASSES or not tail.startswith("/"):
            path, cls = head, tail
    if cls is not None and cls not in CLASSES:
        raise UserError(f"--tier {spec!r}: unknown tier class {cls!r} (one of {', '.join(CLASSES)})")
    if not path:
        raise UserError(f"--tier {spec!r}: empty path")
    return name, path, cls


def check_path(name: str, path: str) -> str:
    """The tier's directory, resolved; bad paths are a UserError (exists, is a directory and not a device,
    writable). Whether it is a system path is the run's check (bench.tiers.guard.check_places)."""
    p = Path(path).expanduser()
    check_place(name, str(p), allow_system_path=True)
    if not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"tier {name}: path {path} is not writable")
    return str(p.resolve())


# -- detection ------------------------------------------------------------------------------------

def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def block_device_of(path: str) -> Optional[str]:
    """The block device name (e.g. 'vda', 'nvme0n1', 'loop3') holding `path`, or None (tmpfs, network)."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    if major == 0:
        return None
    link = Path(f"/sys/dev/block/{major}:{minor}")
    if not link.exists():
        return None
    return raw.disk_of(Path(os.path.realpath(link)).name)


def describe_block(block: str) -> dict:
    base = Path("/sys/block") / block
    size = _read(base / "size")
    rotational = _read(base / "queue" / "rotational")
    model = _read(base / "device" / "model")
    driver_link = base / "device" / "driver"
    driver = Path(os.path.realpath(driver_link)).name if driver_link.exists() else None
    backing = _read(base / "loop" / "backing_file") if block.startswith("loop") else None
    return {
        "device": f"/dev/{block}",
        "model": model,
        "rotational": None if rotational is None else rotational == "1",
        "capacity_bytes": int(size) * 512 if size and size.isdigit() else None,
        "driver": driver,
        "loop_backing_file": backing,
    }


def classify(fstype: Optional[str], block: Optional[str], info: dict) -> tuple:
    """(class, reason) from the filesystem type and the device's sysfs facts."""
    if fstype in _MEMORY_FS:
        return "memory", f"{fstype}: data lives in RAM"
    if fstype and (fstype in _NETWORK_FS or fstype.startswith("fuse")):
        return "network", f"{fstype} is a network or user-space filesystem"
    if block is None:
        return "unknown", f"no block device behind it (filesystem {fstype})"
    model = info.get("model") or ""
    if block.startswith("pmem"):
        return "pmem", "persistent-memory block device"
    if _OPTANE_MODEL.search(model):
        return "optane", f"model {model.strip()} is an Optane/3D XPoint device"
    if block.startswith("nvme"):
        return "nvme", f"NVMe device {block} ({model.strip() or 'model unknown'})"
    if block.startswith("loop"):
        return "unknown", f"loop device on {info.get('loop_backing_file') or 'an unknown file'}"
    if block.startswith(("zram", "ram")):
        return "memory", f"{block} is a RAM-backed block device"
    rotational = info.get("rotational")
    virtual = _VIRTUAL_DRIVERS.get(info.get("driver") or "") or ("virtio" if block.startswith("vd") else None)
    if rotational is False:
        return "ssd", "non-rotational, not NVMe (SATA/SAS SSD or virtual flash)"
    if rotational and virtual:
        return "unknown", (f"{virtual} virtual disk reports rotational=1, which virtual disks do whatever the "
                           f"host's media is; declare the class if you know it")
    if rotational:
        return "hdd", "rotational disk"
    return "unknown", "no rotational flag in sysfs"


def detect(name: str, path: str, declared_class: Optional[str] = None, *,
           nominal_capacity_bytes: Optional[int] = None, emulated: Optional[dict] = None) -> Tier:
    """Resolve a tier's directory to its device and class."""
    real = check_path(name, path)
    mount = mount_of(real)
    fstype = mount[2] if mount else None
    block = block_device_of(real)
    info = describe_block(block) if block else {}
    detected, reason = classify(fstype, block, info)
    capacity = info.get("capacity_bytes")
    if block is None:
        st = os.statvfs(real)
        capacity = st.f_blocks * st.f_frsize or None
    return Tier(name=name, cls=declared_class or detected, path=real, device=info.get("device"),
                model=info.get("model"), rotational=info.get("rotational"), filesystem=fstype,
                capacity_bytes=capacity, nominal_capacity_bytes=nominal_capacity_bytes, emulated=emulated,
                reason=reason if not declared_class or declared_class == detected
                else f"declared {declared_class}; detection says {detected}: {reason}",
                detected_class=detected)


def detect_raw(name: str, device: str, declared_class: Optional[str] = None, store_root: Optional[str] = None,
               nominal_capacity_bytes: Optional[int] = None) -> Tier:
    """The Tier of a raw block device, checked (UserError naming the reason when it is refused:
    bench.tiers.raw.refusal); its capacity, for IOPS per GB, is the device's size."""
    why = raw.refusal(device, store_root)
    if why:
        raise UserError(f"tier {name}: {device} is refused as a raw device: {why}")
    block = raw.block_name(device)
    info = describe_block(raw.disk_of(block))
    size = (raw.SYS_BLOCK / block / "size").read_text().strip()
    detected, reason = classify(None, raw.disk_of(block), info)
    return Tier(name=name, cls=declared_class or detected, path=os.path.realpath(device), device=f"/dev/{block}",
                model=info.get("model"), rotational=info.get("rotational"), filesystem=None,
                capacity_bytes=int(size) * 512 if size.isdigit() else None,
                nominal_capacity_bytes=nominal_capacity_bytes, raw=True,
                reason=("raw block device: " + reason) if not declared_class or declared_class == detected
                else f"raw block device, declared {declared_class}; detection says {detected}: {reason}",
                detected_class=detected)


def detect_all_devices() -> list:
    """Every mounted block device once (its first mount point), with its class — for `tiers detect`."""
    seen, out = set(), []
    for dev, mnt, fstype in mounts():
        if not dev.startswith("/dev/") or not os.path.isdir(mnt):
            continue
        try:
            block = block_device_of(mnt)
        except OSError:
            continue
        if block is None or block in seen:
            continue
        seen.add(block)
        info = describe_block(block)
        cls, reason = classify(fstype, block, info)
        out.append({"device": info["device"], "mount": mnt, "filesystem": fstype, "model": info["model"],
                    "rotational": info["rotational"], "capacity_bytes": info["capacity_bytes"],
                    "class": cls, "reason": reason})
    return out


def shared_devices(tiers) -> list:
    """[{"device", "tiers": [names]}] for every device that holds more than one of `tiers`: their figures are one
    device's, and cases on one disturb the other's. A tier without a block device (tmpfs, network) is keyed by its
    file system (its st_dev), so two folders of one tmpfs are one place too."""
    groups: dict = {}
    for t in tiers:
        if t.device:
            key = t.device
        else:
            st = os.stat(t.path)
            key = f"{t.filesystem or 'file system'} {os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        groups.setdefault(key, []).append(t.name)
    return [{"device": key, "tiers": names} for key, names in groups.items() if len(names) > 1]
