"""A pattern on several hosts at once through fio's own client/server mode (`fio --server` on each host, one
`fio --client=HOST JOB ...` here): per-host job files, per-host phase records, and the reason for every host that
gave none. Nothing here builds an agent of our own: fio carries the job files and brings the results back.

Facts this module relies on (fio 3.33; tests/engines/fio/test_fleet.py exercises each):
- Job files sent from the client are parsed here, so each host gets its own file with its own tier paths.
  fio's `unique_filename` (on by default) prefixes every file name with the server's address, so two servers
  sharing one directory never share files.
- fio writes every host's entries and an "All clients" entry to `--output` (stdout held only one host's).
  Before the JSON, the output file holds fio's notes: "fio: failed to connect to HOST:PORT" after
  "fio: connect: <reason>" for a host that refused, "client: host=HOST disconnected" for one that dropped out,
  "fio: client HOST timed out" for one that stopped answering (a cut link: after about 40 s).
- A host that cannot be reached at connect time is dropped and fio exits 0; a server killed mid-run makes fio
  exit 1 with the other hosts' stats kept. So every host asked for is looked for in the output, and a missing
  one is named with the reason fio gave (never dropped in silence).
- tierbench cannot reach into a remote host: it lays no files out there (fio lays out what a phase reads), runs
  no start barrier (bench/engines/fio/barrier.sh is not on the server), makes no case directory (files go into
  the tier's directory under a prefix naming the run and case) and has the last phase that uses a fileset
  remove its files (`unlink=1`). Fleet cases are their own cases (their host is part of the case identity),
  never compared with local ones.
- A server's job outlives a client that was killed: every host without results is drained (bench.engines.fio.drain:
  a server on this machine is waited for until its job processes end; one elsewhere is said to be unknown)
  before the case ends, so the next case does not start on a busy server unnoticed.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Optional

from bench.core.errors import CaseError
from bench.core.pattern import Pattern
from bench.engines.fio.drain import drain
from bench.engines.fio.engine import pattern_records
from bench.engines.fio.fleet_logs import host_rows, with_interval_logs
from bench.engines.fio.job import render_jobfile
from bench.engines.fio.parse import parse
from bench.engines.fio.run import run_fio_clients

__all__ = ["run", "run_texts", "probe", "missing_reason", "PROBE_JOB"]

# A job that does no I/O: the null engine opens no file, so probing a server leaves nothing behind.
PROBE_JOB = "[tierbench-probe]\nioengine=null\nrw=read\nsize=4k\n"
_PROBE_LINE = re.compile(r"^hostname=(?P<hostname>.*?), be=(?P<be>\d+), (?P<bits>\d+)-bit, os=(?P<os>[^,]*), "
                         r"arch=(?P<arch>[^,]*), fio=(?P<fio>[^,]*), flags=\d+", re.MULTILINE)


def probe(client: str, scratch: Path, timeout_s: float = 15.0) -> dict:
    """What fio's server at `client` ("host,port") says of itself when contacted: {hostname, os, arch, bits,
    fio_version}. CaseError with fio's reason when it cannot be reached or does not answer in timeout_s."""
    scratch.mkdir(parents=True, exist_ok=True)
    job = scratch / "probe.fio"
    job.write_text(PROBE_JOB)
    output = scratch / "probe.out"
    rc, text, stderr = run_fio_clients([(client, job)], str(output), timeout_s=timeout_s, cwd=str(scratch),
                                       output_format="normal")
    match = _PROBE_LINE.search(text)
    if match is None:
        reason = missing_reason(text + "\n" + stderr, *client.rsplit(",", 1)) or f"fio exited with status {rc}"
        raise CaseError(reason)
    return {"hostname": match["hostname"], "os": match["os"], "arch": match["arch"], "bits": int(match["bits"]),
            "fio_version": match["fio"]}


def server_notes(text: str, hostname: Optional[str], dirs=()) -> list:
    """The server's own error lines in fio's notes, `<HOSTNAME> fio: MESSAGE` (e.g. "/data is not a
    directory" for a tier folder missing there), as MESSAGEs. Servers on one machine share a host name: then
    the lines naming one of this host's directories `dirs` are kept where there are any."""
    if not hostname:
        return []
    prefix = f"<{hostname}> fio: "
    notes = [line.strip()[len(prefix):] for line in text.splitlines() if line.strip().startswith(prefix)]
    mine = [n for n in notes if any(d and d in n for d in dirs)]
    return mine or notes


def missing_reason(text: str, address: str, port, hostname: Optional[str] = None, dirs=()) -> Optional[str]:
    """Why fio has no results for the server at address:port, from fio's own notes (the output file's text
    before the JSON, and stderr): "connection refused", "disconnected during the run", "timed out ...", the
    server's own messages (server_notes: "fio: /data is not a directory | ..."), or None."""
    notes = server_notes(text, hostname, dirs)
    said = "the server said: " + " | ".join(f"fio: {n}" for n in notes[:3]) if notes else None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"fio: failed to connect to {address}:{port}":
            before = lines[i - 1].strip() if i else ""
            if before.startswith("fio: connect: "):
                return before[len("fio: connect: "):].lower()
            return "could not connect"
        if line.strip() == f"client: host={address} disconnected":
            # a server that dropped the job (a missing folder) also disconnects: its own words come first
            return f"{said}; then it disconnected" if said else "disconnected during the run"
        if line.strip() == f"fio: client {address} timed out":
            return "timed out (the server stopped answering: a cut link or a hung host)"
    return said


