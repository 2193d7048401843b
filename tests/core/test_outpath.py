"""Where tierbench writes outside a run folder (bench.core.outpath) and how it reads a user's files
(bench.core.userfile), on real files, FIFOs, devices and links; and the CLI's answers with them."""
from __future__ import annotations

import json
import os
import stat

import pytest

from bench.core.errors import UserError
from bench.core.outpath import checked_output_dir, checked_output_path, open_output_file, write_output_file
from bench.core.userfile import check_json_depth, load_user_json, read_user_bytes, read_user_text
from tests.conftest import ROOT, cli

REAL_FIO = ROOT / "tests" / "data" / "fio" / "randread-4k.json"


@pytest.fixture
def places(tmp_path):
    fifo, link, target = tmp_path / "fifo", tmp_path / "link", tmp_path / "target"
    os.mkfifo(fifo)
    target.write_text("keep")
    link.symlink_to(target)
    return tmp_path, fifo, link, target


def test_outputs_go_to_a_regular_file_or_a_new_name(places):
    tmp, fifo, link, target = places
    for bad, why in [(fifo, "is a FIFO"), (link, "is a symbolic link"), (tmp, "is a directory"),
                     ("/dev/null", "is a character device"), ("/dev/full", "is a character device"),
                     (tmp / "nope" / "x", "does not exist"), ("/etc/tierbench-x", "a system path"),
                     ("", "not a file name")]:
        with pytest.raises(UserError, match=why):
            checked_output_path(bad, what="-o")
    assert checked_output_path(target) == target and checked_output_path(tmp / "new") == tmp / "new"
    # --allow-system-path lifts the system-path rule, never the rule on kinds of file
    with pytest.raises(UserError, match="character device"):
        checked_output_path("/dev/null", allow_system=True)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link) and target.read_text() == "keep"


def test_write_output_file_replaces_a_regular_file_whole_and_leaves_nothing_else(places):
    tmp, fifo, link, target = places
    write_output_file(target, "new", what="-o")
    assert target.read_text() == "new" and not os.path.islink(target)
    write_output_file(tmp / "fresh.html", b"\x00\x01")
    assert (tmp / "fresh.html").read_bytes() == b"\x00\x01"
    with pytest.raises(UserError):
        write_output_file(link, "x")
    assert sorted(p.name for p in tmp.iterdir()) == ["fifo", "fresh.html", "link", "target"]
    with open_output_file(tmp / "log", append=True) as f:
        f.write(b"a")
    with open_output_file(tmp / "log", append=True) as f:
        f.write(b"b")
    assert (tmp / "log").read_bytes() == b"ab"
    with pytest.raises(UserError, match="FIFO"):
        open_output_file(fifo, append=True)       # would block without a reader: refused before opening


def test_output_folders(places, tmp_path):
    tmp, fifo, link, _ = places
    assert checked_output_dir(tmp / "jobs").is_dir()
    for bad, why in [(fifo, "FIFO"), (tmp / "a" / "b", "does not exist"), ("/etc/tierbench-jobs", "system path")]:
        with pytest.raises(UserError, match=why):
            checked_output_dir(bad, what="--export-jobs")
    assert not (tmp / "a").exists() and not os.path.exists("/etc/tierbench-jobs")


def test_user_files_are_regular_bounded_and_shallow(places):
    tmp, fifo, _, target = places
    for bad, why in [("/dev/zero", "character device"), (fifo, "FIFO"), (tmp, "directory"),
                     (tmp / "missing", "No such file")]:
        with pytest.raises(UserError, match=why):
            read_user_bytes(bad, what="--hosts", limit=1 << 20)
    big = tmp / "big"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(UserError, match="2000 bytes, more than the 1000"):
        read_user_bytes(big, what="--hosts", limit=1000)
    assert read_user_bytes(big, what="--hosts", limit=2000) == b"x" * 2000
    (tmp / "bad.txt").write_bytes(b"a\xffb")
    with pytest.raises(UserError, match="not UTF-8 text"):
        read_user_text(tmp / "bad.txt", what="--hosts", limit=100)
    deep = tmp / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UserError, match="nested more than 64 levels"):
        load_user_json(deep, what="--host-detect", limit=1 << 20)
    check_json_depth(json.dumps({"a": "[" * 1000, "b": [[1]]}), where="x")     # brackets in strings are text
    with pytest.raises(UserError, match="not valid JSON"):
        (tmp / "half.json").write_text('{"a": ')
        load_user_json(tmp / "half.json", what="x", limit=100)


def _answer(proc) -> tuple:
    return proc.returncode, proc.stderr.count("\n"), "Traceback" in proc.stderr


def test_cli_report_and_export_jobs_refuse_what_is_not_theirs(places, store):
    tmp, fifo, link, target = places
    cli("import", REAL_FIO, "--results", store, check=0)
    for out in ("/dev/null", "/dev/full", fifo, link, "/etc/tierbench-report.html", tmp / "nope" / "r.html"):
        proc = cli("report", "latest", "-o", out, "--results", store, timeout=120)
        assert _answer(proc) == (2, 1, False), proc.stderr
        assert proc.stderr.startswith("tierbench: error: -o ")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link) and target.read_text() == "keep"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not os.path.exists("/etc/tierbench-report.html")
    cli("report", "latest", "-o", target, "--results", store, check=0, timeout=120)
    assert target.read_text().startswith("<!DOCTYPE html>")
    tier = tmp / "tier"
    tier.mkdir()
    proc = cli("run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin", "--param", "size=1m",
               "--param", "runtime_s=0.2", "--export-jobs", "/etc/tierbench-jobs", "--results", store)
    assert _answer(proc) == (2, 1, False) and "system path" in proc.stderr, proc.stderr
    assert not os.path.exists("/etc/tierbench-jobs")


def test_cli_never_waits_on_a_fifo_or_reads_dev_zero(places, store):
    tmp, fifo, _, _ = places
    tier = tmp / "tier"
    tier.mkdir()
    fleet = ("run", "--tier", "t=/srv/tier", "--workload", "seq-read-1m", "--results", store)
    for argv in [("import", fifo, "--results", store), ("import", "/dev/zero", "--results", store),
                 (*fleet, "--hosts", fifo), (*fleet, "--hosts", "/dev/zero"),
                 (*fleet, "--host", "127.0.0.1:1", "--host-detect", f"127.0.0.1:1={fifo}"),
                 ("run", "--tier", f"t={tier}", "--job-file", fifo, "--results", store)]:
        proc = cli(*argv, timeout=60)
        assert _answer(proc) == (2, 1, False), (argv, proc.stderr)
        assert "not a regular file" in proc.stderr, proc.stderr
    assert not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]


@pytest.mark.off_schema("a run.json nested 200,000 deep, on purpose")
def test_cli_deeply_nested_documents_are_one_line(tmp_path, store):
    cli("import", REAL_FIO, "--results", store, check=0)
    cli("import", REAL_FIO, "--results", store, check=0)
    bad = sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))[-1]
    (bad / "run.json").write_text("[" * 200000 + "]" * 200000)
    proc = cli("show", bad.name, "--results", store)
    assert _answer(proc) == (2, 1, False) and "nested more than 64" in proc.stderr, proc.stderr
    for argv in (("list",), ("history", "--metric", "iops")):
        proc = cli(*argv, "--results", store)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert [line for line in proc.stderr.splitlines() if bad.name in line and "nested" in line], proc.stderr
