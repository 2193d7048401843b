"""Device baselines: one-phase fio-style patterns (random 4K, sequential 1M), shared by four workload modules."""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.pattern import IOENGINES, Pattern, Phase

MiB = 1024 ** 2


@dataclass(frozen=True)
class BaselineParams:
    bs: int
    size: int = 256 * MiB        # bytes per job (the file each job works on)
    iodepth: int = 1
    numjobs: int = 1
    runtime_s: float = 10.0      # time-based, as device baselines usually are
    direct: bool = True
    ioengine: str = "auto"       # fio's name on both engines: psync, libaio, io_uring; auto: libaio if direct
                                 # with iodepth > 1, else psync (bench.core.pattern)

    def __post_init__(self):
        if self.ioengine != "auto" and self.ioengine not in IOENGINES:
            raise ValueError(f"ioengine must be auto or one of {', '.join(IOENGINES)}, not {self.ioengine!r}")
        if self.size < self.bs:
            raise ValueError(f"size {self.size} is less than one block of bs={self.bs} bytes")


def baseline(name: str, rw: str, bs: int, description: str, default_sweep=None, quick_size=64 * MiB):
    from workloads import pattern_workload

    block_size = bs

    @dataclass(frozen=True)
    class Params(BaselineParams):
        bs: int = block_size

    def build(p: Params) -> Pattern:
        return Pattern(name, (Phase(name=name, rw=rw, bs=p.bs, size=p.size, iodepth=p.iodepth,
                                    numjobs=p.numjobs, runtime_s=p.runtime_s, direct=p.direct,
                                    fileset="baseline", ioengine=None if p.ioengine == "auto" else p.ioengine),))

    Params.__name__ = Params.__qualname__ = "".join(part.title() for part in name.split("-")) + "Params"
    return pattern_workload(name, Params, build, description, default_sweep=default_sweep,
                            quick={"size": quick_size, "runtime_s": 2.0})
