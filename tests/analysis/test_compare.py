"""bench.analysis.compare: case matching, verdicts, thresholds, refusals, across-machines figures, pytest-benchmark JSON."""
import copy
import json

import pytest

from bench.analysis import compare as cmp
from bench.analysis import machines as compare_machines
from bench.core.errors import UserError
from bench.core.metric_registry import direction
from bench.store.runs import Store
from tests.analysis.compare_fixtures import OTHER_MACHINE, make_doc, make_pytest_benchmark_json, write_run


def verdicts(result, metric):
    return [r["verdict"] for e in result["cases"] for r in e["metrics"] if r["metric"] == metric]


def test_a_a_is_unchanged_or_inconclusive_and_passes():
    result = cmp.compare_runs(make_doc("A", 1), make_doc("A2", 2))
    all_verdicts = {r["verdict"] for e in result["cases"] for r in e["metrics"]}
    assert all_verdicts <= {"unchanged", "inconclusive", "equal"}
    assert "unchanged" in all_verdicts
    assert result["exit_code"] == 0 and result["passed"] and result["regressions"] == []
    assert len(result["cases"]) == 4 and result["only_in_base"] == [] == result["only_in_new"]


def test_thirty_percent_fewer_iops_regresses_and_names_the_metric():
    result = cmp.compare_runs(make_doc("A", 1), make_doc("B", 3, iops_factor=0.7))
    assert result["exit_code"] == 1 and not result["passed"]
    assert set(verdicts(result, "iops")) == {"regressed"}
    assert set(verdicts(result, "lat_p99_us")) <= {"unchanged", "inconclusive"}
    named = {(r["case"].split()[0], r["metric"]) for r in result["regressions"]}
    assert ("rand-read-4k", "iops") in named
    iops = [r for e in result["cases"] for r in e["metrics"] if r["metric"] == "iops"][0]
    assert iops["ratio"] == pytest.approx(0.7, abs=0.05)
    assert iops["ci_high"] < 0.95 and iops["p_value"] < 0.05 and iops["threshold_percent"] == -5


def test_latency_regression_and_improvement_follow_direction():
    slower = cmp.compare_runs(make_doc("A", 1), make_doc("L", 4, lat_factor=1.3),
                              [cmp.parse_fail("lat_p99_us:+10%")])
    assert set(verdicts(slower, "lat_p99_us")) == {"regressed"}
    assert {r["metric"] for r in slower["regressions"]} == {"lat_p99_us"}  # only --fail metrics gate
    faster = cmp.compare_runs(make_doc("A", 1), make_doc("F", 5, lat_factor=0.7, iops_factor=1.4))
    assert set(verdicts(faster, "lat_p99_us")) == {"improved"}
    assert set(verdicts(faster, "iops")) == {"improved"}
    assert faster["exit_code"] == 0


def test_threshold_wider_than_the_change_keeps_it_quiet():
    result = cmp.compare_runs(make_doc("A", 1), make_doc("B", 3, iops_factor=0.7), [cmp.parse_fail("iops:-40%")])
    assert set(verdicts(result, "iops")) == {"unchanged"}
    assert result["exit_code"] == 0


def test_too_few_repeats_is_inconclusive_never_a_regression():
    result = cmp.compare_runs(make_doc("A", 1, repeats=2), make_doc("B", 3, repeats=2, iops_factor=0.5))
    iops = [r for e in result["cases"] for r in e["metrics"] if r["metric"] == "iops"]
    assert {r["verdict"] for r in iops} == {"inconclusive"} and {r["reason"] for r in iops} == {"n<3"}
    assert iops[0]["ratio"] == pytest.approx(0.5, abs=0.05)
    assert result["exit_code"] == 0


def _one_case(run_id, values):
    """A run of one rand-read-4k case on hdd whose repeats measured `values` IOPS."""
    doc = make_doc(run_id, 1, repeats=len(values))
    doc["cases"] = [c for c in doc["cases"] if c["workload"] == "rand-read-4k" and c["tier"] == "hdd"]
    for c, v in zip(doc["cases"], values):
        c["metrics"] = {"iops": float(v)}
    return doc


