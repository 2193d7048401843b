"""The report's figures over time (issue 24 point 3, on issue 22's intervals.parquet): a real run made by the CLI
is drawn per case, IOPS and p99 against time, on one x scale, from the run folder's per-interval figures."""
from __future__ import annotations

import polars as pl

from bench.reporting.html import collect_figures, render_report
from bench.reporting.html.timeseries import stored_frames
from bench.store.intervals import read_intervals
from tests.conftest import cli_json


def test_a_real_runs_intervals_are_drawn_per_case_on_one_time_scale(tmp_path):
    tier, store = tmp_path / "tier", tmp_path / "store"
    tier.mkdir()
    doc = cli_json("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--engine", "builtin",
                   "--param", "runtime_s=2", "--param", "size=4m", "--param", "iodepth=1,4", "--interval", "0.5",
                   "--no-live", "--results", store)
    folder = store / doc["run_id"]
    stored = read_intervals(folder)
    assert stored.height >= 2 * 3, stored      # two cases, about four half-second intervals each
    frames, steady = stored_frames([doc], {doc["run_id"]: folder})
    frame = frames[doc["run_id"]]
    assert set(frame["case"].to_list()) == {c["id"] for c in doc["cases"]}
    # t_s is each interval's end: the last one is the case's measured time, about its runtime
    assert frame.group_by("case").agg(pl.col("t_s").max())["t_s"].min() >= 1.5
    with collect_figures() as figures:
        page = render_report([doc], folders={doc["run_id"]: folder})
    assert 'id="over-time"' in page
    charts = [(alt, fig) for alt, fig in figures if alt.startswith("over time")]
    assert len(charts) == len(doc["cases"])
    limits = {fig.axes[0].get_xlim() for _, fig in charts}
    assert len(limits) == 1, limits           # one x scale for every case
    for _, fig in charts:
        iops_ax, *_, bottom = fig.axes
        assert "IOPS" in iops_ax.get_ylabel()
        for ax in fig.axes:       # the axis rule: linear from zero, or a log axis that says so
            assert ("log scale" in ax.get_ylabel()) if ax.get_yscale() == "log" else ax.get_ylim()[0] == 0
        assert all(ax.get_ylabel() for ax in fig.axes) and "(s)" in bottom.get_xlabel()
    # Without the run folder (a document passed alone) the section is left out and named once at the end.
    bare = render_report([doc])
    assert 'id="over-time"' not in bare and "Figures over time" in bare
