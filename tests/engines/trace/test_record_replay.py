"""record, show, replay and import-trace end to end with the real tools: strace traces a real program (GNU sort
with temp files, a Python program that uses pread, lseek and dup2), fio replays the stored trace on two tiers, and
the replay's ops and bytes must equal the trace's exactly; fio's own iolog (written by fio) imports and replays."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.engines.trace.replay import fidelity_problems
from tests.conftest import cli, needs_fio

needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace on PATH (apt-get install strace)")


def _record(store, *command, extra=()):
    proc = cli("record", "--results", store, "--json", *extra, "--", *command, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _input(path: Path, lines: int) -> Path:
    import random

    rng = random.Random(7)
    path.write_text("".join(f"{rng.getrandbits(64):016x} {i}\n" for i in range(lines)))
    return path


@needs_strace
@needs_fio
def test_record_sort_then_replay_on_two_tiers_matches_the_trace_exactly(tmp_path):
    store, work = tmp_path / "results", tmp_path / "work"
    work.mkdir()
    src = _input(work / "in.txt", 60_000)          # ~1.4 MB; -S 200K makes sort spill temp files
    doc = _record(store, "sort", "-S", "200K", "-T", str(work), str(src), "-o", str(work / "out.txt"))
    assert doc["status"] == "complete" and doc["kind"] == "trace"
    t = doc["trace"]
    size = src.stat().st_size
    assert t["totals"]["bytes_read"] >= size and t["totals"]["bytes_written"] >= size
    prof = t["profile"]
    by = {(r["class"], r["op"]): r for r in prof["by_class_op"]}
    assert by[("input", "read")]["bytes"] == size                   # the input read once, whole
    assert by[("output", "write")]["bytes"] == size                  # written through dup2 onto stdout
    temp = prof["temp_files"]
    assert temp["count"] >= 2 and temp["written_once_read_once"] == temp["count"]
    assert temp["lifetime_s"]["max"] > 0
    o = t["overhead"]
    assert o["untraced_wall_s"] > 0 and o["traced_wall_s"] > 0 and o["cpu_ratio"] is not None
    assert (store / doc["run_id"] / "trace.parquet").is_file()
    shown = cli("show", doc["run_id"], "--results", store, check=0)
    assert "temp files:" in shown.stdout and "sequential:" in shown.stdout

    tiers = [tmp_path / "a", tmp_path / "b"]
    for d in tiers:
        d.mkdir()
    proc = cli("replay", doc["run_id"], "--tier", f"a={tiers[0]}", "--tier", f"b={tiers[1]}", "--results", store,
               "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["status"] == "complete" and len(run["cases"]) == 2
    for case in run["cases"]:
        phases = {p["name"]: p for p in case["phases"]}
        assert set(phases) == {"input", "output", "temp"}
        for key in ("ops_read", "bytes_read", "ops_written", "bytes_written"):
            assert sum(p[key] for p in phases.values()) == t["totals"][key]
        assert case["replay"]["exact"] is True
    assert not any(os.listdir(d) for d in tiers)        # the case directories are gone
    shown = cli("show", run["run_id"], "--results", store, check=0)
    assert shown.stdout.count(": exact") == 2


PROGRAM = r"""
import os, sys
d = sys.argv[1]
fd = os.open(os.path.join(d, "data"), os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"a" * 10000)          # 0..10000
os.lseek(fd, 4096, os.SEEK_SET)
os.write(fd, b"b" * 100)            # 4096..4196
os.pread(fd, 500, 9000)             # 9000..9500
two = os.dup(fd)
os.write(two, b"c" * 50)            # shares the position: 4196..4246
os.dup2(fd, 9)
os.read(9, 54)                      # 4246..4300
os.fsync(fd)
os.close(fd); os.close(two); os.close(9)
os.unlink(os.path.join(d, "data"))
"""


@needs_strace
def test_offsets_follow_lseek_pread_and_shared_descriptions(tmp_path):
    store = tmp_path / "results"
    prog, data = tmp_path / "prog.py", tmp_path / "d"
    prog.write_text(PROGRAM)
    data.mkdir()
    doc = _record(store, sys.executable, str(prog), str(data), extra=("--path", str(data), "--no-baseline"))
    assert doc["trace"]["overhead"]["untraced_wall_s"] is None     # not measured: null, never 0
    import polars as pl

    df = pl.read_parquet(store / doc["run_id"] / "trace.parquet")
    io = df.filter(pl.col("op").is_in(["read", "write"]))
    got = list(zip(io["op"].to_list(), io["offset"].to_list(), io["length"].to_list()))
    assert got == [("write", 0, 10000), ("write", 4096, 100), ("read", 9000, 500), ("write", 4196, 50),
                   ("read", 4246, 54)]
    ops = df["op"].to_list()
    assert ops[0] == "create" and "sync" in ops and ops[-1] == "unlink"
    assert set(df["file"].to_list()) == {str(data / "data")}
    assert (io["latency_s"] >= 0).all()


RENAMING = r"""
import os, sys
d = sys.argv[1]
tmp, final = os.path.join(d, "shuffle.tmp"), os.path.join(d, "shuffle.data")
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 3000)
os.rename(tmp, final)               # Spark's shuffle writer: written under a temporary name, renamed into place
os.write(fd, b"y" * 1000)           # the open descriptor keeps its position: 3000..4000
os.close(fd)
fd = os.open(final, os.O_RDONLY)
os.read(fd, 4000)
os.close(fd)
os.unlink(final)
"""


@needs_strace
def test_a_renamed_file_stays_one_file(tmp_path):
    store = tmp_path / "results"
    prog, data = tmp_path / "prog.py", tmp_path / "d"
    prog.write_text(RENAMING)
    data.mkdir()
    doc = _record(store, sys.executable, str(prog), str(data), extra=("--path", str(data), "--no-baseline"))
    import polars as pl

    df = pl.read_parquet(store / doc["run_id"] / "trace.parquet")
    assert set(df["file"].to_list()) == {str(data / "shuffle.tmp")}
    io = df.filter(pl.col("op").is_in(["read", "write"]))
    assert list(zip(io["op"].to_list(), io["offset"].to_list(), io["length"].to_list())) == [
        ("write", 0, 3000), ("write", 3000, 1000), ("read", 0, 4000)]
    temp = doc["trace"]["profile"]["temp_files"]
    assert (temp["count"], temp["written_once_read_once"]) == (1, 1)
    assert doc["trace"]["profile"]["read_after_write_s"]["count"] == 1


COPYING = r"""
import os, sys
d = sys.argv[1]
a, b = os.path.join(d, "a"), os.path.join(d, "b")
with open(a, "wb") as f:
    f.write(b"z" * 8192)