# Worked examples, p by hand: the one-sided exact Mann-Whitney p is the share of the C(n1+n2, n1) equally likely
# splits of the pooled values whose NEW rank-sum is at least as extreme as observed.
#   3 vs 3, every NEW below every BASE: NEW ranks {1,2,3} is 1 split of C(6,3) = 20 -> p = 1/20 = 0.05
#   3 vs 3, one NEW above one BASE: NEW ranks {1,2,4}; rank-sums <= 7 are {1,2,3}=6 and {1,2,4}=7 -> p = 2/20 = 0.1
#   5 vs 5, completely separated: 1 / C(10,5) = 1/252 = 0.003968
#   4 vs 4, completely separated: 1 / C(8,4) = 1/70 = 0.014286
@pytest.mark.parametrize("base, new, p, verdict", [
    ([452_760, 450_100, 455_300], [270_390, 268_000, 273_100], 1 / 20, "regressed"),   # the 40% drop of issue 20
    ([452_760, 450_100, 455_300], [270_390, 268_000, 451_000], 2 / 20, "inconclusive"),
    ([100, 101, 102, 103], [60, 61, 62, 63], 1 / 70, "regressed"),
    ([100, 101, 102, 103, 104], [60, 61, 62, 63, 64], 1 / 252, "regressed"),
    ([100, 101, 102, 103, 104], [140, 141, 142, 143, 144], 1 / 252, "improved"),
])
def test_one_sided_gate_decides_at_three_repeats(base, new, p, verdict):
    result = cmp.compare_runs(_one_case("A", base), _one_case("B", new), [cmp.parse_fail("iops:-5%")])
    (r,) = [r for e in result["cases"] for r in e["metrics"] if r["metric"] == "iops"]
    assert r["p_value"] == pytest.approx(p, rel=1e-9)
    assert r["p_alternative"] == ("less" if verdict != "improved" else "greater")
    assert r["verdict"] == verdict, r
    assert result["exit_code"] == (1 if verdict == "regressed" else 0)


def test_strict_fails_an_inconclusive_gating_metric():
    base, noisy = _one_case("A", [452_760, 450_100, 455_300]), _one_case("B", [270_390, 268_000, 451_000])
    lax = cmp.compare_runs(base, noisy, [cmp.parse_fail("iops:-5%")])
    strict = cmp.compare_runs(base, noisy, [cmp.parse_fail("iops:-5%")], strict=True)
    assert lax["exit_code"] == 0 and strict["exit_code"] == 1 and strict["strict"]
    (r,) = strict["regressions"]
    assert r["verdict"] == "inconclusive" and r["metric"] == "iops"


def test_strict_treats_a_contended_case_as_inconclusive():
    base, new = _one_case("A", [100, 101, 102]), _one_case("B", [100.5, 101, 101.5])
    new["cases"][1]["contention"] = {"contended": True, "reason": "other work used 1.8 cores"}
    assert cmp.compare_runs(base, new)["exit_code"] == 0
    strict = cmp.compare_runs(base, new, strict=True)
    assert strict["exit_code"] == 1 and strict["cases"][0]["contended_new"] == 1
    assert {r["reason"] for r in strict["regressions"]} == {"contended: measured while the machine was busy with "
                                                            "other work"}


def test_exact_metrics_compare_exactly():
    new = make_doc("N", 2)
    for c in new["cases"]:
        c["metrics"]["bytes_read"] += 4096
    result = cmp.compare_runs(make_doc("A", 1), new)
    assert set(verdicts(result, "bytes_read")) == {"changed"} and result["exit_code"] == 0  # reported, not gating
    gated = cmp.compare_runs(make_doc("A", 1), new, [cmp.parse_fail("bytes_read:0%")])
    assert gated["exit_code"] == 1 and {r["metric"] for r in gated["regressions"]} == {"bytes_read"}


