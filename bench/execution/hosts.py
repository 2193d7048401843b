"""The hosts of a fleet run (`run --host HOST[:PORT]`, `--hosts FILE`): who they are, where each tier is on each
of them, and the check before a run that every one answers with the same fio as this machine's.

A host is written `HOST[:PORT]` (`[ADDR]:PORT` for IPv6, or `ADDR:PORT` when ADDR:PORT is not itself an IPv6
address, as `::1:18787`; PORT defaults to fio's 8765) and named in the run
document and its cases as written, the default port left out. A hosts file holds one host per line; `#` starts a
comment. A tier may have a path per host: `--tier data=/mnt/d1@node1 --tier data=/mnt/d2@node2`, and a path
without `@HOST` is the path on every host that has none of its own. Paths on hosts are not checked here beyond the
system-path rule (bench.tiers.guard): tierbench cannot look into a remote host, and fio names a missing directory.
"""
from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.core.case import FLEET_HOST
from bench.core.errors import CaseError, UserError
from bench.core.userfile import SMALL_FILE, load_user_json, read_user_text
from bench.engines.fio import fleet
from bench.engines.fio.run import fio_version
from bench.tiers.detect import Tier, parse_tier_spec
from bench.tiers.guard import system_path_reason

__all__ = ["Host", "parse_host", "hosts_from_args", "fleet_tiers", "check_hosts", "host_detections", "host_capacity",
           "DEFAULT_PORT"]

DEFAULT_PORT = 8765          # fio's default server port
PROBE_TIMEOUT_S = 15.0       # a host that does not answer fio's probe within this is refused before the run
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Host:
    address: str     # a name, an IPv4 address, or an IPv6 address without brackets
    port: int = DEFAULT_PORT

    @property
    def ipv6(self) -> bool:
        return ":" in self.address

    @property
    def name(self) -> str:
        """As the run document names it: `node1`, `10.0.0.5:9000`, `[fd00::5]:9000`."""
        address = f"[{self.address}]" if self.ipv6 else self.address
        return address if self.port == DEFAULT_PORT else f"{address}:{self.port}"

    @property
    def client(self) -> str:
        """fio's --client argument: `ADDR,PORT` (`ip6:ADDR,PORT`)."""
        return f"{'ip6:' if self.ipv6 else ''}{self.address},{self.port}"


