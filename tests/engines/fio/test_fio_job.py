"""bench.engines.fio.job.render_jobfile: the job file's structure, and that plain fio runs what it renders."""
from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from bench.core.errors import UserError
from bench.core.pattern import Pattern, Phase
from bench.engines.fio.job import BARRIER_SCRIPT, EXPORT_BARRIER_DIR, RUN_HINT, render_jobfile
from bench.engines.fio.parse import parse
from bench.engines.fio.records import phase_records
from bench.engines.fio.run import run_fio

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")

MIB = 1 << 20
SPILL = Pattern("spill", (
    Phase("spill-write", "write", bs=MIB, size=8 * MIB, nrfiles=4, fileset="spill", role="temp",
          fsync_every=16, numjobs=2),
    Phase("spill-read", "randread", bs=4096, size=8 * MIB, nrfiles=4, fileset="spill", role="temp",
          iodepth=8, numjobs=2, runtime_s=2.5),
    Phase("output", "randrw", bs=4096, size=MIB, direct=False, rwmixread=70, cold=False, runtime_s=3),
))
DIRS = {"data": "data-dir", "temp": "temp-dir"}


def sections(text: str) -> configparser.ConfigParser:
    ini = configparser.ConfigParser(allow_no_value=True, interpolation=None, comment_prefixes=(";", "#"),
                                    delimiters=("=",), default_section="no-default")
    ini.optionxform = str
    ini.read_string(text)
    return ini


def test_one_section_per_phase_with_stonewalls():
    ini = sections(render_jobfile(SPILL, DIRS))
    assert ini.sections() == ["global", "spill-write", "spill-read", "output"]
    assert ini["global"]["group_reporting"] == "1"
    assert ini["global"]["percentile_list"] == "50:90:99:99.9:99.99"
    assert ini["global"]["randrepeat"] == "0"
    assert "stonewall" not in ini["spill-write"] and "new_group" not in ini["spill-write"]
    for name in ("spill-read", "output"):
        assert "stonewall" in ini[name] and "new_group" in ini[name]


def test_phase_options():
    ini = sections(render_jobfile(SPILL, DIRS))
    write, read, out = ini["spill-write"], ini["spill-read"], ini["output"]
    assert write["directory"] == read["directory"] == "temp-dir" and out["directory"] == "data-dir"
    assert write["filename_format"] == read["filename_format"] == "spill.$jobnum.$filenum"
    assert out["filename_format"] == "output.$jobnum.$filenum"
    assert (write["rw"], write["bs"], write["size"], write["filesize"], write["nrfiles"]) == \
        ("write", str(MIB), str(8 * MIB), str(2 * MIB), "4")
    assert write["numjobs"] == "2" and write["file_service_type"] == "roundrobin"
    assert write["fsync"] == "16" and write["end_fsync"] == "1" and write["direct"] == "1"
    assert "fsync" not in read and "end_fsync" not in read
    assert "rwmixread" not in write and out["rwmixread"] == "70"
    # A read-only phase is a mix with 100% reads, so that fio fills its buffers before the timed reads.
    assert (read["rw"], read["rwmixread"]) == ("randrw", "100")
    assert write["invalidate"] == read["invalidate"] == "1" and out["invalidate"] == "0"
    assert "time_based" not in write and "runtime" not in write
    assert (read["time_based"], read["runtime"]) == ("1", "2500ms")
    assert (out["time_based"], out["runtime"]) == ("1", "3")


def test_ioengine_choice_and_override():
    ini = sections(render_jobfile(SPILL, DIRS))
    assert ini["spill-write"]["ioengine"] == "psync"       # direct, iodepth 1
    assert ini["spill-read"]["ioengine"] == "libaio"       # direct, iodepth 8
    assert ini["output"]["ioengine"] == "psync"            # buffered
    assert ini["spill-read"]["iodepth"] == "8"
    ini = sections(render_jobfile(SPILL, DIRS, ioengine="io_uring"))
    assert {ini[s]["ioengine"] for s in ini.sections() if s != "global"} == {"io_uring"}


def test_extra_global_adds_and_replaces():
    ini = sections(render_jobfile(SPILL, DIRS, extra_global={"randrepeat": 1, "thread": None}))
    assert ini["global"]["randrepeat"] == "1" and "thread" in ini["global"]
    with pytest.raises(ValueError):
        render_jobfile(SPILL, DIRS, extra_global={"bad name": 1})
    with pytest.raises(ValueError):
        render_jobfile(SPILL, DIRS, extra_global={"description": "two\nlines"})


