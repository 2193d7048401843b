"""The hadoop-tempdata findings: verdicts computed from measurements with stated thresholds (synthetic runs
test the arithmetic), and the scenario end to end on emulated tiers (root)."""
import os

import pytest

from bench.findings import findings
from tests.conftest import cli, cli_json, needs_emulation, needs_fio

GB = 10 ** 9


def _sort(label, sort_s, cpu_s=None, workers=1, cache=False, temp="hdd", memory_mb=None, bottleneck="io"):
    cpu = cpu_s if cpu_s is not None else sort_s * 0.1
    return {"label": label, "workload": "terasort", "tier": "hdd", "temp_tier": temp, "workers": workers,
            "cache": cache, "memory_mb": memory_mb, "error": None,
            "metrics": {"sort_s": sort_s, "input_bytes": 2e8, "temp_bytes": 2e8, "peak_rss_bytes": 1e8},
            "phases": [{"name": "map", "wall_s": sort_s / 2, "cpu_s": cpu / 2, "bottleneck": bottleneck},
                       {"name": "reduce", "wall_s": sort_s / 2, "cpu_s": cpu / 2, "bottleneck": bottleneck}]}


def _doc(cases, memory=24 * GB):
    iops = [{"label": f"iops-{t}", "workload": "rand-read-4k", "tier": t, "error": None,
             "metrics": {"iops_per_gb": v}} for t, v in (("hdd", 0.02), ("nvme", 17.0), ("optane", 300.0))]
    return {"machine": {"memory_bytes": memory}, "tiers": [{"name": t} for t in ("hdd", "nvme", "optane")],
            "cases": iops + cases}


def _by_id(doc):
    return {f["id"]: f for f in findings(doc)}


def test_the_case_confirmed():
    cases = [_sort("a", 10.0), _sort("b", 9.8, cache=True, memory_mb=150), _sort("c", 5.0, temp="nvme"),
             _sort("d", 4.0, temp="optane", cpu_s=3.2, bottleneck="cpu"), _sort("a-half", 20.0),
             _sort("e", 4.2, temp="optane"), _sort("scale-1", 4.0, temp="optane"),
             _sort("scale-2", 2.5, temp="optane", workers=2)]
    f = _by_id(_doc(cases))
    assert f["iops_per_gb"]["verdict"] == "confirmed" and f["iops_per_gb"]["values"]["flash_over_hdd"] == 850
    # b ran in a 150 MB container with a 100 MB RSS: 50 MB of page cache for 200 MB of temp data.
    assert f["cache"]["verdict"] == "confirmed"
    assert f["temp_on_nvme"]["verdict"] == "confirmed" and f["temp_on_optane"]["verdict"] == "confirmed"
    assert f["fewer_hdds"]["verdict"] == "confirmed"
    assert f["bottleneck"]["verdict"] == "confirmed"
    assert f["scaling"]["verdict"] == "confirmed" and f["scaling"]["values"]["speedup"][2] == pytest.approx(1.6)


def test_the_case_refuted_and_inconclusive():
    cases = [_sort("a", 10.0), _sort("b", 5.0, cache=True), _sort("c", 9.5, temp="nvme"),
             _sort("d", 9.0, temp="optane"), _sort("a-half", 20.0), _sort("e", 18.5, temp="optane"),
             _sort("scale-1", 4.0, temp="optane"), _sort("scale-2", 4.0, temp="optane", workers=2)]
    f = _by_id(_doc(cases))
    assert f["cache"]["verdict"] == "inconclusive" and "fits in the page cache" in f["cache"]["reason"]
    assert f["temp_on_nvme"]["verdict"] == "not confirmed"
    assert f["fewer_hdds"]["verdict"] == "not confirmed"
    assert f["bottleneck"]["verdict"] == "not confirmed"
    assert f["scaling"]["verdict"] == "not confirmed"


def test_repeats_that_disagree_are_inconclusive():
    cases = [_sort("a", 10.0), _sort("a", 10.2), _sort("c", 6.0, temp="nvme"), _sort("c", 11.0, temp="nvme")]
    f = _by_id(_doc(cases))
    assert f["temp_on_nvme"]["verdict"] == "inconclusive" and "repeats disagree" in f["temp_on_nvme"]["reason"]
    assert f["fewer_hdds"]["verdict"] == "inconclusive" and "not measured" in f["fewer_hdds"]["reason"]


def test_scenario_bad_input():
    for args, message in ((["--hdd", "/tmp"], "give --emulate"), (["--emulate", "--hdd", "/tmp"], "not both"),
                          (["--emulate", "--records", "5"], "--records")):
        proc = cli("scenario", "hadoop-tempdata", *args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@needs_emulation
@needs_fio
def test_scenario_end_to_end(tmp_path, store):
    env = {"TIERBENCH_EMULATE_DIR": f"/var/tmp/tierbench-test-scen-{os.getpid()}"}
    doc = cli_json("scenario", "hadoop-tempdata", "--emulate", "--quick", "--records", "50000",
                   "--results", store, env=env, timeout=900)
    assert doc["status"] == "complete"
    labels = {c["label"] for c in doc["cases"]}
    assert {"iops-hdd", "iops-nvme", "iops-optane", "a", "b", "c", "d", "a-half", "e", "scale-1", "scale-2"} <= labels
    ids = {f["id"] for f in doc["findings"]}
    assert ids == {"iops_per_gb", "cache", "temp_on_nvme", "temp_on_optane", "fewer_hdds", "bottleneck", "scaling"}
    assert all(f["verdict"] in ("confirmed", "not confirmed", "inconclusive") for f in doc["findings"])
    assert next(f for f in doc["findings"] if f["id"] == "iops_per_gb")["verdict"] == "confirmed"
    # The emulated tiers (throttle halved for a-half and e) are gone afterwards.
    assert not os.path.exists(env["TIERBENCH_EMULATE_DIR"])
    model = cli_json("model", doc["run_id"], "--results", store)
    assert {(l["data_tier"], l["temp_tier"]) for l in model["layouts"]} >= {("hdd", "hdd"), ("hdd", "optane")}
