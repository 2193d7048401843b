"""`tierbench import` on every captured real fio output reproduces fio's own IOPS, bandwidth and p99.

fio's figures are read straight from the JSON here (json.load of the fields), independently of the parser."""
import json
from pathlib import Path

import pytest

from tests.conftest import cli, cli_json

DATA = Path(__file__).resolve().parents[1] / "data" / "fio"
CAPTURED = sorted(p for p in DATA.iterdir() if p.is_file() and p.suffix in (".json", ".txt")
                  and "handmade" not in p.name
                  and not p.name.startswith("killed-job"))   # a killed job's output: no figures to reproduce


def _documents(path: Path) -> list:
    text, docs, decoder, i = path.read_text(), [], json.JSONDecoder(), 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return docs
        doc, end = decoder.raw_decode(text, i)
        docs.append(doc)
        i = end


def _fio_entries(path: Path):
    """(document, host, name, entry) for every entry fio printed (jobs[], or client_stats[])."""
    for number, doc in enumerate(_documents(path)):
        for job in doc.get("client_stats") or doc.get("jobs", []):
            host = job.get("hostname") if "client_stats" in doc else None
            if job["jobname"] == "All clients":
                host = "fleet"      # tierbench's name for fio's aggregate over the hosts
            yield number, host, job["jobname"], job


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_import_reproduces_fio_figures(path, store):
    doc = cli_json("import", str(path), "--results", store)
    cases = doc["cases"]
    entries = list(_fio_entries(path))
    assert len(cases) == len(entries)
    for number, host, name, job in entries:
        matching = [c for c in cases if c["params"]["document"] == number and c["host"] == host
                    and (c["workload"] == f"fio:{name}" or host == "fleet")]
        assert len(matching) == 1, (number, host, name)
        case = matching[0]
        dirs = [job[d] for d in ("read", "write", "trim", "mixed") if d in job and job[d]["total_ios"] > 0]
        iops = sum(d["iops"] for d in dirs)
        assert case["metrics"]["iops"] == pytest.approx(iops, rel=1e-6)
        if "read" in job and job["read"]["total_ios"]:
            assert case["metrics"]["read_bytes_per_s"] == pytest.approx(job["read"]["bw_bytes"], rel=1e-6)
        if len(dirs) == 1 and "percentile" in dirs[0]["clat_ns"]:
            p99 = dirs[0]["clat_ns"]["percentile"]["99.000000"] / 1000
            assert case["metrics"]["lat_p99_us"] == pytest.approx(p99, rel=1e-9)


def test_import_keeps_raw_files_and_lists_the_run(store):
    src = DATA / "randread-4k.plus.json"
    doc = cli_json("import", str(src), "--tier", "mem=/dev/shm:memory", "--capacity", "1T", "--results", store)
    raw = Path(store) / doc["run_id"] / "raw" / doc["cases"][0]["raw"][0]
    assert raw.read_bytes() == src.read_bytes()
    metrics = doc["cases"][0]["metrics"]
    assert metrics["iops_per_gb"] == pytest.approx(metrics["iops"] / 1000) and doc["tiers"][0]["class"] == "memory"
    listed = cli_json("list", "--results", store)
    assert [r["run_id"] for r in listed["runs"]] == [doc["run_id"]]


@pytest.mark.parametrize("content,message", [
    (None, "fio-2.2.10"), ("not json at all", "JSON"), ('{"fio version": "fio-3.33", "jobs": [{"jobname": ', ""),
])
def test_bad_fio_files_exit_2(tmp_path, store, content, message):
    path = DATA / "fio2-handmade.json" if content is None else tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    proc = cli("import", str(path), "--results", store)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert not Path(store).exists() or not any(Path(store).iterdir())


def test_missing_file_exit_2(store):
    proc = cli("import", "no-such-file.json", "--results", store)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


