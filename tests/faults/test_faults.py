"""Faults with real processes (issue 12, point 6): SIGKILL of a fio job process, of fio, of the worker and of
tierbench itself mid-run; SIGINT in the first moments; the tier directory removed mid-case; a tier that fills
up. Each runs the real CLI in a subprocess on plain directory tiers under tmp_path with a private store, and
checks what a user would rely on afterwards: the stored status tells the truth, the cases that finished are
kept, the error says what happened, no fio or worker process is left, and nothing is left on the tiers."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.store.runs import Store
from tests.conftest import ROOT, cli, needs_fio, small_ext4
from tests.engines.fio.test_fleet import _job_processes, break_mid_case, namespace_serving, serving

pytestmark = needs_fio

# Small files, page-cached reads: each case is about its runtime_s long.
FIO_READ = ["--workload", "rand-read-4k", "--engine", "fio", "--param", "size=4m", "--param", "iodepth=1",
            "--param", "direct=false"]


def _start(store: Path, tiers: dict, *args: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "bench", "run", *(f"--tier={n}={p}" for n, p in tiers.items()), *args,
            "--results", str(store), "--json"]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(predicate, timeout: float = 30.0, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


def _strays(store: Path) -> list:
    """Live processes working for a run of this store: its path in their command line (workers, fio and fio's
    job processes name files under raw/), or a run id of the store in their TIERBENCH_CASE tag."""
    runs = {p.name for p in store.iterdir()} if store.is_dir() else set()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if any(str(store) in arg for arg in proc.info["cmdline"] or ()):
                found.append(proc.info["pid"])
                continue
            tag = proc.environ().get("TIERBENCH_CASE", "")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if tag and tag.rsplit("-c", 1)[0] in runs:
            found.append(proc.info["pid"])
    return found


def _fio(store: Path, case: int):
    """(fio's pid, [its job processes' pids]) for case `case`, once fio's job processes run; else None."""
    marker = f"case{case:03d}.fio"
    fios = []
    for proc in psutil.process_iter(["pid", "ppid", "name", "cmdline"]):
        if proc.info["name"] == "fio" and any(str(store) in a and marker in a for a in proc.info["cmdline"] or ()):
            fios.append(proc.info)
    pids = {p["pid"] for p in fios}
    mains = [p["pid"] for p in fios if p["ppid"] not in pids]
    jobs = [p["pid"] for p in fios if p["ppid"] in pids]
    return (mains[0], jobs) if mains and jobs else None


def _worker(store: Path, case: int):
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or ())
        if "bench.execution.worker" in cmd and f"{store}" in cmd and f"case{case:03d}.spec.json" in cmd:
            return proc.info["pid"]
    return None


def _finish(proc: subprocess.Popen) -> tuple:
    stdout, stderr = proc.communicate(timeout=90)
    return proc.returncode, stdout, stderr


def _run_ids(store: Path) -> list:
    """The run folders: not the hidden `.ID.xxxx.creating` folder a run is built in before its rename (on a busy
    machine the SIGINT test would otherwise take that for the run and interrupt it before it exists)."""
    return sorted(p.name for p in store.iterdir() if not p.name.startswith("."))


def _assert_clean(store: Path, *tiers: Path) -> None:
    assert _wait_for(lambda: not _strays(store), timeout=20), f"processes left: {_strays(store)}"
    for tier in tiers:
        if tier.exists():
            assert not list(tier.iterdir()), f"left on tier {tier}: {list(tier.iterdir())}"
    assert not [p for p in store.iterdir() if p.name.startswith(".")], "a run folder left half made"


def _tiers(tmp_path: Path, *names: str) -> dict:
    out = {}
    for name in names:
        (tmp_path / name).mkdir()
        out[name] = tmp_path / name
    return out


# -- SIGKILL of fio's job process, of fio, of the worker: that case fails, the run goes on -------------------

