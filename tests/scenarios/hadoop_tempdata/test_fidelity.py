"""Replay fidelity (bench/scenarios/hadoop_tempdata/fidelity.py) and the findings per engine, on a real scenario
document with Spark steps (tests/data/scenario/quick-spark-1.json, made by the CLI: see its README)."""
import copy
import json
from pathlib import Path

from bench.scenarios.hadoop_tempdata.cluster_model import layout_demand
from bench.scenarios.hadoop_tempdata.fidelity import ROWS, fidelity
from bench.scenarios.hadoop_tempdata.findings import engine_view, engines_of, findings

DATA = Path(__file__).resolve().parents[2] / "data" / "scenario"


def _doc():
    return json.loads((DATA / "quick-spark-1.json").read_text())


def test_the_run_holds_both_engines_and_each_findings_read_their_own_steps():
    doc = _doc()
    assert engines_of(doc) == ["replay", "spark"]
    spark = engine_view(doc, "spark")
    assert {c["engine"] for c in spark["cases"] if c["workload"] == "terasort"} == {"spark"}
    assert {c["label"] for c in spark["cases"] if c["workload"] == "terasort"} >= {"a", "c", "d", "scale-1"}
    # the default findings are the replay's, whatever else the run holds: the same as without the Spark cases
    replay_only = dict(doc, cases=[c for c in doc["cases"] if c["engine"] != "spark"])
    assert findings(doc) == findings(replay_only)
    by_id = {f["id"]: f for f in findings(doc, "spark")}
    assert by_id["cache"]["verdict"] == "not measured"          # step b is the replay's only
    assert by_id["temp_on_optane"]["verdict"] != "not measured"
    assert by_id["iops_per_gb"] == {f["id"]: f for f in findings(doc)}["iops_per_gb"]   # shared baselines


def test_the_cluster_model_counts_only_the_replay():
    doc = _doc()
    replay_only = dict(doc, cases=[c for c in doc["cases"] if c["engine"] != "spark"])
    assert layout_demand(doc) == layout_demand(replay_only)


def test_fidelity_has_every_figure_for_both_engines_from_the_cases():
    fid = fidelity(_doc())
    assert [r["key"] for r in fid["rows"]] == [k for k, _, _ in ROWS]
    by = {r["key"]: r for r in fid["rows"]}
    for key in ("runtime_c_over_a", "runtime_d_over_a", "cpu_share_d", "cpu_s_per_gb", "temp_bytes_per_input"):
        assert by[key]["replay"] is not None and by[key]["spark"] is not None, key
        assert by[key]["differs"] in (True, False)
    # Spark's shuffle is UnsafeRows: 1.24 bytes per input byte; the replay's runs hold the records (+ framing)
    assert abs(by["temp_bytes_per_input"]["spark"] - 1.24) < 0.03
    assert by["temp_bytes_per_input"]["differs"] is True and any("UnsafeRow" in r for r in
                                                                 by["temp_bytes_per_input"]["reasons"])
    assert any(line.startswith("differs: temp bytes written per input byte") for line in fid["summary"])
    assert fid["figures"]["spark"]["input_reads"] >= 1.9       # the sampling pass reads every split


def test_a_reason_is_given_only_when_its_figure_supports_it():
    doc = _doc()
    fid = fidelity(doc)
    spark = fid["figures"]["spark"]
    cheap = copy.deepcopy(doc)     # Spark's sort phases made to cost what the replay's do: no CPU reason then
    ratio = fid["figures"]["replay"]["cpu_s_per_gb"] / spark["cpu_s_per_gb"]
    for c in cheap["cases"]:
        if c["engine"] == "spark":
            for p in c["phases"]:
                if p["name"] in ("map", "reduce"):
                    p["cpu_s"] *= ratio
    for row in fidelity(cheap)["rows"]:
        assert not any("CPU-s per GB" in r for r in row["reasons"]), row


def test_a_figure_measured_on_one_engine_only_is_not_compared():
    doc = _doc()
    doc["cases"] = [c for c in doc["cases"] if not (c["engine"] == "spark" and c["label"] == "c")]
    by = {r["key"]: r for r in fidelity(doc)["rows"]}
    assert by["runtime_c_over_a"]["spark"] is None and by["runtime_c_over_a"]["differs"] is None
    assert any(line.startswith("not measured on both engines") for line in fidelity(doc)["summary"])


def _recorded_doc():
    return json.loads((DATA / "quick-spark-rec-1.json").read_text())


def test_the_recorded_column_is_spark_s_temp_io_replayed_from_its_own_cases():
    doc = _recorded_doc()
    fid = fidelity(doc)
    by = {r["key"]: r for r in fid["rows"]}
    rec = {c["label"]: c for c in doc["cases"] if c.get("label", "").startswith("rec-")}
    assert set(rec) == {"rec-a", "rec-c", "rec-d"}
    # runtime ratios: the replays' own wall times, paired within the repeat
    assert by["runtime_c_over_a"]["recorded"] == rec["rec-c"]["metrics"]["wall_s"] / rec["rec-a"]["metrics"]["wall_s"]
    source, = [c for c in doc["cases"] if c.get("label") == "spark-rec"]
    written = sum(p["bytes_written"] for p in rec["rec-a"]["phases"])
    assert written == source["spark"]["trace"]["totals"]["bytes_written"]
    assert by["temp_bytes_per_input"]["recorded"] == written / source["metrics"]["input_bytes"]
    assert by["cpu_s_per_gb"]["recorded"] is None and by["cpu_s_per_gb"]["recorded_differs"] is None


def test_without_a_recording_the_recorded_column_is_not_measured_and_says_why():
    doc = _recorded_doc()
    doc["cases"] = [c for c in doc["cases"] if not c.get("label", "").startswith("rec-")]
    for c in doc["cases"]:
        if c.get("label") == "spark-rec":
            c["error"] = "CaseError: spark worker-1 exited with status 1 while starting"
    fid = fidelity(doc)
    assert all(r["recorded"] is None and r["recorded_differs"] is None for r in fid["rows"])
    assert any(line.startswith("recorded: no trace of Spark's temp I/O (CaseError") for line in fid["summary"])
