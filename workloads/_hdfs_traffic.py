"""HDFS read traffic alongside a job: other clients streaming other blocks from the same data tier, as on a
shared cluster. Readers loop over their files with sequential 64 KiB reads until stopped; each finished pass
drops the file's pages (unless cache) so the traffic keeps reaching the device.

With a rate (bytes/s per reader) the readers are an open-loop load, as other clients' requests arrive
whatever the sort does: each paces itself to that rate and falls behind only when the tier cannot serve it.
Without one they read as fast as they can (a closed loop that takes whatever the tier has left)."""
from __future__ import annotations

import os
import threading
import time

from bench.core.pagecache import drop_cache

READ_BYTES = 64 * 1024   # dfs.client read packet


class BackgroundReaders:
    """`with BackgroundReaders(paths, readers, cache) as traffic:` ... `traffic.bytes`, `.ops`, `.seconds`."""

    def __init__(self, paths: list, readers: int, cache: bool = False, rate_bytes_per_s: float = 0.0):
        if rate_bytes_per_s < 0:
            raise ValueError("the HDFS readers' rate must be >= 0")
        self.paths, self.readers, self.cache = list(paths), readers, cache
        self.rate = rate_bytes_per_s
        self.bytes = self.ops = 0
        self.seconds = 0.0
        self.error = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list = []

    def _loop(self, index: int) -> None:
        mine = self.paths[index::self.readers] or self.paths
        start, done = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                for path in mine:
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        offset = 0
                        while not self._stop.is_set():
                            data = os.pread(fd, READ_BYTES, offset)
                            if not data:
                                break
                            offset += len(data)
                            done += len(data)
                            if self.rate:       # due time of the next read at the reader's rate
                                self._stop.wait(max(0.0, start + done / self.rate - time.monotonic()))
                            with self._lock:
                                self.bytes += len(data)
                                self.ops += 1
                    finally:
                        os.close(fd)
                    if not self.cache:
                        drop_cache([path])
                    if self._stop.is_set():
                        break
        except OSError as e:        # reported by __exit__: a failed reader fails the job, never silently
            self.error = e

    def __enter__(self):
        self._t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True, name=f"hdfs-reader-{i}")
                         for i in range(self.readers)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()
        self.seconds = time.monotonic() - self._t0
        if self.error is not None and exc[0] is None:
            raise self.error
        return False