@pytest.mark.parametrize("victim", ["fio-job", "fio", "worker"])
def test_sigkill_inside_a_case_fails_that_case_only(tmp_path, store, victim):
    tiers = _tiers(tmp_path, "a", "b")
    proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=2")
    running = _wait_for(lambda: _fio(store, 0))
    assert running, "case 0's fio never started"
    time.sleep(0.3)     # mid-case: the job is doing I/O
    fio_pid, jobs = running
    pid = {"fio-job": jobs[0], "fio": fio_pid, "worker": _worker(store, 0)}[victim]
    os.kill(pid, signal.SIGKILL)
    returncode, stdout, stderr = _finish(proc)
    doc = json.loads(stdout)
    assert returncode == 1, stderr
    assert doc["status"] == "partial" and doc["finished_at"]
    first, second = doc["cases"]
    expected = {"fio-job": f"its job process {pid} was killed by signal SIGKILL",
                "fio": "fio was killed by signal SIGKILL", "worker": "worker died"}[victim]
    assert expected in first["error"]
    assert not first["metrics"].get("iops") and not first["metrics"].get("lat_p99_us")
    assert second["error"] is None and second["metrics"]["iops"] > 0
    assert Store(store).load(doc["run_id"])["status"] == "partial"
    _assert_clean(store, *tiers.values())


# -- SIGKILL of tierbench itself: the run reads back interrupted, with what finished --------------------------

@pytest.mark.parametrize("during", [0, 1])
def test_sigkill_of_tierbench_leaves_an_interrupted_run(tmp_path, store, during):
    tiers = _tiers(tmp_path, "a", "b")
    proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=1.5")
    assert _wait_for(lambda: _fio(store, during)), f"case {during}'s fio never started"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)
    # The worker dies with its parent (SIGTERM from the kernel): it stops fio and removes its files.
    _assert_clean(store, *tiers.values())
    listed = json.loads(cli("list", "--results", store, "--json", check=0).stdout)
    (run,) = listed["runs"]
    assert run["status"] == "interrupted" and run["cases"] == during + 1
    doc = json.loads(cli("show", run["run_id"], "--results", store, "--json").stdout)
    assert doc["status"] == "interrupted" and doc["finished_at"] is None
    *done, killed = doc["cases"]
    assert [c["error"] for c in done] == [None] * during and all(c["metrics"]["iops"] > 0 for c in done)
    assert killed["id"] == during and killed["error"].startswith("interrupted") and killed["recovered"]


def test_a_result_that_reached_raw_but_not_the_document_is_recovered(tmp_path, store):
    """tierbench stopped (SIGSTOP) while case 0's worker finishes and writes its result, then SIGKILLed: the
    document never got case 0, raw/ did; readers recover it as measured."""
    tiers = _tiers(tmp_path, "a")
    proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=0.5")
    assert _wait_for(lambda: _fio(store, 0))
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        result = _wait_for(lambda: next(store.glob("*/raw/case000.result.json"), None), timeout=30)
        assert result, "the worker never wrote its result"
        assert json.loads(result.read_text())["error"] is None
        stored = json.loads((result.parent.parent / "run.json").read_text())
        assert stored["status"] == "running" and stored["cases"] == []
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)
    _assert_clean(store, *tiers.values())
    doc = Store(store).load("latest")
    assert doc["status"] == "interrupted"
    (case,) = doc["cases"]
    assert case["recovered"] and case["error"] is None and case["metrics"]["iops"] > 0


