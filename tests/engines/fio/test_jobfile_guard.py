"""A user's job file inside the guard (bench.engines.fio.jobfile_guard): paths stay in the tier, commands and
non-file engines only with the flag that names them, limits and free space checked before the run exists.
Refusals go through the CLI in-process (nothing runs); one accepted file runs with the real fio."""
from __future__ import annotations

import os
import shutil

import pytest

from bench.core.errors import UserError
from bench.engines.fio.jobfile import read_jobfile
from bench.engines.fio.jobfile_guard import check_jobfile_safety, space_needed
from tests.conftest import cli
from tests.fuzz.harness import invoke, no_run, run_folders

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")


def _refusal(tmp_path, monkeypatch, text: str, *extra) -> str:
    tier, store, job = tmp_path / "tier", tmp_path / "store", tmp_path / "j.fio"
    tier.mkdir(exist_ok=True)
    job.write_text(text)
    with no_run(monkeypatch):
        answer = invoke(["run", "--tier", f"t={tier}", "--job-file", job, "--results", store, *extra])
    assert answer.kind == "exit" and answer.code == 2 and answer.one_line, answer.describe()
    assert not run_folders(store)
    return answer.stderr


@needs_fio
@pytest.mark.parametrize("text, says", [
    ("[j]\nfilename=../../../../../../../esc.dat\nsize=1m\nrw=write\n", "filename=../../../../../../../esc.dat climbs"),
    ("[j]\nwrite_bw_log=../../esc\nsize=1m\nrw=write\n", "write_bw_log=../../esc climbs"),
    ("[global]\nfilename=a/../../esc\n[j]\nsize=1m\nrw=write\n", "[global] filename=a/../../esc climbs"),
    ("[j]\nread_iolog=/etc/passwd\nsize=1m\nrw=read\n", "read_iolog=/etc/passwd is outside the tiers"),
    ("[j]\nfilename=${HOME}/x\nsize=1m\nrw=write\n", "environment variable"),
    ("[j]\nmem=mmapshared:/tmp/tb-mem\nsize=1m\nrw=write\n", "mem=/tmp/tb-mem is outside the tiers"),
    ("[j]\nexec_prerun=touch /tmp/tb-pwned\nsize=1m\nrw=write\n", "--allow-job-commands"),
    ("[j]\nexec_postrun=touch /tmp/tb-pwned\nsize=1m\nrw=write\n", "--allow-job-commands"),
    ("[j]\nioengine=sg\nfilename=x\nsize=1m\nrw=read\n", "--allow-engine sg"),
    ("[j]\nioengine=exec\nprogram=/bin/true\nsize=1m\n", "--allow-engine exec"),
    ("[j]\nioengine=external:/tmp/x.so\nsize=1m\nrw=read\n", "--allow-engine external"),
    ("[j]\ncgroup=tb\nsize=1m\nrw=write\n", "control group"),
    ("[j]\nnumjobs=100000\nsize=1m\nrw=write\n", "numjobs=100000, more than 1024"),
    ("[j]\nsize=0\nrw=write\n", "size=0: a job needs a size above 0"),
    ("".join(f"[j{i}]\nsize=4k\nrw=read\n" for i in range(300)), "300 job sections, more than 256"),
    ("[global]\nsize=4k\nrw=read\n" + "".join(f"[j{i}]\nnumjobs=200\n" for i in range(6)), "1200 jobs at once"),
])
def test_refused_before_the_run_exists(tmp_path, monkeypatch, text, says):
    assert says in _refusal(tmp_path, monkeypatch, text, "--quick")


