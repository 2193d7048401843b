"""fio's status reports while fio runs: a thread that reads its output file as fio appends to it and hands each
new interval's rows (bench.engines.fio.intervals) to a callback, for the live view.

What it reads is only shown: the case's stored intervals come from the whole file after fio has ended
(intervals.interval_rows over the same reports), so a report it cannot read stops the live rows and is
judged again, and fails the case, when the file is parsed at the end.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable, Optional

from bench.engines.fio.intervals import diff_rows, has_io, snapshots, start_ms
from bench.engines.fio.parse import parse

__all__ = ["StatusTail"]

POLL_S = 0.2
MAX_PENDING_BYTES = 64 * 1024 ** 2    # one json+ status report is tens of KB; more unparsed than this is not fio's


class StatusTail(threading.Thread):
    """Follows fio's --output file (it may not exist yet) and calls on_rows(rows) for every complete report
    after the first that has I/O in it. stop() ends the thread (after one last read)."""

    def __init__(self, path: Path, on_rows: Callable[[list], None], poll_s: float = POLL_S):
        super().__init__(name="fio-status-tail", daemon=True)
        self.path = Path(path)
        self.on_rows = on_rows
        self.poll_s = poll_s
        self.error: Optional[str] = None
        self._halt = threading.Event()
        self._offset = 0
        self._pending = ""
        self._before = None
        self._t0: Optional[int] = None
        self._indexes: dict = {}

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        decoder = json.JSONDecoder()
        while True:
            last = self._halt.wait(self.poll_s)
            try:
                self._read(decoder)
            except Exception as e:   # shown only (module docstring): the final parse judges the same reports
                self.error = f"{type(e).__name__}: {e}"
                return
            if last:
                return

    def _read(self, decoder: json.JSONDecoder) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read(MAX_PENDING_BYTES)
        except FileNotFoundError:
            return     # fio has not created it yet
        self._offset += len(chunk)
        self._pending += chunk.decode("utf-8", errors="replace")
        if len(self._pending) > MAX_PENDING_BYTES:
            raise ValueError(f"{self.path}: more than {MAX_PENDING_BYTES} bytes without a complete report")
        while True:
            start = self._pending.find("{")
            if start < 0:
                return
            try:
                _, end = decoder.raw_decode(self._pending, start)
            except json.JSONDecodeError:
                return     # the report is not complete yet
            text, self._pending = self._pending[start:end], self._pending[end:]
            shots = snapshots(parse(text))
            if shots:
                self._take(shots[0])

    def _take(self, shot: tuple) -> None:
        if self._t0 is None:
            if not has_io(shot):
                return     # fio reported before the first I/O
            self._t0 = start_ms(shot)
        rows = diff_rows(self._before, shot, self._t0, self._indexes)
        self._before = shot
        if rows:
            self.on_rows(rows)
