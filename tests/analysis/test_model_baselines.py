"""`model RUN` takes the data tier's device baselines from the run itself, else from the newest run of the store on
the same machine class with that tier, and says which (issue 22, point 6;
bench/scenarios/hadoop_tempdata/baselines.py). Runs made by the real CLI on directory tiers under tmp_path: a
builtin-engine rand-read-4k baseline and a small terasort."""
from __future__ import annotations

import json
import shutil

import pytest

from bench.analysis.machines import same_machine_class
from tests.conftest import cli, cli_json, refused

BASELINE = ("--workload", "rand-read-4k", "--engine", "builtin", "--quick", "--param", "iodepth=1",
            "--param", "size=4m", "--param", "runtime_s=0.3")
SORT = ("--workload", "terasort", "--quick", "--param", "records=20000")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A store with a baseline run and then a terasort run on tier a (class hdd)."""
    base = tmp_path_factory.mktemp("model-baselines")
    (base / "a").mkdir()
    store = base / "results"
    tier = f"a={base / 'a'}:hdd"
    first = cli_json("run", "--tier", tier, *BASELINE, "--results", store)
    second = cli_json("run", "--tier", tier, *BASELINE, "--results", store)   # the newest baseline
    sort = cli_json("run", "--tier", tier, *SORT, "--results", store)
    assert all(d["status"] == "complete" for d in (first, second, sort))
    return {"store": store, "base": base, "tier": tier, "older": first["run_id"], "newest": second["run_id"],
            "sort": sort["run_id"]}


def test_baselines_come_from_the_newest_run_of_the_same_machine_with_that_tier(runs):
    out = cli_json("model", runs["sort"], "--results", runs["store"])
    (layout,) = out["layouts"]
    assert layout["baseline_run"] == runs["newest"] and "error" not in layout
    newest = json.loads((runs["store"] / runs["newest"] / "run.json").read_text())
    assert layout["measured"]["supplied_iops"] == pytest.approx(newest["cases"][0]["metrics"]["iops"])
    assert f"device baselines from run {runs['newest']}" in layout["supplied_source"]
    table = cli("model", runs["sort"], "--results", runs["store"], check=0)
    assert f"device baselines of tier a: run {runs['newest']} (the newest on this machine class" in table.stdout
    # --drive-class is for a tier of class unknown: given for an hdd tier, it is refused rather than ignored.
    line = refused(cli("model", runs["sort"], "--results", runs["store"], "--drive-class", "nvme"))
    assert "--drive-class is for a data tier of class unknown, and a is hdd" in line


def _model_section(page: str) -> str:
    start = page.index('<section id="model">')
    return page[start:page.index("</section>", start)]


def test_the_html_report_looks_up_baselines_as_model_does(runs, tmp_path):
    """The report's cluster model takes the device baselines from the same store lookup as `model` and names
    the run that supplied them; a store without them shows the reason instead of a model of nothing."""
    html = tmp_path / "r.html"
    cli("report", runs["sort"], "-o", html, "--results", runs["store"], check=0)
    section = _model_section(html.read_text())
    assert "<table" in section
    assert f"device baselines of tier a: run {runs['newest']} (the newest on this machine class" in section
    store = tmp_path / "results"
    store.mkdir()
    shutil.copytree(runs["store"] / runs["sort"], store / runs["sort"])
    cli("report", runs["sort"], "-o", html, "--results", store, check=0)
    section = _model_section(html.read_text())
    assert "<table" not in section and "no rand-read-4k measured on tier a" in section


def test_no_baseline_in_the_store_is_exit_2_with_the_command_that_makes_one(runs, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    shutil.copytree(runs["store"] / runs["sort"], store / runs["sort"])
    line = refused(cli("model", runs["sort"], "--results", store))
    assert "no rand-read-4k measured on tier a" in line
    assert f"tierbench run --tier a={runs['base'] / 'a'}:hdd --workload rand-read-4k --workload seq-read-1m" in line


def test_a_baseline_of_another_machine_class_or_another_place_is_not_used(runs, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    shutil.copytree(runs["store"] / runs["sort"], store / runs["sort"])
    other = json.loads((runs["store"] / runs["newest"] / "run.json").read_text())
    other["machine"]["cpus"] = other["machine"]["cpus"] * 2 + 1          # the same run, as if on a bigger machine
    (store / "other-machine").mkdir()
    (store / "other-machine" / "run.json").write_text(json.dumps(other))
    moved = json.loads((runs["store"] / runs["older"] / "run.json").read_text())
    moved["tiers"][0]["path"] = str(tmp_path / "elsewhere")              # a tier a in another place
    (store / "other-place").mkdir()
    (store / "other-place" / "run.json").write_text(json.dumps(moved))
    assert "no rand-read-4k measured on tier a" in refused(cli("model", runs["sort"], "--results", store))


def test_an_unknown_class_is_not_extrapolated_without_drive_class(tmp_path):
    (tmp_path / "b").mkdir()
    store = tmp_path / "results"
    doc = cli_json("run", "--tier", f"b={tmp_path / 'b'}:unknown", *BASELINE, *SORT[:2], "--param", "records=20000",
                   "--results", store)
    assert doc["status"] == "complete" and doc["tiers"][0]["class"] == "unknown"
    line = refused(cli("model", doc["run_id"], "--results", store))
    assert "tier b is of class unknown" in line and "--drive-class" in line
    out = cli_json("model", doc["run_id"], "--results", store, "--drive-class", "hdd")
    (layout,) = out["layouts"]
    assert layout["drive_class"] == "hdd" and layout["baseline_run"] == doc["run_id"]
    table = cli("model", doc["run_id"], "--results", store, "--drive-class", "hdd", check=0)
    assert "drive class of tier b: hdd (given" in table.stdout and "device baselines of tier b: this run" in table.stdout


def test_same_machine_class_needs_every_field_known_and_equal():
    a = {"cpu_model": "AMD EPYC", "cpus": 2, "memory_bytes": 8 << 30, "hostname": "x", "kernel": "6.1"}
    assert same_machine_class(a, dict(a, hostname="y", kernel="6.2"))
    assert not same_machine_class(a, dict(a, cpus=4))
    assert not same_machine_class(a, dict(a, memory_bytes=16 << 30))
    assert not same_machine_class(dict(a, cpu_model=None), dict(a, cpu_model=None))
    assert not same_machine_class(a, None)
