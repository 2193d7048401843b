"""tierbench serve: start or stop a fio server (`fio --server`) on this host for fleet runs (`run --host`).

A fio server runs any job file it is sent: bind it to a private address (docs/fleet.md)."""
from __future__ import annotations

import os
from pathlib import Path

NAME = "serve"
HELP = "start/stop a fio server on this host for `run --host` (bind it to a private address)"


def add_arguments(p):
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("address", metavar="ADDR[:PORT]", help="the address to listen on (port: fio's 8765)")
    p.add_argument("--pid-file", metavar="FILE", help="default: tierbench-fio-server-ADDR-PORT.pid in the temp dir")
    p.add_argument("--dir", metavar="DIR", help="the server's working directory (default: the current one)")
    p.add_argument("--log", metavar="FILE", help="the server's output (default: the pid file's name, .log)")
    p.add_argument("--allow-any-address", action="store_true",
                   help="allow 0.0.0.0 or :: (every network): a fio server runs any job sent to it")
    p.add_argument("--foreground", action="store_true",
                   help="start: run fio --server in place of this process (for systemd), no pid file")


def run(args) -> int:
    from bench.core.errors import UserError
    from bench.core.output import stderr_console
    from bench.engines.fio import server
    from bench.engines.fio.run import fio_binary
    from bench.execution.hosts import DEFAULT_PORT, parse_host

    address, port = _wildcard(args.address, DEFAULT_PORT)
    if address is None:
        try:
            host = parse_host(args.address)
        except UserError as e:      # parse_host speaks of --host; here the address is serve's argument
            raise UserError(f"serve {args.action}: " + str(e).removeprefix("--host ")) from None
        address, port = host.address, host.port
    pid_file = Path(args.pid_file) if args.pid_file else server.default_pid_file(address, port)
    if args.action == "start":
        server.check_address(address, args.allow_any_address)
        if args.foreground:
            binary = fio_binary("fio")
            if args.dir:
                os.chdir(args.dir)
            os.execv(binary, [binary, f"--server={server.server_argument(address, port)}"])
        log = Path(args.log) if args.log else pid_file.with_suffix(".log")
        info = server.start_server(address, port, pid_file, Path(args.dir or "."), log,
                                   allow_any=args.allow_any_address)
        stderr_console.print(f"fio server on {address}:{port}, pid {info['pid']}; pid file {pid_file}, log {log}",
                             soft_wrap=True)
        return 0
    if args.action == "stop":
        info = server.stop_server(pid_file)
        stderr_console.print(f"stopped the fio server on {_where(info)} (pid {info['pid']})" if info else
                             f"no fio server was running for {pid_file} (stale pid file removed)", soft_wrap=True)
        return 0
    info = server.server_status(pid_file)
    stderr_console.print(f"fio server on {_where(info)} runs, pid {info['pid']}" if info else
                         f"no fio server runs for {pid_file}", soft_wrap=True)
    return 0 if info else 1


def _where(info: dict) -> str:
    """ADDR:PORT of a server as its pid file recorded it (the command line's address may be a placeholder
    when --pid-file names the server)."""
    return f"{info['address']}:{info['port']}"


def _wildcard(text: str, default_port: int) -> tuple:
    """(wildcard address, port) for `0.0.0.0[:PORT]`, `::`, `[::][:PORT]`; (None, None) for anything else."""
    for prefix, address in (("0.0.0.0", "0.0.0.0"), ("[::]", "::")):
        if text.startswith(prefix):
            rest = text[len(prefix):]
            if not rest:
                return address, default_port
            if rest.startswith(":") and rest[1:].isdigit() and 1 <= int(rest[1:]) <= 65535:
                return address, int(rest[1:])
    return ("::", default_port) if text == "::" else (None, None)
