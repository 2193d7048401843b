"""The run table: one row per case (the one case identity, bench.core.case.case_key), medians over repeats.

Rows name a scenario step by its label and show only what varies between the cases of a workload (parameters,
workers, cache, container, engine); what is the same in every row of a workload is said once, in the table's
title, so that a scenario run's table fits 160 columns."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from bench.analysis.stats import median
from bench.core.case import case_key, case_key_dict
from bench.core.output import fmt_number

# Two spaces between columns, a rule under the header, no frame: wide tables stay readable in 160 columns.
_COMPACT = dict(box=box.SIMPLE_HEAD, collapse_padding=True, show_edge=False, pad_edge=False)

COLUMNS = (("IOPS", "iops", 1), ("MB/s", "bytes_per_s", 1e-6), ("p50 us", "lat_p50_us", 1),
           ("p99 us", "lat_p99_us", 1), ("p99.9 us", "lat_p999_us", 1), ("IOPS/GB", "iops_per_gb", 1),
           ("demands\nIOPS/GB", "demanded_iops_per_gb", 1),
           ("wall s", "wall_s", 1), ("CPU %", "cpu_util", 1))


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


def run_table(doc: dict) -> Table:
    """One row per case: step label (scenario runs), workload, tier, temp tier (jobs), host (a fleet run: a row
    per fio server and one for the fleet), what varies within the
    workload, repeats, medians of the metrics, bottleneck verdicts, the fio/builtin IOPS ratio and the IOPS per GB
    the tier supplies next to what a job demands. Columns nobody filled are left out."""
    groups = grouped(doc)
    supplied = supplied_iops_per_gb(doc)
    idents = [case_key_dict(key) for key in groups]
    varied, shared = varying(idents)
    rows, marks = [], set()
    for (key, cases), ident, vary in zip(groups.items(), idents, varied):
        ok = [c for c in cases if not c.get("error")]
        cells = [fmt_number(None if (m := median_metric(cases, k)) is None else m * scale)
                 for _, k, scale in COLUMNS]
        verdicts = sorted({c.get("bottleneck") or "unknown" for c in ok}) or ["-"]
        ratio, flags = _engine_ratio(groups, key, ident, cases)
        marks |= flags
        n = f"{len(ok)}" + (f" ({len(cases) - len(ok)} failed)" if len(ok) < len(cases) else "")
        rows.append([ident["label"] or "-", ident["workload"], str(ident["tier"]), ident["temp_tier"] or "-",
                     ident.get("host") or "-", vary, n,
                     *cells, "/".join(verdicts), ratio,
                     fmt_number(supplied.get(ident["tier"]))
                     if median_metric(cases, "demanded_iops_per_gb") is not None else "-"])
    titles = (["step", "workload", "tier", "temp", "host", "varies", "n"] + [t for t, _, _ in COLUMNS]
              + ["bound", "fio/builtin", "tier\nsupplies\nIOPS/GB"])
    left = {"step", "workload", "tier", "temp", "host", "varies", "bound"}
    always = {"workload", "tier", "n"}
    keep = [i for i, title in enumerate(titles) if title in always or any(r[i] not in ("-", "unknown") for r in rows)]
    notes = [note for mark, note in ((CHECKSUM_MARK, CHECKSUM_NOTE), (QUEUE_MARK, QUEUE_NOTE)) if mark in marks]
    head = [f"run {doc['run_id']} ({doc.get('status')})", _tiers_text(doc)]
    head += [f"{workload}, every row: {text}" for workload, text in shared.items() if text]
    table = Table(title=escape("\n".join(h for h in head if h)), title_justify="left", **_COMPACT,
                  caption=escape("\n".join(notes)) or None, caption_justify="left")
    for i in keep:
        table.add_column(titles[i], justify="left" if titles[i] in left else "right")
    for r in rows:
        table.add_row(*[escape(r[i]) for i in keep])
    return table


def failures(doc: dict) -> list:
    """One line per failed case: its id, step label (scenario runs), workload, tier and error."""
    return [f"case {c['id']}" + (f" step {c['label']}" if c.get("label") else "")
            + f" {c['workload']} on {c['tier']}" + (f" host {c['host']}" if c.get("host") else "")
            + f": {c['error']}" for c in doc.get("cases", []) if c.get("error")]


def phases_table(doc: dict):
    """Per job case group (and fio job file: a phase per reporting group, named after its jobs): each phase's wall and CPU seconds, MB moved per tier, and its verdict (medians)."""
    rows = []
    groups = grouped(doc)
    idents = [case_key_dict(key) for key in groups]
    varied, _ = varying(idents)
    for cases, ident, vary in zip(groups.values(), idents, varied):
        ok = [c for c in cases if not c.get("error") and c.get("phases")]
        if not ok or not (ident["engine"] in ("job", "spark") or str(ident["workload"]).startswith("jobfile:")):
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
    for col in ("workload", "tier", "workers", "MB/s", "speedup", "efficiency", "bound"):
        table.add_column(col, justify="right" if col in ("workers", "MB/s", "speedup", "efficiency") else "left")
    for r in rows:
        tier = r["tier"] + (f" / temp {r['temp_tier']}" if r.get("temp_tier") and r["temp_tier"] != r["tier"] else "")
        name = r["workload"] + (f" {r['label']}-N" if r.get("label") else "")
        table.add_row(escape(name), escape(tier), str(r["workers"]), fmt_number(r["throughput"] / 1e6),
                      f"{r['speedup']:.2f}x", f"{r['efficiency']:.0%}", r["bottleneck"])
    return table


def print_run(console, doc: dict, store_root) -> None:
    """The run's tables (cases, phases, scaling), its failed cases and where it is stored, on `console`:
    what `run` prints on stderr when it ends and what `show` prints on stdout."""
    console.print(run_table(doc))
    for extra in (phases_table(doc), scaling_table(doc)):
        if extra is not None:
            console.print(extra)
    for line in failures(doc):
        console.print(f"[red]failed[/red] {escape(line)}")
    if doc.get("stopped"):
        console.print(f"[red]stopped[/red] {escape(str(doc['stopped']))}")
    for line in shared_device_lines(doc):
        console.print(f"[yellow]shared device[/yellow] {escape(line)}")
    console.print(escape(f"stored in {Path(store_root) / doc['run_id']}"), soft_wrap=True)


def shared_device_lines(doc: dict) -> list:
    """One line per device another tierbench run used while this one ran (the document's `shared_device`)."""
    out = []
    for d in doc.get("shared_device") or []:
        runs = "; ".join(f"pid {r.get('pid')}" for r in d.get("runs") or [])
        out.append(f"{d.get('device')} (tier {', '.join(d.get('tiers') or [])}) was also used by another "
                   f"tierbench run ({runs}): "
                   f"the figures include that run's load")
    return out
