"""bench.engines.fio.parse on real fio 3.33 output (tests/data/fio, see its README for the commands).

Expected figures are read straight from the captured JSON with the json module, independently of the parser.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.analysis.metrics import case_metrics
from bench.core.errors import UserError
from bench.engines.fio.parse import ALL_CLIENTS, parse
from bench.engines.fio.records import fleet_records, group_records, phase_records
from kernels.latency_bins import merge_bins, percentile_from_bins

DATA = Path(__file__).resolve().parents[2] / "data" / "fio"
LOCAL_ONE_GROUP = ["randread-4k.plus.json", "randread-4k.json", "two-jobs.plus.json", "group-numjobs2.plus.json",
                   "mixed.plus.json", "randrw-libaio-qd8.plus.json", "qd-note-stdout.txt"]
ALL_CAPTURED = LOCAL_ONE_GROUP + ["two-phase.plus.json", "client-server.plus.json", "concat-2runs.txt"]
DIRS = ("read", "write", "trim", "mixed")


def text(name: str) -> str:
    return (DATA / name).read_text()


def raw_docs(name: str) -> list:
    """The JSON documents of a captured file, read with the json module alone."""
    body, decoder, docs = text(name), json.JSONDecoder(), []
    start = 0 if body.startswith("{") else body.find("\n{") + 1
    while 0 <= start < len(body):
        doc, end = decoder.raw_decode(body, start)
        docs.append(doc)
        start = body.find("{", end)
    return docs


def raw_entries(name: str) -> list:
    return [e for doc in raw_docs(name) for e in doc.get("jobs", []) + doc.get("client_stats", [])]


def summarize(report, host=None) -> dict:
    """A whole report's metrics through the one path of `run` and `import` (records, then case_metrics); a
    client/server report's default is its fleet."""
    if host is None and report.hosts:
        return case_metrics(fleet_records({h: group_records(phase_records(report, h)) for h in report.hosts}), None)
    return case_metrics(group_records(phase_records(report, host)), None)


def phase_metrics(report, host=None) -> list:
    """Each reporting group's metrics alone, with its name, host and group."""
    return [dict(case_metrics([r], None), name=r["name"], host=r["host"], groupid=r["groupid"])
            for r in group_records(phase_records(report, host))]


def fio_p99_us(direction: dict) -> float:
    return direction["clat_ns"]["percentile"]["99.000000"] / 1000.0


# ---- every captured file: fio's own IOPS, bandwidth and p99 come back -------------------------------------

@pytest.mark.parametrize("name", LOCAL_ONE_GROUP)
def test_one_group_summary_reproduces_fio(name):
    entries = raw_entries(name)
    summary = summarize(parse(text(name)))
    # fio prints IOPS with 6 decimals and bw_bytes as a whole number; here they are operations (bytes) over the
    # runtime fio reports, the same quotient
    assert summary["iops"] == pytest.approx(sum(e[d]["iops"] for e in entries for d in DIRS if d in e), rel=1e-9)
    for direction in ("read", "write"):
        ops = sum(e[direction]["total_ios"] for e in entries if direction in e)
        if ops:
            assert summary[f"{direction}_iops"] == pytest.approx(sum(e[direction]["iops"] for e in entries), rel=1e-9)
            assert summary[f"{direction}_bytes_per_s"] == pytest.approx(
                sum(e[direction]["bw_bytes"] for e in entries), abs=len(entries))
            assert summary["ops_read" if direction == "read" else "ops_written"] == ops
        else:
            assert f"{direction}_iops" not in summary and f"{direction}_lat_p99_us" not in summary
    carriers = [e[d] for e in entries for d in DIRS if d in e and e[d]["clat_ns"]["N"]]
    if len(carriers) == 1:
        assert summary["lat_p99_us"] == fio_p99_us(carriers[0])
        assert summary["lat_mean_us"] == pytest.approx(carriers[0]["clat_ns"]["mean"] / 1000.0)
        assert summary["lat_max_us"] == carriers[0]["clat_ns"]["max"] / 1000.0
    both = all(any(e[d]["clat_ns"]["N"] for e in entries if d in e) for d in ("read", "write"))
    for e in entries:  # with reads and writes, per-direction p99 is fio's own wherever one entry carries it
        for d in ("read", "write"):
            if not both:
                assert f"{d}_lat_p99_us" not in summary     # it would repeat lat_p99_us
            elif sum(x[d]["clat_ns"]["N"] > 0 for x in entries if d in x) == 1 and e[d]["clat_ns"]["N"]:
                assert summary[f"{d}_lat_p99_us"] == fio_p99_us(e[d])


