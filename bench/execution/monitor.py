"""The monitor: samples CPU (per core: user, system, iowait) and block devices (busy time, ops, bytes)
with psutil at a fixed interval in a background thread, alongside a case."""
from __future__ import annotations

import threading
import time
from typing import Optional

import psutil


def _device_counters(devices) -> dict:
    counters = psutil.disk_io_counters(perdisk=True) or {}
    return {d: counters[d] for d in devices if d in counters}


class Monitor:
    """Use as a context manager; `series` holds per-interval rates, `summary()` the whole-window figures."""

    def __init__(self, devices=(), interval_s: float = 0.5):
        self.devices = [d.rsplit("/", 1)[-1] for d in devices if d]
        self.interval_s = interval_s
        self.series = {"t_s": [], "cpu_user_percent": [], "cpu_system_percent": [], "cpu_iowait_percent": [],
                       "cpu_busy_percent_per_core": []}
        for d in self.devices:
            for name in ("busy_percent", "read_iops", "write_iops", "read_bytes_per_s", "write_bytes_per_s"):
                self.series[f"{d}_{name}"] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self):
        self._t0 = time.monotonic()
        self._cpu0 = psutil.cpu_times()
        self._dev0 = _device_counters(self.devices)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="tierbench-monitor")
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._t1 = time.monotonic()
        self._cpu1 = psutil.cpu_times()
        self._dev1 = _device_counters(self.devices)
        return False

    def _loop(self):
        last_t, last_core = time.monotonic(), psutil.cpu_times(percpu=True)
        last_cpu, last_dev = psutil.cpu_times(), _device_counters(self.devices)
        while not self._stop.wait(self.interval_s):
            now, core, cpu, dev = (time.monotonic(), psutil.cpu_times(percpu=True), psutil.cpu_times(),
                                   _device_counters(self.devices))
            dt = now - last_t
            total = sum(cpu) - sum(last_cpu)
            self.series["t_s"].append(round(now - self._t0, 3))
            for field in ("user", "system", "iowait"):
                share = (getattr(cpu, field, 0) - getattr(last_cpu, field, 0)) / total * 100 if total > 0 else 0.0
                self.series[f"cpu_{field}_percent"].append(round(share, 2))
            self.series["cpu_busy_percent_per_core"].append([_busy_percent(a, b) for a, b in zip(last_core, core)])
            for d in self.devices:
                if d in dev and d in last_dev:
                    a, b = last_dev[d], dev[d]
                    self.series[f"{d}_busy_percent"].append(round(min(100.0, (b.busy_time - a.busy_time)
                                                                      / (dt * 1000) * 100), 2))
                    self.series[f"{d}_read_iops"].append(round((b.read_count - a.read_count) / dt, 1))
                    self.series[f"{d}_write_iops"].append(round((b.write_count - a.write_count) / dt, 1))
                    self.series[f"{d}_read_bytes_per_s"].append(round((b.read_bytes - a.read_bytes) / dt))
                    self.series[f"{d}_write_bytes_per_s"].append(round((b.write_bytes - a.write_bytes) / dt))
            last_t, last_core, last_cpu, last_dev = now, core, cpu, dev

    def summary(self) -> dict:
        """cpu_util: all cores' busy share (percent); device_util: busiest device's busy share (percent);
        device_read_request_bytes / device_write_request_bytes: the devices' average request size (iostat's
        rareq-sz / wareq-sz), left out for a direction with no request. The request size shows how the block
        layer split the engine's I/O: a direct read of more pages than the device's `max_segments` is split
        by how its buffer's pages lie in physical memory, so the same reads can cost different request counts."""
        out = {}
        wall = self._t1 - self._t0
        out["cpu_util"] = _busy_percent(self._cpu0, self._cpu1)
        seen = [d for d in self.devices if d in self._dev0 and d in self._dev1]
        utils = [min(100.0, (self._dev1[d].busy_time - self._dev0[d].busy_time) / (wall * 1000) * 100)
                 for d in seen if wall > 0]
        if utils:
            out["device_util"] = max(utils)
        for direction in ("read", "write"):
            count = sum(getattr(self._dev1[d], f"{direction}_count") - getattr(self._dev0[d], f"{direction}_count")
                        for d in seen)
            nbytes = sum(getattr(self._dev1[d], f"{direction}_bytes") - getattr(self._dev0[d], f"{direction}_bytes")
                         for d in seen)
            if count > 0:
                out[f"device_{direction}_request_bytes"] = nbytes / count
        return out


def _busy_percent(a, b) -> float:
    total = sum(b) - sum(a)
    if total <= 0:
        return 0.0
    idle = (b.idle - a.idle) + (getattr(b, "iowait", 0) - getattr(a, "iowait", 0))
    return round((total - idle) / total * 100, 2)