def test_a_case_failing_in_new_fails_the_gate():
    new = make_doc("N", 2)
    for c in new["cases"]:
        if c["workload"] == "seq-read-1m" and c["tier"] == "hdd":
            c["error"] = "fio: ENOSPC"
    result = cmp.compare_runs(make_doc("A", 1), new)
    assert result["exit_code"] == 1
    assert [r["verdict"] for r in result["regressions"]] == ["failed"]
    gated = cmp.compare_runs(make_doc("A", 1), new, [cmp.parse_fail("iops:-5%")])
    assert gated["exit_code"] == 1 and [r["verdict"] for r in gated["regressions"]] == ["failed"]


def test_cases_match_on_params_and_unmatched_are_listed():
    new = make_doc("N", 2)
    for c in new["cases"]:
        if c["workload"] == "seq-read-1m":
            c["params"]["iodepth"] = 32
    result = cmp.compare_runs(make_doc("A", 1), new)
    assert len(result["cases"]) == 2
    assert len(result["only_in_base"]) == 2 and all("iodepth=32" in x for x in result["only_in_new"])
    with pytest.raises(UserError, match="no case in common"):
        other = make_doc("O", 2)
        for c in other["cases"]:
            c["engine"] = "builtin"
        cmp.compare_runs(make_doc("A", 1), other)


def test_a_different_hardware_class_is_refused_naming_every_field():
    with pytest.raises(UserError, match=r"cpu_model differs.*cpus differs \(8 vs 16\).*--across-machines"):
        cmp.compare_runs(make_doc("A", 1), make_doc("X", 2, machine=OTHER_MACHINE))
    assert cmp.compare_runs(make_doc("A", 1), make_doc("X", 2, machine=OTHER_MACHINE),
                            across_machines=True)["incompatibilities"]
    resized = make_doc("T", 2)
    resized["tiers"][0]["emulated"]["size_bytes"] = 1
    with pytest.raises(UserError, match="tier hdd: tier.emulation"):
        cmp.compare_runs(make_doc("A", 1), resized)
    bigger = make_doc("M", 2, machine=dict(make_doc("A", 1)["machine"], memory_bytes=64 * 10 ** 9))
    with pytest.raises(UserError, match="memory_gib differs"):
        cmp.compare_runs(make_doc("A", 1), bigger)


def test_names_of_one_instance_never_block_a_gate():
    """A CI runner: new hostname, kernel build, loop device numbers, temporary mount paths and MemTotal off by
    a few MiB: the same hardware class."""
    runner = make_doc("R", 2)
    runner["machine"].update(hostname="instance-b", kernel="6.1.0-21-amd64",
                             memory_bytes=runner["machine"]["memory_bytes"] - 3 * 2 ** 20)
    for i, t in enumerate(runner["tiers"]):
        t["device"] = t["emulated"]["loop"] = f"/dev/loop{7 + i}"
        t["path"] = f"/tmp/pytest-9/tiers/{t['name']}"
    result = cmp.compare_runs(make_doc("A", 1), runner)
    assert result["incompatibilities"] == [] and result["exit_code"] == 0
    # A changed throttle is the emulated drive's speed: exactly what a gate is there to catch.
    throttled = make_doc("T", 2)
    throttled["tiers"][0]["emulated"]["iops"] = 300
    assert cmp.compare_runs(make_doc("A", 1), throttled)["incompatibilities"] == []
    # A team may ask for more: the same host, the same device names.
    with pytest.raises(UserError, match="hostname differs"):
        cmp.compare_runs(make_doc("A", 1), runner, same_class=("hostname", "cpu_model"))