@pytest.mark.parametrize("name", ALL_CAPTURED)
def test_every_entry_reproduces_fio(name):
    report = parse(text(name))
    entries = raw_entries(name)
    assert [j.name for j in report.jobs] == [e["jobname"] for e in entries]
    for job, entry in zip(report.jobs, entries):
        for d in DIRS:
            if d not in entry:
                assert d not in job.directions
                continue
            got, raw = job.directions[d], entry[d]
            assert (got.ops, got.bytes, got.iops) == (raw["total_ios"], raw["io_bytes"], raw["iops"])
            assert got.bytes_per_s == raw["bw_bytes"]
            assert got.runtime_s == raw["runtime"] / 1000.0
            if raw["clat_ns"].get("percentile"):
                assert got.percentiles_us[99.0] == fio_p99_us(raw)
                assert got.percentiles_us[99.9] == raw["clat_ns"]["percentile"]["99.900000"] / 1000.0
            assert got.bins_ns == {int(k): v for k, v in raw["clat_ns"].get("bins", {}).items()}


def test_units_are_converted_once():
    direction = parse(text("randread-4k.plus.json")).jobs[0].directions["read"]
    raw = raw_entries("randread-4k.plus.json")[0]["read"]
    assert direction.lat_mean_us == raw["clat_ns"]["mean"] / 1000.0
    assert direction.lat_min_us == raw["clat_ns"]["min"] / 1000.0
    assert direction.bytes_per_s == raw["bw_bytes"] == pytest.approx(raw["bw"] * 1024, rel=1e-3)
    assert direction.lat_samples == raw["clat_ns"]["N"]


def test_bw_in_kib_is_used_without_bw_bytes():
    doc = raw_docs("randread-4k.json")[0]
    del doc["jobs"][0]["read"]["bw_bytes"]
    assert parse(json.dumps(doc)).jobs[0].directions["read"].bytes_per_s == doc["jobs"][0]["read"]["bw"] * 1024.0


def test_plain_json_has_fio_percentiles_but_no_bins():
    report = parse(text("randread-4k.json"))
    read = report.jobs[0].directions["read"]
    assert read.bins_ns == {} and read.percentiles_us
    assert summarize(report)["lat_p99_us"] == fio_p99_us(raw_entries("randread-4k.json")[0]["read"])


def test_percentiles_are_left_out_rather_than_invented():
    """Two entries without bins: fio's percentiles cannot be merged, so there is no p99 (mean and max stay)."""
    summary = summarize(parse(text("randread-4k.json") * 2))
    assert "lat_p99_us" not in summary and "lat_p50_us" not in summary
    assert {"lat_mean_us", "lat_max_us", "iops"} <= set(summary)


def test_zero_op_directions_are_not_measured():
    """A direction that moved nothing has no rate or latency; its counts are what fio counted, 0 (as `run` has
    always stored them: the counts are exact metrics that compare checks)."""
    summary = summarize(parse(text("randread-4k.plus.json")))
    for key in ("write_iops", "write_bytes_per_s", "write_lat_p99_us", "read_lat_p99_us"):
        assert key not in summary
    assert summary["ops_written"] == summary["bytes_written"] == 0
    assert all(v != 0 for k, v in summary.items() if k not in ("ops_written", "bytes_written"))


