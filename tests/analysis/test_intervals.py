"""Figures over time: fio's status reports differenced (real captured output), the figures and their check,
intervals.parquet read by Polars and DuckDB, and a real run through the CLI on both engines."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.analysis.intervals import check_interval_sums, interval_figures
from bench.core.errors import CaseError
from bench.engines.fio.intervals import interval_rows
from bench.engines.fio.parse import parse
from bench.engines.fio.records import phase_records
from bench.store.intervals import COLUMNS, read_intervals, write_intervals
from kernels.latency_bins import merge_bins
from tests.conftest import cli, needs_fio

DATA = Path(__file__).resolve().parents[1] / "data" / "fio"


def _status_report():
    return parse((DATA / "status" / "status-interval.plus.json").read_text())


def test_status_reports_difference_to_the_final_totals():
    """The intervals of a real --status-interval output add up, per phase and direction, to the final report's
    operations, bytes and latency bins exactly; none is negative; times run forward."""
    report = _status_report()
    assert report.documents == 9 and all(report.document_times_ms)
    rows = interval_rows(report)
    final = {rec["name"]: rec for rec in phase_records(report)}   # the last document's record wins
    for phase, direction, ops_key, bytes_key in (("write-phase", "write", "ops_written", "bytes_written"),
                                                  ("read-phase", "read", "ops_read", "bytes_read")):
        mine = [r for r in rows if r["phase"] == phase and r["direction"] == direction]
        assert len(mine) >= 3, "a 2 s phase reported every 0.5 s has several intervals"
        assert [r["index"] for r in mine] == list(range(len(mine)))
        assert sum(r["ops"] for r in mine) == final[phase][ops_key]
        assert sum(r["bytes"] for r in mine) == final[phase][bytes_key]
        assert all(r["ops"] >= 0 and r["active_s"] > 0 for r in mine)
        assert all(a["t_end_s"] <= b["t_start_s"] + 1e-9 for a, b in zip(mine, mine[1:]))
        merged = merge_bins(*[r["bins"] for r in mine])
        assert sum(merged.values()) == pytest.approx(sum(final[phase][f"bins_{direction}"].values()), rel=1e-3)
    # the reads start after the writes (stonewall): every read interval ends after the last write one began
    writes = [r for r in rows if r["phase"] == "write-phase"]
    reads = [r for r in rows if r["phase"] == "read-phase"]
    assert reads[0]["t_end_s"] > writes[-1]["t_start_s"]
    # the read phase is rendered as randrw with rwmixread=100: its empty write direction has no rows
    assert not [r for r in rows if r["phase"] == "read-phase" and r["direction"] == "write"]


def test_a_report_without_status_documents_is_one_interval_per_phase():
    rows = interval_rows(parse((DATA / "two-phase.plus.json").read_text()))
    assert sorted((r["phase"], r["direction"], r["index"]) for r in rows) == [
        ("read-input", "read", 0), ("write-input", "write", 0)]


def test_reports_that_go_backwards_are_refused():
    text = (DATA / "status" / "status-interval.plus.json").read_text()
    docs = text.split("\n}\n")
    swapped = docs[3] + "\n}\n" + docs[1] + "\n}\n"
    with pytest.raises(CaseError, match="go backwards"):
        interval_rows(parse(swapped))


def test_figures_are_rates_over_the_time_the_direction_ran():
    rows = [{"phase": "p", "index": 0, "direction": "read", "t_start_s": 0.0, "t_end_s": 1.0, "active_s": 0.5,
             "ops": 100, "bytes": 409600, "bins": {1000: 50, 3000: 50}},
            {"phase": "p", "index": 1, "direction": "read", "t_start_s": 1.0, "t_end_s": 2.0, "active_s": 1.0,
             "ops": 0, "bytes": 0, "bins": {}}]
    figs = interval_figures(rows, round_number=2, offset_s=10.0)
    assert figs[0]["iops"] == 200.0 and figs[0]["bytes_per_s"] == 819200.0
    assert figs[0]["lat_p50_us"] == 1.0 and figs[0]["lat_p99_us"] == 3.0
    assert figs[0]["t_start_s"] == 10.0 and figs[0]["round"] == 2
    # a stall: measured as 0 operations, its latency not measured (None, never 0)
    assert figs[1]["iops"] == 0.0 and figs[1]["lat_p99_us"] is None
    check_interval_sums(figs, 100, 0)
    with pytest.raises(CaseError, match="add up to 100 operations, its total is 110"):
        check_interval_sums(figs, 110, 0)


def test_intervals_file_reads_in_polars_and_duckdb(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    rows = [{"run_id": "r", "case": 0, "workload": "w", "tier": "t", "engine": "fio", "repeat": 0, "params": "{}",
             **fig} for fig in interval_figures([
                 {"phase": "p", "index": k, "direction": "read", "t_start_s": k, "t_end_s": k + 1.0,
                  "active_s": 1.0, "ops": 10 + k, "bytes": 4096 * (10 + k), "bins": {2000: 10 + k}}
                 for k in range(3)])]
    write_intervals(tmp_path, rows)
    df = read_intervals(tmp_path)
    assert df.columns == [name for name, _ in COLUMNS]
    assert df["ops"].to_list() == [10, 11, 12] and df["host"].null_count() == 3
    total = duckdb.sql(f"SELECT sum(ops), max(lat_p99_us) FROM '{tmp_path / 'intervals.parquet'}'").fetchall()[0]
    assert total == (33, 2.0)
    empty = read_intervals(tmp_path / "nothing")
    assert empty.height == 0 and empty.columns == df.columns


@needs_fio
def test_run_stores_intervals_that_add_up_to_each_case(tmp_path):
    """A real run on a directory tier with both engines: per case, intervals.parquet's operations add up to
    the case's total within 1% (exactly, as they count the same operations), readable by Polars and DuckDB;
    on a pipe stderr has a line per interval."""
    duckdb = pytest.importorskip("duckdb")
    tier = tmp_path / "tier"
    tier.mkdir()
    store = tmp_path / "results"
    proc = cli("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--engine", "fio", "--engine", "builtin",
               "--param", "runtime_s=2", "--param", "size=4m", "--param", "iodepth=1", "--interval", "0.5",
               "--results", store, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    run_dir = store / doc["run_id"]
    df = read_intervals(run_dir)
    assert set(df["engine"]) == {"fio", "builtin"}
    for case in doc["cases"]:
        mine = df.filter(df["case"] == case["id"])
        assert case["intervals"] == {"interval_s": 0.5, "rows": mine.height, "file": "intervals.parquet"}
        assert mine.height >= 3, "a 2 s case in 0.5 s intervals"
        summed = int(mine["ops"].sum())
        assert abs(summed - case["metrics"]["ops_read"]) <= 0.01 * case["metrics"]["ops_read"]
        sql = f"SELECT sum(ops) FROM '{run_dir / 'intervals.parquet'}' WHERE \"case\" = {case['id']}"
        assert duckdb.sql(sql).fetchall()[0][0] == summed
        assert mine["lat_p99_us"].drop_nulls().len() >= 1
    lines = [line for line in proc.stderr.splitlines() if " IOPS " in line and " p99 " in line]
    assert len(lines) >= 4, proc.stderr
    assert any("(fio)" in line for line in lines) and any("(builtin)" in line for line in lines)
    assert all("ETA" in line for line in lines)


def test_bad_interval_is_one_line_exit_2(tmp_path):
    for bad in ("0", "-1", "nan", "1e9"):
        proc = cli("run", "--tier", f"t={tmp_path}", "--workload", "rand-read-4k", "--interval", bad,
                   "--results", tmp_path / "r", env={"TIERBENCH_RESULTS": str(tmp_path / "r")})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "--interval" in proc.stderr
    assert not os.path.exists(tmp_path / "r")


@needs_fio
def test_live_panel_on_a_terminal(tmp_path):
    """On a terminal (a pseudo-terminal here) stderr carries the live panel: the running case with its IOPS,
    MB/s and p99 columns and the run's ETA, redrawn in place (no line per interval); --json keeps stdout JSON."""
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    tier = tmp_path / "tier"
    tier.mkdir()
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--tier", f"t={tier}", "--workload", "rand-read-4k",
                             "--engine", "fio", "--param", "runtime_s=3", "--param", "size=4m", "--param", "iodepth=1",
                             "--results", str(tmp_path / "results"), "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, text=True,
                            env=dict(os.environ, COLUMNS="150", TERM="xterm"))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:      # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = proc.communicate(timeout=120)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, screen
    assert json.loads(stdout)["status"] == "complete"
    for word in ("IOPS", "MB/s", "p99 us", "ETA", "rand-read-4k on t (fio)"):
        assert word in screen, screen
    assert "\x1b[" in screen, "no cursor movement: not redrawn in place"
    assert " | case " not in screen, "a line per interval on a terminal"
    rows = [line for line in screen.splitlines() if "rand-read-4k on t (fio)" in line and " read " in line]
    assert rows, "no interval figures in the panel"
