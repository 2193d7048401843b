"""The seek-aware emulated HDD: its parameters (with their datasheet source), its daemon (drive/tb_hddmodel.c,
built by `make install`), the daemon's counters, and the model's expected figures in Python (the reference the
ground-truth tests hold the daemon to).

The daemon serves one image file over FUSE and replies to each request at its modelled finish time: seek by
radial distance (track-to-track .. full stroke, a square-root curve whose mean over random pairs is the
datasheet's average seek), rotational latency at the spindle speed (sector angle against platter angle),
transfer at the media rate (optionally falling to `inner_ratio` of it at the inner edge), a stream credit
(read-ahead / write cache), and shortest-positioning-time-first among the `window` oldest queued requests.
The image stands for the whole drive: offset / drive size is the radial position.

Defaults, from the Western Digital Ultrastar DC HC310 OEM specification (a 7,200 rpm enterprise drive),
section 4.5.1 "Mechanical positioning": average read seek 7.4 ms typical, single-track read seek 0.23 ms
typical, 7,200 rpm (8.33 ms a revolution, 4.16 ms average latency). The media rate default, 180 MB/s, is
tierbench's hdd figure since the throttle method (a mid-zone rate of such a drive; the outer zone is faster):
pass the datasheet's sustained rate with --hdd-mbps to model the outer zone. WINDOW = 8: full SPTF over 32
queued random requests gives 2.7x the QD1 IOPS in this model, more than the 1.5-2x that 7,200 rpm drives show;
reordering among the 8 oldest gives 1.75x at QD32 over the whole drive (simulate_iops) and bounds a request's
wait by age.
"""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from bench.core.errors import UserError

MODELS = ("seek", "throttle")
DEFAULT_MODEL = "seek"
SOURCE = ("Western Digital Ultrastar DC HC310 OEM specification, 4.5.1 Mechanical positioning: average read "
          "seek 7.4 ms, single-track read seek 0.23 ms, 7,200 rpm; media rate: tierbench's 180 MB/s mid-zone figure")
