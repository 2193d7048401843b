"""Figures over time and against queue depth (fio-plot's two views):

- over_time_figure / section_over_time: IOPS and p99 latency per interval of each case, steady-state windows
  shaded, one x scale for every case so that their lengths compare. Input: a polars DataFrame of per-interval
  figures with these columns (one row per case, interval end and direction):
      case         int    the case's `id` in the run document
      t_s          float  seconds since the case's measurement began, at the end of the interval
      direction    str    "read", "write" or "total"
      iops         float  I/O operations per second in the interval (null: not measured)
      bytes_per_s  float  bytes per second in the interval (null: not measured)
      lat_p99_us   float  99th percentile completion latency in the interval, microseconds (null: no completion
                          or not measured)
  and steady-state windows as {case id: [(start_s, end_s), ...]} on the same clock.
- sweep_series / section_sweeps: an iodepth or numjobs sweep from the run documents themselves: IOPS and p99
  latency against the swept parameter, one line per tier, median over repeats with a min-max whisker.

Axes follow bench.reporting.html.axes (linear from zero unless the data span more than two decades).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from bench.analysis.compare import metric_values
from bench.analysis.stats import median
from bench.core.case import case_key, case_key_dict
from bench.reporting.html.axes import chunks, colour, value_axis
from bench.reporting.html.elements import case_texts, esc, group_by_case, img

FRAME_COLUMNS = ("case", "t_s", "direction", "iops", "bytes_per_s", "lat_p99_us")
SWEPT = ("iodepth", "numjobs")


def check_frame(frame) -> None:
    """ValueError naming the missing columns when `frame` is not the per-interval table above."""
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"per-interval figures lack column(s) {', '.join(missing)} (need {', '.join(FRAME_COLUMNS)})")


def _values(rows, name):
    return [float("nan") if r[name] is None else float(r[name]) for r in rows]


def over_time_figure(frame, case_id: int, label: str, steady=(), t_max: float = None) -> Figure:
    """IOPS (top) and p99 latency (bottom) against time for one case, a line per direction, steady-state windows
    shaded; t_max: the x limit shared with the other cases' charts (default: this case's last interval)."""
    import polars as pl

    check_frame(frame)
    part = frame.filter(pl.col("case") == case_id).sort("t_s")
    directions = list(dict.fromkeys(part["direction"].to_list()))
    fig = Figure(figsize=(10, 4.6))
    ax_iops, ax_lat = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2, sharex=None)
    drawn_iops, drawn_lat = [], []
    for j, direction in enumerate(directions[:8]):
        rows = part.filter(pl.col("direction") == direction).to_dicts()
        t = [r["t_s"] for r in rows]
        iops, lat = _values(rows, "iops"), _values(rows, "lat_p99_us")
        ax_iops.plot(t, iops, marker="o" if len(t) < 30 else None, ms=3, lw=1.2, label=direction, color=colour(j))
        ax_lat.plot(t, lat, marker="o" if len(t) < 30 else None, ms=3, lw=1.2, label=direction, color=colour(j))
        drawn_iops += [v for v in iops if v == v]
        drawn_lat += [v for v in lat if v == v]
    last = t_max if t_max is not None else (max(part["t_s"].to_list()) if part.height else 1.0)
    for ax in (ax_iops, ax_lat):
        for k, (start, end) in enumerate(steady):
            ax.axvspan(start, end, color="#009E73", alpha=.15, lw=0,
                       label="steady state" if k == 0 else None)
        ax.set_xlim(0, last or 1.0)
        ax.grid(alpha=.3)
    value_axis(ax_iops, drawn_iops, "IOPS (per s)")
    if drawn_lat:
        value_axis(ax_lat, drawn_lat, "p99 latency (us)")
    else:
        ax_lat.set_ylabel("p99 latency (us)")
        ax_lat.text(0.5, 0.5, "p99 per interval: not measured", transform=ax_lat.transAxes, ha="center",
                    color="#900")
    ax_lat.set_xlabel("time since the case's measurement began (s)")
    ax_iops.set_title(f"{label}: IOPS and p99 latency per interval")
    if ax_iops.lines:
        ax_iops.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def section_over_time(docs, frames: dict, steady: dict = None) -> str:
    """Per run with per-interval figures ({run_id: DataFrame}): one chart per case, all on one x scale.
    steady: {run_id: {case id: [(start_s, end_s)]}}."""
    steady = steady or {}
    out = []
    t_max = max((float(f["t_s"].max()) for f in frames.values() if f is not None and f.height), default=None)
    for d in docs:
        frame = frames.get(d.get("run_id"))
        if frame is None or not frame.height:
            continue
        check_frame(frame)
        texts = case_texts(d)
        by_id = {c.get("id"): c for c in d.get("cases") or []}
        figures = []
        for case_id in sorted(set(frame["case"].to_list())):
            case = by_id.get(case_id)
            label = texts[case_key(case)] if case is not None else f"case {case_id}"
            fig = over_time_figure(frame, case_id, label, steady.get(d.get("run_id"), {}).get(case_id, ()), t_max)
            figures.append(img(fig, f"over time {d.get('run_id')} case {case_id}"))
        if figures:
            out.append(f"<h3>{esc(d.get('run_id'))}</h3>" + "".join(figures))
    return "".join(out)


def sweep_series(doc: dict) -> list:
    """[{workload, param, fixed, tiers: {tier: [(x, iops (median, min, max), p99 (median, min, max))]}}]:
    every set of pattern cases that differ only in their tier and one swept parameter (iodepth or numjobs), with
    two or more values of it."""
    sweeps: dict = {}
    for key, cases in group_by_case(doc).items():
        ident = case_key_dict(key)
        if ident["engine"] in ("job", "spark") or ident["temp_tier"] is not None or ident["label"]:
            continue
        for param in SWEPT:
            x = ident["params"].get(param)
            if not isinstance(x, (int, float)) or isinstance(x, bool):
                continue
            fixed = tuple(sorted((k, repr(v)) for k, v in ident["params"].items() if k != param))
            rest = (ident["workload"], ident["engine"], ident["workers"], ident["cache"], ident["memory_mb"],
                    ident.get("host"), param, fixed)
            points = sweeps.setdefault(rest, {}).setdefault(ident["tier"], [])
            iops, p99 = metric_values(cases, "iops"), metric_values(cases, "lat_p99_us")
            points.append((x, _spread(iops), _spread(p99)))
    out = []
    for (workload, engine, *_, param, fixed), tiers in sweeps.items():
        if len({x for pts in tiers.values() for x, *_ in pts}) < 2:
            continue
        out.append({"workload": workload, "engine": engine, "param": param,
                    "fixed": ", ".join(f"{k}={v}" for k, v in fixed if k in ("bs", "block_size", "rw", "direct")),
                    "tiers": {t: sorted(p) for t, p in tiers.items()}})
    return out


def _spread(values) -> tuple:
    return (median(values), min(values), max(values)) if values else (None, None, None)


def sweep_figure(sweep: dict, run_id: str = "") -> Figure:
    """fio-plot's view of one sweep: IOPS and p99 latency against the swept parameter, a line per tier (at most
    8 a panel, more in further panels on the same scales), median with a min-max whisker over repeats."""
    tiers = sorted(sweep["tiers"].items())
    panels = chunks(tiers)
    xs = [x for _, pts in tiers for x, *_ in pts]
    fig = Figure(figsize=(10, 3.8 * len(panels)))
    all_iops = [v for _, pts in tiers for _, i, _ in pts for v in i if v is not None]
    all_lat = [v for _, pts in tiers for *_, p in pts for v in p if v is not None]
    for row, part in enumerate(panels):
        ax_i, ax_l = fig.add_subplot(len(panels), 2, 2 * row + 1), fig.add_subplot(len(panels), 2, 2 * row + 2)
        for j, (tier, pts) in enumerate(part):
            for ax, idx in ((ax_i, 1), (ax_l, 2)):
                have = [(p[0], p[idx]) for p in pts if p[idx][0] is not None]
                if not have:
                    continue
                px = [x for x, _ in have]
                med = [s[0] for _, s in have]
                ax.errorbar(px, med, yerr=[[m - s[1] for m, (_, s) in zip(med, have)],
                                           [s[2] - m for m, (_, s) in zip(med, have)]],
                            marker="o", ms=4, lw=1.4, capsize=3, label=str(tier), color=colour(j))
        for ax in (ax_i, ax_l):
            value_axis(ax, xs, f"{sweep['param']} (I/Os in flight per job)" if sweep["param"] == "iodepth"
                       else f"{sweep['param']} (jobs)", axis="x")
            ax.set_xticks(sorted(set(xs)), [f"{x:g}" for x in sorted(set(xs))])
            ax.grid(alpha=.3)
            if ax.lines:
                ax.legend(fontsize=8, title="tier", title_fontsize=8)
        value_axis(ax_i, all_iops, "IOPS (per s)")
        value_axis(ax_l, all_lat, "p99 latency (us)")
    fixed = f" ({sweep['fixed']})" if sweep["fixed"] else ""
    fig.suptitle(f"{run_id + ': ' if run_id else ''}{sweep['workload']} against {sweep['param']}{fixed}; "
                 f"median over repeats, whisker min-max")
    fig.tight_layout()
    return fig


def section_sweeps(docs) -> str:
    out = []
    for d in docs:
        for sweep in sweep_series(d):
            fig = sweep_figure(sweep, str(d.get("run_id")) if len(docs) > 1 else "")
            out.append(img(fig, f"sweep {d.get('run_id')} {sweep['workload']} {sweep['param']}"))
    return "".join(out)


def stored_frames(docs, folders: dict) -> tuple:
    """({run_id: frame}, {run_id: {case id: [(start_s, end_s)]}}) from each run's intervals.parquet
    (bench.store.intervals.read_intervals) for section_over_time: every case's rows (a fleet host's are its own
    case document's, on that host's clock), t_s the end of each interval, and a steady-state case's deciding window as the span of its window's rounds."""
    import polars as pl

    from bench.store.intervals import read_intervals

    frames, steady = {}, {}
    for d in docs:
        folder = (folders or {}).get(d.get("run_id"))
        if folder is None:
            continue
        raw = read_intervals(folder)
        if not raw.height:
            continue
        frames[d.get("run_id")] = raw.select("case", pl.col("t_end_s").alias("t_s"), "direction", "iops",
                                               "bytes_per_s", "lat_p99_us")
        windows = {}
        for case in d.get("cases") or []:
            win = (case.get("steady_state") or {}).get("window")
            if not win or case.get("id") is None:
                continue
            rows = raw.filter((pl.col("case") == case["id"]) & pl.col("round").is_between(win[0], win[1]))
            if rows.height:
                windows[case["id"]] = [(float(rows["t_start_s"].min()), float(rows["t_end_s"].max()))]
        steady[d.get("run_id")] = windows
    return frames, steady
