"""Fuzzing the store's reading of run documents (bench/store/runs.py): a store holding a real run (made by
`tierbench run`, a subprocess) and a real import, one of whose run.json is mutated (fields deleted, values of the
wrong type, non-finite numbers, not JSON at all). `list`, `list --json` and `history` must still answer (exit 0,
no traceback), show the other run, and account for every run folder exactly once: listed, or reported as
skipped in one line."""
from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import cli
from tests.fuzz.bad_inputs import REAL_FIO
from tests.fuzz.harness import fuzz_settings, invoke
from tests.fuzz.strategies import mutated

FUZZ = fuzz_settings(150)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("store-fuzz")
    tier, store = base / "tier", base / "store"
    tier.mkdir()
    made = cli("run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin",
               "--param", "size=1m", "--param", "runtime_s=0.2", "--param", "direct=false", "--results", store,
               check=0, timeout=120)
    cli("import", REAL_FIO, "--results", store, check=0)
    runs = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(runs) == 2, (runs, made.stderr)
    docs = {r: json.loads((store / r / "run.json").read_text()) for r in runs}
    yield store, docs
    shutil.rmtree(base, ignore_errors=True)


def _check(store, bad: str, good: str) -> None:
    listing = invoke(["list", "--results", store])
    assert listing.kind == "exit" and listing.code == 0, listing.describe()
    assert "Traceback" not in listing.stderr
    assert sum(bad in line for line in listing.stderr.splitlines()) <= 1, listing.describe()

    as_json = invoke(["list", "--json", "--results", store])
    assert as_json.kind == "exit" and as_json.code == 0, as_json.describe()
    out = json.loads(as_json.stdout)
    listed = [r["run_id"] for r in out["runs"]]
    skipped = [r["run_id"] for r in out["skipped"]]
    assert good in listed, as_json.describe()
    assert len(listed) + len(skipped) == 2, as_json.describe()        # each folder once: listed or skipped
    reported = [line for line in as_json.stderr.splitlines() if bad in line]
    assert len(reported) == (1 if bad in skipped else 0), as_json.describe()
    event("bad document skipped" if bad in skipped else "mutated document still listed")

    history = invoke(["history", "--metric", "iops", "--results", store])
    assert history.kind == "exit" and history.code in (0, 1), history.describe()
    assert "Traceback" not in history.stderr
    assert sum(bad in line and "skipped" in line for line in history.stderr.splitlines()) <= 1, history.describe()


@FUZZ
@given(data=st.data(), which=st.integers(0, 1))
def test_one_mutated_run_document(store, data, which):
    root, docs = store
    bad, good = sorted(docs)[which], sorted(docs)[1 - which]
    path = root / bad / "run.json"
    original = path.read_bytes()
    try:
        path.write_text(json.dumps(data.draw(mutated(docs[bad])), indent=1))
        _check(root, bad, good)
    finally:
        path.write_bytes(original)


@FUZZ
@given(data=st.data(), which=st.integers(0, 1))
def test_one_damaged_run_document(store, data, which):
    root, docs = store
    bad, good = sorted(docs)[which], sorted(docs)[1 - which]
    path = root / bad / "run.json"
    original = path.read_bytes()
    at = data.draw(st.integers(0, len(original)))
    try:
        path.write_bytes(original[:at] + data.draw(st.binary(max_size=6)) + original[at + data.draw(st.integers(0, 30)):])
        _check(root, bad, good)
    finally:
        path.write_bytes(original)