fa = os.open(a, os.O_RDONLY)
fb = os.open(b, os.O_WRONLY | os.O_CREAT, 0o644)
os.sendfile(fb, fa, 1000, 2000)                 # offset given: a's position stays 0; b's moves
os.copy_file_range(fa, fb, 500)                 # both positions: a 0..500, b 2000..2500
os.copy_file_range(fa, fb, 100, 4096, 7000)     # both offsets given
os.close(fa)
os.close(fb)
"""


@needs_strace
def test_sendfile_and_copy_file_range_are_a_read_and_a_write(tmp_path):
    store = tmp_path / "results"
    prog, data = tmp_path / "prog.py", tmp_path / "d"
    prog.write_text(COPYING)
    data.mkdir()
    doc = _record(store, sys.executable, str(prog), str(data), extra=("--path", str(data), "--no-baseline"))
    import polars as pl

    df = pl.read_parquet(store / doc["run_id"] / "trace.parquet")
    io = df.filter(pl.col("op").is_in(["read", "write"]))
    a, b = str(data / "a"), str(data / "b")
    assert list(zip(io["file"].to_list(), io["op"].to_list(), io["offset"].to_list(), io["length"].to_list())) == [
        (a, "write", 0, 8192), (a, "read", 1000, 2000), (b, "write", 0, 2000), (a, "read", 0, 500),
        (b, "write", 2000, 500), (a, "read", 4096, 100), (b, "write", 7000, 100)]
    assert doc["trace"]["parse"]["unparsed_lines"] == 0


@needs_strace
def test_a_failing_command_is_stored_failed_with_its_trace(tmp_path):
    store = tmp_path / "results"
    proc = cli("record", "--results", store, "--json", "--no-baseline", "--", "sh", "-c", "exit 3")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed" and "status 3" in doc["error"]
    assert doc["trace"]["exit_status"] == 3


def test_fidelity_rule_names_every_difference():
    expected = {"temp": {"ops_read": 3, "bytes_read": 300, "ops_written": 3, "bytes_written": 300},
                "input": {"ops_read": 1, "bytes_read": 10, "ops_written": 0, "bytes_written": 0}}
    same = [{"name": "temp", "ops_read": 3, "bytes_read": 300, "ops_written": 3, "bytes_written": 300},
            {"name": "input", "ops_read": 1, "bytes_read": 10}]
    assert fidelity_problems(expected, same) == []
    short = [dict(same[0], bytes_read=299)]
    problems = fidelity_problems(expected, short)
    assert problems == ["class temp: bytes_read 299 replayed, 300 in the trace", "class input: fio reported nothing"]


FIO_JOB = """[w]
ioengine=psync
rw=randrw
bs=4k
size=256k
filename={path}
write_iolog={log}
"""


@needs_fio
def test_a_fio_iolog_written_by_fio_imports_and_replays_exactly(tmp_path):
    store = tmp_path / "results"
    job, log = tmp_path / "w.fio", tmp_path / "w.iolog"
    job.write_text(FIO_JOB.format(path=tmp_path / "f", log=log))
    subprocess.run(["fio", "--output-format=json", f"--output={tmp_path / 'o.json'}", str(job)], check=True,
                   capture_output=True)
    out = json.loads((tmp_path / "o.json").read_text())["jobs"][0]
    proc = cli("import-trace", log, "--format", "fio-iolog", "--results", store, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    tot = doc["trace"]["totals"]
    assert (tot["ops_read"], tot["bytes_read"]) == (out["read"]["total_ios"], out["read"]["io_bytes"])
    assert (tot["ops_written"], tot["bytes_written"]) == (out["write"]["total_ios"], out["write"]["io_bytes"])
    tier = tmp_path / "tier"
    tier.mkdir()
    proc = cli("replay", doc["run_id"], "--tier", f"t={tier}", "--timed", "--results", store, "--json")
    assert proc.returncode == 0, proc.stderr
    case = json.loads(proc.stdout)["cases"][0]
    assert case["params"]["timed"] is True and case["replay"]["exact"] is True
    assert sum(p["bytes_read"] for p in case["phases"]) == out["read"]["io_bytes"]


@needs_fio
def test_a_timed_replay_keeps_the_recorded_think_time(tmp_path):
    """Alibaba requests 0.4 s apart: a timed replay cannot end sooner (fio waits for each request's time), however
    busy the machine; the default replay does not wait (its own speed is not asserted: timing on a busy machine)."""
    store = tmp_path / "results"
    path = tmp_path / "ali.csv"
    path.write_text("".join(f"1,W,{i * 4096},4096,{1577808000000000 + i * 400_000}\n" for i in range(3)))
    trace = json.loads(cli("import-trace", path, "--format", "alibaba", "--results", store, "--json",
                           check=0).stdout)["run_id"]
    tier = tmp_path / "t"
    tier.mkdir()
    run = json.loads(cli("replay", trace, "--tier", f"t={tier}", "--timed", "--results", store, "--json",
                         check=0).stdout)
    assert "replay_no_stall" not in (store / run["run_id"] / "raw" / "case000.fio").read_text()
    assert run["cases"][0]["phases"][0]["wall_s"] >= 0.75     # the last request is due at 0.8 s
    fast = json.loads(cli("replay", trace, "--tier", f"t={tier}", "--results", store, "--json", check=0).stdout)
    assert "replay_no_stall=1" in (store / fast["run_id"] / "raw" / "case000.fio").read_text()


@pytest.mark.parametrize("fmt, text, totals", [
    # MSR Cambridge: Windows filetime, bytes, ResponseTime in 100 ns ticks
    ("msr", "128166372003061629,hm,0,Read,8192,4096,1331\n128166372003071629,hm,0,Write,0,8192,999\n"
            "128166372013061629,hm,1,Read,4096,512,20\n", (2, 4608, 1, 8192)),
    # Alibaba: device_id,opcode,offset,length,timestamp (µs)
    ("alibaba", "device_id,opcode,offset,length,timestamp\n3,R,4096,4096,1577808000000010\n"
                "3,W,0,16384,1577808000000500\n", (1, 4096, 1, 16384)),
    # Tencent CBS: Timestamp (s),Offset (sectors),Size (sectors),IOType (0 read, 1 write),VolumeID
    ("tencent", "1538323199,16,8,0,1576\n1538323200,0,16,1,1576\n1538323200,8,1,0,7\n", (2, 4608, 1, 8192)),
])
def test_block_traces_import_with_their_units(tmp_path, fmt, text, totals):
    store = tmp_path / "results"
    path = tmp_path / f"{fmt}.csv"
    path.write_text(text)
    doc = json.loads(cli("import-trace", path, "--format", fmt, "--results", store, "--json", check=0).stdout)
    t = doc["trace"]["totals"]
    assert (t["ops_read"], t["bytes_read"], t["ops_written"], t["bytes_written"]) == totals
    import polars as pl

    df = pl.read_parquet(store / doc["run_id"] / "trace.parquet")
    assert df["time_s"].min() == 0
    if fmt == "msr":
        assert df["time_s"].to_list()[:2] == pytest.approx([0, 0.001]) and df["latency_s"][0] == pytest.approx(1.331e-4)
    if fmt == "tencent":
        assert df.filter(pl.col("op") == "read")["offset"].to_list() == [8192, 4096]


@pytest.mark.parametrize("fmt, text, says", [
    ("msr", "128166372003061629,hm,0,Erase,0,4096,1\n", "line 1: not a msr request"),
    ("alibaba", "3,R,4096,4096\n", "line 1: 4 fields"),
    ("tencent", "1538323199,16,0,0,1576\n", "line 1: a request of 0 bytes"),
    ("fio-iolog", "fio version 3 iolog\n1 /x add\n5 /x trim 0 4096\n", "line 3: 'trim' cannot be replayed"),
    ("fio-iolog", "not an iolog\n", "not a fio iolog"),
])
def test_bad_trace_files_are_refused_in_one_line(tmp_path, fmt, text, says):
    store = tmp_path / "results"
    path = tmp_path / "t.csv"
    path.write_text(text)
    proc = cli("import-trace", path, "--format", fmt, "--results", store)
    assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not store.exists() or not any(store.iterdir())