def test_data_left_by_a_kill_between_cases_is_removed_by_the_next_run(tmp_path, store):
    """tierbench stopped while case 0's worker finishes (case 1 still to read the run's dataset), then SIGKILLed:
    no worker is left to remove the dataset, so it stays; the next run that takes the tier alone removes it,
    saying so, and leaves the tier as clean as any run (bench.execution.datasets)."""
    tiers = _tiers(tmp_path, "a")
    proc = _start(store, {"a": tiers["a"]}, "--workload", "rand-read-4k", "--engine", "fio", "--param", "size=4m",
                  "--param", "iodepth=1,4", "--param", "direct=false", "--param", "runtime_s=0.5")
    assert _wait_for(lambda: _fio(store, 0))
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        assert _wait_for(lambda: next(store.glob("*/raw/case000.result.json"), None), timeout=30)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)
    assert _wait_for(lambda: not _strays(store), timeout=20), f"processes left: {_strays(store)}"
    (left,) = tiers["a"].iterdir()
    assert left.name.startswith("tierbench-") and "-data-" in left.name
    killed = _run_ids(store)[0]
    again = subprocess.run([sys.executable, "-m", "bench", "run", "--tier", f"a={tiers['a']}", "--workload",
                            "seq-write-1m", "--param", "size=1m", "--results", str(store)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"tier a: removed the data run {killed} left for its repeats" in again.stderr
    _assert_clean(store, *tiers.values())


# -- SIGINT at the very start: never a folder without its document -------------------------------------------

def test_sigint_in_the_first_moments_leaves_a_valid_run_or_none(tmp_path, store):
    tiers = _tiers(tmp_path, "a")
    # From process start (imports, plan, tiers), and within 100 ms of the run folder appearing.
    moments = [("start", 0.1), ("start", 0.5), ("folder", 0.0), ("folder", 0.05), ("folder", 0.1)]
    completed = set()
    for when, delay in moments:
        before = set(_run_ids(store)) if store.exists() else set()
        proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=1")
        if when == "folder":
            # the run folder itself (not the hidden one it is built in: an interrupt then leaves no run at all)
            assert _wait_for(lambda: store.exists() and {n for n in _run_ids(store) if not n.startswith(".")} - before,
                             timeout=30, every=0.002)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGINT)
        returncode, _, stderr = _finish(proc)
        if returncode == 0:
            # Python drops a KeyboardInterrupt raised inside an import-lock callback ("Exception ignored in
            # ... _get_module_lock"): the interrupt never reached tierbench, so the run must have finished whole.
            assert "Exception ignored" in stderr, f"{when}+{delay}: exit 0 without a lost interrupt: {stderr}"
            completed.add(Store(store).load("latest")["run_id"])
        if store.exists():
            _assert_clean(store, *tiers.values())
    listed = json.loads(cli("list", "--results", store, "--json", check=0).stdout)
    assert listed["skipped"] == [], listed
    assert len(listed["runs"]) >= 3    # the folder-triggered ones made a run each
    for run in listed["runs"]:
        expected = ("complete",) if run["run_id"] in completed else ("failed", "partial", "interrupted")
        assert run["status"] in expected, run
    for folder in store.iterdir():
        assert (folder / "run.json").is_file() and (folder / "raw").is_dir()


# -- the tier directory removed mid-case -------------------------------------------------------------------

def test_tier_removed_mid_case_fails_and_is_never_recreated(tmp_path, store):
    tiers = _tiers(tmp_path, "gone")
    proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=1", "--repeat", "2")
    assert _wait_for(lambda: _fio(store, 0))
    time.sleep(0.2)
    shutil.rmtree(tiers["gone"])
    returncode, stdout, stderr = _finish(proc)
    doc = json.loads(stdout)
    assert returncode == 1, stderr
    assert doc["status"] == "failed"
    for case in doc["cases"]:
        assert f"tier root {tiers['gone']} vanished" in case["error"]
        assert not case["metrics"].get("iops")
    assert not tiers["gone"].exists(), "the tier root was recreated"
    _assert_clean(store)


# -- a tier that fills up mid-case (a small loop-mounted ext4) ---------------------------------------------

@pytest.fixture
def small_tier(tmp_path):
    """A 32 MiB ext4 file system, loop-mounted in tmp_path, empty; torn down after."""
    with small_ext4(tmp_path, 32 << 20) as mount:
        shutil.rmtree(mount / "lost+found")
        yield mount


def _fill(path: Path) -> None:
    """Write a file until the file system is full (ENOSPC), as another tenant of the disk would."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 4096):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                if e.errno != 28:
                    raise


def test_tier_filling_up_mid_case_fails_the_case(tmp_path, store, small_tier):
    ok = _tiers(tmp_path, "ok")["ok"]
    proc = _start(store, {"small": small_tier, "ok": ok}, "--workload", "seq-write-1m", "--engine", "fio",
                  "--param", "size=20m", "--param", "bs=4096", "--param", "direct=true", "--param", "runtime_s=2")
    running = _wait_for(lambda: _fio(store, 0), every=0.005)
    assert running, "case 0's fio never started"
    job = psutil.Process(running[1][0])
    job.suspend()
    filler = small_tier / "filler"
    try:
        written = sum(p.stat().st_size for p in small_tier.rglob("baseline*"))
        if written >= 20 << 20:
            pytest.fail(f"fio wrote its whole file ({written} bytes) before it could be stopped")
        _fill(filler)
    finally:
        job.resume()
    try:
        returncode, stdout, stderr = _finish(proc)
    finally:
        filler.unlink()
    doc = json.loads(stdout)
    assert returncode == 1, stderr
    assert doc["status"] == "partial"
    small, okcase = doc["cases"]
    assert "No space left on device" in small["error"] and not small["metrics"].get("iops")
    assert okcase["error"] is None and okcase["metrics"]["write_iops"] > 0
    _assert_clean(store, small_tier, ok)


def _imported_trace(tmp_path, store, lines: str) -> str:
    """A trace in the store from an Alibaba-format block trace (device_id,opcode,offset,length,timestamp µs)."""
    path = tmp_path / "ali.csv"
    path.write_text(lines)
    return json.loads(cli("import-trace", path, "--format", "alibaba", "--results", store, "--json", check=0).stdout)[
        "run_id"]


def test_replay_bigger_than_the_tier_is_refused_before_the_run(tmp_path, store, small_tier):
    """A trace whose files take 64 MiB on a 32 MiB tier: refused in one line, no run stored, nothing written."""
    trace = _imported_trace(tmp_path, store, f"1,W,0,4096,10\n1,R,{(64 << 20) - 4096},4096,20\n")
    before = set(os.listdir(store))
    proc = cli("replay", trace, "--tier", f"small={small_tier}", "--results", store)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "the replay's files take up to 64.0 MiB" in proc.stderr
    assert set(os.listdir(store)) == before and not any(small_tier.iterdir())


def test_a_damaged_stored_trace_is_refused_in_one_line(tmp_path, store):
    trace = _imported_trace(tmp_path, store, "1,W,0,4096,10\n1,R,0,4096,20\n")
    (store / trace / "trace.parquet").write_bytes(b"PAR1 not really")
    tier = tmp_path / "t"
    tier.mkdir()
    proc = cli("replay", trace, "--tier", f"t={tier}", "--results", store)
    assert proc.returncode == 2 and "not a readable trace" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not any(tier.iterdir())
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_a_bundle_cut_short_in_transfer_is_refused_and_the_store_left_as_it_was(tmp_path, keep):
    """A run bundle copied between machines and cut off mid-transfer (bench.store.bundle): refused in one line,
    no run and no half-written folder in the receiving store."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    doc = json.loads(cli("import", str(ROOT / "tests" / "data" / "fio" / "randread-4k.json"), "--results", src,
                         "--json", check=0).stdout)
    bundle = tmp_path / "run.tgz"
    cli("export", doc["run_id"], "--bundle", bundle, "--results", src, check=0)
    data = bundle.read_bytes()
    bundle.write_bytes(data[:int(len(data) * keep)])
    proc = cli("import", "--bundle", bundle, "--results", dst)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not dst.exists() or list(dst.iterdir()) == []
