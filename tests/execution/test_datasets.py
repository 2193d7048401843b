"""Data laid out once per run and read again by its cases (bench.execution.datasets), through the real CLI:
which cases share it, that it is laid out once, removed when a case fails and when the run ends, never
followed through a planted link, and counted whole by the plan's space check on a real small file system."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.core.units import fmt_bytes
from bench.execution.datasets import dataset_dir_name, dataset_shape
from bench.execution.plan import Case
from tests.conftest import ROOT, cli, cli_json, leftovers, needs_fio, nothing_stored, refused, small_ext4

SMALL = ["--param", "size=4m", "--param", "runtime_s=0.3", "--param", "direct=false"]


def _case(workload, engine="fio", **params):
    return Case(0, workload, "pattern", "t", engine, params, 0).to_dict()


def test_which_cases_share_their_data():
    assert dataset_shape(_case("rand-read-4k")) == {"engine": "fio", "files": [["baseline", 256 * 2 ** 20, 1, 1]]}
    # one file: repeats, sweeps of iodepth and block size, and the sequential read baseline share it
    assert dataset_shape(_case("rand-read-4k", iodepth=32)) == dataset_shape(_case("seq-read-1m"))
    # each engine lays out its own; another size or job count is another dataset
    names = {dataset_dir_name("r", dataset_shape(c)) for c in (_case("rand-read-4k"), _case("rand-read-4k", "builtin"),
                                                                _case("rand-read-4k", size=2 ** 20),
                                                                _case("rand-read-4k", numjobs=2))}
    assert len(names) == 4
    # writers, warm-cache cases, preconditioning, raw devices, fleets and jobs keep their own files
    assert dataset_shape(_case("rand-write-4k")) is None and dataset_shape(_case("seq-write-1m")) is None
    assert dataset_shape(dict(_case("rand-read-4k"), cache=True)) is None
    for flag in ("raw", "fleet", "precondition"):
        assert dataset_shape(_case("rand-read-4k"), **{flag: True}) is None
    assert dataset_shape(dict(_case("terasort"), kind="job")) is None


@needs_fio
@pytest.mark.parametrize("engine", ["fio", "builtin"])
def test_repeats_and_sweeps_read_one_layout(tmp_path, store, engine):
    tier = tmp_path / "t"
    tier.mkdir()
    doc = cli_json("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--workload", "seq-read-1m",
                   "--workload", "seq-write-1m", "--param", "iodepth=1,4", "--engine", engine, "--repeat", "2",
                   *SMALL, "--results", store)
    assert doc["status"] == "complete"
    readers = [c for c in doc["cases"] if c["workload"] != "seq-write-1m"]
    assert len(readers) == 8 and len({c["dataset"]["dir"] for c in readers}) == 1
    assert [c["dataset"]["laid_out"] for c in readers] == [True] + [False] * 7
    assert all("dataset" not in c for c in doc["cases"] if c["workload"] == "seq-write-1m")
    assert all(c["metrics"]["ops_read"] > 0 for c in readers)
    assert not leftovers(tier), "the run's dataset must be removed when the run ends"


@needs_fio
def test_a_failed_case_drops_the_dataset(tmp_path, store):
    """A case that times out may leave its data half-written: the next case lays the files out again."""
    tier = tmp_path / "t"
    tier.mkdir()
    proc = cli("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--param", "iodepth=1",
               "--param", "runtime_s=0.3,30", "--param", "size=4m", "--param", "direct=false", "--timeout", "3",
               "--json", "--results", store, timeout=180)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["status"] == "partial"
    cases = [(c["params"]["runtime_s"], c["error"] is None, c.get("dataset", {}).get("laid_out"))
             for c in doc["cases"]]
    assert cases == [(0.3, True, True), (30.0, False, None)] or cases == [(0.3, True, True), (30.0, False, False)]
    again = cli_json("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--param", "iodepth=1",
                     "--param", "runtime_s=30,0.3", "--param", "size=4m", "--param", "direct=false",
                     "--timeout", "3", "--results", store, check=1, timeout=180)
    timed_out, after = again["cases"]
    assert "timed out" in timed_out["error"] and after["error"] is None and after["dataset"]["laid_out"] is True
    assert not leftovers(tier)


def _open_by_fio(tier: Path) -> bool:
    pids = subprocess.run(["pgrep", "-x", "fio"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            if any(os.readlink(f).startswith(str(tier)) and "-data-" in os.readlink(f)
                   for f in Path(f"/proc/{pid}/fd").iterdir()):
                return True
        except OSError:
            continue
    return False


@needs_fio
def test_a_link_planted_at_the_dataset_is_never_followed(tmp_path, store):
    """A symlink put at the dataset's name while the first case runs (to a folder outside the tier) fails the
    case that would follow it, and nothing is written or removed through it."""
    tier, outside, moved = tmp_path / "t", tmp_path / "outside", tmp_path / "t" / "moved"
    tier.mkdir(), outside.mkdir()
    (outside / "keep").write_text("x")
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--tier", f"t={tier}", "--workload", "rand-read-4k",
                             "--param", "iodepth=1,4", "--param", "size=4m", "--param", "runtime_s=3",
                             "--param", "direct=false", "--json", "--results", str(store)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60      # until case 0's fio has its file open (a path swapped before fio
    while not _open_by_fio(tier):          # opens it is followed, as for any tool that opens paths)
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    (dataset,) = tier.glob("tierbench-*-data-*")
    dataset.rename(moved)      # case 0 reads on from its open files
    dataset.symlink_to(outside)
    stdout, stderr = proc.communicate(timeout=120)
    doc = json.loads(stdout)
    assert proc.returncode == 1 and doc["cases"][0]["error"] is None, stderr
    assert "is not a directory" in doc["cases"][1]["error"]
    assert sorted(p.name for p in outside.iterdir()) == ["keep"] and dataset.is_symlink()
    dataset.unlink()
    shutil.rmtree(moved)
    assert not leftovers(tier)


@pytest.fixture
def small_tier(tmp_path):
    with small_ext4(tmp_path, 24 * 1024 ** 2) as mount:
        yield mount


def test_the_plan_counts_every_dataset_it_keeps(small_tier, store):
    """Two read baselines of 8 and 12 MiB each fit a 24 MiB ext4 alone, not together: the run keeps both
    datasets, so the plan is refused before anything runs, saying so; 4 and 12 MiB together fit and run."""
    free = shutil.disk_usage(small_tier).free
    assert 12.6 * 2 ** 20 < free < 21 * 2 ** 20, fmt_bytes(free)
    line = refused(cli("run", "--tier", f"small={small_tier}", "--workload", "rand-read-4k", "--param", "size=8m,12m",
                       "--param", "runtime_s=0.3", "--results", store))
    assert "1 other dataset the run keeps for its repeats" in line and f"{fmt_bytes(free)} free" in line, line
    assert nothing_stored(store) and sorted(p.name for p in small_tier.iterdir()) == ["lost+found"]
    if free > 16.8 * 2 ** 20:
        doc = cli_json("run", "--tier", f"small={small_tier}", "--workload", "rand-read-4k", "--param", "size=4m,12m",
                       "--param", "iodepth=1",
                       "--param", "runtime_s=0.3", "--repeat", "2", "--results", store)
        assert doc["status"] == "complete" and sorted(p.name for p in small_tier.iterdir()) == ["lost+found"]
        assert [c["dataset"]["laid_out"] for c in doc["cases"]] == [True, True, False, False]
    assert os.path.ismount(small_tier)


def test_only_real_dataset_directories_are_taken_as_stale(tmp_path):
    """What the next run removes (bench.execution.datasets.remove_stale_datasets): directories with a
    dataset's name; never a link of that name (its target stays), a file, or anything else named tierbench."""
    from bench.execution.datasets import remove_stale_datasets
    from bench.tiers.detect import detect

    tier, target = tmp_path / "t", tmp_path / "target"
    tier.mkdir(), target.mkdir()
    (target / "keep").write_text("x")
    stale = tier / "tierbench-20261206-000000-abc123-data-0123456789ab"
    stale.mkdir()
    (stale / "baseline.0.0").write_bytes(b"0" * 4096)
    (tier / "tierbench-20261206-000000-abc123-data-ba9876543210").symlink_to(target)
    (tier / "tierbench-20261206-000000-abc123-data-aaaaaaaaaaaa").write_text("a file")
    (tier / "tierbench-20261206-000000-abc123-c0").mkdir()
    (tier / "mine").mkdir()
    assert remove_stale_datasets([detect("t", str(tier))]) == [("t", "20261206-000000-abc123")]
    assert sorted(p.name for p in tier.iterdir()) == ["mine", "tierbench-20261206-000000-abc123-c0",
                                                       "tierbench-20261206-000000-abc123-data-aaaaaaaaaaaa",
                                                       "tierbench-20261206-000000-abc123-data-ba9876543210"]
    assert (target / "keep").exists()
