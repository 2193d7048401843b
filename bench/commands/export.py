"""tierbench export: a stored run, or a gate between two, in a format CI systems read; or a run as one file
(--bundle, bench.store.bundle) that `tierbench import --bundle` reads into another machine's store."""
from __future__ import annotations

import sys

from bench.core.errors import UserError
from bench.store.runs import Store

NAME = "export"
HELP = ("a run (or a BASE NEW gate) as JUnit XML, GitHub step summary, github-action-benchmark, Bencher or CSV; "
        "or a run as one file (--bundle) for another store")
DESCRIPTION = ("export RUN --format F writes a stored run; export BASE NEW --format F writes the gate between them "
               "(the same verdicts as `compare BASE NEW`, with --fail, --strict and --same-class-as); the dashboard "
               "formats (github-action-benchmark[-smaller], bencher) carry each case's median over its repeats, "
               "from NEW for a gate. Formats: docs/ci.md.")


def add_arguments(p):
    from bench.reporting.ci_formats import FORMATS

    p.add_argument("runs", nargs="+", metavar="RUN", help="a run (id, prefix, latest, tag:KEY=VALUE), or BASE NEW")
    p.add_argument("--format", choices=FORMATS, help="output format")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("--bundle", metavar="FILE",
                   help="instead of a format: write the run to FILE, a tar.gz of the run folder with a checksummed "
                        "manifest, for `tierbench import --bundle` on another store (docs/machines.md)")
    add_gate_arguments(p)
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="with --bundle: print what was written as one JSON document")


def add_gate_arguments(p):
    """The gate's options, shared by compare and export."""
    p.add_argument("--fail", action="append", default=[], metavar="EXPR",
                   help="threshold METRIC:[+-]N%%, e.g. iops:-5%%, lat_p99_us:+10%%, 'lat_*_us:+10%%' (repeatable)")
    p.add_argument("--strict", action="store_true",
                   help="an inconclusive gating metric, or a case measured on a contended machine, fails the gate")
    p.add_argument("--same-class-as", action="append", default=[], metavar="FIELD[,FIELD...]",
                   help="hardware-class fields that must match for a gate (default: cpu_model, cpus, memory_gib, "
                        "tier.class, tier.model, tier.emulation, tier.capacity; docs/ci.md)")


def gate(args, store, base_ref: str, new_ref: str) -> tuple:
    """(BASE document, NEW document, the gate's result) for compare and export."""
    from bench.analysis import compare as cmp
    from bench.analysis.machine_class import parse_fields

    fails = [cmp.parse_fail(e) for e in args.fail]
    fields = parse_fields(args.same_class_as) if args.same_class_as else None
    base, new = (cmp.load_any(r, store) for r in (base_ref, new_ref))
    return base, new, cmp.compare_runs(base, new, fails, strict=args.strict, same_class=fields)


def write_text(path, text: str, what: str = "-o") -> None:
    """Write an export to the file the user named (bench.core.outpath's rule: a regular file or a new one)."""
    from bench.core.outpath import write_output_file

    write_output_file(path, text, what=what)


def run(args) -> int:
    from bench.reporting.ci_formats import render

    store = Store(args.results)
    if args.bundle:
        if args.format or args.output or args.fail or args.strict or args.same_class_as or len(args.runs) != 1:
            raise UserError("export --bundle takes one RUN and no --format, -o or gate options")
        return _bundle(args, store)
    if not args.format:
        raise UserError("export: give --format FORMAT (or --bundle FILE)")
    if args.json:
        raise UserError("export --json goes with --bundle; --format names the output")
    if len(args.runs) == 1:
        if args.fail or args.strict or args.same_class_as:
            raise UserError("export: --fail, --strict and --same-class-as need BASE and NEW (a gate)")
        doc = store.load(args.runs[0])
        text = render(args.format, doc=doc)
    elif len(args.runs) == 2:
        _, new, result = gate(args, store, *args.runs)
        text = render(args.format, doc=new, gate=result)
    else:
        raise UserError(f"export takes RUN or BASE NEW (got {len(args.runs)} runs)")
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _bundle(args, store) -> int:
    from bench.core.output import emit_json, stderr_console
    from bench.store.bundle import export_bundle

    result = export_bundle(store, args.runs[0], args.bundle)
    if args.json:
        emit_json(result)
    else:
        stderr_console.print(f"wrote run {result['run_id']} ({result['files']} files, {result['bytes']} bytes) "
                             f"to {result['bundle']}")
    return 0