@needs_fio
def test_free_space_covers_size_times_numjobs(tmp_path, monkeypatch):
    free = shutil.disk_usage(tmp_path).free
    text = f"[j]\nsize={free // 4 + 1}\nnumjobs=4\nrw=write\n"
    says = _refusal(tmp_path, monkeypatch, text)
    assert "job file j.fio needs" in says and "4 jobs x" in says
    # --quick caps each job at 16 MiB: the same file fits
    with no_run(monkeypatch):
        answer = invoke(["run", "--tier", f"t={tmp_path / 'tier'}", "--job-file", tmp_path / "j.fio", "--quick",
                         "--results", tmp_path / "store"])
    assert answer.kind == "would-run", answer.describe()


def test_a_link_in_the_tier_pointing_out_is_outside(tmp_path):
    tier = tmp_path / "tier"
    tier.mkdir()
    (tier / "out").symlink_to("/etc")
    job = read_jobfile("j.fio", "[j]\nfilename=out/passwd\nsize=1m\nrw=read\n")
    with pytest.raises(UserError, match="resolves to /etc/passwd, outside the tiers"):
        check_jobfile_safety(job, str(tier), [str(tier)], resolve=True)
    check_jobfile_safety(job, str(tier), [str(tier)], resolve=False)         # a remote tier: cannot look
    check_jobfile_safety(job, str(tier), [str(tier)], resolve=True, allow_paths=True)


def test_allowances_say_exactly_what_they_allow(tmp_path):
    tier = str(tmp_path)
    cmd = read_jobfile("j.fio", "[j]\nexec_prerun=true\nsize=1m\nrw=write\n")
    check_jobfile_safety(cmd, tier, [tier], allow_commands=True)
    with pytest.raises(UserError, match="--allow-job-commands"):
        check_jobfile_safety(cmd, tier, [tier], allow_paths=True, allow_engines=["exec"])
    sg = read_jobfile("j.fio", "[j]\nioengine=sg\nfilename=x\nsize=1m\n")
    check_jobfile_safety(sg, tier, [tier], allow_engines=["sg"])
    with pytest.raises(UserError, match="--allow-engine sg"):
        check_jobfile_safety(sg, tier, [tier], allow_commands=True, allow_paths=True)


def test_space_needed_counts_shared_files_once():
    job = read_jobfile("j.fio", "[global]\nfilename=data\nsize=10m\n[w]\nrw=write\n[r]\nstonewall\nrw=read\n"
                                "[other]\nfilename=x\nnumjobs=3\nsize=1m\n")
    assert space_needed(job, quick=False)[0] == 10 * 2 ** 20 + 3 * 2 ** 20
    many = read_jobfile("j.fio", "[j]\nfilesize=1g\nnrfiles=4\nnumjobs=2\n")
    assert space_needed(many, quick=False)[0] == 8 * 2 ** 30
    assert space_needed(many, quick=True)[0] == 2 * 4 * 16 * 2 ** 20


@needs_fio
def test_through_fio_servers_too_refused_before_any_host_is_contacted(tmp_path, monkeypatch):
    job = tmp_path / "j.fio"
    for text, says in [("[j]\nfilename=../../esc\nsize=1m\nrw=write\n", "climbs out"),
                       ("[j]\nexec_postrun=rm -rf /\nsize=1m\nrw=write\n", "--allow-job-commands")]:
        job.write_text(text)
        with no_run(monkeypatch):
            answer = invoke(["run", "--host", "127.0.0.1:1", "--tier", "t=/srv/tier", "--job-file", job, "--quick",
                             "--results", tmp_path / "store"])
        assert answer.code == 2 and answer.one_line and says in answer.stderr, answer.describe()


@needs_fio
def test_a_file_inside_the_tier_runs(tmp_path, store):
    tier, job = tmp_path / "tier", tmp_path / "j.fio"
    tier.mkdir()
    job.write_text("[j]\nfilename=sub.dat\nsize=1m\nrw=write\nbs=64k\nwrite_bw_log=bw\n")
    proc = cli("run", "--tier", f"t={tier}", "--job-file", job, "--quick", "--results", store, "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not os.path.exists(tmp_path / "bw_bw.1.log")      # logs stay in fio's working folder in raw/
