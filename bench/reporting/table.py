"""The run table: one row per case (the one case identity, bench.core.case.case_key), medians over repeats.

Rows name a scenario step by its label and show only what varies between the cases of a workload (parameters,
workers, cache, container, engine); what is the same in every row of a workload is said once, in the table's
title, so that a scenario run's table fits 160 columns."""
from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bench.analysis.stats import median
from bench.core.case import case_key, case_key_dict
from bench.core.output import WIDE, fmt_number
from bench.reporting.quantities import (
    DEMANDED,
    IO_MBPS,
    QUANTITIES,
    SORTED_MBPS,
    SUPPLIED,
    group_figures,
    is_job,
)

# Two spaces between columns, a rule under the header, no frame: wide tables stay readable in 160 columns.
_COMPACT = dict(box=box.SIMPLE_HEAD, collapse_padding=True, show_edge=False, pad_edge=False)

def _value(metrics: dict, key: str):
    if key == "bytes_per_s":
        parts = [metrics.get("read_bytes_per_s"), metrics.get("write_bytes_per_s")]
        parts = [p for p in parts if p is not None]
        return sum(parts) if parts else None
    return metrics.get(key)


def grouped(doc: dict) -> "OrderedDict":
    """{model.case_key: [case, ...]} in document order (the same groups as bench.analysis.compare.group_cases)."""
    groups = OrderedDict()
    for c in doc.get("cases", []):
        groups.setdefault(case_key(c), []).append(c)
    return groups


def median_metric(cases: list, key: str):
    values = [v for v in (_value(c.get("metrics") or {}, key) for c in cases if not c.get("error"))
              if v is not None]
    return median(values)


def supplied_iops_per_gb(doc: dict) -> dict:
    """{tier: IOPS per GB it supplies}: the best median of the run's rand-read-4k groups on that tier."""
    out = {}
    for key, cases in grouped(doc).items():
        ident = case_key_dict(key)
        value = median_metric(cases, "iops_per_gb") if ident["workload"] == "rand-read-4k" else None
        if value is not None:
            out[ident["tier"]] = max(out.get(ident["tier"], 0.0), value)
    return out


_HIDDEN_PARAMS = ("document", "groupid")  # an imported fio file's name and job group: not parameters to read
_ABSENT = object()


def _fields(ident: dict) -> dict:
    """A case's identity as {name: text}, in reading order, for what may vary between rows: engine, params
    (numjobs left out where it is the worker count), workers, cache, container; unset ones left out."""
    out = {"engine": ident["engine"]}
    for k, v in ident["params"].items():
        if k not in _HIDDEN_PARAMS and v is not None and not (k == "numjobs" and v == ident["workers"]):
            out[k] = v
    out["workers"] = ident["workers"]
    out["cache"] = "cache" if ident["cache"] else None
    out["container"] = f"{ident['memory_mb']}MB" if ident["memory_mb"] else None
    return {k: v for k, v in out.items() if v is not None}


def _text(fields: dict) -> str:
    return " ".join(v if k == "cache" else f"{k}={v}" for k, v in fields.items())


def varying(idents: list) -> tuple:
    """([row text of what varies within its workload], {workload: text of what all its rows share}).

    A field (engine, a parameter, workers, cache, container) that has one value in every case of a workload
    is said once for the workload; one that differs (or is set in some cases only) is said in each row."""
    per_workload: dict = {}
    for ident in idents:
        per_workload.setdefault(ident["workload"], []).append(_fields(ident))
    shared, rows = {}, []
    for workload, all_fields in per_workload.items():
        names = list(dict.fromkeys(k for f in all_fields for k in f))
        same = {k for k in names if len({repr(f.get(k, _ABSENT)) for f in all_fields}) == 1}
        shared[workload] = _text({k: all_fields[0][k] for k in names if k in same})
    for ident in idents:
        fields = _fields(ident)
        group = per_workload[ident["workload"]]
        names = {k for f in group for k in f}
        same = {k for k in names if len({repr(f.get(k, _ABSENT)) for f in group}) == 1}
        rows.append(_text({k: v for k, v in fields.items() if k not in same}) or "-")
    return rows, shared


