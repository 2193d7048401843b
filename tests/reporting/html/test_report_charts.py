"""The report's charts do not mislead: each chart is rendered from real run documents (made by the CLI:
tests/data/report/README.md and tests/data/scenario/README.md say how) and checked through matplotlib's objects,
not pixels: the axis rule (linear from zero unless the data span more than two decades, then log and labelled
so), a unit on every axis, whiskers, the ideal scaling line, at most 8 series a chart in the colour-blind-safe
palette, and one x scale for charts meant to be compared."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure

from bench.reporting.html import collect_figures, render_report
from bench.reporting.html.axes import MAX_SERIES, PALETTE, needs_log, value_axis
from bench.reporting.html.timeseries import FRAME_COLUMNS, over_time_figure, sweep_series

DATA = Path(__file__).resolve().parents[2] / "data"
SCENARIO = DATA / "scenario"
REPORT = DATA / "report"


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def _figures(*docs) -> list:
    with collect_figures() as figures:
        render_report(list(docs))
    return figures


def _by_alt(figures, prefix: str) -> list:
    return [fig for alt, fig in figures if alt.startswith(prefix)]


ALL_REPORTS = {
    "scenario": lambda: [_doc(SCENARIO / "quick-3.json")],
    "spark-scenario": lambda: [_doc(SCENARIO / "quick-spark-1.json")],
    "regression-pair": lambda: [_doc(REPORT / "regression-base.json"), _doc(REPORT / "regression-new.json")],
    "two-machines": lambda: [_doc(REPORT / "machine-a.json"), _doc(REPORT / "machine-b.json")],
    "sweep": lambda: [_doc(REPORT / "sweep-2tiers.json")],
    "spark-run": lambda: [_doc(REPORT / "spark-terasort.json")],
    "two-scenarios": lambda: [_doc(SCENARIO / "quick-1.json"), _doc(SCENARIO / "quick-3.json")],
}


_RENDERED: dict = {}


def _report(name: str) -> list:
    """The figures of one of ALL_REPORTS, rendered once per test session (a report takes seconds to draw)."""
    if name not in _RENDERED:
        _RENDERED[name] = _figures(*ALL_REPORTS[name]())
    return _RENDERED[name]


@pytest.fixture(params=sorted(ALL_REPORTS))
def report_figures(request):
    return request.param, _report(request.param)


def _drawn_series(ax) -> list:
    """The data series of an axes: lines that carry a label of their own, and bar groups."""
    lines = [ln for ln in ax.get_lines() if not str(ln.get_label()).startswith("_")
             and "ideal" not in str(ln.get_label())]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    return lines + bars


def test_every_axis_has_a_label_with_a_unit_or_a_name(report_figures):
    name, figures = report_figures
    assert figures, name
    for alt, fig in figures:
        for ax in fig.axes:
            if not ax.get_visible() or not (ax.has_data() or ax.texts):
                continue
            assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), (name, alt, ax.get_title())


def test_value_axes_follow_the_rule(report_figures):
    """Linear from zero unless the values drawn span more than two decades; then log, and the label says so."""
    name, figures = report_figures
    checked = 0
    for alt, fig in figures:
        for ax in fig.axes:
            for axis in ("y", "x"):
                scale = ax.get_yscale() if axis == "y" else ax.get_xscale()
                label = ax.get_ylabel() if axis == "y" else ax.get_xlabel()
                low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
                if scale == "log":
                    assert "log scale" in label, (name, alt, label)
                    checked += 1
                elif scale == "linear" and not label.startswith(("percentile", "case", "scenario step", "tier",
                                                                  "run: tier", "machine")):
                    assert low == 0, (name, alt, axis, label, low)
                    checked += 1
    assert checked, name


def _colour_of(series) -> str:
    colour = series.get_color() if hasattr(series, "get_color") else series.patches[0].get_facecolor()
    return to_hex(colour).upper()


def test_at_most_eight_series_a_chart_in_the_safe_palette(report_figures):
    """A series is a colour (a chart may draw one series in several artists: a stacked bar per case)."""
    name, figures = report_figures
    palette = {c.upper() for c in PALETTE}
    for alt, fig in figures:
        for ax in fig.axes:
            colours = {_colour_of(s) for s in _drawn_series(ax)}
            assert len(colours) <= MAX_SERIES, (name, alt, len(colours))
            assert colours <= palette, (name, alt, colours - palette)


def test_iops_per_gb_bars_have_whiskers_and_the_axis_rule():
    # quick-3: hdd 0.019, nvme ~10, optane ~150 IOPS/GB: four decades, so a labelled log axis.
    (fig,) = _by_alt(_report("scenario"), "IOPS per GB")
    (ax,) = fig.axes
    heights = [p.get_height() for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]
    assert needs_log(heights) and ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    assert "IOPS per GB supplied" in ax.get_ylabel() and "10^9 bytes" in ax.get_ylabel()
    assert any(isinstance(c, ErrorbarContainer) for c in ax.containers)
    # Two directory tiers a few times apart (the regression pair's nvme alone, or disk and memory): linear from 0.
    (fig,) = _by_alt(_report("two-machines"), "IOPS per GB")
    for ax in fig.axes:
        heights = [p.get_height() for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]
        if not needs_log(heights):
            assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_scaling_chart_has_the_ideal_line_and_units():
    (fig,) = _by_alt(_report("scenario"), "scaling curves")
    throughput, efficiency = fig.axes[0], fig.axes[1]
    labels = [str(ln.get_label()) for ln in throughput.get_lines()]
    assert any(label.startswith("ideal") for label in labels)
    ideal = next(ln for ln in throughput.get_lines() if str(ln.get_label()).startswith("ideal"))
    one = next(ln for ln in throughput.get_lines() if not str(ln.get_label()).startswith(("ideal", "_")))
    # The ideal line passes through the 1-worker point and doubles at 2 workers.
    xs, ys = list(ideal.get_xdata()), list(ideal.get_ydata())
    assert ys[xs.index(2)] == pytest.approx(2 * ys[xs.index(1)])
    assert list(one.get_ydata())[0] == pytest.approx(ys[xs.index(1)])
    assert "sorted MB/s" in throughput.get_ylabel() and throughput.get_yscale() == "linear"
    assert throughput.get_ylim()[0] == 0 and throughput.get_xlim()[0] == 0
    assert "workers" in throughput.get_xlabel()
    assert any(list(ln.get_ydata()) == [1.0, 1.0] for ln in efficiency.get_lines())   # ideal efficiency


def test_phase_charts_of_two_runs_share_one_x_scale():
    figures = _by_alt(_report("two-scenarios"), "phases per case")
    assert len(figures) == 2
    (a,), (b,) = (f.axes for f in figures)
    assert a.get_xlim() == b.get_xlim() and a.get_xlim()[0] == 0
    longest = max(p.get_x() + p.get_width() for ax in (a, b) for p in ax.patches)
    assert a.get_xlim()[1] >= longest


def test_latency_panels_share_the_x_scale_and_hold_at_most_eight_curves():
    # The regression pair has 8 read curves (2 runs x 2 tiers x 2 iodepths); the scenario 3.
    figures = _by_alt(_report("scenario") + _report("regression-pair"), "latency percentile")
    for fig in figures:
        limits = {ax.get_xlim() for ax in fig.axes}
        assert len(limits) == 1
        for ax in fig.axes:
            assert len(_drawn_series(ax)) <= MAX_SERIES and "latency (us" in ax.get_xlabel()


def test_monitor_charts_have_no_empty_axes_and_count_repeats_from_one():
    figures = _report("two-machines") + _report("scenario")
    monitors = [(alt, fig) for alt, fig in figures if alt.startswith("monitor ")]
    assert monitors
    for alt, fig in monitors:
        for ax in fig.axes:
            assert ax.get_lines() or ax.collections, (alt, ax.get_title())
        title = fig._suptitle.get_text()
        assert "repeat 0 of" not in title, title
    # A tier with no block device behind it (tmpfs): the CPU chart alone, and the caption says why.
    memory = [fig for alt, fig in monitors if "memory" in alt]
    assert memory and all(len(fig.axes) == 1 and "no block device" in fig._suptitle.get_text() for fig in memory)


def test_sweep_chart_is_one_line_per_tier_against_iodepth():
    doc = _doc(REPORT / "sweep-2tiers.json")
    (sweep,) = sweep_series(doc)
    assert sweep["param"] == "iodepth" and set(sweep["tiers"]) == {"a", "b"}
    (fig,) = _by_alt(_report("sweep"), "sweep ")
    iops_ax, lat_ax = fig.axes
    for ax in (iops_ax, lat_ax):
        assert "iodepth" in ax.get_xlabel() and ax.get_xlim()[0] == 0
        assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["a", "b"]
        assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 2
    assert "IOPS" in iops_ax.get_ylabel() and "p99 latency (us)" in lat_ax.get_ylabel()
    # Each point is the median over the repeats of that tier and iodepth.
    import statistics
    for container in iops_ax.containers:
        tier = container.get_label()
        xs, ys = container.lines[0].get_data()
        for x, y in zip(xs, ys):
            values = [c["metrics"]["iops"] for c in doc["cases"]
                      if c["tier"] == tier and c["params"]["iodepth"] == x and not c["error"]]
            assert y == pytest.approx(statistics.median(values))


def _frame_from_monitor(doc: dict):
    """Per-interval figures in the documented frame layout, taken from a real case's monitor series (the device's
    read IOPS each interval): the over-time chart's input until the per-interval Parquet file lands."""
    import polars as pl

    rows = []
    for case in doc["cases"]:
        series = (case.get("monitor") or {}).get("series") or {}
        iops = next((v for k, v in series.items() if k.endswith("_read_iops")), None)
        if case["error"] or not iops:
            continue
        for t, v in zip(series["t_s"], iops):
            rows.append({"case": case["id"], "t_s": float(t), "direction": "read", "iops": v,
                         "bytes_per_s": None if v is None else v * 4096.0, "lat_p99_us": None})
    return pl.DataFrame(rows, schema={"case": pl.Int64, "t_s": pl.Float64, "direction": pl.Utf8,
                                      "iops": pl.Float64, "bytes_per_s": pl.Float64, "lat_p99_us": pl.Float64})