@pytest.mark.parametrize("change", [
    lambda d: d["jobs"][0]["read"].update(iops=float("inf")),        # json.dumps writes Infinity
    lambda d: d["jobs"][0]["read"].update(total_ios="many"),
    lambda d: d["jobs"][0].update(groupid={"a": 1}),
], ids=["infinity", "string-count", "object-groupid"])
def test_a_bad_input_is_refused_before_the_run_is_created(tmp_path, store, change):
    """All inputs are checked first: with a good file before the bad one, still nothing is stored."""
    doc = json.loads((DATA / "randread-4k.json").read_text())
    change(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    proc = cli("import", str(DATA / "randread-4k.json"), str(bad), "--results", store)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "bad.json" in proc.stderr
    assert not Path(store).exists() or not any(Path(store).iterdir())


def test_a_killed_job_is_imported_as_a_failed_case(store):
    """fio's output of a run whose job process was SIGKILLed (tests/data/fio/killed-job.*, exit 0 from fio):
    the case is stored failed with the reason, the run is `failed`, and import exits 1."""
    proc = cli("import", str(DATA / "killed-job.plus.json"), "--results", store, "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    (case,) = doc["cases"]
    assert "moved no data" in case["error"] and "got signal 9" in case["error"]
    assert "iops" not in case["metrics"]


# -- imports keep what fio measured and say where (issue 21, point 7) ----------------------------------------

def _fio_latency(direction: dict) -> dict:
    clat = direction["clat_ns"]
    pct = clat["percentile"]
    return {"lat_p50_us": pct["50.000000"] / 1000, "lat_p99_us": pct["99.000000"] / 1000,
            "lat_p999_us": pct["99.900000"] / 1000, "lat_mean_us": clat["mean"] / 1000,
            "lat_max_us": clat["max"] / 1000}


@pytest.mark.parametrize("name", ["randread-4k.json", "client-server.json"])
def test_plain_json_keeps_fios_own_percentiles_mean_and_max(store, name):
    """fio's default output (--output-format=json, no bins): latency from fio's clat_ns percentiles, mean and
    max, exactly as fio computed them, marked as fio's percentiles."""
    doc = cli_json("import", str(DATA / name), "--results", store)
    for number, host, job_name, job in _fio_entries(DATA / name):
        if host == "fleet":
            continue        # fio's "All clients" has no percentiles; the fleet case merges none
        (case,) = [c for c in doc["cases"] if c["host"] == host and c["workload"] == f"fio:{job_name}"]
        assert case["latency_source"] == "fio-percentiles"
        expected = _fio_latency(job["read"])
        assert {k: case["metrics"][k] for k in expected} == pytest.approx(expected, rel=1e-12)
        assert not case.get("latency_bins_ns")


def test_json_plus_bins_are_marked_as_bins(store):
    doc = cli_json("import", str(DATA / "randread-4k.plus.json"), "--results", store)
    assert doc["cases"][0]["latency_source"] == "bins" and doc["cases"][0]["metrics"]["lat_p99_us"] > 0


def test_an_import_is_stamped_with_the_machine_its_output_names_never_this_one(store):
    import socket

    local = cli_json("import", str(DATA / "randread-4k.json"), "--results", store)
    assert local["machine"]["hostname"] == "unknown" and local["machine"]["cpu_model"] is None
    assert local["machine"]["kernel"] == "unknown" and local["machine"]["fio_version"] == "fio-3.33"
    served = cli_json("import", str(DATA / "client-server.json"), "--results", store)
    assert served["machine"]["hostname"] == "127.0.0.1, 127.0.0.2"
    for doc in (local, served):
        assert socket.gethostname() not in doc["machine"]["hostname"].split(", ")
        assert "source" in doc["machine"]


def test_an_imports_tier_is_declared_not_detected_here(store, tmp_path):
    doc = cli_json("import", str(DATA / "randread-4k.json"), "--tier", f"fast={tmp_path}:nvme",
                   "--capacity", "1.6T", "--results", store)
    (tier,) = doc["tiers"]
    assert tier["class"] == "nvme" and tier["nominal_capacity_bytes"] == 1_600_000_000_000
    assert tier["device"] is None and tier["capacity_bytes"] is None and tier["filesystem"] is None
    assert "declared" in tier["reason"]
    bad = cli("import", str(DATA / "randread-4k.json"), "--capacity", "lots", "--results", store)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--capacity" in bad.stderr


def test_compare_never_gates_an_import_of_an_unnamed_machine(store):
    first = cli_json("import", str(DATA / "randread-4k.json"), "--results", store)
    second = cli_json("import", str(DATA / "randread-4k.json"), "--results", store)
    proc = cli("compare", first["run_id"], second["run_id"], "--results", store)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "does not say which machine" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