def _tiers_text(doc: dict) -> str:
    parts = []
    for t in doc.get("tiers", []):
        cls = t.get("class")
        parts.append(f"{t['name']} ({'emulated ' if t.get('emulated') else ''}{cls})" if cls and (t.get("emulated")
                     or cls != t["name"]) else str(t["name"]))
    return "tiers: " + ", ".join(parts) if parts else ""


CHECKSUM_MARK = " (crc)"
CHECKSUM_NOTE = ("(crc): the builtin engine computed HDFS CRC32C checksums that fio does not, so the fio/builtin "
                 "ratio compares different work; rerun with --param checksums=false to compare the I/O alone")
QUEUE_MARK = " (qd)"
QUEUE_NOTE = ("(qd): buffered I/O with iodepth > 1: fio's psync keeps one I/O in flight per job, the builtin engine "
              "runs iodepth threads, so the fio/builtin ratio compares different concurrency; compare engines at "
              "iodepth=1 or with direct=true (both then keep iodepth I/Os in flight)")


def _computed_checksums(cases: list) -> bool:
    """Whether a builtin case group computed checksums (its phase records count them)."""
    return any((p.get("checksums") or 0) > 0 for c in cases if not c.get("error") for p in c.get("phases") or [])


def _concurrency_differs(workload: str, params: dict) -> bool:
    """Whether the engines ran this pattern at different concurrency: a buffered phase with iodepth > 1, which
    fio runs with psync (one I/O in flight per job, bench/engines/fio/job.py) and the builtin engine with `iodepth`
    threads per job (bench/core/pattern.py). Read from the pattern the workload builds from the case's params."""
    import workloads

    try:
        w = workloads.get(workload)
        if w.kind != "pattern":
            return False
        pattern = w.build(workloads.coerce_params(w, params))
    except (KeyError, ValueError):
        # A workload or parameter this version no longer has: the case's own params are all that is known.
        return params.get("direct") is False and (params.get("iodepth") or 1) > 1
    return any(not phase.direct and phase.iodepth > 1 for phase in pattern.phases)


def _engine_ratio(groups: dict, key: tuple, ident: dict, cases: list) -> tuple:
    """(fio/builtin IOPS ratio text with its marks, {marks}) for a fio or builtin case whose twin ran too."""
    if ident["engine"] not in ("fio", "builtin"):
        return "-", set()
    twin = case_key(dict(ident, engine="builtin" if ident["engine"] == "fio" else "fio"))
    other = groups.get(twin)
    mine, theirs = median_metric(cases, "iops"), median_metric(other or [], "iops")
    if not (mine and theirs):
        return "-", set()
    ratio = f"{(mine / theirs if ident['engine'] == 'fio' else theirs / mine):.2f}"
    marks = set()
    if _computed_checksums(cases if ident["engine"] == "builtin" else other):
        ratio += CHECKSUM_MARK
        marks.add(CHECKSUM_MARK)
    if _concurrency_differs(ident["workload"], ident["params"]):
        ratio += QUEUE_MARK
        marks.add(QUEUE_MARK)
    return ratio, marks


TIER_MARK = "tier"    # a job row shows its data tier's IOPS/GB supplied: said once, under the table
TIER_NOTE = (f"{SUPPLIED} on a job's row: what its data tier supplies (the tier's best rand-read-4k row), beside "
             f"what the job demands of it")
IDENTITY = ("step", "workload", "tier", "temp", "host", "varies")
# Number columns, the first dropped first when the table is wider than the screen (--wide keeps them all).
DROP_ORDER = ("p99.9 us", "p50 us", "device %", "fio/builtin", "CPU %", SORTED_MBPS, "wall s", DEMANDED, "n",
              SUPPLIED, "p99 us", IO_MBPS, "bound", "IOPS")
_HEADER = {IO_MBPS: "I/O\nMB/s", SORTED_MBPS: "sorted\nMB/s", SUPPLIED: "IOPS/GB\nsupplied",
           DEMANDED: "IOPS/GB\ndemanded"}


