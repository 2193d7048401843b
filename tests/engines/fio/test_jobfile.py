"""`run --job-file`: a user's own fio job file run as a case on a tier, with real fio."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.engines.fio.jobfile import QUICK_RUNTIME_S, QUICK_SIZE, point_at_tier, read_jobfile
from bench.execution.jobfile_case import threads
from bench.store.intervals import read_intervals
from tests.conftest import cli

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")

# Two reporting groups: two writers (one job section, numjobs=2), then a sequential and a random reader
# together; its directory names a place that is not a tier, as example files do.
MULTI = """\
; two groups: writers, then two readers at once
[global]
directory=/mount-point-of-ssd
size=2m
bs=4k
ioengine=psync

[writers]
rw=write
numjobs=2
end_fsync=1

[seqread]
stonewall
rw=read
filename_format=writers.$jobnum.0

[randread]
rw=randread
runtime=1
time_based=1
"""


@needs_fio
def test_a_multi_job_multi_group_file_runs_on_the_tier(tmp_path, store):
    tier = tmp_path / "tier"
    tier.mkdir()
    job = tmp_path / "mine.fio"
    job.write_text(MULTI)
    proc = cli("run", "--job-file", job, "--tier", f"t={tier}", "--results", store, "--json", check=0)
    doc = json.loads(proc.stdout)
    [case] = doc["cases"]
    assert doc["status"] == "complete" and case["workload"] == "jobfile:mine.fio" and case["kind"] == "jobfile"
    assert doc["job_file"]["name"] == "mine.fio" and case["params"]["sha256"] == doc["job_file"]["sha256"][:16]
    assert [(p["name"], p["group"]) for p in case["phases"]] == [("writers", 0), ("seqread+randread", 1)]
    raw = Path(store) / doc["run_id"] / "raw"
    assert (raw / "job-file-mine.fio").read_text() == MULTI
    ran = (raw / "case000.fio").read_text()
    assert "directory=/mount-point-of-ssd" not in ran.replace("was directory=/mount-point-of-ssd", "")
    assert f"directory={tier}/tierbench-{doc['run_id']}-c0" in ran
    jobs = _final_report((raw / "case000.fio.json").read_text())["jobs"]
    assert [j["jobname"] for j in jobs] == ["writers", "writers", "seqread", "randread"]
    written = sum(j["write"]["io_bytes"] for j in jobs if j["groupid"] == 0)
    read_ops = sum(j["read"]["total_ios"] for j in jobs if j["groupid"] == 1)
    assert case["phases"][0]["bytes_written"] == written == 2 * 2 * 2 ** 20
    assert case["phases"][1]["ops_read"] == read_ops
    assert case["metrics"]["ops_read"] == read_ops and case["metrics"]["bytes_written"] == written
    wall = max(j["write"]["runtime"] for j in jobs[:2]) / 1000 + max(j["read"]["runtime"] for j in jobs[2:]) / 1000
    assert case["metrics"]["wall_s"] == pytest.approx(wall)
    assert list(tier.iterdir()) == []        # the case's directory on the tier is gone with its files
    # figures over time (issue 22): per-interval rows named after the reporting groups, adding up to the totals
    assert case["intervals"]["file"] == "intervals.parquet" and case["intervals"]["rows"] > 0
    rows = read_intervals(Path(store) / doc["run_id"])
    assert set(rows["phase"]) <= {"writers", "seqread+randread"} and set(rows["case"]) == {case["id"]}
    summed = {d: rows.filter(rows["direction"] == d)["ops"].sum() for d in ("read", "write")}
    assert summed == {"read": read_ops, "write": case["metrics"]["ops_written"]}
    assert rows.filter(rows["phase"] == "writers")["ops"].sum() == case["phases"][0]["ops_written"]


def _final_report(text: str) -> dict:
    """The last JSON document of a fio output file (--status-interval reports come before it)."""
    decoder, at, doc = json.JSONDecoder(), text.index("{"), None
    while at >= 0:
        doc, end = decoder.raw_decode(text, at)
        at = text.find("{", end)
    return doc


@needs_fio
def test_fios_own_refusal_is_the_users_error(tmp_path, store):
    job = tmp_path / "bad.fio"
    job.write_text("[j]\nrw=sideways\nsize=1m\n")
    proc = cli("run", "--job-file", job, "--tier", f"t={tmp_path}", "--results", store)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "fio refuses the job file bad.fio" in proc.stderr and "sideways" in proc.stderr
    assert not Path(store).exists() or not any(Path(store).iterdir())


@needs_fio
def test_an_engine_fio_cannot_load_is_refused_in_fios_words(tmp_path, store):
    job = tmp_path / "eng.fio"
    job.write_text("[global]\nsize=1m\n[j]\nioengine=no-such-engine\nrw=read\n")
    proc = cli("run", "--job-file", job, "--tier", f"t={tmp_path}", "--results", store)
    assert proc.returncode == 2 and "fio refuses the job file eng.fio: fio: engine no-such-engine not loadable" \
        in proc.stderr


@needs_fio
def test_paths_outside_the_tiers_are_refused_unless_allowed(tmp_path, store):
    tier, elsewhere = tmp_path / "tier", tmp_path / "elsewhere"
    tier.mkdir()
    elsewhere.mkdir()
    job = tmp_path / "dev.fio"
    job.write_text("[raw-device]\nfilename=/dev/sdz\nrw=read\nsize=1m\n")
    proc = cli("run", "--job-file", job, "--tier", f"t={tier}", "--results", store)
    assert proc.returncode == 2 and "[raw-device] filename=/dev/sdz is outside the tiers" in proc.stderr
    job.write_text(f"[other]\nfilename={elsewhere}/f\nrw=write\nsize=64k\n")
    assert cli("run", "--job-file", job, "--tier", f"t={tier}", "--results", store).returncode == 2
    proc = cli("run", "--job-file", job, "--tier", f"t={tier}", "--allow-paths", "--results", store, "--json",
               check=0)
    assert json.loads(proc.stdout)["cases"][0]["metrics"]["bytes_written"] == 64 * 1024
    assert (elsewhere / "f").stat().st_size == 64 * 1024


def test_quick_caps_each_job_and_directory_points_at_the_tier():
    job = read_jobfile("x.fio", "[global]\nsize=10g\nruntime=900\n\n[a]\nrw=read\n\n[b]\nsize=1m\nruntime=1\n"
                                "ramp_time=60\n")
    text = point_at_tier(job, "/t/dir", ["/t"], quick=True)
    sections = text.split("[")
    assert f"size={QUICK_SIZE}" in sections[2] and f"runtime={QUICK_RUNTIME_S}" in sections[2]
    assert f"size={QUICK_SIZE}" not in sections[3] and "runtime=2" not in sections[3]   # already smaller
    assert "ramp_time=0" in sections[3] and sections[1].startswith("global]\n; tierbench: the tier's directory\n"
                                                                    "directory=/t/dir\n")
    assert point_at_tier(job, "/t/dir", ["/t"]).count("runtime=2") == 0                # only with --quick
    allowed = point_at_tier(read_jobfile("y.fio", "[global]\ndirectory=/x\n[a]\nfilename=/dev/sdz\n[b]\n"), "/t",
                            ["/t"], allow_paths=True)
    assert allowed.split("[")[2].count("directory=") == 0 and "directory=/t" in allowed.split("[")[3]
    assert "\ndirectory=/x" not in allowed
    # the directory comes before a [global] filename, which fio joins to the directory set when it reads it
    ssd = point_at_tier(read_jobfile("s.fio", "[global]\nfilename=ssd.test.file\ndirectory=/mnt\n[a]\nrw=read\n"),
                        "/t", ["/t"])
    assert ssd.index("directory=/t") < ssd.index("filename=ssd.test.file") and "\ndirectory=/mnt" not in ssd


def test_reading_and_counting_jobs():
    job = read_jobfile("m.fio", MULTI)
    assert job.jobs == ["writers", "seqread", "randread"] and threads(job) == 2
    assert threads(read_jobfile("n.fio", "[global]\nnumjobs=4 ; four\n[a]\n[b]\n[c]\nstonewall\n")) == 8
    for text, words in (("[global]\nsize=1m\n", "no job section"), ("size=1m\n[a]\n", "before any"),
                        ("include other.fio\n[a]\n", "include")):
        with pytest.raises(UserError, match=words):
            read_jobfile("z.fio", text)
