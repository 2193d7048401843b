"""`tierbench import` on every captured real fio output reproduces fio's own IOPS, bandwidth and p99.

fio's figures are read straight from the JSON here (json.load of the fields), independently of the parser."""
import json
from pathlib import Path

import pytest

from tests.conftest import cli, cli_json

DATA = Path(__file__).parent / "data" / "fio"
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
    doc = cli_json("import", str(src), "--tier", "mem=/dev/shm", "--results", store)
    raw = Path(store) / doc["run_id"] / "raw" / doc["cases"][0]["raw"][0]
    assert raw.read_bytes() == src.read_bytes()
    assert doc["cases"][0]["metrics"]["iops_per_gb"] > 0 and doc["tiers"][0]["class"] == "memory"
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