def test_real_devices_match_by_model_not_name():
    real_a, real_b = make_doc("A", 1), make_doc("B", 2)
    for doc, dev in ((real_a, "/dev/nvme0n1"), (real_b, "/dev/nvme1n1")):
        for t in doc["tiers"]:
            t["emulated"], t["device"], t["model"] = None, dev, "SAMSUNG MZQL23T8HCLS-00A07"
    assert cmp.compare_runs(real_a, real_b)["incompatibilities"] == []
    with pytest.raises(UserError, match="tier.device '/dev/nvme0n1' vs '/dev/nvme1n1'"):
        cmp.compare_runs(real_a, real_b, same_class=("tier.device",))
    for t in real_b["tiers"]:
        t["model"] = "INTEL SSDPF21Q800GB"
    with pytest.raises(UserError, match="tier.model"):
        cmp.compare_runs(real_a, real_b)


@pytest.mark.parametrize("expr", ["iops", "iops:-5", "iops:abc%", ":-5%", "iops:+5%", "lat_p99_us:-10%",
                                  "iops:-100%", "iops:-5%%", "iops=-5%"])
def test_malformed_fail_expressions(expr):
    with pytest.raises(UserError, match="--fail"):
        cmp.parse_fail(expr)


def test_fail_expressions_and_globs():
    t = cmp.parse_fail("lat_*_us:+12.5%")
    assert t.fraction == pytest.approx(0.125) and t.matches("lat_p99_us") and not t.matches("iops")
    assert cmp.parse_fail(" iops : 5% ").fraction == pytest.approx(0.05)
    assert direction("read_iops") == 1 and direction("write_bytes_per_s") == 1
    assert direction("lat_p999_us") == -1 and direction("wall_s") == -1 and direction("cpu_s") == -1
    assert direction("ops_written") == 0 and direction("cpu_util") is None


def test_fail_metric_missing_on_one_side_or_nowhere_is_bad_input():
    new = make_doc("N", 2)
    for c in new["cases"]:
        del c["metrics"]["lat_p99_us"]
    with pytest.raises(UserError, match="lat_p99_us.*missing in NEW"):
        cmp.compare_runs(make_doc("A", 1), new, [cmp.parse_fail("lat_p99_us:+10%")])
    with pytest.raises(UserError, match="no case in either run measured"):
        cmp.compare_runs(make_doc("A", 1), make_doc("B", 2), [cmp.parse_fail("write_iops:-5%")])
    # Not named in --fail: a one-sided metric is reported, not an error.
    result = cmp.compare_runs(make_doc("A", 1), new)
    assert {r["reason"] for e in result["cases"] for r in e["metrics"] if r["metric"] == "lat_p99_us"} \
        == {"measured on one side only"}


def test_across_machines_table_and_prices():
    a = make_doc("A", 1, repeats=3, terasort_wall_s=120.0, noise=0.0)
    b = make_doc("B", 2, repeats=3, machine=OTHER_MACHINE, terasort_wall_s=60.0, noise=0.0)
    result = compare_machines.across_machines([a, b], {"A": 0.5, "B": 2.0}, "list prices, 2026-11")
    assert result["price_source"] == "list prices, 2026-11"
    assert [r["price_usd_per_hour"] for r in result["runs"]] == [0.5, 2.0]
    rows = {(r["run_id"], r["tier"], r["workload"]): r for r in result["rows"]}
    rr = rows[("A", "nvme", "rand-read-4k")]
    assert rr["iops"] == pytest.approx(52000) and rr["iops_per_usd_hour"] == pytest.approx(52000 / 0.5)
    assert rr["iops_per_gb"] == pytest.approx(52000 / 3840) and rr["lat_p99_us"] == pytest.approx(180)
    assert rr["bytes_per_s"] == pytest.approx(52000 * 4096) and rr["tier_class"] == "nvme" and rr["emulated"]
    sorts = {s["run_id"]: s for s in result["terasort"]}
    # CloudSort-style: $/h * wall_s / 3600 / TB sorted; 10^9 bytes sorted = 0.001 TB
    assert sorts["A"]["usd_per_tb_sorted"] == pytest.approx(0.5 * 120 / 3600 / 0.001)
    assert sorts["B"]["usd_per_tb_sorted"] == pytest.approx(2.0 * 60 / 3600 / 0.001)
    assert sorts["A"]["data_bytes"] == 1e9
    unpriced = compare_machines.across_machines([a, b])
    assert all(s["usd_per_tb_sorted"] is None for s in unpriced["terasort"])