def test_mixed_direction():
    report = parse(text("mixed.plus.json"))
    raw = raw_entries("mixed.plus.json")[0]["mixed"]
    assert set(report.jobs[0].directions) == {"mixed"}
    summary = summarize(report)
    assert summary["iops"] == pytest.approx(raw["iops"], rel=1e-9) and summary["lat_p99_us"] == fio_p99_us(raw)
    assert not {"read_iops", "write_iops"} & set(summary) and summary["ops_read"] == summary["ops_written"] == 0


def test_read_and_write_latency_merge_bins():
    entries = raw_entries("randrw-libaio-qd8.plus.json")
    summary = summarize(parse(text("randrw-libaio-qd8.plus.json")))
    bins = merge_bins(*({int(k): v for k, v in entries[0][d]["clat_ns"]["bins"].items()} for d in ("read", "write")))
    assert summary["lat_p99_us"] == percentile_from_bins(bins, 99.0) / 1000.0
    assert fio_p99_us(entries[0]["read"]) <= summary["lat_p99_us"] <= fio_p99_us(entries[0]["write"])
    assert summary["read_lat_p99_us"] == fio_p99_us(entries[0]["read"])
    assert summary["write_lat_p99_us"] == fio_p99_us(entries[0]["write"])


def test_group_reporting_numjobs():
    report = parse(text("group-numjobs2.plus.json"))
    assert len(report.jobs) == 1 and report.jobs[0].jobs_in_group == 1
    assert report.jobs[0].options["numjobs"] == "2"
    assert [j.jobs_in_group for j in parse(text("two-jobs.plus.json")).jobs] == [2, 2]


def test_cpu_seconds_from_fios_own_accounting():
    """usr_cpu + sys_cpu are percent of the group's summed job runtime: two 1 s jobs, 26% + 73.25% of 2 s."""
    assert parse(text("group-numjobs2.plus.json")).jobs[0].cpu_s == pytest.approx(0.9925 * 2.0)
    assert parse(text("randread-4k.json")).jobs[0].cpu_s == pytest.approx(0.997 * 1.0)
    doc = json.loads(text("randread-4k.json"))
    del doc["jobs"][0]["usr_cpu"]
    assert parse(json.dumps(doc)).jobs[0].cpu_s is None       # not reported: missing, not 0


# ---- phases: sequential groups ----------------------------------------------------------------------------

def test_two_phase_per_phase_and_time_weighted_total():
    report = parse(text("two-phase.plus.json"))
    write, read = raw_entries("two-phase.plus.json")
    phases = phase_metrics(report)
    assert [p["name"] for p in phases] == ["write-input", "read-input"]
    assert [p["groupid"] for p in phases] == [0, 1]
    assert phases[0]["iops"] == pytest.approx(write["write"]["iops"], rel=1e-9)
    assert phases[0]["bytes_written"] == write["write"]["io_bytes"]
    assert phases[0]["wall_s"] == write["write"]["runtime"] / 1000.0 and phases[0]["bytes_read"] == 0
    assert phases[1]["iops"] == pytest.approx(read["read"]["iops"], rel=1e-9)
    assert phases[1]["lat_p99_us"] == fio_p99_us(read["read"])
    summary = summarize(report)
    # Worked by hand from the file: the write group did 128 ops in 4 ms, the read group 839,441 ops in 1,001 ms,
    # one after the other: 1.005 s in all. A direction's rate is its operations over that whole time, and the
    # case's IOPS all operations over it: 839,569 / 1.005 s.
    assert summary["wall_s"] == pytest.approx(1.005)
    assert summary["read_iops"] == pytest.approx(835264.68, rel=1e-6)
    assert summary["write_iops"] == pytest.approx(127.36, rel=1e-3)
    assert summary["iops"] == pytest.approx(835392.04, rel=1e-6)


# ---- robustness --------------------------------------------------------------------------------------------

def test_text_before_the_json():
    body = text("qd-note-stdout.txt")
    assert body.startswith("note: both iodepth")
    report = parse(body)
    assert report.fio_version == "fio-3.33" and len(report.jobs) == 1
    assert parse("fio: a warning\n" + text("randread-4k.json") + "\nfio: trailing note\n") == \
        parse(text("randread-4k.json"))


