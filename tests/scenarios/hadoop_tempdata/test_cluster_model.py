"""The cluster model against hand-computed figures (formulas in bench/scenarios/hadoop_tempdata/cluster_model.py)."""
import json
import statistics
from dataclasses import fields
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.scenarios.hadoop_tempdata.cluster_model import ClusterParams, assumption_lines, model
from bench.store.runs import SCHEMA_VERSION
from tests.conftest import cli, cli_json

PARAMS = ClusterParams(stored_tb=1000, replication=3, drive_tb=10, drives_per_node=10, daily_tb=100,
                       drive_usd=200, node_usd=5000, temp_device_usd=500, amortize_years=1, node_usd_per_hour=1)


def _case(i, workload, tier, metrics, params=None, phases=(), temp=None):
    return {"id": i, "workload": workload, "tier": tier, "temp_tier": temp, "engine": "job", "repeat": 0,
            "params": params or {}, "error": None, "metrics": metrics, "phases": list(phases), "cache": False}


def _terasort(i, temp):
    # Only the sort job's phases (map, reduce) count; teragen and validate are other jobs (metrics cpu_s, the
    # whole job's, is not used either).
    phases = [{"name": "teragen", "tier": "hdd", "ops_written": 1000, "bytes_written": 1e9, "cpu_s": 3.0},
              {"name": "map", "tier": "hdd", "ops_read": 1000, "bytes_read": 1e9, "cpu_s": 6.0, "wall_s": 8.0},
              {"name": "reduce", "tier": temp, "ops_written": 500, "bytes_written": 1e9, "cpu_s": 4.0, "wall_s": 7.0},
              {"name": "validate", "tier": "hdd", "ops_read": 700, "bytes_read": 1e9, "cpu_s": 1.0}]
    return _case(i, "terasort", "hdd", {"input_bytes": 1e9, "cpu_s": 20.0, "wall_s": 20.0}, phases=phases, temp=temp)


def _doc():
    cases = [_case(0, "rand-read-4k", "hdd", {"iops": 100.0}, {"iodepth": 1})]
    cases += [_case(1 + k, "rand-read-4k", "hdd", {"iops": v}, {"iodepth": 32}) for k, v in enumerate((140., 150., 160.))]
    cases += [_case(4, "seq-read-1m", "hdd", {"read_bytes_per_s": 180e6}), _terasort(5, "hdd"), _terasort(6, "nvme")]
    return {"schema_version": SCHEMA_VERSION, "run_id": "r1", "status": "complete", "cases": cases,
            "tiers": [{"name": "hdd", "class": "hdd"}, {"name": "nvme", "class": "nvme"}]}