def test_over_time_chart_shades_steady_state_and_shares_the_x_scale():
    frame = _frame_from_monitor(_doc(SCENARIO / "quick-3.json"))
    assert tuple(frame.columns) == FRAME_COLUMNS and frame.height > 4
    case_id = frame["case"][0]
    t = frame.filter(frame["case"] == case_id)["t_s"].to_list()
    fig = over_time_figure(frame, case_id, "iops-hdd", steady=[(t[0], t[-1])], t_max=max(frame["t_s"]))
    assert isinstance(fig, Figure)
    iops_ax, lat_ax = fig.axes
    assert iops_ax.get_xlim() == lat_ax.get_xlim() == (0, max(frame["t_s"]))
    assert any(p.get_label() == "steady state" for p in iops_ax.patches)
    assert "IOPS" in iops_ax.get_ylabel() and "time" in lat_ax.get_xlabel()
    assert any("not measured" in t.get_text() for t in lat_ax.texts)   # no p99 per interval in this input
    with pytest.raises(ValueError, match="lat_p99_us"):
        over_time_figure(frame.drop("lat_p99_us"), case_id, "x")


def test_value_axis_rule():
    fig = Figure()
    ax = fig.add_subplot()
    assert value_axis(ax, [3.0, 250.0], "IOPS (per s)") == "linear" and ax.get_ylim()[0] == 0
    assert value_axis(ax, [0.5, 51.0], "IOPS (per s)") == "log" and ax.get_ylabel() == "IOPS (per s), log scale"
    assert value_axis(ax, [None, 0.0], "x") == "linear"     # nothing measured: an empty linear axis, not a crash
