"""One case identity (bench.core.case.case_key) in compare, history, show/table, scaling and the across-machines
comparison, tested on run documents the real CLI makes: a hadoop-tempdata scenario on directory tiers (a small
sort, two repeats, no container: real steps, seconds to run, no root needed) and a terasort run over two worker
counts. Every scenario step and every worker count must come out as its own case with n = its repeats."""
from __future__ import annotations

import json
import os

import pytest
from rich.console import Console

from bench.core.case import CASE_KEY_FIELDS
from bench.reporting.table import QUEUE_MARK, QUEUE_NOTE, run_table
from bench.store.runs import Store
from tests.conftest import cli, cli_json

REPEATS = 2
SCENARIO_STEPS = {"iops-hdd", "iops-nvme", "iops-optane", "a", "b", "c", "d", "a-half", "e", "scale-1", "scale-2"}


def _scenario(root, store) -> dict:
    tiers = []
    for name in ("hdd", "nvme", "optane", "hdd-half"):
        (root / name).mkdir(exist_ok=True)
        tiers += [f"--{name}", root / name]
    return cli_json("scenario", "hadoop-tempdata", *tiers, "--records", "20000", "--quick", "--repeat", REPEATS,
                    "--container-mb", "0", "--results", store, timeout=600)


@pytest.fixture(scope="module")
def scenario_runs(tmp_path_factory):
    """Two real scenario runs in one store: (store, first document, second document)."""
    root = tmp_path_factory.mktemp("scenario")
    store = root / "results"
    first = _scenario(root, store)
    second = _scenario(root, store)
    return store, first, second


@pytest.fixture(scope="module")
def sort_runs(tmp_path_factory):
    """Terasort at 1 and 2 workers with temp data on tier b, twice, and once with temp data on tier c."""
    root = tmp_path_factory.mktemp("sort")
    store = root / "results"
    tiers = []
    for name in "abc":
        (root / name).mkdir()
        tiers += ["--tier", f"{name}={root / name}"]

    def run(temp):
        return cli_json("run", *tiers, "--workload", "terasort", "--data", "a", "--temp", temp, "--workers", "1,2",
                        "--param", "records=20000", "--param", "sample_size=1000", "--repeat", REPEATS,
                        "--results", store, timeout=300)

    return store, run("b"), run("b"), run("c")


def _compare(store, base, new) -> dict:
    proc = cli("compare", base["run_id"], new["run_id"], "--json", "--results", store)
    # 0 pass, 1 a gate failure (exact counts such as the background HDFS reads may differ between runs): either
    # way one JSON document; 2 would be bad input.
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _identity(entry: dict) -> dict:
    """A compare entry's identity fields without the step label."""
    return {f: entry.get(f) for f in CASE_KEY_FIELDS if f != "label"}


def _run_table_lines(text: str) -> list:
    """The lines of `show`'s case table (it comes before the phases table)."""
    lines = text.splitlines()
    end = next((i for i, line in enumerate(lines) if line.startswith("phases (")), len(lines))
    return lines[:end]


def _steps(doc) -> dict:
    out = {}
    for c in doc["cases"]:
        out.setdefault(c["label"], []).append(c)
    return out


def test_scenario_documents_have_every_step(scenario_runs):
    _, first, second = scenario_runs
    for doc in (first, second):
        steps = _steps(doc)
        assert set(steps) == SCENARIO_STEPS
        assert all(len(cases) == REPEATS for cases in steps.values()), {k: len(v) for k, v in steps.items()}


@pytest.mark.parametrize("other", ["itself", "second run"])
def test_compare_finds_every_scenario_step_with_its_repeats(scenario_runs, other):
    store, first, second = scenario_runs
    new = first if other == "itself" else second
    result = _compare(store, first, new)
    by_label = {e["label"]: e for e in result["cases"]}
    # The scale steps run with temp data on the faster of c and d in that run: where the runs chose differently
    # they are other cases, listed as only in one run.
    best = {doc["run_id"]: _steps(doc)["scale-1"][0]["temp_tier"] for doc in (first, new)}
    moved = {"scale-1", "scale-2"} if len(set(best.values())) > 1 else set()
    assert len(result["cases"]) == len(SCENARIO_STEPS - moved) and set(by_label) == SCENARIO_STEPS - moved
    assert sorted(x.split()[1] for x in result["only_in_base"]) == sorted(f"step={s}" for s in moved)
    assert sorted(x.split()[1] for x in result["only_in_new"]) == sorted(f"step={s}" for s in moved)
    for label, entry in by_label.items():
        assert set(CASE_KEY_FIELDS) <= set(entry), entry.keys()
        assert f"step={label}" in entry["case"]
        assert entry["repeats_base"] == entry["repeats_new"] == REPEATS
        wall = next(m for m in entry["metrics"] if m["metric"] == "wall_s")
        assert (wall["n_base"], wall["n_new"]) == (REPEATS, REPEATS), (label, wall)
    # Steps that differ only in temp tier, cache, workers or drive count stay apart.
    d, a, b, e = (by_label[k] for k in ("d", "a", "b", "e"))
    assert (a["temp_tier"], d["temp_tier"]) == ("hdd", "optane") and b["cache"] and not a["cache"]
    assert e["tier"] == "hdd-half"
    # scale-1 is step c or d again (same tiers, workers, params): only its label tells them apart.
    same = [k for k in ("c", "d") if _identity(by_label[k]) == _identity(by_label.get("scale-1") or {})]
    assert same or moved, "scale-1 should repeat c or d under its own label"
    if not moved:
        assert (by_label["scale-1"]["workers"], by_label["scale-2"]["workers"]) == (1, 2)