def test_hand_computed_layouts():
    out = model(_doc(), PARAMS)
    base, moved = out["layouts"]
    assert (base["temp_tier"], moved["temp_tier"]) == ("hdd", "nvme")
    # temp on the data tier: map + reduce, 1500 ops and 2 GB per 0.001 TB sorted; 10 CPU s.
    assert base["measured"]["ops_per_tb"] == pytest.approx(1.5e6)
    assert base["measured"]["bytes_per_tb"] == pytest.approx(2e12)
    assert base["measured"]["cpu_s_per_tb"] == pytest.approx(1e4) and base["measured"]["wall_s_per_tb"] == 15e3
    assert base["drives_capacity"] == 300  # ceil(1000 x 3 / 10)
    assert base["demanded_iops"] == pytest.approx(100 * 1.5e6 / 86400)
    assert base["drives_iops"] == 12 and base["drives_bandwidth"] == 13     # ceil(11.57), ceil(2e14/86400/180e6)
    assert base["drives"] == 300 and base["drives_limited_by"] == "capacity" and base["nodes"] == 30
    assert base["demanded_iops_per_gb"] == pytest.approx(100 * 1.5e6 / 86400 / 3e6)
    assert base["supplied_iops_per_gb"] == pytest.approx(150 / 10000)
    # one drive is busy max(1.5e6 / 150, 2e12 / 180e6) = 11111 s per TB
    assert base["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (2e12 / 180e6))  # 0.9
    assert base["usd_per_tb"] == pytest.approx(((300 * 200 + 30 * 5000) / 365 + 30 * 24) / 100)
    # temp moved off the data tier: 1000 ops and 1 GB on it per 0.001 TB; a temp device per node.
    assert moved["demanded_iops"] == pytest.approx(100 * 1e6 / 86400)
    assert moved["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (1e6 / 150))  # 1.5
    assert moved["usd_per_tb"] == pytest.approx(((300 * 200 + 30 * 5500) / 365 + 30 * 24) / 100)


def test_an_emulated_set_of_drives_supplies_per_drive_figures():
    # The same measurements on an hdd tier emulated as 3 drives: one drive supplies a third of them.
    doc = _doc()
    doc["tiers"][0]["emulated"] = {"drives": 3}
    base = model(doc, PARAMS)["layouts"][0]
    assert base["supplied_iops_per_gb"] == pytest.approx(50 / 10000)
    assert base["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (2e12 / 60e6))


def test_bandwidth_bound_cluster():
    params = ClusterParams(**{**PARAMS.__dict__, "daily_tb": 10000})
    layout = model(_doc(), params)["layouts"][0]
    assert layout["drives_iops"] == 1158  # ceil(10000 x 1.5e6 / 86400 / 150) = ceil(1157.4)
    assert layout["drives_bandwidth"] == 1287  # ceil(10000 x 2e12 / 86400 / 180e6) = ceil(1286.0)
    assert layout["drives"] == 1287 and layout["drives_limited_by"] == "bandwidth"


def test_refusals():
    doc = _doc()
    doc["cases"] = [c for c in doc["cases"] if c["workload"] != "terasort"]
    with pytest.raises(UserError, match="no successful terasort"):
        model(doc, PARAMS)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UserError, match="drive_tb must be a finite positive"):
            model(_doc(), ClusterParams(drive_tb=bad))
    doc = _doc()
    doc["cases"] = [c for c in doc["cases"] if c["workload"] != "rand-read-4k"]
    assert "IOPS is unknown" in model(doc, PARAMS)["layouts"][0]["error"]


# ------------------------------------------------------------------------ on a real scenario document
REAL = Path(__file__).resolve().parents[2] / "data" / "scenario" / "quick-1.json"


def _real():
    return json.loads(REAL.read_text())


def test_the_runs_own_drive_count_is_the_default_and_every_assumption_has_a_source():
    doc = _real()
    out = model(doc)
    assert doc["scenario"]["hdd_drives"] == 4
    listed = {a["name"]: a for a in out["assumptions"]}
    assert list(listed) == [f.name for f in fields(ClusterParams)]
    assert listed["drives_per_node"]["value"] == 4 and "scenario.hdd_drives" in listed["drives_per_node"]["source"]
    assert listed["stored_tb"]["source"].startswith("the case") and listed["drive_usd"]["source"] == "assumed"
    assert all(a["source"] and a["unit"] for a in out["assumptions"])
    # A value the user gives is marked as given.
    given = model(doc, ClusterParams(drives_per_node=12), given={"drives_per_node"})
    assert next(a for a in given["assumptions"] if a["name"] == "drives_per_node")["source"] == "given"
    # The hdd tier is emulated: its per-drive figures are the configured throttle, and the model says so.
    assert all("configured, not measured" in l["supplied_source"] for l in out["layouts"] if l["data_tier"] == "hdd")
    assert any("configured, not measured" in line for line in assumption_lines(out))


def test_only_the_sort_jobs_phases_are_counted():
    doc = _real()
    d = [c for c in doc["cases"] if c["workload"] == "terasort" and c["temp_tier"] == "optane" and not c["cache"]]
    names = {p["name"] for c in d for p in c["phases"]}
    assert {"teragen", "hdfs-data", "validate"} <= names                   # present in the run, not counted

    def ops(c, phases):
        return sum(io.get("ops_read", 0) + io.get("ops_written", 0) for p in c["phases"] if p["name"] in phases
                   for io in (p.get("io") or {}).values() if io["tier"] == "hdd") / (c["metrics"]["input_bytes"] / 1e12)

    layout = next(l for l in model(doc)["layouts"] if (l["temp_tier"], l["cache"]) == ("optane", False))
    assert layout["measured"]["ops_per_tb"] == pytest.approx(statistics.median(ops(c, ("map", "reduce")) for c in d))
    assert layout["measured"]["ops_per_tb"] < statistics.median(ops(c, names) for c in d)
    cpu = statistics.median(sum(p["cpu_s"] for p in c["phases"] if p["name"] in ("map", "reduce"))
                            / (c["metrics"]["input_bytes"] / 1e12) for c in d)
    assert layout["measured"]["cpu_s_per_tb"] == pytest.approx(cpu)
    assert "map and reduce" in model(doc)["scope"]


def test_model_cli_on_a_real_run_refuses_bad_numbers_with_one_line(tmp_path):
    doc = _real()
    (tmp_path / doc["run_id"]).mkdir()
    (tmp_path / doc["run_id"] / "run.json").write_text(REAL.read_text())
    for flag, value in (("--drive-tb", "nan"), ("--drive-tb", "inf"), ("--drive-tb", "-1"), ("--drive-tb", "0"),
                        ("--stored-tb", "1e400"), ("--daily-tb", "abc"), ("--drives-per-node", "2.5"),
                        ("--replication", "0")):
        proc = cli("model", doc["run_id"], "--results", tmp_path, f"{flag}={value}")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (flag, value, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and flag in proc.stderr
    out = cli_json("model", doc["run_id"], "--results", tmp_path, "--stored-tb", "1000", "--replication", "3",
                   "--drive-tb", "10", "--drives-per-node", "10", "--daily-tb", "100", "--drive-usd", "200",
                   "--node-usd", "5000", "--temp-device-usd", "500", "--amortize-years", "1",
                   "--node-usd-per-hour", "1")
    assert out["params"]["drive_tb"] == 10 and out["layouts"][0]["drives_capacity"] == 300
    assert all(a["source"] == "given" for a in out["assumptions"])
    table = cli("model", doc["run_id"], "--results", tmp_path, check=0)
    assert "drives_per_node = 4 drives: run document" in table.stdout and "drive_usd = 300 USD: assumed" in table.stdout


def test_figures_outside_a_floats_range_are_refused_never_printed(tmp_path):
    """--stored-tb 1e308 overflowed (OverflowError), --drive-usd 1e308 printed infM, --drive-tb 1e308 printed 0."""
    doc = _real()
    (tmp_path / doc["run_id"]).mkdir()
    (tmp_path / doc["run_id"] / "run.json").write_text(REAL.read_text())
    for flag in ("--stored-tb", "--drive-usd", "--drive-tb", "--daily-tb", "--node-usd-per-hour"):
        for json_flag in ((), ("--json",)):
            proc = cli("model", doc["run_id"], "--results", tmp_path, flag, "1e308", *json_flag)
            assert proc.returncode == 2 and proc.stdout == "", (flag, proc.stdout[:200])
            assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
            assert f"{flag} 1e+308" in proc.stderr and "out of the range of a float" in proc.stderr, proc.stderr
