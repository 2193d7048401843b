"""Published block-trace CSV formats as trace events (`tierbench import-trace --format msr|alibaba|tencent`).

Each disk or volume of a block trace becomes one file of the trace (file `<host>-<disk>` / `volume-<id>`), its
offsets the request's byte offset on the volume, so that a replay writes and reads a file per volume. Times start
at 0 at the trace's first request. Layouts (docs/record-replay.md cites their sources):

- MSR Cambridge (SNIA IOTTA, the traces' README): `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`;
  Timestamp in Windows filetime (100 ns ticks), Type `Read`/`Write`, Offset and Size in bytes, ResponseTime in
  100 ns ticks (kept as latency).
- Alibaba block traces (github.com/alibaba/block-traces): `device_id,opcode,offset,length,timestamp`; opcode
  `R`/`W`, offset and length in bytes, timestamp in µs.
- Tencent CBS (SNIA IOTTA, the traces' README): `Timestamp,Offset,Size,IOType,VolumeID`; Timestamp in seconds
  (Unix time), Offset and Size in 512-byte sectors, IOType 0 read, 1 write.

A header line (one that does not parse as a request but names the columns) is skipped; any other line that does
not parse is refused with its line number. Requests of size 0 are refused (nothing to replay).
"""
from __future__ import annotations

from bench.core.errors import UserError

__all__ = ["FORMATS", "parse_blocktrace"]

FORMATS = ("msr", "alibaba", "tencent")
SECTOR = 512
_FILETIME_S = 1e-7


def _int(text: str, what: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError(f"{what} {value} < 0")
    return value


def _msr(fields: list) -> tuple:
    t, host, disk, kind, off, size, resp = fields
    op = {"read": "read", "write": "write"}.get(kind.strip().lower())
    if op is None:
        raise ValueError(f"Type {kind!r} is not Read or Write")
    return (_int(t, "Timestamp"), _FILETIME_S, f"{host.strip()}-{_int(disk, 'DiskNumber')}", op,
            _int(off, "Offset"), _int(size, "Size"), _int(resp, "ResponseTime") * _FILETIME_S)


def _alibaba(fields: list) -> tuple:
    dev, opcode, off, length, t = fields
    op = {"r": "read", "w": "write"}.get(opcode.strip().lower())
    if op is None:
        raise ValueError(f"opcode {opcode!r} is not R or W")
    return (_int(t, "timestamp"), 1e-6, f"volume-{_int(dev, 'device_id')}", op, _int(off, "offset"),
            _int(length, "length"), None)


def _tencent(fields: list) -> tuple:
    t, off, size, kind, vol = fields
    op = {"0": "read", "1": "write"}.get(kind.strip())
    if op is None:
        raise ValueError(f"IOType {kind!r} is not 0 (read) or 1 (write)")
    return (_int(t, "Timestamp"), 1.0, f"volume-{_int(vol, 'VolumeID')}", op, _int(off, "Offset") * SECTOR,
            _int(size, "Size") * SECTOR, None)


_PARSERS = {"msr": (_msr, 7), "alibaba": (_alibaba, 5), "tencent": (_tencent, 5)}


def parse_blocktrace(text: str, fmt: str, name: str) -> list:
    """Events (bench.engines.trace.table) of a block trace in format `fmt`; UserError naming the line."""
    parse, width = _PARSERS[fmt]
    rows = []
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != width:
            raise UserError(f"{name} line {no}: {len(fields)} fields, a {fmt} trace has {width}: {line[:80]!r}")
        try:
            t, scale, f, op, off, n, lat = parse(fields)
        except ValueError as e:
            if no == 1 and not any(ch.isdigit() for ch in fields[0]):
                continue        # the column names
            raise UserError(f"{name} line {no}: not a {fmt} request ({' '.join(str(e).split())[:120]})") from None
        if n == 0:
            raise UserError(f"{name} line {no}: a request of 0 bytes")
        rows.append((t, f, op, off, n, lat))
    if not rows:
        raise UserError(f"{name}: no requests in it")
    start = min(r[0] for r in rows)     # in the format's own integer ticks: seconds since 1601 in float lose µs
    return [{"time_s": (t - start) * scale, "pid": 0, "file": f, "op": op, "offset": off, "length": n, "latency_s": lat}
            for t, f, op, off, n, lat in rows]