def test_compare_text_names_each_step(scenario_runs):
    store, first, second = scenario_runs
    proc = cli("compare", first["run_id"], first["run_id"], "--results", store)
    assert proc.returncode in (0, 1), proc.stderr
    titles = [line for line in proc.stdout.splitlines() if line.startswith(("terasort ", "rand-read-4k "))]
    assert sorted(t.split()[1] for t in titles) == sorted(f"step={s}" for s in SCENARIO_STEPS), titles
    assert "terasort step=d data=hdd temp=optane workers=1 " in proc.stdout


def test_history_keeps_every_step_apart(scenario_runs):
    store, first, second = scenario_runs
    result = cli_json("history", "--metric", "wall_s", "--workload", "terasort", "--results", store)
    runs_of = {}
    for s in result["series"]:
        assert all(p["n"] == REPEATS for p in s["points"]), (s["case"], s["points"])
        for p in s["points"]:
            runs_of.setdefault(s["label"], []).append((p["run_id"], s["temp_tier"]))
    assert set(runs_of) == {s for s in SCENARIO_STEPS if not s.startswith("iops-")}
    for label, points in runs_of.items():
        # Each step once per run; a series holds one step on one layout (the scale steps' temp tier may differ).
        assert sorted(rid for rid, _ in points) == sorted([first["run_id"], second["run_id"]]), (label, points)
    series = [s for s in result["series"] if s["label"] == "d"]
    assert len(series) == 1 and [p["run_id"] for p in series[0]["points"]] == [first["run_id"], second["run_id"]]
    one = cli_json("history", "--metric", "wall_s", "--label", "a-half", "--results", store)
    assert [s["label"] for s in one["series"]] == ["a-half"]


def test_scaling_series_is_the_scale_steps(scenario_runs):
    _, first, _ = scenario_runs
    rows = first["scaling"]
    assert [(r["label"], r["workers"], r["repeats"]) for r in rows] == [("scale", 1, REPEATS), ("scale", 2, REPEATS)]
    assert {r["temp_tier"] for r in rows} == {_steps(first)["scale-1"][0]["temp_tier"]}


def test_across_machines_lists_each_step(scenario_runs):
    store, first, second = scenario_runs
    result = cli_json("compare", "--across-machines", first["run_id"], second["run_id"], "--results", store)
    sorts = [(s["run_id"], s["label"]) for s in result["terasort"]]
    expected = {s for s in SCENARIO_STEPS if not s.startswith("iops-")}
    for doc in (first, second):
        assert sorted(label for rid, label in sorts if rid == doc["run_id"]) == sorted(expected)
    assert {r["label"] for r in result["rows"]} == {s for s in SCENARIO_STEPS if s.startswith("iops-")}