def test_concatenated_documents_are_all_kept():
    report = parse(text("concat-2runs.txt"))
    first, second = raw_entries("concat-2runs.txt")
    assert report.documents == 2 and [j.document for j in report.jobs] == [0, 1]
    assert report.timestamp == raw_docs("concat-2runs.txt")[0]["timestamp"]
    phases = phase_metrics(report)
    assert [p["iops"] for p in phases] == pytest.approx([first["read"]["iops"], second["read"]["iops"]], rel=1e-9)
    summary = summarize(report)
    # By hand: 843,483 + 751,070 reads in 1.001 s + 1.001 s = 1,594,553 / 2.002 s
    assert summary["iops"] == pytest.approx(796480.02, rel=1e-6)
    assert min(p["iops"] for p in phases) < summary["iops"] < max(p["iops"] for p in phases)


def test_documents_back_to_back_on_one_line():
    """A document that starts on the line where the previous one ended (no newline between runs)."""
    one = text("randread-4k.json").strip()
    report = parse(one + one + "  " + one)
    assert report.documents == 3 and len(report.jobs) == 3
    assert {j.name for j in report.jobs} == {"randread"}


@pytest.mark.parametrize("body, words", [
    ("", "no fio JSON"),
    ("fio: engine libaio not loadable\n", "no fio JSON"),
    ('{\n  "fio version" : "fio-3.33",\n  "jobs" : [\n', "not valid JSON"),
    ('{"fio version": "fio-3.33", "jobs": [}', "not valid JSON"),
    ('{"a": 1}', "not fio output"),
    ('{"fio version": "fio-3.33", "jobs": [{"groupid": 0}]}', "jobname"),
])
def test_malformed_input_is_one_line_user_error(body, words):
    with pytest.raises(UserError) as info:
        parse(body)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_truncated_capture_is_refused():
    with pytest.raises(UserError, match="not valid JSON: .* line \\d+ column \\d+"):
        parse(text("randread-4k.plus.json")[:5000])


def test_fio_2_output_is_refused():
    with pytest.raises(UserError, match="fio-2.2.10.*fio >= 3.0"):
        parse(text("fio2-handmade.json"))


def test_output_without_version_or_with_usec_clat_is_refused():
    doc = raw_docs("fio2-handmade.json")[0]
    del doc["fio version"]
    with pytest.raises(UserError, match="older than 3.0"):
        parse(json.dumps(doc))
    doc["fio version"] = "fio-3.1"
    with pytest.raises(UserError, match="'clat' \\(usec\\)"):
        parse(json.dumps(doc))


def test_parse_is_pure_and_frozen():
    body = text("two-jobs.plus.json")
    report = parse(body)
    assert parse(body) == report
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.jobs[0].name = "x"


# ---- client/server -----------------------------------------------------------------------------------------

def test_client_stats_hosts():
    report = parse(text("client-server.plus.json"))
    assert report.hosts == ("127.0.0.1", "127.0.0.2")
    assert [j.host for j in report.jobs] == ["127.0.0.1", "127.0.0.2", ALL_CLIENTS]
    assert report.jobs[-1].name == ALL_CLIENTS


