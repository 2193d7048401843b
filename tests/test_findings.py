"""The hadoop-tempdata findings: verdicts computed from measurements with stated thresholds (synthetic runs
test the arithmetic), and the scenario end to end on emulated tiers (root)."""
import os

import pytest

from bench.findings import findings
from tests.conftest import cli, cli_json, needs_emulation, needs_fio

GB = 10 ** 9


def _sort(label, sort_s, cpu_s=None, workers=1, cache=False, temp="hdd", memory_mb=None, bottleneck="io",
          repeat=None):
    cpu = cpu_s if cpu_s is not None else sort_s * 0.1
    return {"label": label, "workload": "terasort", "tier": "hdd", "temp_tier": temp, "workers": workers,
            "cache": cache, "memory_mb": memory_mb, "error": None, "repeat": repeat,
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


def test_fewer_hdds_hurting_less_is_the_finding_and_harmless_is_reported():
    # Halving the drives adds 100% with temp on hdd and 50% once temp has moved: hurts less, not harmless.
    base = [_sort("a", 10.0), _sort("a-half", 20.0), _sort("d", 4.0, temp="optane")]
    f = _by_id(_doc(base + [_sort("e", 6.0, temp="optane")]))["fewer_hdds"]
    assert f["verdict"] == "confirmed" and f["values"]["share"] == pytest.approx(0.5)
    assert f["values"]["harmless"] is False and "not harmless" in f["reason"] and "harmless (< 10%): no" in f["figure"]
    f = _by_id(_doc(base + [_sort("e", 4.2, temp="optane")]))["fewer_hdds"]
    assert f["verdict"] == "confirmed" and f["values"]["harmless"] is True and "not harmless" not in f["reason"]
    f = _by_id(_doc(base + [_sort("e", 7.5, temp="optane")]))["fewer_hdds"]     # adds 87.5%: share 0.875
    assert f["verdict"] == "not confirmed"
    # Halving did not hurt even with temp data on the drives: the test cannot speak to the case.
    f = _by_id(_doc([_sort("a", 10.0), _sort("a-half", 9.9), _sort("d", 4.0), _sort("e", 4.0)]))["fewer_hdds"]
    assert f["verdict"] == "inconclusive" and "does not bound" in f["reason"]
    # Repeats whose share straddles the threshold.
    cases = [_sort("a", 10.0), _sort("a", 10.0), _sort("a-half", 20.0), _sort("a-half", 20.0),
             _sort("d", 4.0), _sort("d", 4.0), _sort("e", 5.0), _sort("e", 8.0)]
    f = _by_id(_doc(cases))["fewer_hdds"]
    assert f["verdict"] == "inconclusive" and "repeats disagree" in f["reason"]
    # Paired within repeats (the second repeat ran on a machine twice as slow): a share of 0.25 in each.
    cases = [_sort(label, t * k, repeat=r) for r, k in enumerate((1, 2))
             for label, t in (("a", 10.0), ("a-half", 20.0), ("d", 4.0), ("e", 5.0))]
    f = _by_id(_doc(cases))["fewer_hdds"]
    assert f["verdict"] == "confirmed" and f["values"]["share"] == pytest.approx(0.25)


def test_bottleneck_moving_toward_the_cpu():
    # CPU share 10% -> 40%: moved toward the CPU (4x, +30 points) without being CPU-bound.
    f = _by_id(_doc([_sort("a", 10.0, cpu_s=1.0), _sort("d", 4.0, cpu_s=1.6, temp="optane")]))["bottleneck"]
    assert f["verdict"] == "confirmed" and f["values"]["cpu_bound"] is False and "CPU-bound (>= 75%): no" in f["figure"]
    # 10% -> 18%: less than 2x.
    f = _by_id(_doc([_sort("a", 10.0, cpu_s=1.0), _sort("d", 5.0, cpu_s=0.9, temp="optane")]))["bottleneck"]
    assert f["verdict"] == "not confirmed"
    # 1% -> 10%: 10x but not 15 points.
    f = _by_id(_doc([_sort("a", 10.0, cpu_s=0.1), _sort("d", 5.0, cpu_s=0.5, temp="optane")]))["bottleneck"]
    assert f["verdict"] == "not confirmed"


def test_cache_room_in_a_container_is_its_limit_less_the_sorts_own_memory():
    from bench.findings import CONTAINER_JOB_MB, cache_room
    doc = _doc([_sort("b", 5.0, cache=True, memory_mb=CONTAINER_JOB_MB + 10)])
    assert cache_room(doc, "b") == (2e8, 10 * 1024 ** 2)
    doc = _doc([_sort("b", 5.0, cache=True)], memory=GB)         # no container: memory less the peak RSS
    assert cache_room(doc, "b") == (2e8, GB - 1e8)


def test_default_container_leaves_room_for_a_sixteenth_of_the_temp_data():
    from bench.scenario import default_container_mb
    # 2 M records = 200 MB of temp data: 64 MB for the sort + 12 MB (200 MB / 16 MiB, rounded up) of page cache.
    assert default_container_mb(2_000_000, available=True) == 76
    assert default_container_mb(2_000_000, available=False) is None


def test_ratios_are_paired_within_repeats():
    # The machine got slower from repeat to repeat; within each repeat temp on nvme took 70% of temp on hdd.
    cases = [_sort("a", 10.0 * k, repeat=r) for r, k in enumerate((1.0, 1.5, 2.0))]
    cases += [_sort("c", 7.0 * k, temp="nvme", repeat=r) for r, k in enumerate((1.0, 1.5, 2.0))]
    f = _by_id(_doc(cases))["temp_on_nvme"]
    assert f["verdict"] == "confirmed" and f["values"]["range"] == pytest.approx((0.7, 0.7))
    # Unpaired (no repeat numbers), the same figures straddle the threshold: 7/20 .. 14/10.
    for c in cases:
        c["repeat"] = None
    assert _by_id(_doc(cases))["temp_on_nvme"]["verdict"] == "inconclusive"


def test_scaling_with_repeats_that_disagree_is_inconclusive():
    cases = [_sort("scale-1", 4.0, repeat=r) for r in range(3)]
    cases += [_sort("scale-2", t, workers=2, repeat=r) for r, t in enumerate((2.5, 2.6, 4.4))]
    f = _by_id(_doc(cases))["scaling"]
    assert f["verdict"] == "inconclusive" and "repeats disagree" in f["reason"]
    assert f["values"]["speedup"][2] == pytest.approx(4.0 / 2.6)
    cases[-1]["metrics"]["sort_s"] = 2.7
    assert _by_id(_doc(cases))["scaling"]["verdict"] == "confirmed"


def test_scenario_bad_input():
    for args, message in ((["--hdd", "/tmp"], "give --emulate"), (["--emulate", "--hdd", "/tmp"], "not both"),
                          (["--emulate", "--records", "5"], "--records"),
                          (["--emulate", "--container-mb", "10"], "--container-mb"),
                          (["--hdd", "/tmp", "--nvme", "/tmp", "--optane", "/tmp", "--hdd-drives", "2"],
                           "--hdd-drives"), (["--emulate", "--hdd-drives", "0"], "--hdd-drives")):
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
