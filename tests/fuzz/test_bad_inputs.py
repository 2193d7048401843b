"""The named bad inputs of issue 12 (tests/fuzz/bad_inputs.py), each through the CLI in-process: refused with
exit 2 and one line on stderr and nothing stored, or, for a bad run document in the store, reported in one
line while the good run is still listed. `python -m tests.fuzz.bad_inputs` runs the same table through the
real CLI in subprocesses and prints the figures."""
from __future__ import annotations

import pytest

from tests.fuzz.bad_inputs import BAD_INPUTS, make_workspace, prepare, restore, verdict
from tests.fuzz.harness import invoke, no_run


def _code(answer):
    return {"exit": answer.code, "traceback": "traceback", "hang": "hang"}.get(answer.kind, f"{answer.kind}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    def setup_cli(argv):
        answer = invoke(argv)
        assert answer.kind == "exit" and answer.code == 0, answer.describe()

    return make_workspace(tmp_path_factory.mktemp("bad-inputs"), setup_cli)


@pytest.mark.parametrize("entry", BAD_INPUTS, ids=[e.name for e in BAD_INPUTS])
def test_bad_input_is_answered(entry, workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # a run without tiers would make its scratch tier here
    monkeypatch.setenv("TIERBENCH_EMULATE_DIR", str(tmp_path / "emu"))
    saved = (workspace.store / workspace.bad_run / "run.json").read_bytes()
    argv = prepare(entry, workspace, tmp_path / "in")
    before = {p.name for p in workspace.store.iterdir()}
    try:
        with no_run(monkeypatch):
            answer = invoke(argv)
        after = {p.name for p in workspace.store.iterdir()}
        result = verdict(entry, _code(answer), answer.stdout, answer.stderr, before, after, workspace)
    finally:
        restore(entry, workspace, saved)
    assert result == "ok", f"{entry.name}: {result}\n{answer.describe()}"