# -- issue 22: a raw device tier is claimed for the whole run ---------------------------------------------------

def test_a_raw_device_cannot_be_formatted_or_mounted_while_a_run_measures_it(tmp_path, store):
    """`mkfs.ext4` on the device while a case writes to it fails (the run holds the kernel's exclusive claim,
    bench.tiers.raw); the run completes, and once it has ended the claim is gone (mkfs then works)."""
    import shutil as _shutil

    from tests.tiers.test_raw_device import loop_device

    if _shutil.which("mkfs.ext4") is None:
        pytest.skip("needs mkfs.ext4")
    with loop_device(tmp_path) as (device, _image):
        argv = [sys.executable, "-m", "bench", "run", f"--tier=n={device}:nvme", "--workload", "seq-write-1m",
                "--engine", "fio", "--param", "size=16m", "--param", "runtime_s=3", "--destroy-data",
                "--results", str(store), "--json"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        assert _wait_for(lambda: _fio(store, 0), timeout=60), "fio never started"
        mkfs = subprocess.run(["mkfs.ext4", "-q", "-F", device], capture_output=True, text=True)
        code, stdout, stderr = _finish(proc)
        assert mkfs.returncode != 0, "mkfs.ext4 formatted a device that a run was measuring"
        assert code == 0, stderr
        assert json.loads(stdout)["status"] == "complete"
        assert subprocess.run(["mkfs.ext4", "-q", "-F", device], capture_output=True).returncode == 0
        _assert_clean(store)
# -- Ctrl-C during steady-state rounds: the rounds stop, the run keeps what it had ----------------------------

def test_sigint_during_steady_state_rounds_stops_cleanly(tmp_path, store):
    """SIGINT while a --precondition --steady-state case is in its rounds (the live file shows a round's
    intervals): tierbench exits 130-ish (not 0), the run reads `interrupted` with the case failed
    "interrupted", no process is left and nothing is left on the tier; intervals.parquet, if written, is
    readable."""
    from bench.store.intervals import read_intervals

    tiers = _tiers(tmp_path, "a")
    proc = _start(store, tiers, *FIO_READ, "--precondition", "--steady-state", "--round-s", "1",
                  "--max-rounds", "20", "--no-live")
    live = _wait_for(lambda: [p for p in store.glob("*/raw/case000.live.jsonl") if '"round": 1' in p.read_text()],
                     timeout=60)
    assert live, "the rounds never reached round 1"
    os.kill(proc.pid, signal.SIGINT)
    returncode, _, stderr = _finish(proc)
    assert returncode != 0, stderr
    _assert_clean(store, *tiers.values())
    run = Store(store).load("latest")
    assert run["status"] in ("interrupted", "failed"), run["status"]
    assert [c["error"] for c in run["cases"]] and "interrupted" in run["cases"][0]["error"]
    read_intervals(store / run["run_id"])
# -- the store's own disk: full, removed, made immutable mid-run (issue 21, point 4) ---------------------------

@contextlib.contextmanager
def _tiny_tmpfs(folder: Path, size: str = "2m"):
    """A tmpfs of `size` mounted at `folder` (the store's own small disk); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for the store")
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tierbench-test-store", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _chattr(flag: str, path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr (e2fsprogs)")
    result = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"chattr {flag} is not supported here: {result.stderr.strip()}")


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tierbench: error")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize("fault", ["full", "removed", "immutable"])
def test_a_store_that_cannot_be_written_stops_the_run_and_keeps_what_was_stored(tmp_path, fault):
    tiers = _tiers(tmp_path, "a")
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(_tiny_tmpfs(tmp_path / "store")) if fault == "full" else tmp_path / "store"
        proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=0.5", "--repeat", "4")
        # case 0 saved, case 1 started: the fault strikes mid-run
        spec = _wait_for(lambda: next(store.glob("*/raw/case001.spec.json"), None), timeout=60)
        assert spec, "case 1 never started"
        folder = spec.parent.parent
        if fault == "full":
            _fill(store / "filler")
        elif fault == "removed":
            shutil.rmtree(store)
        else:
            _chattr("+i", folder)
            stack.callback(_chattr, "-i", folder)
        returncode, stdout, stderr = _finish(proc)
        assert returncode == 1 and stdout == "", stderr
        line = _one_error_line(stderr)
        reason = {"full": "No space left on device", "removed": "No such file or directory",
                  "immutable": "Operation not permitted"}[fault]
        assert f"results store {store}" in line and reason in line, line
        if fault == "full":
            (store / "filler").unlink()
        if fault == "removed":
            assert not store.exists(), "the removed store was made again"
            _assert_clean(tmp_path, *tiers.values())
            return
        doc = Store(store).load(folder.name)
        # its process is gone and its document says running: read as interrupted, with every case it measured
        assert doc["status"] == "interrupted"
        first, *rest = doc["cases"]
        assert first["id"] == 0 and first["error"] is None and first["metrics"]["iops"] > 0
        assert len(doc["cases"]) < 4, "the run went on after the store failed"
        if fault == "immutable":     # raw/ could still be written: case 1's result is recovered as measured
            (second,) = rest
            assert second["recovered"] and second["error"] is None and second["metrics"]["iops"] > 0
        for case in rest:
            assert case["error"] is None or "No space left on device" in case["error"] or \
                case["error"].startswith("interrupted"), case["error"]
        assert not list(folder.glob("raw/*.reserve")), "a reservation was left in raw/"
        _assert_clean(store, *tiers.values())


# -- Ctrl-C twice: the second never cuts the saving short (issue 21, point 4) ---------------------------------

@pytest.mark.parametrize("gap_s", [0.1, 0.3, 0.6, 1.0])
def test_double_ctrl_c_leaves_an_interrupted_run_with_every_finished_case(tmp_path, store, gap_s):
    tiers = _tiers(tmp_path, "a")
    proc = _start(store, tiers, *FIO_READ, "--param", "runtime_s=1", "--repeat", "3")
    assert _wait_for(lambda: _fio(store, 1), timeout=60), "case 1's fio never started"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(gap_s)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
    returncode, _, stderr = _finish(proc)
    assert returncode == 130 and "Traceback" not in stderr, stderr
    (folder,) = [p for p in store.iterdir()]
    stored = json.loads((folder / "run.json").read_text())
    assert stored["status"] == "interrupted" and stored["interrupted"] and stored["finished_at"], stored["status"]
    first, second = stored["cases"]
    assert first["error"] is None and first["metrics"]["iops"] > 0
    assert second["id"] == 1 and second["error"].startswith("interrupted")
    _assert_clean(store, *tiers.values())


# -- a Spark executor SIGKILLed mid map: Spark recovers, the case is not a measurement (issue 21, point 3) -----

def _executors(store: Path, main_class: str = "CoarseGrainedExecutorBackend") -> list:
    """Live JVMs of `main_class` (executors, or deploy.worker.Worker) working for a run of this store (the
    runner's case tag in their environment)."""
    runs = {p.name for p in store.iterdir()} if store.is_dir() else set()
    out = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if main_class in " ".join(proc.info["cmdline"] or ()) and \
                    proc.environ().get("TIERBENCH_CASE", "").rsplit("-c", 1)[0] in runs:
                out.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def _shuffle_files(temp: Path) -> list:
    return [p for p in temp.rglob("*") if p.name.startswith(("shuffle_", "temp_shuffle_"))]


@pytest.mark.parametrize("victim", ["executor", "worker"])
def test_a_spark_executor_or_worker_killed_mid_map_fails_its_case_with_the_reason(tmp_path, store, victim):
    from tests.engines.spark.test_engine_spark import needs_spark

    if needs_spark.args and needs_spark.args[0]:
        pytest.skip(needs_spark.kwargs["reason"])
    tiers = _tiers(tmp_path, "data", "temp")
    proc = _start(store, tiers, "--workload", "terasort", "--engine", "spark", "--data", "data", "--temp", "temp",
                  "--workers", "2", "--param", "records=100000", "--param", "partitions=2",
                  "--param", "block_size=4m", "--timeout", "240")
    try:
        assert _wait_for(lambda: len(_executors(store)) >= 2, timeout=180, every=0.1), "no executors started"
        # mid map: the first shuffle files appear under the workers' local dirs on the temp tier
        assert _wait_for(lambda: _shuffle_files(tiers["temp"]), timeout=120, every=0.01), "no map output seen"
        pid = (_executors(store) if victim == "executor" else _executors(store, "deploy.worker.Worker"))[0]
        os.kill(pid, signal.SIGKILL)
        returncode, stdout, stderr = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    doc = json.loads(stdout)
    assert returncode == 1 and doc["status"] == "failed", stderr
    (case,) = doc["cases"]
    assert "spark: the job was disturbed" in case["error"], case["error"]
    assert "executor" in case["error"] or "task(s) were retried" in case["error"], case["error"]
    if victim == "worker":
        assert "exited with status" in case["error"], case["error"]
    assert not case["metrics"].get("sort_s")
    _assert_clean(store, *tiers.values())


# -- the fleet's fio client SIGKILLed mid case (issue 21, point 3) ---------------------------------------------

@pytest.fixture
def servers(tmp_path):
    """fio servers on loopback addresses, started with `tierbench serve` (tests/engines/fio/test_fleet.py's fixture)."""
    yield from serving(tmp_path)


def test_a_killed_fio_client_waits_for_the_servers_jobs_before_the_next_case(servers, tmp_path, store):
    """issue 21: the fleet's fio client SIGKILLed mid case: the case fails with the reason, and the next case
    starts only once every server's job processes are gone (bench.engines.fio.drain; here fio's servers end a
    job within about 0.5 s of losing their client, so the wait is short)."""
    (a, a_pid_file), (b, b_pid_file) = servers("127.0.0.1"), servers("127.0.0.2")
    pids = [json.loads(f.read_text())["pid"] for f in (a_pid_file, b_pid_file)]
    tier = tmp_path / "tier"
    tier.mkdir()
    idle_at = {}

    def kill_client():
        (client,) = [p for p in psutil.process_iter(["pid", "cmdline"])
                     if p.info["cmdline"] and p.info["cmdline"][0].endswith("fio")
                     and any(a.startswith("--client=") for a in p.info["cmdline"])
                     and any(str(store) in a for a in p.info["cmdline"])]
        client.kill()
        deadline = time.monotonic() + 30
        while any(_job_processes(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        idle_at["t"] = time.time()

    rc, stdout, stderr = break_mid_case(
        ["run", "--host", a, "--host", b, "--tier", f"t={tier}", "--workload", "rand-read-4k", "--repeat", "2",
         "--param", "runtime_s=4", "--param", "size=4m", "--param", "iodepth=1", "--results", str(store), "--json"],
        pids[1], tier, "127.0.0.2", kill_client, timeout=120)
    assert rc == 1, stderr
    doc = json.loads(stdout)
    first = [c for c in doc["cases"] if c["plan_id"] == 0]
    second = [c for c in doc["cases"] if c["plan_id"] == 1]
    for case in first:
        assert "fio was killed by signal SIGKILL" in case["error"], case["error"]
    assert all(c["error"] is None for c in second), second
    started = (Path(store) / doc["run_id"] / "raw" / "case001.spec.json").stat().st_mtime
    assert started >= idle_at["t"] - 0.2, "the next case started while a server still ran the killed case's job"
    shutil.rmtree(tier)


@pytest.fixture
def namespace_host(tmp_path):
    """A fio server in a network namespace: not visible from this one (tests/engines/fio/test_fleet.py's fixture)."""
    yield from namespace_serving(tmp_path)


def test_a_killed_client_with_a_server_out_of_sight_stops_the_fleet_run(namespace_host, tmp_path, store):
    """The fleet's fio client SIGKILLed mid case while its server is one this machine cannot see (another network
    namespace, as another machine would be): whether that server still runs the job cannot be told, so the run
    stops rather than measure the next case beside it; it says so, stored and on stderr."""
    spec, _, pid_file = namespace_host
    pid = json.loads(pid_file.read_text())["pid"]
    tier = tmp_path / "tier"
    tier.mkdir()

    def kill_client():
        (client,) = [p for p in psutil.process_iter(["pid", "cmdline"])
                     if p.info["cmdline"] and p.info["cmdline"][0].endswith("fio")
                     and any(a.startswith("--client=") for a in p.info["cmdline"])
                     and any(str(store) in a for a in p.info["cmdline"])]
        client.kill()

    rc, stdout, stderr = break_mid_case(
        ["run", "--host", spec, "--tier", f"t={tier}", "--workload", "rand-read-4k", "--repeat", "3",
         "--param", "runtime_s=3", "--param", "size=4m", "--param", "iodepth=1", "--results", str(store), "--json"],
        pid, tier, spec.split(":")[0], kill_client, timeout=120)
    assert rc == 1, stderr
    doc = json.loads(stdout)
    assert {c["plan_id"] for c in doc["cases"]} == {0}, "a case ran after the client died"
    assert "cannot be told from here" in doc["stopped"] and "stopped:" in stderr
    assert all("fio was killed by signal SIGKILL" in c["error"] for c in doc["cases"])
    assert doc["status"] == "failed"
    shutil.rmtree(tier)
