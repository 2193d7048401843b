"""A stored trace as tables (`tierbench record`, `tierbench show TRACE`): what was traced, the tracer's overhead,
and the characterisation (bench.analysis.trace_profile)."""
from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from bench.core.output import fmt_number
from bench.core.units import fmt_bytes

__all__ = ["print_trace", "replay_lines"]

_COMPACT = dict(box=box.SIMPLE_HEAD, collapse_padding=True, show_edge=False, pad_edge=False)


def _q(d: dict, unit: str) -> str:
    if not d or not d.get("count"):
        return "none"
    f = (lambda v: fmt_bytes(v)) if unit == "B" else (lambda v: f"{fmt_number(v)} s")
    return f"p50 {f(d['p50'])}, p90 {f(d['p90'])}, max {f(d['max'])} over {d['count']} reads"


def print_trace(console, doc: dict) -> None:
    t = doc.get("trace") or {}
    tot = t.get("totals") or {}
    what = " ".join(t.get("command") or []) or t.get("file") or "?"
    console.print(escape(f"trace {doc['run_id']} ({t.get('source')}): {what}"), soft_wrap=True)
    console.print(f"  {tot.get('ops_read', 0)} reads {fmt_bytes(tot.get('bytes_read', 0))}, "
                  f"{tot.get('ops_written', 0)} writes {fmt_bytes(tot.get('bytes_written', 0))}, "
                  f"{tot.get('syncs', 0)} syncs, {tot.get('files', 0)} files "
                  + escape(str(t.get("classes") or {})))
    o = t.get("overhead")
    if o:
        console.print(f"  tracer overhead: wall {fmt_number(o.get('untraced_wall_s'))} s untraced, "
                      f"{fmt_number(o.get('traced_wall_s'))} s traced (x{fmt_number(o.get('wall_ratio'))}); "
                      f"CPU {fmt_number(o.get('untraced_cpu_s'))} s untraced, {fmt_number(o.get('traced_cpu_s'))} s "
                      f"traced with strace (x{fmt_number(o.get('cpu_ratio'))})")
    parse = t.get("parse") or {}
    if parse.get("unparsed_lines"):
        console.print(f"  [yellow]{parse['unparsed_lines']} traced call(s) could not be read[/yellow]")
    if doc.get("error"):
        console.print(f"  [red]failed[/red] {escape(doc['error'])}")
    p = t.get("profile")
    if not p:
        return
    table = Table(title="ops and bytes by file class", title_justify="left", **_COMPACT)
    for col in ("class", "op", "ops", "bytes"):
        table.add_column(col, justify="left" if col in ("class", "op") else "right")
    for r in p["by_class_op"]:
        table.add_row(r["class"], r["op"], str(r["ops"]), fmt_bytes(r["bytes"]) if r["bytes"] else "-")
    console.print(table)
    sizes = Table(title="request sizes", title_justify="left", **_COMPACT)
    for col in ("up to", "reads", "writes"):
        sizes.add_column(col, justify="right")
    for r in p["request_sizes"]:
        sizes.add_row(fmt_bytes(r["bytes"]), str(r["reads"]), str(r["writes"]))
    console.print(sizes)
    share = p.get("sequential_ops_share")
    console.print(f"sequential: {'-' if share is None else f'{share:.1%}'} of reads and writes, "
                  f"{'-' if p.get('sequential_bytes_share') is None else format(p['sequential_bytes_share'], '.1%')}"
                  " of their bytes")
    console.print(f"read after write: {_q(p['read_after_write_s'], 's')}; "
                  f"bytes moved in between: {_q(p['read_after_write_bytes'], 'B')}")
    tf = p["temp_files"]
    life = tf["lifetime_s"]
    console.print(f"temp files: {tf['count']} ({fmt_bytes(tf['bytes_written'])} written), "
                  f"{tf['written_once_read_once']} written once and read once; lifetime "
                  + ("-" if not life["count"] else f"p50 {fmt_number(life['p50'])} s, max {fmt_number(life['max'])} s"))


def replay_lines(doc: dict) -> list:
    """One line per replay case: what fio replayed (reads, writes: ops and bytes, over its classes) beside what
    the trace holds, and whether they match exactly (a case whose replay differs has failed, saying how)."""
    want = (doc.get("replay_of") or {}).get("totals") or {}
    out = []
    for c in doc.get("cases", []):
        if not str(c.get("workload", "")).startswith("replay:"):
            continue
        got = {k: sum(p.get(k, 0) for p in c.get("phases") or []) for k in
               ("ops_read", "bytes_read", "ops_written", "bytes_written")}
        trace = (f"trace {want.get('ops_read')} reads {want.get('bytes_read')} B, {want.get('ops_written')} writes "
                 f"{want.get('bytes_written')} B")
        if c.get("error"):
            out.append(f"case {c['id']} on {c['tier']}: failed ({c['error']}); {trace}")
            continue
        exact = all(got[k] == want.get(k) for k in got)
        out.append(f"case {c['id']} on {c['tier']}: replayed {got['ops_read']} reads {got['bytes_read']} B, "
                   f"{got['ops_written']} writes {got['bytes_written']} B; {trace}: "
                   + ("exact" if exact else "DIFFERS"))
    return out
