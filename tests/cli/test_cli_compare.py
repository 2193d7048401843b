"""compare through the real CLI in a subprocess (`python -m bench compare ...`), the way CI would call it.

A pass and bad input are tested on two real runs the CLI makes (`real_runs`). A regression, another machine
and machine prices need figures no run on this machine can be made to give on demand (30% fewer IOPS, another
host name): those tests read seeded documents from tests/analysis/compare_fixtures.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.store.runs import Store
from tests.analysis.compare_fixtures import OTHER_MACHINE, make_doc, make_pytest_benchmark_json, write_run

ROOT = Path(__file__).resolve().parents[2]


def tierbench(*args, store=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="160")
    cmd = [sys.executable, "-m", "bench", *map(str, args)] + (["--results", str(store)] if store else [])
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    s = Store(root)
    write_run(s, make_doc("base", 1))
    write_run(s, make_doc("same", 2))
    write_run(s, make_doc("slow", 3, iops_factor=0.7))
    write_run(s, make_doc("other-host", 4, machine=OTHER_MACHINE))
    write_run(s, make_doc("sort-a", 5, repeats=3, terasort_wall_s=100.0))
    write_run(s, make_doc("sort-b", 6, repeats=3, terasort_wall_s=50.0, machine=OTHER_MACHINE))
    return root


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """A store with two real runs of rand-read-4k (fio, one repeat, a directory tier): (store, id A, id B)."""
    root = tmp_path_factory.mktemp("real")
    (root / "t").mkdir()
    ids = []
    for _ in range(2):
        proc = tierbench("run", "--tier", f"t={root / 't'}", "--workload", "rand-read-4k", "--engine", "fio",
                         "--param", "iodepth=1", "--param", "size=4m", "--param", "runtime_s=0.3", "--json",
                         store=root / "results")
        assert proc.returncode == 0, proc.stderr
        ids.append(json.loads(proc.stdout)["run_id"])
    return root / "results", ids[0], ids[1]


def one_error_line(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tierbench: error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_a_passes_with_one_json_document(real_runs):
    store, a, b = real_runs
    proc = tierbench("compare", a, b, "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # One repeat a side: every directional metric is inconclusive, nothing can regress.
    assert doc["passed"] and doc["exit_code"] == 0 and doc["regressions"] == []
    assert doc["base"]["run_id"] == a and doc["new"]["run_id"] == b
    assert [e["case"] for e in doc["cases"]] == ["rand-read-4k tier=t engine=fio iodepth=1,runtime_s=0.3,size=4194304"]
    assert all(r["verdict"] == "inconclusive" and r["reason"] == "n<3" for r in doc["cases"][0]["metrics"]
               if r["direction"] in ("higher", "lower"))


def test_a_b_regression_exits_1_naming_case_and_metric(store):
    proc = tierbench("compare", "base", "slow", "--fail", "iops:-5%", store=store)
    assert proc.returncode == 1
    assert "REGRESSION: rand-read-4k tier=hdd" in proc.stderr and "iops regressed" in proc.stderr
    assert "FAIL" in proc.stdout and "REGRESSION" not in proc.stdout   # the table on stdout, the message on stderr
    js = tierbench("compare", "base", "slow", "--fail", "iops:-5%", "--json", store=store)
    assert js.returncode == 1
    regs = json.loads(js.stdout)["regressions"]
    assert {r["metric"] for r in regs} == {"iops"} and len(regs) == 4


def test_latency_threshold_only_gates_latency(store):
    proc = tierbench("compare", "base", "slow", "--fail", "lat_*_us:+10%", "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["gating"] == "metrics named by --fail"


def test_different_machines_refused_unless_across_machines(store):
    proc = tierbench("compare", "base", "other-host", store=store)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "cpu_model differs" in line and "cpus differs" in line and "--across-machines" in line


@pytest.mark.parametrize("args,needle", [
    (["A", "B", "--fail", "iops:5"], "expected METRIC:[+-]N%"),
    (["A", "B", "--fail", "iops:+5%"], "higher-is-better"),
    (["A", "nope"], "no run 'nope'"),
    (["A"], "takes BASE and NEW"),
    (["A", "B", "--fail", "write_iops:-5%"], "no case in either run measured"),
    (["A", "B", "--price", "A=1"], "--across-machines"),
    (["A", "B", "--across-machines", "--price", "C=1"], "not one of the runs"),
    (["A", "B", "--across-machines", "--price", "A=free"], "positive price"),
])
def test_bad_input_exits_2_with_one_line(real_runs, args, needle):
    store, a, b = real_runs
    ids = {"A": a, "B": b}
    args = [ids.get(x, x.replace("A=", f"{a}=")) for x in args]
    proc = tierbench("compare", *args, store=store)
    assert proc.returncode == 2
    assert needle in one_error_line(proc)


def test_across_machines_with_prices(store):
    proc = tierbench("compare", "--across-machines", "sort-a", "sort-b", "--price", "sort-a=0.5",
                     "--price", "sort-b=1.5", "--price-source", "provider list price 2026-11", "--json", store=store)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["mode"] == "across-machines" and doc["price_source"] == "provider list price 2026-11"
    assert {r["run_id"]: r["price_usd_per_hour"] for r in doc["runs"]} == {"sort-a": 0.5, "sort-b": 1.5}
    assert {r["hostname"] for r in doc["rows"]} == {"bench-a", "bench-b"}
    assert all(r["iops_per_usd_hour"] > 0 for r in doc["rows"] if r["iops"])
    sorts = {s["run_id"]: s for s in doc["terasort"]}
    assert sorts["sort-a"]["usd_per_tb_sorted"] == pytest.approx(0.5 * 100 / 3600 / 0.001, rel=0.1)
    human = tierbench("compare", "--across-machines", "sort-a", "sort-b", "--price", "sort-a=0.5", store=store)
    assert human.returncode == 0 and "$ per TB sorted" in human.stdout and "IOPS per $/h" in human.stdout
    assert "IOPS per $/h" not in human.stderr


def test_pytest_benchmark_files_compare_directly(tmp_path):
    base = make_pytest_benchmark_json(tmp_path / "pb", "base")
    slow = make_pytest_benchmark_json(tmp_path / "pb", "slow", slowdown=4.0)
    same = tierbench("compare", base, base, "--json", store=tmp_path / "empty")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["base"]["source"] == "pytest-benchmark"
    proc = tierbench("compare", base, slow, "--fail", "wall_s:+10%", store=tmp_path / "empty")
    assert proc.returncode == 1, proc.stderr
    assert "test_tiny_bench.py::test_sleep[1]" in proc.stderr and "wall_s regressed" in proc.stderr
    assert "FAIL: 1 regressed" in proc.stdout      # the gate's table on stdout, the REGRESSION line on stderr