STATS_FILE, CONTROL_FILE, IMAGE_FILE = "stats", "control", "drive.img"
BINARY_NAME = "tb-hddmodel"
BINARY = Path(__file__).resolve().parents[2] / "drive" / BINARY_NAME
STATS_MAX_BYTES = 64 * 1024
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DriveParams:
    """One drive's model. rpm: spindle speed; seek_ms: average seek over random pairs (datasheet);
    t2t_ms: track-to-track seek; mbps: media rate at the outer edge, 10^6 bytes/s; inner_ratio: the inner
    edge's rate as a share of it (1: flat); drives: heads the image is striped over, chunk_bytes apart;
    window: the oldest queued requests the drive picks the shortest positioning time among."""
    rpm: float = 7200.0
    seek_ms: float = 7.4
    t2t_ms: float = 0.23
    mbps: float = 180.0
    inner_ratio: float = 1.0
    drives: int = 1
    window: int = 8
    chunk_bytes: int = 256 * 1024

    def check(self) -> "DriveParams":
        """self, or a UserError naming the flag that is out of range."""
        def number(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        rules = (("--hdd-rpm", number(self.rpm) and 1000 <= self.rpm <= 20000, "between 1000 and 20000"),
                 ("--hdd-seek-ms", number(self.seek_ms) and 0 < self.seek_ms <= 50, "above 0 and at most 50"),
                 ("--hdd-seek-ms", number(self.seek_ms) and self.t2t_ms <= self.seek_ms,
                  f"at least the track-to-track seek, {self.t2t_ms} ms"),
                 ("--hdd-mbps", number(self.mbps) and 0 < self.mbps <= 2000, "above 0 and at most 2000"),
                 ("--hdd-drives", isinstance(self.drives, int) and 1 <= self.drives <= 64, "1 to 64 drives"))
        for flag, ok, what in rules:
            if not ok:
                raise UserError(f"{flag} must be {what}")
        return self

    @property
    def revolution_s(self) -> float:
        return 60.0 / self.rpm

    @property
    def full_stroke_ms(self) -> float:
        """The full-stroke seek the square-root curve needs for its mean over random pairs to be seek_ms
        (E[sqrt(|x - y|)] = 8/15 for x, y uniform on 0..1)."""
        return self.t2t_ms + (self.seek_ms - self.t2t_ms) * 15.0 / 8.0

    def to_dict(self) -> dict:
        return dict(asdict(self), full_stroke_ms=self.full_stroke_ms, source=SOURCE)


# ------------------------------------------------------------------------------------- expected figures
def expected_random_iops(p: DriveParams, span_fraction: float = 1.0, block_bytes: int = 4096) -> float:
    """Random reads of `block_bytes` one at a time (QD1), spread uniformly over `span_fraction` of one drive:
    1 / (mean seek + half a revolution + transfer), the mean seek of the square-root curve over that span
    (t2t + (full - t2t) x sqrt(span) x 8/15)."""
    seek_s = (p.t2t_ms + (p.full_stroke_ms - p.t2t_ms) * math.sqrt(span_fraction) * 8.0 / 15.0) / 1e3
    return 1.0 / (seek_s + p.revolution_s / 2 + block_bytes / (p.mbps * 1e6))


# Upper 1% points of the range (max - min) of n samples of a normal distribution, in standard deviations:
# E. S. Pearson and H. O. Hartley, Biometrika Tables for Statisticians, vol. 1, table 22 (the range).
RANGE_Q99 = {2: 3.643, 3: 4.120, 4: 4.403, 5: 4.603, 6: 4.757, 7: 4.882, 8: 4.987, 9: 5.078, 10: 5.157}


def random_service_cv(p: DriveParams, span_fraction: float = 1.0, block_bytes: int = 4096) -> float:
    """The coefficient of variation (standard deviation / mean) of one QD1 random read's modelled service time
    over `span_fraction` of one drive. Why it matters: a QD1 figure is the mean of N such times, so its relative
    standard error is this / sqrt(N); the rotational wait alone (uniform over a revolution: variance rev^2/12)
    makes it ~0.35, so a few hundred requests leave a spread of several percent between repeats however
    faithful the model. Seek variance: (full - t2t)^2 x span x Var(sqrt|x - y|), x, y uniform on 0..1, whose
    Var is E|x - y| - (8/15)^2 = 1/3 - 64/225."""
    rev = p.revolution_s
    spread = (p.full_stroke_ms - p.t2t_ms) / 1e3
    variance = rev ** 2 / 12 + spread ** 2 * span_fraction * (1 / 3 - 64 / 225)
    return math.sqrt(variance) * expected_random_iops(p, span_fraction, block_bytes)


def qd1_requests_for_spread(p: DriveParams, span_fraction: float = 1.0, spread: float = 0.05, repeats: int = 5,
                            block_bytes: int = 4096) -> int:
    """The QD1 random reads one repeat needs so that `repeats` repeats of a faithful drive keep their range
    (max - min, relative to the mean) under `spread` 99 times in 100 from the model's own sampling alone:
    the per-repeat relative standard error cv / sqrt(N) at most spread / RANGE_Q99[repeats]."""
    if repeats not in RANGE_Q99:
        raise ValueError(f"repeats must be {min(RANGE_Q99)}..{max(RANGE_Q99)}")
    se = spread / RANGE_Q99[repeats]
    return math.ceil((random_service_cv(p, span_fraction, block_bytes) / se) ** 2)


def qd1_runtime_s(p: DriveParams, span_fraction: float = 1.0, spread: float = 0.05, repeats: int = 5,
                  block_bytes: int = 4096) -> float:
    """Seconds of QD1 random reads (at the model's expected IOPS) that qd1_requests_for_spread needs."""
    return qd1_requests_for_spread(p, span_fraction, spread, repeats, block_bytes) / \
        expected_random_iops(p, span_fraction, block_bytes)


def simulate_iops(p: DriveParams, queue_depth: int, span_fraction: float = 1.0, block_bytes: int = 4096,
                  requests: int = 4000, seed: int = 1) -> float:
    """The daemon's queue in Python (one drive, a closed loop of `queue_depth` random reads over
    `span_fraction` of the drive): requests per modelled second. The QD1 figure equals expected_random_iops
    within sampling error; the QD-N / QD1 ratio is the reordering gain the model predicts."""
    rng = random.Random(seed)
    rev, rate = p.revolution_s, p.mbps * 1e6
    track, full, t2t = rate * rev, p.full_stroke_ms / 1e3, p.t2t_ms / 1e3
    cap = 2 ** 40
    blocks = max(1, int(span_fraction * cap / block_bytes))

    def new(at):
        return rng.randrange(blocks) * block_bytes, at

    queue = [new(0.0) for _ in range(queue_depth)]
    t, pos, done = 0.0, 0.0, 0
    while done < requests:
        best = None
        for i, (off, _at) in enumerate(sorted(queue, key=lambda r: r[1])[:p.window]):
            seek = t2t + (full - t2t) * math.sqrt(abs(off / cap - pos))
            wait = ((off % track) / track - ((t + seek) % rev) / rev) % 1.0 * rev
            if best is None or seek + wait < best[0]:
                best = (seek + wait, (off, _at))
        queue.remove(best[1])
        t += best[0] + block_bytes / rate
        pos = (best[1][0] + block_bytes) / cap
        done += 1
        queue.append(new(t))
    return done / t


# ------------------------------------------------------------------------------------------- the daemon
def binary() -> Path:
    """The daemon's executable, or a UserError saying how to build it (no silent fallback to the throttle)."""
    if not os.access(BINARY, os.X_OK):
        raise UserError(f"the seek-aware hdd model needs its daemon {BINARY_NAME}, built by `make install` "
                        f"(libfuse3-dev, fuse3, pkg-config); or choose --hdd-model throttle")
    if not os.path.exists("/dev/fuse"):
        raise UserError("the seek-aware hdd model needs FUSE (/dev/fuse is missing); or choose --hdd-model throttle")
    return BINARY


def start(image: str, mount: str, p: DriveParams, log: str) -> subprocess.Popen:
    """Start a daemon serving `image` on `mount` (an empty folder); returns once drive.img is there.
    Its stderr goes to `log` (the reason it gives when it stops)."""
    cmd = [str(binary()), "--image", image, "--mount", mount, "--rpm", repr(p.rpm), "--seek-ms", repr(p.seek_ms),
           "--t2t-ms", repr(p.t2t_ms), "--mbps", repr(p.mbps), "--inner-ratio", repr(p.inner_ratio),
           "--drives", str(p.drives), "--window", str(p.window), "--chunk", str(p.chunk_bytes)]
    with open(log, "ab") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(os.path.join(mount, IMAGE_FILE)):
        if proc.poll() is not None:
            raise UserError(f"the hdd model daemon stopped at start: {last_words(log)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise UserError(f"the hdd model daemon did not mount {mount} within {START_TIMEOUT_S:g} s")
        time.sleep(0.05)
    return proc


def last_words(log: str) -> str:
    """The last line the daemon wrote to its log, or a sentence saying there was none."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else "no message in its log (killed?)"


def is_running(pid: int) -> bool:
    """Whether `pid` is a live tb-hddmodel process (not a reused pid, not a zombie)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return cmd.endswith(BINARY_NAME.encode()) and state != "Z"


def failure(emulated: dict) -> Optional[str]:
    """None while a seek-model tier's daemon runs; else why not, in a sentence."""
    daemon = (emulated or {}).get("daemon")
    if not daemon or is_running(daemon["pid"]):
        return None
    return (f"the hdd drive-model daemon (pid {daemon['pid']}) is gone: "
            f"{last_words(daemon['log'])}; the tier is unusable until `tierbench tiers teardown`")


def read_stats(emulated: dict) -> Optional[dict]:
    """The daemon's counters (see drive/tb_hddmodel.c), None for a tier without a daemon."""
    daemon = (emulated or {}).get("daemon")
    if not daemon:
        return None
    with open(os.path.join(daemon["mount"], STATS_FILE), "rb") as f:
        return json.loads(f.read(STATS_MAX_BYTES))


def set_active_drives(emulated: dict, drives: int) -> None:
    """Use the first `drives` of the daemon's heads (the scenario's half-the-drives stage)."""
    fd = os.open(os.path.join(emulated["daemon"]["mount"], CONTROL_FILE), os.O_WRONLY)   # no O_TRUNC: no setattr
    try:
        os.write(fd, f"drives {int(drives)}\n".encode())
    finally:
        os.close(fd)


COUNTERS = ("requests", "read_requests", "write_requests", "bytes_read", "bytes_written", "seeks",
            "positioning_s", "transfer_s", "late_s")


def case_metrics(before: dict, after: dict) -> dict:
    """A case's figures on the modelled drive from the daemon's counters around it: hdd_requests,
    hdd_random_share (requests that needed positioning / requests), hdd_request_bytes (mean request size),
    hdd_requests_per_gb (requests per 10^9 bytes moved), hdd_positioning_s, hdd_positioning_share (positioning
    / (positioning + transfer): the share of drive time spent positioning), hdd_late_s (how far replies fell
    behind the model on this machine). Shares and sizes are absent when the case made no request."""
    d = {k: after[k] - before[k] for k in COUNTERS}
    moved = d["bytes_read"] + d["bytes_written"]
    busy = d["positioning_s"] + d["transfer_s"]
    out = {"hdd_requests": d["requests"], "hdd_positioning_s": d["positioning_s"], "hdd_late_s": d["late_s"]}
    if d["requests"]:
        out.update(hdd_random_share=d["seeks"] / d["requests"], hdd_request_bytes=moved / d["requests"],
                   hdd_requests_per_gb=d["requests"] / (moved / 1e9) if moved else None)
    if busy > 0:
        out["hdd_positioning_share"] = d["positioning_s"] / busy
    return {k: v for k, v in out.items() if v is not None}
