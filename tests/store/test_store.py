"""The results store: atomic documents, samples as Parquet, run references, schema refusal, concurrency."""
import json
import threading

import pytest

from bench.core.errors import UserError
from bench.core.sample import Sample
from bench.store.runs import Store


def _doc(run_id, **extra):
    """A finished run's document as the runner starts it (bench.execution.runner.new_document), with no case."""
    from bench.execution.runner import new_document

    return {**new_document(run_id, []), "status": "complete", "cases": [], **extra}


def test_write_and_load(tmp_path):
    store = Store(tmp_path)
    folder = store.create_run()
    rid = folder.name
    store.write_document(_doc(rid, started_at="2026-11-26T00:00:00+00:00"))
    store.write_samples(rid, [(0, Sample("iops", 100.0, "iops", {"tier": "a"})),
                              (1, Sample("lat_p99_us", 5.5, "us", {"tier": "b", "engine": "fio"}))])
    assert store.load(rid)["run_id"] == rid
    assert store.load(rid[:12])["run_id"] == rid
    assert store.load("latest")["run_id"] == rid
    assert store.load(str(folder / "run.json"))["run_id"] == rid
    df = store.samples(rid)
    assert df.shape[0] == 2 and set(df["meta_tier"]) == {"a", "b"} and df["meta_engine"][0] is None
    assert (folder / "raw").is_dir()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.off_schema("stores a document of an unknown schema_version on purpose")
def test_refuses_unknown_schema_with_a_way_out(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run().name
    (tmp_path / rid / "run.json").write_text(json.dumps({"schema_version": 99, "run_id": rid}))
    with pytest.raises(UserError, match="schema_version 99 is not supported.*tierbench import"):
        store.load(rid)
    assert store.summaries()[0]["status"] == "unreadable"


def test_unknown_and_ambiguous_refs(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(UserError, match="no run"):
        store.load("nothing")
    for rid in ("20260101-000000-aaaaaa", "20260101-000000-aaaabb"):
        store.create_run(rid)
        store.write_document(_doc(rid))
    with pytest.raises(UserError, match="ambiguous"):
        store.load("20260101-000000-aaaa")


def test_concurrent_runs_never_collide(tmp_path):
    store, folders = Store(tmp_path), []

    def make():
        for _ in range(20):
            folders.append(store.create_run())

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 80


def test_an_interrupted_create_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C while the run folder is being made: no folder at all, hidden or not (never one without run.json)."""
    import bench.store.runs as store_module

    def interrupted(path, doc):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "_write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Store(tmp_path).create_run()
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_folder_holds_a_running_document_naming_its_process(tmp_path):
    import os

    folder = Store(tmp_path).create_run()
    doc = json.loads((folder / "run.json").read_text())
    assert doc["status"] == "running" and doc["process"]["pid"] == os.getpid() and doc["cases"] == []
    assert Store(tmp_path).load(folder.name)["status"] == "running"   # this process lives: still running


# -- one bad run.json among good ones (good ones made by the real CLI) -------------------------------------

BAD_DOCUMENTS = {
    "random-bytes": bytes(range(256)) * 3,
    "machine-null": None,       # filled in from a real document below
    "cases-5": None,
    "no-cases": None,
    "metric-string": None,
    "json-array": b"[1, 2, 3]",
}


def _bad(real: dict, kind: str) -> bytes:
    doc = json.loads(json.dumps(real))
    if kind == "machine-null":
        doc["machine"] = None
    elif kind == "cases-5":
        doc["cases"] = 5
    elif kind == "no-cases":
        del doc["cases"]
    elif kind == "metric-string":
        doc["cases"][0]["metrics"]["iops"] = "fast"
    return json.dumps(doc).encode()


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    """Two real runs (builtin engine, tiny) in one store."""
    from tests.conftest import cli

    root = tmp_path_factory.mktemp("store")
    tier = root / "tier"
    tier.mkdir()
    for _ in range(2):
        cli("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--engine", "builtin", "--param", "size=1m",
            "--param", "runtime_s=0.2", "--param", "direct=false", "--results", root / "results", check=0)
    return root / "results"


@pytest.mark.off_schema("stores one bad run document on purpose")
@pytest.mark.parametrize("kind", list(BAD_DOCUMENTS))
def test_one_bad_document_is_reported_and_skipped(good_store, tmp_path, kind):
    import shutil

    from tests.conftest import cli

    store = tmp_path / "results"
    shutil.copytree(good_store, store)
    good = sorted(p.name for p in store.iterdir())
    real = json.loads((store / good[0] / "run.json").read_text())
    bad = store / "20200101-000000-badbad"
    (bad / "raw").mkdir(parents=True)
    (bad / "run.json").write_bytes(BAD_DOCUMENTS[kind] or _bad(real, kind))

    listed = cli("list", "--results", store, "--json", check=0)
    runs = json.loads(listed.stdout)
    assert [r["run_id"] for r in runs["runs"]] == good and [s["run_id"] for s in runs["skipped"]] == [bad.name]
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"skipped run {bad.name}: "), listed.stderr
    table = cli("list", "--results", store, check=0)
    assert "Traceback" not in table.stderr and all(g in table.stdout for g in good)
    history = cli("history", "--metric", "iops", "--results", store, "--json", check=0)
    assert json.loads(history.stdout)["skipped_runs"][0]["run_id"] == bad.name
    compare = cli("compare", *good, "--results", store, "--json")
    assert compare.returncode in (0, 1) and "Traceback" not in compare.stderr, compare.stderr
    shown = cli("show", bad.name, "--results", store, check=2)
    assert len(shown.stderr.strip().splitlines()) == 1 and bad.name in shown.stderr, shown.stderr
    assert "Traceback" not in shown.stderr