def test_client_stats_default_is_all_clients():
    raw = {e.get("hostname") if e["jobname"] != "All clients" else "all": e
           for e in raw_entries("client-server.plus.json")}
    summary = summarize(parse(text("client-server.plus.json")))
    assert summary["iops"] == pytest.approx(raw["all"]["read"]["iops"], rel=1e-9)
    assert summary["read_bytes_per_s"] == pytest.approx(raw["all"]["read"]["bw_bytes"], abs=1)
    assert summary["ops_read"] == raw["all"]["read"]["total_ios"]
    # "All clients" has no percentiles: they come from the two hosts' bins, between the hosts' own
    host_p99 = sorted(fio_p99_us(raw[h]["read"]) for h in ("127.0.0.1", "127.0.0.2"))
    assert host_p99[0] <= summary["lat_p99_us"] <= host_p99[1]
    assert summary["lat_mean_us"] == pytest.approx(raw["all"]["read"]["clat_ns"]["mean"] / 1000.0, rel=1e-6)
    assert not phase_records(parse(text("client-server.plus.json")), ALL_CLIENTS)   # never a record of its own


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_client_stats_one_host(host):
    [raw] = [e for e in raw_entries("client-server.plus.json")
             if e.get("hostname") == host and e["jobname"] != "All clients"]
    summary = summarize(parse(text("client-server.plus.json")), host=host)
    assert summary["iops"] == pytest.approx(raw["read"]["iops"], rel=1e-9)
    assert summary["lat_p99_us"] == fio_p99_us(raw["read"])


def test_unknown_host_and_host_for_local_output():
    assert phase_records(parse(text("client-server.plus.json")), "10.0.0.9") == []
    assert phase_records(parse(text("randread-4k.json")), "127.0.0.1") == []
    assert phase_records(parse(text("client-server.plus.json"))) == []      # no local entries in it


# ---- every number checked (NaN, Infinity, 1e400, negative, wrong types) -------------------------------------

def _changed(change) -> str:
    doc = raw_docs("randread-4k.json")[0]
    change(doc)
    return json.dumps(doc)


@pytest.mark.parametrize("change, words", [
    (lambda d: d["jobs"][0]["read"].update(iops=float("inf")), "Infinity"),
    (lambda d: d["jobs"][0]["read"].update(bw_bytes=float("nan")), "NaN"),
    (lambda d: d["jobs"][0]["read"]["clat_ns"].update(mean=float("-inf")), "-Infinity"),
    (lambda d: d["jobs"][0]["read"].update(iops=-5.0), "randread.read.iops must be a finite number >= 0"),
    (lambda d: d["jobs"][0]["read"].update(iops="fast"), "randread.read.iops is not a number"),
    (lambda d: d["jobs"][0]["read"].update(io_bytes=True), "io_bytes is not a number"),
    (lambda d: d["jobs"][0]["read"].update(total_ios=1.5), "total_ios must be a whole number"),
    (lambda d: d["jobs"][0]["read"].update(total_ios=10 ** 30), "total_ios is out of range"),
    (lambda d: d["jobs"][0]["read"].pop("total_ios"), "no 'total_ios'"),
    (lambda d: d["jobs"][0].update(groupid="one"), "'groupid' is not a number"),
    (lambda d: d["jobs"][0].update(read=[1]), "randread.read: not an object"),
    (lambda d: d["jobs"][0]["read"]["clat_ns"].update(N="many"), "clat_ns.N is not a number"),
    (lambda d: d["jobs"][0]["read"]["clat_ns"].update(percentile={"ninety": 5}), "key that is not a number"),
    (lambda d: d["jobs"][0]["read"]["clat_ns"].update(percentile={"150.0": 5}), "above 100"),
    (lambda d: d["jobs"][0]["read"]["clat_ns"].pop("mean"), "samples but no 'mean'"),
    (lambda d: d["jobs"][0].update(usr_cpu="busy"), "'usr_cpu' is not a number"),
    (lambda d: d["jobs"][0].update({"job options": [1]}), "'job options' is not an object"),
    (lambda d: d.update(timestamp="now"), "'timestamp' is not a number"),
])
def test_every_number_and_field_type_is_checked(change, words):
    with pytest.raises(UserError) as info:
        parse(_changed(change))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_out_of_range_literal_is_refused():
    real = text("randread-4k.json")
    huge = real.replace('"runtime" : 1001', '"runtime" : 1e400', 1)
    assert huge != real
    with pytest.raises(UserError, match="1e400"):
        parse(huge)


def test_deep_nesting_is_one_line_user_error():
    with pytest.raises(UserError, match="nested too deeply"):
        parse('{"jobs": ' + "[" * 100000 + "]" * 100000 + "}")
