"""bench.engines.fio.run: how fio is started, timed out, and how its failures read. Most tests use a stand-in
"fio" (a small shell script) so that failures, signals and timeouts are exact and fast; one runs real fio."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest

from bench.core.errors import CaseError, UserError
from bench.engines.fio import run as fio_run
from bench.engines.fio.parse import parse
from bench.engines.fio.run import fio_version, run_fio

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")

# The stand-in finds --output=FILE among its arguments, as fio would.
FIND_OUTPUT = 'for a in "$@"; do case "$a" in --output=*) out="${a#--output=}";; esac; done\n'


def fake_fio(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-fio"
    script.write_text("#!/bin/sh\n" + FIND_OUTPUT + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def jobfile(tmp_path):
    path = tmp_path / "job.fio"
    path.write_text("[x]\nrw=read\nsize=4k\n")
    return str(path)


def test_missing_fio_is_a_user_error_with_the_install_hint(tmp_path, jobfile):
    with pytest.raises(UserError, match="fio is not installed.*sudo apt-get install fio"):
        run_fio(jobfile, str(tmp_path / "out.json"), timeout_s=5, fio="tierbench-no-such-fio")
    assert fio_version("tierbench-no-such-fio") is None


def test_missing_jobfile_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="job file not found"):
        run_fio(str(tmp_path / "nope.fio"), str(tmp_path / "out.json"), timeout_s=5, fio=fake_fio(tmp_path, ""))


def test_arguments_output_file_and_cwd(tmp_path, jobfile):
    fio = fake_fio(tmp_path, 'printf "%s\\n" "$@" > "$out"; pwd >> "$out"; echo "on stdout"')
    output = tmp_path / "out.json"
    workdir = tmp_path / "work"
    workdir.mkdir()
    lines = run_fio(jobfile, str(output), timeout_s=10, fio=fio, cwd=str(workdir)).splitlines()
    assert lines == ["--output-format=json+", f"--output={output}", jobfile, str(workdir)]


def test_stale_output_never_passes_for_this_run(tmp_path, jobfile):
    output = tmp_path / "out.json"
    output.write_text('{"fio version": "fio-3.33", "jobs": []}')
    with pytest.raises(CaseError, match="fio wrote no output"):
        run_fio(jobfile, str(output), timeout_s=10, fio=fake_fio(tmp_path, "exit 0"))


def test_nonzero_exit_carries_the_stderr_tail(tmp_path, jobfile):
    fio = fake_fio(tmp_path, 'echo "fio: first line" >&2; echo "fio: pid=1, err=28/file:io_u.c, error=No space left '
                             'on device" >&2; exit 1')
    with pytest.raises(CaseError) as info:
        run_fio(jobfile, str(tmp_path / "out.json"), timeout_s=10, fio=fio)
    message = str(info.value)
    assert message.startswith("fio exited with status 1: ")
    assert "No space left on device" in message and "\n" not in message


def test_killed_by_a_signal(tmp_path, jobfile):
    with pytest.raises(CaseError, match="killed by signal SIGKILL"):
        run_fio(jobfile, str(tmp_path / "out.json"), timeout_s=10, fio=fake_fio(tmp_path, "kill -KILL $$"))


def test_timeout_kills_the_whole_process_group(tmp_path, jobfile, monkeypatch):
    monkeypatch.setattr("bench.engines.fio.run.TERM_GRACE_S", 1.0)
    pids = tmp_path / "pids"
    # like fio, the stand-in forks a worker; both must be gone after the timeout, the worker ignores SIGTERM
    fio = fake_fio(tmp_path, f"(trap '' TERM; sleep 60) & echo $! > {pids}; sleep 60")
    started = time.monotonic()
    with pytest.raises(CaseError, match=r"^fio timed out after 1 s"):
        run_fio(jobfile, str(tmp_path / "out.json"), timeout_s=1, fio=fio)
    assert time.monotonic() - started < 15
    worker = int(pids.read_text())
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the forked worker outlived the timeout"


def test_interrupt_stops_fio_before_going_on(tmp_path, jobfile):
    """fio has its own session, so Ctrl-C (or the worker's SIGTERM, raised as KeyboardInterrupt) does not
    reach it: run_fio must stop it and let the interrupt through."""
    pids = tmp_path / "pids"
    fio = fake_fio(tmp_path, f"echo $$ > {pids}; (trap '' TERM; sleep 60) & echo $! >> {pids}; sleep 60")

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run_fio(jobfile, str(tmp_path / "out.json"), timeout_s=30, fio=fio)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "a process of fio's group outlived the interrupt"


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@needs_fio
def test_fio_version():
    assert fio_version().startswith("fio-3")


@needs_fio
def test_real_fio_run(tmp_path):
    job = tmp_path / "job.fio"
    job.write_text("[tiny]\nrw=randread\nbs=4k\nsize=256k\nioengine=psync\nfilename_format=tiny.$jobnum.$filenum\n")
    output = tmp_path / "out.json"
    text = run_fio(str(job), str(output), timeout_s=60, cwd=str(tmp_path))
    assert output.read_text() == text
    report = parse(text)
    assert report.jobs[0].directions["read"].ops == 64
    assert report.jobs[0].directions["read"].bins_ns, "run_fio asks for json+"


@needs_fio
def test_real_fio_bad_option_is_a_case_error(tmp_path):
    job = tmp_path / "job.fio"
    job.write_text("[bad]\nrw=sideways\nsize=4k\n")
    with pytest.raises(CaseError, match="fio exited with status 1: .*sideways"):
        run_fio(str(job), str(tmp_path / "out.json"), timeout_s=60, cwd=str(tmp_path))
    assert os.path.exists(tmp_path / "job.fio")


def _processes_mentioning(fragment: str) -> list:
    """PIDs of live processes whose command line contains `fragment` (read from /proc; nothing is killed)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited while listed
        if fragment in text and _alive(int(cmdline.parent.name)):
            found.append(int(cmdline.parent.name))
    return found


@needs_fio
@pytest.mark.parametrize("fio_stops", [True, False], ids=["fio-stops-its-jobs", "fio-sigkilled"])
def test_real_fio_timeout_leaves_no_job_process(tmp_path, monkeypatch, fio_stops):
    """fio's job processes setsid() and survive a SIGKILL of fio (running to the end of their runtime, and
    holding fio's pipes): the timeout must reach them too. The second case plays an fio that does not stop
    on SIGTERM (stuck in the kernel, say), so that it is SIGKILLed with its jobs still running."""
    if not fio_stops:
        real = fio_run._signal_group
        monkeypatch.setattr(fio_run, "_signal_group",
                            lambda pgid, sig: None if sig == signal.SIGTERM else real(pgid, sig))
        monkeypatch.setattr(fio_run, "TERM_GRACE_S", 0.5)
    started = time.monotonic()
    job = tmp_path / "long.fio"
    job.write_text("[long]\nrw=randread\nbs=4k\nsize=1m\nioengine=psync\ntime_based=1\nruntime=60\nnumjobs=2\n"
                   "filename_format=long.$jobnum.$filenum\n")
    with pytest.raises(CaseError, match="timed out after 1.5 s"):
        run_fio(str(job), str(tmp_path / "out.json"), timeout_s=1.5, cwd=str(tmp_path))
    assert time.monotonic() - started < 15, "the timeout was not enforced"
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(job)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_mentioning(str(job))


# -- a killed job process: fio exits 0 (captured in tests/data/fio/killed-job.*, README (j)) -----------------

DATA = Path(__file__).resolve().parents[2] / "data" / "fio"


def test_captured_killed_job_is_read_from_fios_stderr():
    assert fio_run.killed_jobs((DATA / "killed-job.stderr.txt").read_text()) == [(25089, 9)]
    assert fio_run.killed_jobs("fio: file hash not empty on exit\n") == []


def test_captured_killed_job_fails_the_phase_check():
    """fio's report of the killed job: error 0, no bytes in 0 s, but latency samples that look real; the
    phase check refuses it instead of storing a latency-only "success"."""
    from bench.analysis.metrics import check_phases
    from bench.core.pattern import Pattern, Phase
    from bench.engines.fio.engine import pattern_records

    report = parse((DATA / "killed-job.plus.json").read_text())
    assert report.jobs[0].error == 0 and report.jobs[0].directions["read"].bins_ns  # looks like a success
    pattern = Pattern("killed", (Phase("randread", "randread", bs=4096, size=8 << 20, runtime_s=10),))
    records = pattern_records(report, pattern, {"data": "t"})
    with pytest.raises(CaseError, match=r"phase randread: ran 0.0 s"):
        check_phases(records, pattern)
    records[0]["wall_s"] = 1.0     # even with a time, a phase that moved nothing fails
    with pytest.raises(CaseError, match=r"phase randread: moved no data \(0 bytes read in \d+ ops"):
        check_phases(records, pattern)


@needs_fio
def test_real_fio_job_killed_is_a_case_error(tmp_path):
    """SIGKILL of fio's job process (fio's child): fio exits 0; run_fio raises with the job's pid."""
    import threading

    import psutil

    job = tmp_path / "victim.fio"
    job.write_text("[victim]\nrw=randread\nbs=4k\nsize=1m\nioengine=psync\ntime_based=1\nruntime=20\n"
                   "filename_format=victim.$jobnum.$filenum\n")
    outcome = {}

    def run():
        try:
            run_fio(str(job), str(tmp_path / "out.json"), timeout_s=60, cwd=str(tmp_path))
        except CaseError as e:
            outcome["error"] = str(e)

    thread = threading.Thread(target=run)
    thread.start()
    victim, deadline = None, time.monotonic() + 20
    while victim is None and time.monotonic() < deadline:
        for pid in _processes_mentioning(str(job)):
            try:
                if str(job) in " ".join(psutil.Process(pid).parent().cmdline()):
                    victim = pid     # its parent is fio itself: the job process
            except (psutil.NoSuchProcess, AttributeError):
                continue
        time.sleep(0.05)
    assert victim is not None, "fio's job process never appeared"
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    thread.join(30)
    assert not thread.is_alive()
    assert f"fio exited 0 but its job process {victim} was killed by signal SIGKILL" in outcome.get("error", "")