@pytest.mark.parametrize("expr", ["A", "A=", "=1", "A=-1", "A=0", "A=cheap", "A=nan"])
def test_malformed_prices(expr):
    with pytest.raises(UserError, match="--price"):
        compare_machines.parse_price(expr)


def test_load_any_refuses_unknown_runs_foreign_files_and_other_schema_versions(tmp_path):
    store = Store(tmp_path / "store")
    write_run(store, make_doc("20261120-100000-aaaaaa", 1))
    assert cmp.load_any("20261120", store)["run_id"] == "20261120-100000-aaaaaa"
    with pytest.raises(UserError, match="no run"):
        cmp.load_any("nope", store)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UserError, match="neither a run document nor a pytest-benchmark"):
        cmp.load_any(str(other), store)
    future = make_doc("F", 1)
    future["schema_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(future))
    with pytest.raises(UserError, match="schema_version 99"):
        cmp.load_any(str(tmp_path / "future.json"), store)


@pytest.fixture(scope="module")
def pytest_bench_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pytest-benchmark")
    return {"base": make_pytest_benchmark_json(folder, "base"),
            "slow": make_pytest_benchmark_json(folder, "slow", slowdown=4.0),
            "base_nodata": make_pytest_benchmark_json(folder, "base_nodata", save_data=False),
            "slow_nodata": make_pytest_benchmark_json(folder, "slow_nodata", slowdown=4.0, save_data=False)}


def test_load_pytest_benchmark_makes_a_run_document(pytest_bench_files):
    doc = cmp.load_pytest_benchmark(pytest_bench_files["base"])
    assert doc["schema_version"] == 1 and doc["source"]["format"] == "pytest-benchmark"
    assert doc["machine"]["hostname"] and doc["machine"]["python"]
    assert len(doc["cases"]) == 12  # one case per saved round
    assert {c["workload"] for c in doc["cases"]} == {"test_tiny_bench.py::test_sleep[1]"}
    assert all(0.0009 < c["metrics"]["wall_s"] < 0.5 for c in doc["cases"])
    assert doc["cases"][0]["params"] == {"ms": 1}
    summary_doc = cmp.load_pytest_benchmark(pytest_bench_files["base_nodata"])
    assert len(summary_doc["cases"]) == 1 and summary_doc["cases"][0]["summary"]["rounds"] == 12


def test_pytest_benchmark_compare_with_raw_data(pytest_bench_files):
    base = cmp.load_pytest_benchmark(pytest_bench_files["base"])
    slow = cmp.load_pytest_benchmark(pytest_bench_files["slow"])
    result = cmp.compare_runs(base, slow)
    assert verdicts(result, "wall_s") == ["regressed"] and result["exit_code"] == 1
    same = cmp.compare_runs(base, copy.deepcopy(base))
    # The rounds are real 1 ms sleeps: on a loaded machine they spread by more than 5%, and the CI of a run
    # against itself may then straddle the threshold. Never a regression.
    assert verdicts(same, "wall_s") in (["unchanged"], ["inconclusive"]) and same["exit_code"] == 0


def test_pytest_benchmark_compare_without_raw_data_uses_iqrs(pytest_bench_files):
    base = cmp.load_pytest_benchmark(pytest_bench_files["base_nodata"])
    slow = cmp.load_pytest_benchmark(pytest_bench_files["slow_nodata"])
    r = cmp.compare_runs(base, slow)["cases"][0]["metrics"][0]
    assert r["verdict"] == "regressed" and r["reason"].startswith("no raw data") and r["ci_low"] is None
    same = cmp.compare_runs(base, copy.deepcopy(base))["cases"][0]["metrics"][0]
    assert same["verdict"] == "inconclusive" and same["reason"].startswith("no raw data")