def test_multi_job_phases_start_through_the_barrier():
    """Each phase with several jobs runs the start barrier as its exec_prerun, in a directory of its own."""
    ini = sections(render_jobfile(SPILL, DIRS, barrier_dir="/runs/b"))
    assert ini["spill-write"]["exec_prerun"] == f"sh {BARRIER_SCRIPT} /runs/b/0-spill-write 2"
    assert ini["spill-read"]["exec_prerun"] == f"sh {BARRIER_SCRIPT} /runs/b/1-spill-read 2"
    assert "exec_prerun" not in ini["output"]                  # one job: nothing to wait for
    assert sections(render_jobfile(SPILL, DIRS))["spill-read"]["exec_prerun"].endswith(
        f" {EXPORT_BARRIER_DIR}/1-spill-read 2")                # exported files: relative to fio's cwd
    plain = sections(render_jobfile(SPILL, DIRS, barrier_dir=None))
    assert all("exec_prerun" not in plain[name] for name in plain.sections())


def test_header_says_what_and_how():
    text = render_jobfile(SPILL, DIRS)
    header = text[:text.index("[global]")]
    assert all(line.startswith(";") or not line for line in header.splitlines())
    assert "generated by tierbench" in header.lower() and "'spill'" in header
    assert RUN_HINT in header and RUN_HINT.startswith("fio ")


def test_pure_and_deterministic():
    assert render_jobfile(SPILL, DIRS) == render_jobfile(SPILL, dict(DIRS))
    assert render_jobfile(SPILL, DIRS).endswith("\n")


def test_directory_escaping_and_refusals():
    one = Pattern("p", (Phase("p1", "read", bs=4096, size=8192),))
    assert sections(render_jobfile(one, {"data": "a:b"}))["p1"]["directory"] == "a\\:b"
    with pytest.raises(UserError, match="needs a directory for its 'temp' data"):
        render_jobfile(SPILL, {"data": "d"})
    with pytest.raises(UserError, match="environment variable"):
        render_jobfile(one, {"data": "dir${HOME}"})
    with pytest.raises(UserError):
        render_jobfile(one, {"data": " padded "})
    with pytest.raises(ValueError, match="cannot name a fio job"):
        render_jobfile(Pattern("p", (Phase("has space", "read", bs=4096, size=8192),)), {"data": "d"})


@needs_fio
def test_fio_accepts_every_option(tmp_path):
    """fio parses the whole rendered file, direct I/O, libaio and time_based included (without running it)."""
    path = tmp_path / "spill.fio"
    path.write_text(render_jobfile(SPILL, {"data": str(tmp_path), "temp": str(tmp_path)}))
    proc = subprocess.run(["fio", "--parse-only", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@needs_fio
def test_rendered_file_runs_with_plain_fio(tmp_path):
    """Write a fileset in one phase and read the same files in the next: one fio entry per phase."""
    pattern = Pattern("write-then-read", (
        Phase("put", "write", bs=65536, size=MIB, nrfiles=2, fileset="shared", direct=False, numjobs=2),
        Phase("get", "randread", bs=4096, size=MIB, nrfiles=2, fileset="shared", direct=False, numjobs=2),
    ))
    job = tmp_path / "job.fio"
    job.write_text(render_jobfile(pattern, {"data": "files"}))
    (tmp_path / "files").mkdir()
    proc = subprocess.run(["fio", "--output-format=json", "--output=plain.json", "job.fio"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    phases = phase_records(parse((tmp_path / "plain.json").read_text()))
    assert [p["name"] for p in phases] == ["put", "get"]
    assert phases[0]["bytes_written"] == 2 * MIB and phases[0]["bytes_read"] == 0
    assert phases[1]["bytes_read"] == 2 * MIB and phases[1]["ops_read"] == 2 * MIB // 4096
    # the read phase read the write phase's files: two jobs x two files, nothing else
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == \
        ["shared.0.0", "shared.0.1", "shared.1.0", "shared.1.1"]
    # both jobs of each phase passed the start barrier, which kept its state in fio's working directory
    barrier = tmp_path / EXPORT_BARRIER_DIR
    assert sorted(p.name for p in barrier.iterdir()) == ["0-put", "1-get"]
    assert all(len(list(d.glob("arrived.*"))) == 2 for d in barrier.iterdir())
    shutil.rmtree(barrier)
    # and run_fio (json+) gives the same structure, with bins
    report = parse(run_fio(str(job), str(tmp_path / "plus.json"), timeout_s=120, cwd=str(tmp_path)))
    assert [j.name for j in report.jobs] == ["put", "get"]
    assert report.jobs[1].directions["read"].bins_ns