def run(pattern: Pattern, hosts: list, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float,
        file_prefix: str, interval_s: Optional[float] = None) -> dict:
    """Run `pattern` on every host at once. hosts: [{"name": as the user wrote it, "address", "port",
    "client": fio's "address,port", "dirs": {role: directory on that host}}].

    Returns {"hosts": {name: {"phases": [records] | None, "error": None | reason}}, "implementation",
    "raw": [job files, output]}. A host without results gets "no results: <fio's reason>"; a host whose
    output is there keeps its records even when another host failed. interval_s: each host's result also
    carries `intervals`, the rows of bench.engines.fio.fleet_logs (one job section per phase, named after it)."""
    texts = {h["name"]: render_jobfile(pattern, h["dirs"], barrier_dir=None, file_prefix=file_prefix,
                                       unlink_after_use=True) for h in hosts}
    return run_texts(texts, hosts, raw_dir, stem, timeout_s,
                     lambda report, host: pattern_records(report, pattern, tiers_by_role, host=host["address"],
                                                          port=host["port"]), interval_s=interval_s)


def run_texts(texts: dict, hosts: list, raw_dir: Path, stem: str, timeout_s: float, records_of,
              interval_s: Optional[float] = None, phases_of=None) -> dict:
    """Run each host's job file text ({host name: text}) at once; `records_of(report, host)` gives a host's
    phase records from the parsed output (CaseError for a job fio reports an error for). As `run` returns.
    interval_s: every job section logs each I/O (bench.engines.fio.fleet_logs) and a host with records gets
    `intervals`; phases_of(report, host) gives the function that names a section's phase (default: the
    section's own name)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = raw_dir.resolve()
    output = raw_dir / f"{stem}.fio.json"
    scratch = raw_dir / f"{stem}.fio-cwd"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    clients, raw, prefixes = [], [], {}
    for number, host in enumerate(hosts):
        jobfile = raw_dir / f"{stem}.h{number}.fio"
        body = texts[host["name"]]
        if interval_s:
            body, prefixes[host["name"]] = with_interval_logs(body, number)
        jobfile.write_text(f"; host {host['name']}\n" + body)
        clients.append((host["client"], jobfile))
        raw.append(jobfile.name)
    out = {}
    try:
        rc, text, notes = run_fio_clients(clients, str(output), timeout_s=timeout_s, cwd=str(scratch))
        report = parse(text) if "{" in text else None
        for host in hosts:
            records = []
            if report is not None:
                try:
                    records = records_of(report, host)
                    if records and interval_s:
                        phase_of = phases_of(report, host) if phases_of else (lambda name: name)
                        intervals = host_rows(scratch, prefixes[host["name"]], interval_s, phase_of)
                except CaseError as e:      # fio's error number for one of this host's jobs, or a bad log
                    out[host["name"]] = {"phases": None, "error": f"host {host['name']}: {e}"}
                    continue
            if records:
                out[host["name"]] = {"phases": records, "error": None,
                                     **({"intervals": intervals} if interval_s else {})}
    except CaseError as e:      # the client was killed or timed out: the servers' jobs may run on
        drained = drain(hosts, timeout_s)
        return {"hosts": {h["name"]: {"phases": None, "error": _with(f"host {h['name']}: no results: {e}",
                                                                     drained[h["name"]])} for h in hosts},
                "implementation": None, "raw": raw, "drained": drained}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)     # fio's working directory, with the hosts' logs
    raw.append(output.name)
    for host in hosts:
        if host["name"] in out:
            continue
        reason = missing_reason(text + "\n" + notes, host["address"], host["port"], host.get("hostname"),
                                tuple((host.get("dirs") or {}).values())) \
            or (f"fio exited with status {rc}" if rc else "fio's output holds no entry for it")
        out[host["name"]] = {"phases": None, "error": f"host {host['name']}: no results: {reason}"}
    if rc and all(v["error"] is None for v in out.values()):
        tail = " | ".join(line for line in notes.strip().splitlines()[-5:] if line.strip())
        for name, v in out.items():
            v["error"] = f"host {name}: fio exited with status {rc}: {tail or 'no message'}"
    failed = [h for h in hosts if out[h["name"]]["error"]]
    drained = drain(failed, timeout_s) if failed else {}     # a host with results has finished its job
    for name, note in drained.items():
        out[name]["error"] = _with(out[name]["error"], note)
    return {"hosts": out, "implementation": report.fio_version if report else None, "raw": raw,
            **({"drained": drained} if drained else {})}


def _with(error: str, note: str) -> str:
    return f"{error}; {note}" if note else error
