"""The command line. Each command is one module in bench/commands/ defining NAME, HELP,
`add_arguments(parser)` and `run(args) -> int`; this module only discovers them and maps errors to exit codes:
0 success, 1 a failed gate or a run whose cases failed, 2 bad input (one line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import signal
import sys

from bench import __version__
from bench.commands._kernel_env import check_kernel_environment
from bench.core.errors import TierbenchError, UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{self.prog.removeprefix('tierbench').strip() + ': ' if self.prog != 'tierbench' else ''}{message}")


_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """An error message as one line: line breaks that came in with the input (a file name, a --tier spec, a
    TOML key) are shown escaped, as repr() would, so that a refusal is always exactly one line on stderr."""
    return _LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], text)


def _commands():
    import bench.commands as pkg

    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"bench.commands.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tierbench", description="Storage-tier and big-data I/O benchmark harness.")
    parser.add_argument("--version", action="version", version=f"tierbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    try:
        check_kernel_environment()
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args._run(args) or 0)
    except UserError as e:
        print(f"tierbench: error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Everything is saved by now: a further Ctrl-C while Python shuts down (which resets Python-level
        # handlers to the default, and takes a while on a busy machine) would only turn exit 130 into a death.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("tierbench: interrupted", file=sys.stderr)
        return 130
    except TierbenchError as e:
        print(f"tierbench: error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
