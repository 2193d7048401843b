"""The page cache room of a Spark node's container, held at a set size while its JVMs run.

A container sized by the JVMs' allotments (case.node_container_mb: executor heap, Spark's memory overhead, the
worker daemon) leaves to the page cache whatever the JVMs do not use: measured here, a 1,153 MiB container of one
worker peaked at 384 MiB, page cache included, so Spark's shuffle would stay in memory where the replay's, in its
own container, does not. On a loaded node the page cache is what the containers leave; here that is the same
room as the replay's container (`room_bytes`).

`CacheRoom` reads the container every POLL_S seconds and sets its limit to the memory its processes hold (all
but the page cache they could give back: usage - active_file - inactive_file + mapped file pages, which are in
use) plus the room plus MARGIN_BYTES, never above the allotment-sized ceiling. MARGIN_BYTES is room for the
processes' own growth between two readings, which the kernel could otherwise meet only by killing one; the
executors' heaps are touched when they start (AlwaysPreTouch, case.run_job), so what grows later is their
non-heap memory. It starts once the shuffle has (the first file under a worker's local dir): the executors'
start, with its heap touched, runs under the ceiling. A limit the kernel refuses (EBUSY: it could not reclaim
enough) is counted and the next reading tries again. The case records the room, the margin, the lowest and
highest limit set and the refusals, and the limit is set back to the ceiling when the job ends.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

__all__ = ["CacheRoom", "POLL_S", "MARGIN_BYTES"]

POLL_S = 0.1
MARGIN_BYTES = 32 * 1024 ** 2

_V1 = {"limit": "memory.limit_in_bytes", "usage": "memory.usage_in_bytes",
       "file": ("total_active_file", "total_inactive_file"), "mapped": "total_mapped_file"}
_V2 = {"limit": "memory.max", "usage": "memory.current", "file": ("active_file", "inactive_file"),
       "mapped": "file_mapped"}


class CacheRoom:
    def __init__(self, group: str, room_bytes: int, ceiling_bytes: int, local_dirs: list):
        self.group, self.room, self.ceiling, self.local_dirs = Path(group), int(room_bytes), int(ceiling_bytes), \
            list(local_dirs)
        self.files = _V1 if (self.group / _V1["limit"]).exists() else _V2
        self.low: Optional[int] = None
        self.high: Optional[int] = None
        self.set_count = self.refused = 0
        self.started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="spark-cache-room", daemon=True)

    def __enter__(self) -> "CacheRoom":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        self._write(self.ceiling)
        return False

    def held_bytes(self) -> int:
        """Bytes the container's processes hold that the kernel cannot take back as page cache."""
        stat = {}
        for line in (self.group / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stat[key] = int(value)
        usage = int((self.group / self.files["usage"]).read_text())
        free_cache = sum(stat.get(k, 0) for k in self.files["file"]) - stat.get(self.files["mapped"], 0)
        return max(0, usage - max(0, free_cache))

    def _shuffle_began(self) -> bool:
        for d in self.local_dirs:
            for _, _, names in os.walk(d):
                if names:
                    return True
        return False

    def _write(self, limit: int) -> bool:
        try:
            (self.group / self.files["limit"]).write_text(f"{limit}\n")
            return True
        except OSError:
            return False

    def _follow(self) -> None:
        while not self._stop.wait(POLL_S):
            if not self.started:
                self.started = self._shuffle_began()
                if not self.started:
                    continue
            try:
                limit = min(self.ceiling, self.held_bytes() + self.room + MARGIN_BYTES)
            except (OSError, ValueError):
                continue        # the group is being removed: the job is over
            if self._write(limit):
                self.set_count += 1
                self.low = limit if self.low is None else min(self.low, limit)
                self.high = limit if self.high is None else max(self.high, limit)
            else:
                self.refused += 1

    def record(self) -> dict:
        return {"room_bytes": self.room, "margin_bytes": MARGIN_BYTES, "poll_s": POLL_S, "started": self.started,
                "limits_set": self.set_count, "refused": self.refused, "lowest_limit_bytes": self.low,
                "highest_limit_bytes": self.high}