def test_show_of_a_scenario_fits_160_columns_and_names_every_step(scenario_runs):
    store, first, _ = scenario_runs
    proc = cli("show", first["run_id"], "--results", store, env={"COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 160, max(lines, key=len)
    cases = _run_table_lines(proc.stdout)
    for step in SCENARIO_STEPS:
        # One row per step, on one line: the label, its workload and its repeat count.
        rows = [line.split() for line in cases if line.split()[:1] == [step]]
        assert len(rows) == 1 and rows[0][1] in ("terasort", "rand-read-4k"), (step, rows)
    # Parameters every terasort step shares are said once, not in every row.
    assert sum("records=20000" in line for line in lines) == 1
    # Laid out for 160 columns on a wider console: number columns left out (and named), no identity cut.
    con = Console(width=1000, record=True, file=open(os.devnull, "w"))
    con.print(run_table(Store(store).load(first["run_id"]), 160))
    text = con.export_text()
    assert max(len(line) for line in text.splitlines()) <= 160
    assert {line.split()[0] for line in _run_table_lines(text) if line.split()} >= set(SCENARIO_STEPS)


def test_worker_counts_are_separate_cases(sort_runs):
    store, first, second, other_temp = sort_runs
    for new in (first, second):
        result = _compare(store, first, new)
        assert sorted(e["workers"] for e in result["cases"]) == [1, 2]
        for e in result["cases"]:
            assert e["temp_tier"] == "b" and e["label"] is None and e["repeats_base"] == e["repeats_new"] == REPEATS
            assert f"workers={e['workers']}" in e["case"] and "temp=b" in e["case"]
            wall = next(m for m in e["metrics"] if m["metric"] == "wall_s")
            assert (wall["n_base"], wall["n_new"]) == (REPEATS, REPEATS)
    # Temp data on another tier is another case: nothing in common to gate.
    proc = cli("compare", first["run_id"], other_temp["run_id"], "--results", store)
    assert proc.returncode == 2 and "no case in common" in proc.stderr
    history = cli_json("history", "--metric", "wall_s", "--results", store)
    shape = sorted((s["temp_tier"], s["workers"], len(s["points"])) for s in history["series"])
    assert shape == [("b", 1, 2), ("b", 2, 2), ("c", 1, 1), ("c", 2, 1)]
    assert all(p["n"] == REPEATS for s in history["series"] for p in s["points"])
    assert [(r["workers"], r["repeats"]) for r in first["scaling"]] == [(1, REPEATS), (2, REPEATS)]


def test_run_table_has_a_row_per_worker_count(sort_runs):
    store, first, _, _ = sort_runs
    proc = cli("show", first["run_id"], "--results", store)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in _run_table_lines(proc.stdout) if line.startswith("terasort ")]
    assert sorted(r[3] for r in rows) == ["workers=1", "workers=2"] and all(r[4] == str(REPEATS) for r in rows)


def test_buffered_iodepth_ratio_is_flagged(tmp_path):
    """Buffered reads at iodepth 4: fio's psync keeps one I/O in flight, the builtin engine four threads; the
    ratio column says so with (qd) and the caption explains it. At iodepth 1 both keep one: no flag."""
    (tmp_path / "t").mkdir()
    doc = cli_json("run", "--tier", f"t={tmp_path / 't'}", "--workload", "rand-read-4k", "--engine", "fio",
                   "--engine", "builtin", "--param", "direct=false", "--param", "iodepth=1,4", "--param", "size=4m",
                   "--param", "runtime_s=0.3", "--results", tmp_path / "results", timeout=300)
    assert doc["status"] == "complete", [c["error"] for c in doc["cases"]]
    con = Console(width=1000, record=True, file=open(os.devnull, "w"))
    con.print(run_table(doc))
    text = con.export_text()
    rows = [line for line in text.splitlines() if line.startswith("rand-read-4k ")]
    assert len(rows) == 4
    assert all(QUEUE_MARK.strip() in r for r in rows if "iodepth=4" in r)
    assert not any(QUEUE_MARK.strip() in r for r in rows if "iodepth=1" in r)
    assert " ".join(QUEUE_NOTE.split()) in " ".join(text.split())
    # The reason is the pattern the workload builds: direct I/O at iodepth 4 is a queue on both engines.
    from bench.reporting.table import _concurrency_differs
    assert _concurrency_differs("rand-read-4k", {"direct": True, "iodepth": 4}) is False
    assert _concurrency_differs("rand-read-4k", {"direct": False, "iodepth": 4}) is True


def test_emulated_scenario_steps_are_separate_cases(scenario_run):
    """The emulated quick scenario (root; tests/conftest.py's session run): a-half and e run on the same tier
    names as a and d (the emulated drives halved), so their label is all that tells them apart."""
    doc, store = scenario_run["doc"], scenario_run["store"]
    steps = _steps(doc)
    result = _compare(store, doc, doc)
    by_label = {e["label"]: e for e in result["cases"]}
    assert set(by_label) == set(steps) and len(result["cases"]) == len(steps)
    for label, entry in by_label.items():
        assert entry["repeats_base"] == entry["repeats_new"] == len(steps[label])
    assert _identity(by_label["a"]) == _identity(by_label["a-half"])
    proc = cli("show", doc["run_id"], "--results", store)
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 160
    con = Console(width=1000, record=True, file=open(os.devnull, "w"))
    con.print(run_table(doc, 160))
    assert max(len(line) for line in con.export_text().splitlines()) <= 160
    assert {line.split()[0] for line in _run_table_lines(proc.stdout) if line.split()} >= set(steps)
