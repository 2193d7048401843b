"""fio's parsed output as phase records: the one path from fio's JSON to measurements, for `run` (local and
fleet) and `import` alike. bench.analysis.metrics.case_metrics turns records into a case's metrics, the same way
for every engine.

A record is one fio job entry (with group_reporting, which tierbench's job files set, one per phase) of one host:
    name, host (None for a local run, the client's host), groupid, document, error (fio's error number),
    ops_read, ops_written, bytes_read, bytes_written (and ops_trim / bytes_trim, ops_mixed / bytes_mixed for the
    trim and unified_rw_reporting directions, which count in `iops` only), wall_s (the longest runtime of its
    directions that moved something), cpu_s (fio's own usr + sys accounting, when reported),
    bins_<d> ({latency ns: count}, json+ only), lat_<d> ({samples, mean_us, max_us}) and, for plain json without
    bins, pct_<d> (fio's own percentiles {q: us}), where <d> is read, write, trim or mixed.

The fleet (fio's client/server mode): fio's "All clients" entry sums every host over the whole run, all reporting
groups together, with no percentiles or bins. `fleet_records` computes the same aggregate per phase instead, the
way fio computes "All clients" for one group: operations and bytes summed over the hosts, over the longest
host's runtime; latency bins merged (percentiles then come from the merged bins, never an average of the hosts'
percentiles). For a one-phase pattern this is fio's "All clients" figure (tests/engines/fio/test_fleet.py checks it).
"""
from __future__ import annotations

from typing import Optional

from bench.core.case import FLEET_HOST
from bench.engines.fio.parse import ALL_CLIENTS, FioReport
from kernels.latency_bins import merge_bins

__all__ = ["phase_records", "group_records", "merge_records", "fleet_records", "DIRECTION_KEYS"]

# fio direction -> the suffix of a record's ops_/bytes_ keys
DIRECTION_KEYS = {"read": "read", "write": "written", "trim": "trim", "mixed": "mixed"}


def phase_records(report: FioReport, host: Optional[str] = None, port: Optional[int] = None) -> list:
    """One record per job entry of `host` (None: the entries of a local run; `port` tells apart two servers on
    one address), in fio's order; fio's "All clients" aggregate is never a record (see fleet_records)."""
    records = []
    for job in report.jobs:
        if job.host != host or job.host == ALL_CLIENTS or (port is not None and job.port != port):
            continue
        rec = {"name": job.name, "host": job.host, "groupid": job.groupid, "document": job.document,
               "error": job.error, "ops_read": 0, "ops_written": 0, "bytes_read": 0, "bytes_written": 0,
               "wall_s": 0.0}
        if job.cpu_s is not None:
            rec["cpu_s"] = job.cpu_s
        for direction, d in job.directions.items():
            if d.ops == 0:
                continue
            key = DIRECTION_KEYS[direction]
            rec[f"ops_{key}"] = rec.get(f"ops_{key}", 0) + d.ops
            rec[f"bytes_{key}"] = rec.get(f"bytes_{key}", 0) + d.bytes
            rec["wall_s"] = max(rec["wall_s"], d.runtime_s)
            if d.bins_ns:
                rec[f"bins_{direction}"] = dict(d.bins_ns)
            elif d.percentiles_us:
                rec[f"pct_{direction}"] = dict(d.percentiles_us)
            if d.lat_samples:
                rec[f"lat_{direction}"] = {"samples": d.lat_samples, "mean_us": d.lat_mean_us,
                                           "max_us": d.lat_max_us}
        records.append(rec)
    return records


def merge_records(members: list, name: str, host) -> dict:
    """One record for records that ran at the same time (the jobs of one reporting group, or one phase on every
    host of a fleet), the way fio sums a group or "All clients": counts and CPU seconds summed, wall_s the longest
    member's, latency bins merged (left out unless every member that moved data in a direction has them), latency
    mean weighted by samples, max the largest."""
    first = members[0]
    merged = {"name": name, "host": host, "groupid": first.get("groupid"), "document": first.get("document"),
              "error": max(m.get("error", 0) for m in members), "wall_s": max(m["wall_s"] for m in members)}
    merged.update({k: first[k] for k in ("tier", "role") if k in first})
    for field in sorted({k for m in members for k in m if k.startswith(("ops_", "bytes_"))}):
        merged[field] = sum(m.get(field, 0) for m in members)
    if all(m.get("cpu_s") is not None for m in members):
        merged["cpu_s"] = sum(m["cpu_s"] for m in members)
    for direction, key in DIRECTION_KEYS.items():
        carriers = [m for m in members if m.get(f"ops_{key}")]
        if not carriers:
            continue
        if all(m.get(f"bins_{direction}") for m in carriers):
            merged[f"bins_{direction}"] = merge_bins(*(m[f"bins_{direction}"] for m in carriers))
        elif len(carriers) == 1 and carriers[0].get(f"pct_{direction}"):
            merged[f"pct_{direction}"] = dict(carriers[0][f"pct_{direction}"])
        lats = [m[f"lat_{direction}"] for m in carriers if m.get(f"lat_{direction}")]
        if len(lats) == len(carriers):
            samples = sum(lat["samples"] for lat in lats)
            merged[f"lat_{direction}"] = {"samples": samples,
                                          "mean_us": sum(lat["mean_us"] * lat["samples"] for lat in lats) / samples,
                                          "max_us": max(lat["max_us"] for lat in lats)}
    return merged


def group_records(records: list) -> list:
    """One record per reporting group (document, host, groupid), in order: the group's jobs ran together, so
    they are merged (merge_records) under the names of its jobs joined with '+'. With group_reporting each group
    is one record already and comes back unchanged."""
    groups: dict = {}
    for rec in records:
        groups.setdefault((rec["document"], rec["host"], rec["groupid"]), []).append(rec)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
        else:
            name = "+".join(dict.fromkeys(m["name"] for m in members))
            out.append(merge_records(members, name, members[0]["host"]))
    return out


def fleet_records(per_host: dict) -> list:
    """The fleet's records from {host: [record, ...]}, one per phase (matched by document, group and name, in the
    first host's order), merged over the hosts (merge_records), host FLEET_HOST. A phase some host lacks is left
    out (the caller fails the fleet case when a host is missing)."""
    hosts = list(per_host)
    if not hosts:
        return []
    keyed = [{(r.get("document"), r.get("groupid"), r["name"]): r for r in per_host[h]} for h in hosts]
    out = []
    for rec in per_host[hosts[0]]:
        key = (rec.get("document"), rec.get("groupid"), rec["name"])
        members = [k[key] for k in keyed if key in k]
        if len(members) == len(hosts):
            out.append(merge_records(members, rec["name"], FLEET_HOST))
    return out
