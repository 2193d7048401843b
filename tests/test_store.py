"""The results store: atomic documents, samples as Parquet, run references, schema refusal, concurrency."""
import json
import threading

import pytest

from bench.errors import UserError
from bench.model import Sample
from bench.store import Store


def _doc(run_id, **extra):
    """A finished run's document as the runner starts it (bench.runner.new_document), with no case."""
    from bench.runner import new_document

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