def _table_rows(doc: dict) -> tuple:
    """(titles, rows, marks, shared) of the run table: every column before any is left out."""
    groups = grouped(doc)
    supplied = supplied_iops_per_gb(doc)
    idents = [case_key_dict(key) for key in groups]
    varied, shared = varying(idents)
    rows, marks = [], set()
    for (key, cases), ident, vary in zip(groups.items(), idents, varied):
        ok = [c for c in cases if not c.get("error")]
        job = is_job(ident)
        figures = group_figures(cases, job)
        if job and figures[DEMANDED] is not None and supplied.get(ident["tier"]) is not None:
            figures[SUPPLIED] = supplied[ident["tier"]]
            marks.add(TIER_MARK)
        cells = [fmt_number(figures[name]) for name in QUANTITIES]
        verdicts = sorted({c.get("bottleneck") or "unknown" for c in ok}) or ["-"]
        ratio, flags = _engine_ratio(groups, key, ident, cases)
        marks |= flags
        n = f"{len(ok)}" + (f" ({len(cases) - len(ok)} failed)" if len(ok) < len(cases) else "")
        rows.append([ident["label"] or "-", ident["workload"], str(ident["tier"]), ident["temp_tier"] or "-",
                     ident.get("host") or "-", vary, n, *cells, "/".join(verdicts), ratio])
    titles = list(IDENTITY) + ["n", *QUANTITIES, "bound", "fio/builtin"]
    return titles, rows, marks, shared


def run_table(doc: dict, width: int = None) -> Group:
    """One row per case: step label (scenario runs), workload, tier, temp tier (jobs), host (a fleet run: a row
    per fio server and one for the fleet), what varies within the workload, repeats, medians of the figures
    (bench.reporting.quantities names them), bottleneck verdicts and the fio/builtin IOPS ratio. Columns nobody
    filled are left out. width: the screen's columns; number columns are dropped (DROP_ORDER) until the table
    fits, and the caption names them; the columns that identify a row are never cut (they wrap at spaces)."""
    titles, rows, marks, shared = _table_rows(doc)
    always = {"workload", "tier", "n"}
    keep = [i for i, title in enumerate(titles) if title in always or any(r[i] not in ("-", "unknown") for r in rows)]
    notes = [note for mark, note in ((CHECKSUM_MARK, CHECKSUM_NOTE), (QUEUE_MARK, QUEUE_NOTE), (TIER_MARK, TIER_NOTE))
             if mark in marks]
    head = [f"run {doc['run_id']} ({doc.get('status')})", _tiers_text(doc)]
    head += [f"{workload}, every row: {text}" for workload, text in shared.items() if text]

    def build(columns, dropped):
        caption = notes + ([f"left out for width: {', '.join(dropped)} (--wide shows every column)"]
                           if dropped else [])
        table = Table(**_COMPACT, caption=escape("\n".join(caption)) or None, caption_justify="left")
        for i in columns:
            title = titles[i]
            ident = title in IDENTITY
            longest_word = max((len(w) for r in rows for w in r[i].split()), default=1)
            table.add_column(_HEADER.get(title, title), justify="left" if ident or title == "bound" else "right",
                             no_wrap=ident and title != "varies", overflow="fold",
                             min_width=max(longest_word, len(title)) if ident else None)
        for r in rows:
            table.add_row(*[escape(r[i]) for i in columns])
        return table

    dropped: list = []
    if width:
        measure = Console(width=WIDE, file=io.StringIO())
        for title in DROP_ORDER:
            if measure.measure(build(keep, dropped)).maximum <= width:
                break
            index = titles.index(title)
            if index in keep:
                keep = [i for i in keep if i != index]
                dropped.append(title)
    # The title lines above the table, not as its title: a narrow table (a failed run's) would wrap them to its
    # own width.
    return Group(Text("\n".join(h for h in head if h)), build(keep, dropped))


def failures(doc: dict) -> list:
    """One line per failed case: its id, step label (scenario runs), workload, tier (data and temp tier where a
    job's temp data lives on another tier: the step is named by both) and error."""
    return [f"case {c['id']}" + (f" step {c['label']}" if c.get("label") else "")
            + f" {c['workload']} on {c['tier']}"
            + (f" (temp data on {c['temp_tier']})" if c.get("temp_tier") and c["temp_tier"] != c["tier"] else "")
            + (f" host {c['host']}" if c.get("host") else "")
            + f": {c['error']}" for c in doc.get("cases", []) if c.get("error")]


