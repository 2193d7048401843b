"""Resolving the tiers of a command (config, --tier flags, emulation, defaults) and holding any emulation or
scratch directory it made for exactly as long as the command runs."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

from bench.core.errors import UserError
from bench.core.output import stderr_console
from bench.execution.config import Config
from bench.execution.datasets import remove_stale_datasets
from bench.store.runs import Store
from bench.tiers import emulate as emu
from bench.tiers.detect import detect, detect_raw, parse_tier_spec
from bench.tiers.guard import TierLocks, check_places
from bench.tiers.raw import is_block_device


class TierSession:
    """Context manager: `.tiers` (list of Tier) and `.cgroup`; tears down what it built on exit."""

    def __init__(self, cfg: Config, tier_flags: list, emulate_flag: bool = False, emulate_size: Optional[int] = None,
                 hdd_drives: int = 1, hdd: Optional[dict] = None):
        """hdd: the emulated hdd's keyword arguments for bench.tiers.emulate.emulate (--hdd-model, ...);
        hdd_drives: the drive count when `hdd` gives none."""
        self.cfg = cfg
        self.hdd = dict({"hdd_drives": hdd_drives}, **{k: v for k, v in (hdd or {}).items() if v is not None})
        self.tier_flags = tier_flags or []
        self.emulate_flag = emulate_flag
        self.emulate_size = emulate_size
        self.built: Optional[emu.Emulation] = None
        self.emulation: Optional[emu.Emulation] = None   # the emulation in use (built here or found)
        self.scratch: Optional[str] = None
        self.tiers, self.cgroup = [], None
        self.locks = TierLocks()

    def __enter__(self):
        try:
            self._resolve()
            # Guards (bench.tiers.guard): no system path or device as a tier, one run per tier root.
            check_places(self.tiers, allow_system_path=getattr(self.cfg, "allow_system_path", False),
                         store_root=str(Store(self.cfg.results).root))
            self.locks.acquire(self.tiers, shared=getattr(self.cfg, "allow_shared_tier", False))
            self.locks.acquire_devices(self.tiers)   # shared: overlapping runs on one device are flagged
            for name, pids in self.locks.shared_with.items():
                stderr_console.print(f"tier {name} is shared with another run (pid {', '.join(map(str, pids)) or '?'})"
                                     f": --allow-shared-tier, so both runs' figures include the other's load")
            alone = [t for t in self.tiers if t.name not in self.locks.shared_with]
            for name, run_id in remove_stale_datasets(alone):
                stderr_console.print(f"tier {name}: removed the data run {run_id} left for its repeats "
                                     f"(tierbench was killed between two cases)")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.locks.release()
        if self.built is not None:
            emu.teardown_emulation(self.built)
            self.built = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        return False

    def _emulation(self) -> emu.Emulation:
        existing = emu.Emulation.load()
        if existing is not None and not self.emulate_flag:
            return existing
        kwargs = {"size": self.emulate_size} if self.emulate_size else {}
        self.built = emu.emulate(**self.hdd, **kwargs)
        return self.built

    def _detect(self, name: str, path: str, cls=None, nominal_capacity_bytes=None):
        """A tier from its path: a directory (bench.tiers.detect), or a raw block device where the command allows
        them (bench.tiers.raw: refused with the reason when it is in use or holds data)."""
        if is_block_device(path) and getattr(self.cfg, "raw_devices", False):
            return detect_raw(name, path, cls, store_root=str(Store(self.cfg.results).root),
                              nominal_capacity_bytes=nominal_capacity_bytes)
        return detect(name, path, cls, nominal_capacity_bytes=nominal_capacity_bytes)

    def _resolve(self) -> None:
        declared = {t.name: t for t in self.cfg.tiers}
        specs = [parse_tier_spec(s) for s in self.tier_flags]
        if self.emulate_flag or (not declared and not specs and os.geteuid() == 0):
            em = self.emulation = self._emulation()
            self.cgroup = em.cgroup
            emulated = {t.name: t for t in em.tiers()}
            wanted = [name for name, path, _ in specs if path is None] or list(emulated)
            extra = [s for s in specs if s[1] is not None]
            for name in wanted:
                if name not in emulated:
                    raise UserError(f"--tier {name}: no such emulated tier (emulated: {', '.join(emulated)})")
                self.tiers.append(emulated[name])
            for name, path, cls in extra:
                self.tiers.append(self._detect(name, path, cls))
            return
        if not declared and not specs:
            self.scratch = tempfile.mkdtemp(prefix=".tierbench-scratch-", dir=os.getcwd())
            self.tiers = [detect("disk", self.scratch), detect("memory", "/dev/shm", "memory")]
            return
        em = emu.Emulation.load()
        emulated = {t.name: t for t in em.tiers()} if em else {}
        names = [name for name, _, _ in specs] if specs else list(declared)
        for name, path, cls in specs or [(n, None, None) for n in declared]:
            if path is None and name in declared:
                d = declared[name]
                if not d.path:
                    raise UserError(f"tier {name}: no path in the config")
                self.tiers.append(self._detect(name, d.path, cls or d.cls, nominal_capacity_bytes=d.capacity_bytes))
            elif path is None and name in emulated:
                self.tiers.append(emulated[name])
                self.cgroup, self.emulation = em.cgroup, em
            elif path is None:
                raise UserError(f"--tier {name}: unknown tier (give NAME=PATH, declare it in the config, "
                                f"or build emulated tiers with `tierbench tiers emulate`)")
            else:
                d = declared.get(name)
                self.tiers.append(self._detect(name, path, cls or (d.cls if d else None),
                                               nominal_capacity_bytes=d.capacity_bytes if d else None))
        if len(set(names)) != len(names):
            raise UserError(f"tier names repeat: {', '.join(names)}")
