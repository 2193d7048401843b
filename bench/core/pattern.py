"""Engine-neutral I/O pattern specs: what to do, not how. fio renders them as a job file (one job section
per phase, phases separated by `stonewall`); the builtin engine (kernels.ioloop) runs them natively.

Vocabulary follows fio's so that a user can read a pattern as a job file:
- `rw`: read, write (sequential), randread, randwrite, randrw (random mix, `rwmixread` % reads), rw (sequential mix).
- `size`: bytes per job, spread over `nrfiles` files (as fio's `size`); `bs`: bytes per operation.
- `iodepth`: operations in flight per job (direct: a Linux AIO queue on both engines, fio's libaio and the
  builtin engine's io_submit; buffered: fio's psync keeps one, the builtin engine runs `iodepth` threads);
- `ioengine`: how a job keeps them in flight, by fio's name, on both engines: `libaio`, `io_uring` (a ring
  per job, registered buffers: fio's `fixedbufs`), `psync`; None: libaio for direct I/O with iodepth > 1,
  psync otherwise (the default above). Where the kernel refuses io_uring, the phase fails saying why.
  `numjobs`: independent jobs, each with its own files.
- `fileset`: phases naming the same fileset use the same files (write them in one phase, read them in the next);
  files are named `<fileset>.<job>.<file>` under the directory of the phase's `role` ("data" or "temp").
- `cold`: before the phase, the fileset's pages are dropped from the page cache so reads reach the device.
- `checksum_chunk`: bytes per CRC32C chunk (0: none; HDFS's dfs.bytes-per-checksum, 512). The builtin engine
  computes a CRC32C per chunk of every buffer it writes and verifies it for every buffer it reads, as HDFS
  does (a pipeline's last DataNode checks what it receives, a reader checks what it reads: the CPU work of
  HDFS checksums); fio has no equivalent and ignores it (the job file says so in a comment). Only for phases that only read or only write, with `bs` a whole number of chunks and the
  chunk a whole number of 512-byte sectors (the sectors of written blocks carry the stamps reads check).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Optional

RW_MODES = ("read", "write", "randread", "randwrite", "randrw", "rw")
IOENGINES = ("psync", "libaio", "io_uring")
FILE_SERVICE = ("roundrobin", "sequential", "random")
ROLES = ("data", "temp")


@dataclass(frozen=True)
class Phase:
    name: str
    rw: str
    bs: int
    size: int
    nrfiles: int = 1
    fileset: str = ""
    role: str = "data"
    direct: bool = True
    fsync_every: int = 0
    end_fsync: bool = True
    iodepth: int = 1
    numjobs: int = 1
    rwmixread: int = 50
    runtime_s: Optional[float] = None
    file_service: str = "roundrobin"
    cold: bool = True
    checksum_chunk: int = 0
    ioengine: Optional[str] = None

    def __post_init__(self):
        if self.rw not in RW_MODES:
            raise ValueError(f"phase {self.name}: rw must be one of {', '.join(RW_MODES)}, not {self.rw!r}")
        if self.file_service not in FILE_SERVICE:
            raise ValueError(f"phase {self.name}: file_service must be one of {', '.join(FILE_SERVICE)}")
        if self.role not in ROLES:
            raise ValueError(f"phase {self.name}: role must be one of {', '.join(ROLES)}")
        for name in ("bs", "size", "nrfiles", "iodepth", "numjobs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"phase {self.name}: {name} must be a positive integer, not {value!r}")
        if self.size < self.bs * self.nrfiles:
            raise ValueError(f"phase {self.name}: size {self.size} is smaller than one block per file")
        if self.direct and self.bs % 512:
            raise ValueError(f"phase {self.name}: direct I/O needs bs a multiple of 512, not {self.bs}")
        if not 0 <= self.rwmixread <= 100:
            raise ValueError(f"phase {self.name}: rwmixread must be 0..100")
        if self.runtime_s is not None and self.runtime_s <= 0:
            raise ValueError(f"phase {self.name}: runtime_s must be positive")
        if self.fsync_every < 0:
            raise ValueError(f"phase {self.name}: fsync_every must be >= 0")
        if self.ioengine is not None and self.ioengine not in IOENGINES:
            raise ValueError(f"phase {self.name}: ioengine must be one of {', '.join(IOENGINES)}, "
                             f"not {self.ioengine!r}")
        _check_checksum_chunk(self)
        if not self.fileset:
            object.__setattr__(self, "fileset", self.name)

    @property
    def reads(self) -> bool:
        return self.rw in ("read", "randread", "randrw", "rw")

    @property
    def writes(self) -> bool:
        return self.rw in ("write", "randwrite", "randrw", "rw")

    @property
    def random(self) -> bool:
        return self.rw.startswith("rand")

    @property
    def file_size(self) -> int:
        """Bytes of each file (whole blocks)."""
        return (self.size // self.nrfiles) // self.bs * self.bs

    def to_dict(self) -> dict:
        return asdict(self)


MAX_CHECKSUM_CHUNK = 1 << 16


def _check_checksum_chunk(phase: Phase) -> None:
    chunk = phase.checksum_chunk
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 0:
        raise ValueError(f"phase {phase.name}: checksum_chunk must be 0 (none) or a positive number of bytes, "
                         f"not {chunk!r}")
    if not chunk:
        return
    if chunk % 512 or chunk > MAX_CHECKSUM_CHUNK:
        raise ValueError(f"phase {phase.name}: checksum_chunk must be a multiple of 512 bytes up to "
                         f"{MAX_CHECKSUM_CHUNK}, not {chunk}")
    if phase.bs % chunk:
        raise ValueError(f"phase {phase.name}: bs {phase.bs} is not a whole number of {chunk}-byte checksum chunks")
    if phase.rw in ("randrw", "rw"):
        raise ValueError(f"phase {phase.name}: checksum_chunk needs a phase that only reads or only writes, "
                         f"not rw={phase.rw}")


@dataclass(frozen=True)
class Pattern:
    """A named sequence of phases, run in order; each phase starts when the previous one has ended."""
    name: str
    phases: tuple = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "phases", tuple(self.phases))
        if not self.phases:
            raise ValueError(f"pattern {self.name}: no phases")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"pattern {self.name}: phase names repeat: {names}")

    def footprint_bytes(self, role: Optional[str] = None) -> int:
        """Bytes of files the pattern keeps at once (per fileset, the largest phase's size x numjobs)."""
        sets: dict = {}
        for p in self.phases:
            if role is None or p.role == role:
                sets[p.fileset] = max(sets.get(p.fileset, 0), p.file_size * p.nrfiles * p.numjobs)
        return sum(sets.values())

    def to_dict(self) -> dict:
        return {"name": self.name, "phases": [p.to_dict() for p in self.phases]}

    @classmethod
    def from_dict(cls, d: dict) -> "Pattern":
        return cls(d["name"], tuple(Phase(**p) for p in d["phases"]))

    def replace_phases(self, **changes) -> "Pattern":
        return Pattern(self.name, tuple(replace(p, **changes) for p in self.phases))
