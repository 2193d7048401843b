"""Fuzzing `tierbench import` with mutations of the real fio outputs under tests/data/fio/: fields deleted,
values of the wrong type, NaN/Infinity, negative, huge and fractional numbers, and text truncated or with bytes
inserted. Property: refused (exit 2, one line, no run stored), or imported as a run whose every stored figure is
a finite number; a document holding NaN or Infinity anywhere is always refused."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import currently_in_test_context, event, given
from hypothesis import strategies as st

from tests.fuzz.harness import assert_refused_or_ok, fuzz_settings, invoke, run_folders
from tests.fuzz.strategies import mutated

FIO_DATA = Path(__file__).resolve().parents[1] / "data" / "fio"
REAL = {p.name: p.read_text() for p in sorted(FIO_DATA.glob("*.json"))}


def _first_document(text: str) -> dict:
    """The first JSON document of a capture (fio may print notes before it, as in killed-job.plus.json)."""
    return json.JSONDecoder().raw_decode(text, text.index("{"))[0]


DOCS = {name: _first_document(text) for name, text in REAL.items()}
FUZZ = fuzz_settings(250)


def _non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


@pytest.fixture
def space(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERBENCH_RESULTS", raising=False)
    return tmp_path, tmp_path / "store"


def _import(path: Path, store: Path):
    before = run_folders(store)
    answer = invoke(["import", path, "--results", store])
    assert_refused_or_ok(answer, store, before)
    if currently_in_test_context():
        event(f"answer: exit {answer.code}")
    if answer.kind == "exit" and answer.code in (0, 1):     # 1: stored, with a failed case
        (new,) = run_folders(store) - before
        doc = json.loads((store / new / "run.json").read_text())
        assert doc["cases"], "an import that stored a run stored its cases"
        for case in doc["cases"]:
            for key, value in case["metrics"].items():
                assert isinstance(value, (int, float)) and math.isfinite(value), (key, value)
    return answer


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(DOCS)))
def test_import_mutated_fio_json(space, data, name):
    base, store = space
    doc = data.draw(mutated(DOCS[name]))
    path = base / name
    path.write_text(json.dumps(doc, indent=1))
    answer = _import(path, store)
    if _non_finite(doc):
        assert answer.code == 2, f"NaN/Infinity accepted\n{answer.describe()}"


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(REAL)))
def test_import_damaged_fio_text(space, data, name):
    base, store = space
    raw = REAL[name].encode()
    at = data.draw(st.integers(0, len(raw)))
    cut = data.draw(st.integers(0, 40))
    damaged = raw[:at] + data.draw(st.binary(max_size=8)) + raw[at + cut:]
    path = base / name
    path.write_bytes(damaged)
    _import(path, store)


def test_real_outputs_import(space):
    """The property holds both ways: the captured outputs themselves import (the hand-made fio 2 one is refused,
    the killed job's is stored as a failed case: exit 1)."""
    base, store = space
    expected = {"fio2-handmade.json": 2, "killed-job.plus.json": 1}
    for name in sorted(REAL):
        answer = _import(FIO_DATA / name, store)
        assert answer.code == expected.get(name, 0), (name, answer.describe())