def phases_table(doc: dict):
    """Per job case group (and fio job file: a phase per reporting group, named after its jobs; a trace's replay:
    a phase per file class): each phase's wall and CPU seconds, MB moved per tier, and its verdict (medians)."""
    rows = []
    groups = grouped(doc)
    idents = [case_key_dict(key) for key in groups]
    varied, _ = varying(idents)
    for cases, ident, vary in zip(groups.values(), idents, varied):
        ok = [c for c in cases if not c.get("error") and c.get("phases")]
        if not ok or not (ident["engine"] in ("job", "spark") or str(ident["workload"]).startswith(("jobfile:", "replay:"))):
            continue
        layout = " ".join([ident["label"] or "", ident["workload"], f"data {ident['tier']}",
                           f"temp {ident['temp_tier'] or ident['tier']}",
                           f"host {ident['host']}" if ident.get("host") else "", "" if vary == "-" else vary]).strip()
        for i, phase in enumerate(ok[0]["phases"]):
            same = [c["phases"][i] for c in ok if len(c["phases"]) > i]
            med = lambda key: median([p.get(key) or 0 for p in same])  # noqa: E731
            ios = phase.get("io") or {phase.get("role", "data"): phase}
            moved = ", ".join(f"{io.get('tier')} r{(io.get('bytes_read') or 0) / 1e6:.0f}/w"
                              f"{(io.get('bytes_written') or 0) / 1e6:.0f} MB" for io in ios.values())
            rows.append([layout if i == 0 else "", phase["name"], fmt_number(med("wall_s")),
                         fmt_number(med("cpu_s")), moved,
                         "/".join(sorted({p.get("bottleneck") or "unknown" for p in same}))])
    if not rows:
        return None
    table = Table(title="phases (medians over repeats)", title_justify="left", **_COMPACT)
    for col in ("case", "phase", "wall s", "CPU s", "I/O per tier", "bound"):
        table.add_column(col, justify="right" if col in ("wall s", "CPU s") else "left")
    for r in rows:
        table.add_row(*map(escape, r))
    return table


def scaling_table(doc: dict):
    rows = doc.get("scaling") or []
    if not rows:
        return None
    table = Table(title="scaling with workers", title_justify="left", **_COMPACT)
    # bench.analysis.scaling.throughput: a sort's sorted bytes per s, else the I/O (read + write) per s.
    mbps = SORTED_MBPS if all(r["workload"] == "terasort" for r in rows) else IO_MBPS
    for col in ("workload", "tier", "workers", mbps, "speedup", "efficiency", "bound"):
        table.add_column(col, justify="right" if col in ("workers", mbps, "speedup", "efficiency") else "left")
    for r in rows:
        tier = r["tier"] + (f" / temp {r['temp_tier']}" if r.get("temp_tier") and r["temp_tier"] != r["tier"] else "")
        name = r["workload"] + (f" {r['label']}-N" if r.get("label") else "")
        table.add_row(escape(name), escape(tier), str(r["workers"]), fmt_number(r["throughput"] / 1e6),
                      f"{r['speedup']:.2f}x", f"{r['efficiency']:.0%}", r["bottleneck"])
    return table


def print_run(out, err, doc: dict, store_root) -> None:
    """The run's tables (cases, phases, scaling) and its failed cases on `out` (stdout: what `run` and `show`
    print), fitted to its width; where it is stored on `err` (stderr, a message)."""
    out.print(run_table(doc, out.width))
    for extra in (phases_table(doc), scaling_table(doc)):
        if extra is not None:
            out.print(extra)
    for line in failures(doc):
        out.print(f"[red]failed[/red] {escape(line)}", soft_wrap=False)
    if doc.get("stopped"):
        out.print(f"[red]stopped[/red] {escape(str(doc['stopped']))}", soft_wrap=False)
    for line in shared_device_lines(doc):
        out.print(f"[yellow]shared device[/yellow] {escape(line)}", soft_wrap=False)
    err.print(escape(f"stored in {Path(store_root) / doc['run_id']}"), soft_wrap=True)


def shared_device_lines(doc: dict) -> list:
    """One line per device another tierbench run used while this one ran (the document's `shared_device`)."""
    out = []
    for d in doc.get("shared_device") or []:
        runs = "; ".join(f"pid {r.get('pid')}" for r in d.get("runs") or [])
        out.append(f"{d.get('device')} (tier {', '.join(d.get('tiers') or [])}) was also used by another "
                   f"tierbench run ({runs}): "
                   f"the figures include that run's load")
    return out