def parse_host(text: str) -> Host:
    """`HOST[:PORT]` or `[IPV6]:PORT` → Host; UserError (one line) otherwise."""
    spec = text.strip()
    port = DEFAULT_PORT
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise UserError(f"--host {text!r:.60}: expected [IPV6-ADDRESS]:PORT")
        address, rest = spec[1:end], spec[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise UserError(f"--host {text!r:.60}: expected [IPV6-ADDRESS]:PORT")
            port = _port(rest[1:], text)
    elif spec.count(":") == 1:
        address, port_text = spec.split(":")
        port = _port(port_text, text)
    elif ":" in spec and not _ipv6(spec) and _ipv6(spec.rsplit(":", 1)[0]):
        address, port_text = spec.rsplit(":", 1)      # `::1:18787`: an IPv6 address and a port
        port = _port(port_text, text)
    else:
        address = spec
    if ":" in address:
        if not _ipv6(address):
            raise UserError(f"--host {text!r:.60}: not an IPv6 address (write [ADDRESS]:PORT)")
    elif not _HOSTNAME.match(address) or len(address) > 253:
        raise UserError(f"--host {text!r:.60}: expected HOST[:PORT] (a host name or address, and a port)")
    if address.lower() in ("0.0.0.0", "::", FLEET_HOST):
        raise UserError(f"--host {text!r:.60}: {address} cannot name a host to connect to")
    return Host(address, port)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UserError(f"--host {spec!r:.60}: port {text!r:.20} is not a number from 1 to 65535")
    return int(text)


def hosts_from_args(host_flags: list, hosts_file: Optional[str]) -> list:
    """The fleet from --host flags and a --hosts file (flags first), each once; [] for a local run."""
    specs = list(host_flags or [])
    if hosts_file:
        lines = read_user_text(hosts_file, what="--hosts", limit=SMALL_FILE).splitlines()
        specs += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
        if not specs:
            raise UserError(f"--hosts {hosts_file}: no host in it (one HOST[:PORT] a line)")
    hosts = [parse_host(s) for s in specs]
    seen = set()
    for host in hosts:
        if (host.address, host.port) in seen:
            raise UserError(f"host {host.name} is given twice")
        seen.add((host.address, host.port))
    return hosts


def _split_host(spec: str, hosts: list) -> tuple:
    """(spec without `@HOST`, the Host) when the spec ends in `@` and the name of a host of the fleet.
    UserError when it ends in `@` and a host name that is not one of the fleet's (it would become part of
    the path); a tail with a '/' is part of the path."""
    if "@" in spec:
        head, tail = spec.rsplit("@", 1)
        for host in hosts:
            if tail in (host.name, host.address, f"{host.address}:{host.port}"):
                return head, host
        if "/" not in tail:
            try:
                other = parse_host(tail)
            except UserError:
                other = None
            if other is not None:
                raise UserError(f"--tier {spec!r:.80}: host {tail} is not one of this run's hosts "
                                f"({', '.join(h.name for h in hosts)})")
    return spec, None


def fleet_tiers(tier_flags: list, hosts: list, *, allow_system_path: bool = False) -> tuple:
    """([Tier] for the run document, {tier name: {host name: path}}) from --tier flags on a fleet.

    Every tier needs a path on every host: `NAME=PATH` (every host) and/or `NAME=PATH@HOST`. A class given
    anywhere is the tier's class. UserError (one line) for a tier a host has no path for, a relative path, or
    a system path (unless allow_system_path)."""
    if not tier_flags:
        raise UserError("--host: give the tiers with --tier NAME=PATH (the directory on every host) or "
                        "NAME=PATH@HOST (one host's)")
    defaults, per_host, classes, order = {}, {}, {}, []
    for flag in tier_flags:
        spec, host = _split_host(flag, hosts)
        name, path, cls = parse_tier_spec(spec)
        if path is None:
            raise UserError(f"--tier {flag!r:.60}: with --host, a tier is NAME=PATH[:CLASS][@HOST] (tiers known "
                            "on this machine are not known on the hosts)")
        if not os.path.isabs(path):
            raise UserError(f"--tier {flag!r:.60}: a path on the hosts must be absolute")
        if not allow_system_path and (reason := system_path_reason(os.path.normpath(path), None)):
            raise UserError(f"tier {name}: {path} is {reason}, not a place for benchmark files "
                            "(give --allow-system-path if you really mean it)")
        if name not in order:
            order.append(name)
        if cls:
            classes[name] = cls
        target = per_host.setdefault(name, {}) if host else defaults
        key = host.name if host else name
        if key in target and target[key] != path:
            raise UserError(f"--tier {name}: two paths for {'host ' + host.name if host else 'every host'}")
        target[key] = path
    paths = {}
    for name in order:
        paths[name] = {}
        for host in hosts:
            path = per_host.get(name, {}).get(host.name, defaults.get(name))
            if path is None:
                raise UserError(f"tier {name} has no path on host {host.name} (give --tier {name}=PATH@{host.name}, "
                                f"or {name}=PATH for every host)")
            paths[name][host.name] = path
    tiers = [Tier(name=name, cls=classes.get(name, "unknown"), path=defaults.get(name, ""),
                  reason="a tier on the fleet's hosts: paths per host (hosts[].tiers), not detected from here")
             for name in order]
    return tiers, paths


def check_hosts(hosts: list, timeout_s: float = PROBE_TIMEOUT_S) -> list:
    """Contact every host (fio's probe, all at once) before anything runs: each must answer, and with the same
    fio version as every other and as this machine's fio (client and server must speak one protocol).
    Returns each host's record for the run document {name, address, port, client (fio's --client value),
    hostname, os, arch, bits, fio_version}; UserError naming every host that failed, or every version."""
    local = fio_version()
    if local is None:
        raise UserError("--host: fio is not installed here (the fleet's client runs on this machine)")
    with tempfile.TemporaryDirectory(prefix="tierbench-probe-") as scratch:
        def one(item):
            number, host = item
            try:
                return host, fleet.probe(host.client, Path(scratch) / str(number), timeout_s), None
            except CaseError as e:
                return host, None, str(e)
        with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            answers = list(pool.map(one, enumerate(hosts)))
    failed = [f"{host.name} ({reason})" for host, _, reason in answers if reason]
    if failed:
        raise UserError(f"--host: {len(failed)} of {len(hosts)} hosts did not answer fio's probe: "
                        f"{'; '.join(failed)} (start `tierbench serve` or `fio --server` there)")
    versions = {host.name: info["fio_version"] for host, info, _ in answers}
    if set(versions.values()) != {local}:
        listed = ", ".join(f"{name} {v}" for name, v in versions.items())
        raise UserError(f"--host: fio versions differ (client and servers must run the same fio): this machine "
                        f"{local}, {listed}")
    return [{"name": host.name, "address": host.address, "port": host.port, "client": host.client, **info}
            for host, info, _ in answers]


_DETECTED_FIELDS = ("path", "class", "device", "model", "rotational", "filesystem", "capacity_bytes",
                    "nominal_capacity_bytes", "reason")


def host_detections(flags, hosts: list, paths: dict) -> dict:
    """{host name: {"source", "tiers": {tier: what `tierbench tiers detect --json` said of it on that host}}} from
    `--host-detect HOST=FILE`. tierbench cannot look into a remote host itself; the user runs `tiers detect` there
    (e.g. `ssh node1 tierbench tiers detect --tier data=/mnt/d1 --json > node1.json`). Each detected tier must be
    one of the run's, at the path the run uses on that host. UserError (one line) otherwise."""
    out = {}
    for flag in flags or ():
        spec, _, file = flag.partition("=")
        host = next((h for h in hosts if spec in (h.name, h.address, f"{h.address}:{h.port}")), None)
        if not file or host is None:
            raise UserError(f"--host-detect {flag!r:.60}: expected HOST=FILE with HOST one of the fleet's "
                            f"({', '.join(h.name for h in hosts)})")
        if host.name in out:
            raise UserError(f"--host-detect: host {host.name} is given twice")
        doc = load_user_json(file, what="--host-detect", limit=SMALL_FILE)
        listed = doc.get("tiers") if isinstance(doc, dict) else None
        if not isinstance(listed, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                                   for t in listed):
            raise UserError(f"--host-detect {file}: not the JSON of `tierbench tiers detect --json` (no tiers list)")
        tiers = {}
        for t in listed:
            name = t["name"]
            if name not in paths:
                raise UserError(f"--host-detect {file}: tier {name!r} is not one of this run's "
                                f"({', '.join(paths)})")
            want = paths[name][host.name]
            if os.path.normpath(str(t.get("path"))) != os.path.normpath(want):
                raise UserError(f"--host-detect {file}: tier {name} was detected at {t.get('path')}, but the run "
                                f"uses {want} on {host.name}")
            for field in ("capacity_bytes", "nominal_capacity_bytes"):
                v = t.get(field)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                    raise UserError(f"--host-detect {file}: tier {name}: {field} {v!r:.30} is not a byte count")
            tiers[name] = {k: t.get(k) for k in _DETECTED_FIELDS}
        out[host.name] = {"source": Path(file).name, "tiers": tiers}
    return out


def host_capacity(host: dict, tier: str) -> Optional[int]:
    """The capacity for IOPS per GB of `tier` on a fleet host (its record in the run document): what
    `tiers detect` said there (nominal if declared, else the device's); None where nothing was detected."""
    t = ((host.get("detected") or {}).get("tiers") or {}).get(tier) or {}
    return t.get("nominal_capacity_bytes") or t.get("capacity_bytes")
