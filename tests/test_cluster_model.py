"""The cluster model against hand-computed figures (formulas in bench/cluster_model.py)."""
import json

import pytest

from bench.cluster_model import ClusterParams, model
from bench.errors import UserError
from bench.store import SCHEMA_VERSION, Store
from tests.conftest import cli, cli_json

PARAMS = ClusterParams(stored_tb=1000, replication=3, drive_tb=10, drives_per_node=10, daily_tb=100,
                       drive_usd=200, node_usd=5000, temp_device_usd=500, amortize_years=1, node_usd_per_hour=1)


def _case(i, workload, tier, metrics, params=None, phases=(), temp=None):
    return {"id": i, "workload": workload, "tier": tier, "temp_tier": temp, "engine": "job", "repeat": 0,
            "params": params or {}, "error": None, "metrics": metrics, "phases": list(phases), "cache": False}


def _terasort(i, temp):
    phases = [{"name": "teragen", "tier": "hdd", "ops_written": 1000, "bytes_written": 1e9},
              {"name": "map", "tier": "hdd", "ops_read": 1000, "bytes_read": 1e9},
              {"name": "spill", "tier": temp, "ops_written": 500, "bytes_written": 1e9}]
    return _case(i, "terasort", "hdd", {"input_bytes": 1e9, "cpu_s": 10.0, "wall_s": 20.0}, phases=phases, temp=temp)


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
    # temp on the data tier: 2500 ops and 3 GB per 0.001 TB sorted.
    assert base["measured"]["ops_per_tb"] == pytest.approx(2.5e6)
    assert base["drives_capacity"] == 300  # ceil(1000 x 3 / 10)
    assert base["demanded_iops"] == pytest.approx(100 * 2.5e6 / 86400)
    assert base["drives_iops"] == 20 and base["drives_bandwidth"] == 20
    assert base["drives"] == 300 and base["drives_limited_by"] == "capacity" and base["nodes"] == 30
    assert base["demanded_iops_per_gb"] == pytest.approx(2893.5185185 / 3e6)
    assert base["supplied_iops_per_gb"] == pytest.approx(150 / 10000)
    assert base["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (2.5e6 / 150))  # 0.6
    assert base["usd_per_tb"] == pytest.approx(((300 * 200 + 30 * 5000) / 365 + 30 * 24) / 100)
    # temp moved off the data tier: 2000 ops and 2 GB on it per 0.001 TB; a temp device per node.
    assert moved["demanded_iops"] == pytest.approx(100 * 2e6 / 86400)
    assert moved["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (2e6 / 150))  # 0.75
    assert moved["usd_per_tb"] == pytest.approx(((300 * 200 + 30 * 5500) / 365 + 30 * 24) / 100)


def test_an_emulated_set_of_drives_supplies_per_drive_figures():
    # The same measurements on an hdd tier emulated as 3 drives: one drive supplies a third of them.
    doc = _doc()
    doc["tiers"][0]["emulated"] = {"drives": 3}
    base = model(doc, PARAMS)["layouts"][0]
    assert base["supplied_iops_per_gb"] == pytest.approx(50 / 10000)
    assert base["cpu_bound_threads_per_drive"] == pytest.approx(1e4 / (2.5e6 / 50))


def test_iops_bound_cluster():
    params = ClusterParams(**{**PARAMS.__dict__, "daily_tb": 10000})
    layout = model(_doc(), params)["layouts"][0]
    assert layout["drives_iops"] == 1930  # ceil(10000 x 2.5e6 / 86400 / 150) = ceil(1929.01)
    assert layout["drives"] == 1930 and layout["drives_limited_by"] in ("iops", "bandwidth")


def test_refusals():
    doc = _doc()
    doc["cases"] = [c for c in doc["cases"] if c["workload"] != "terasort"]
    with pytest.raises(UserError, match="no successful terasort"):
        model(doc, PARAMS)
    with pytest.raises(UserError, match="drive_tb must be a positive"):
        model(_doc(), ClusterParams(drive_tb=0))
    doc = _doc()
    doc["cases"] = [c for c in doc["cases"] if c["workload"] != "rand-read-4k"]
    assert "IOPS is unknown" in model(doc, PARAMS)["layouts"][0]["error"]


def test_model_cli(tmp_path):
    store = Store(tmp_path)
    store.create_run("r1")
    store.write_document(_doc())
    out = cli_json("model", "r1", "--results", tmp_path, "--stored-tb", "1000", "--replication", "3",
                   "--drive-tb", "10", "--drives-per-node", "10", "--daily-tb", "100", "--drive-usd", "200",
                   "--node-usd", "5000", "--temp-device-usd", "500", "--amortize-years", "1",
                   "--node-usd-per-hour", "1")
    assert out["layouts"][0]["drives"] == 300
    proc = cli("model", "r1", "--results", tmp_path, "--drive-tb", "-1")
    assert proc.returncode == 2 and "drive_tb" in proc.stderr
    table = cli("model", "r1", "--results", tmp_path, check=0)
    assert "USD per TB" in table.stderr
