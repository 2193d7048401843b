"""Terminal output that fits: tables on stdout and messages on stderr (`tierbench run ... > out.txt` keeps the
table; `--json` prints one JSON document and nothing else on stdout), COLUMNS honoured on pipes, the columns
that identify a row never cut (number columns are left out first, and the table says which; `--wide` keeps
them all), the scenario's findings within 160 columns with each `why` below its row, and one name per quantity.
Inputs: a real run made here by the CLI, and real run documents under tests/data (their READMEs say how)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from bench.reporting.findings_table import engines_findings_table, findings_table
from bench.reporting.quantities import DEMANDED, IO_MBPS, SUPPLIED
from tests.conftest import cli

DATA = Path(__file__).resolve().parents[1] / "data"
SWEEP = DATA / "report" / "sweep-2tiers.json"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store holding the captured sweep run (rand-read-4k at iodepth 1 and 32 on tiers a and b)."""
    root = tmp_path_factory.mktemp("store")
    doc = json.loads(SWEEP.read_text())
    (root / doc["run_id"]).mkdir()
    shutil.copy(SWEEP, root / doc["run_id"] / "run.json")
    return root, doc


def _rows(text: str) -> list:
    return [line.split() for line in text.splitlines() if line.split()[:1] == ["rand-read-4k"]]


def _header(text: str) -> str:
    """The column titles: the lines above the rule under them."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    return "\n".join(lines[rule - 2:rule])


def test_run_prints_its_table_on_stdout_and_messages_on_stderr(tmp_path):
    tier = tmp_path / "tier"
    tier.mkdir()
    args = ("run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin", "--param", "size=1m",
            "--param", "runtime_s=0.2", "--results", tmp_path / "results")
    proc = cli(*args, env={"COLUMNS": "150"}, check=0)
    assert "seq-read-1m" in proc.stdout and "wall s" in proc.stdout                  # the table: a file keeps it
    assert "wall s" not in proc.stderr
    assert "stored in" in proc.stderr and "stored in" not in proc.stdout            # messages: stderr
    js = cli(*args, "--json", check=0)
    doc = json.loads(js.stdout)                                                     # one document, nothing else
    assert doc["status"] == "complete" and js.stdout.strip().startswith("{") and js.stdout.strip().endswith("}")


@pytest.mark.parametrize("columns", [72, 100, 120])
def test_show_fits_columns_on_a_pipe_and_never_cuts_what_identifies_a_row(store, columns):
    root, doc = store
    proc = cli("show", doc["run_id"], "--results", root, env={"COLUMNS": str(columns)}, check=0)
    lines = proc.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns, max(lines, key=len)
    rows = _rows(proc.stdout)
    assert len(rows) == 4
    # Every row keeps its whole identity: workload, tier and the iodepth that tells 1 and 32 apart.
    assert sorted((r[1], r[2]) for r in rows) == [("a", "iodepth=1"), ("a", "iodepth=32"),
                                                  ("b", "iodepth=1"), ("b", "iodepth=32")]
    assert "…" not in proc.stdout
    if columns < 130:
        assert "left out for width:" in proc.stdout and "--wide" in proc.stdout


def test_wide_keeps_every_column(store):
    root, doc = store
    narrow = cli("show", doc["run_id"], "--results", root, env={"COLUMNS": "80"}, check=0).stdout
    wide = cli("show", doc["run_id"], "--results", root, "--wide", env={"COLUMNS": "80"}, check=0).stdout
    assert "p99.9 us" in _header(wide) and "p99.9 us" not in _header(narrow) and "left out" not in wide
    assert len(_rows(wide)[0]) > len(_rows(narrow)[0])


def test_one_name_per_quantity(store):
    root, doc = store
    text = cli("show", doc["run_id"], "--results", root, "--wide", check=0).stdout
    header = " ".join(text.splitlines()[:8])
    for name in (SUPPLIED, DEMANDED, IO_MBPS):
        first, second = name.rsplit(" ", 1)
        assert re.search(rf"{re.escape(first)}\s.*{re.escape(second)}", header), name
    assert "demands" not in text and "tier\nsupplies" not in text


@pytest.mark.parametrize("name", ["quick-1.json", "quick-3.json", "quick-spark-1.json"])
def test_scenario_findings_fit_160_columns_with_the_why_below(name):
    from bench.scenarios.hadoop_tempdata.findings import engines_of, findings

    doc = json.loads((DATA / "scenario" / name).read_text())
    engines = engines_of(doc) or ["replay"]
    con = Console(width=400, record=True, file=open("/dev/null", "w"))
    if len(engines) > 1:
        con.print(engines_findings_table({e: findings(doc, e) for e in engines}))
    else:
        con.print(findings_table(findings(doc, engines[0])))
    text = con.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 160, max(lines, key=len)
    found = findings(doc, engines[0])
    for f in found:
        first_words = " ".join(f["claim"].split()[:3])
        row = next(i for i, line in enumerate(lines) if first_words in line)
        if f.get("reason"):
            why = next(i for i, line in enumerate(lines) if line.lstrip().startswith("why:") and i > row)
            assert lines[why].startswith("    why:")
            assert not any(first_words in line for line in lines[row + 1:why] if line.startswith("    why:"))


def test_a_failed_runs_table_is_not_squeezed_and_shows_each_error(tmp_path):
    doc = json.loads((DATA / "report" / "failed-case.json").read_text())
    (tmp_path / doc["run_id"]).mkdir()
    shutil.copy(DATA / "report" / "failed-case.json", tmp_path / doc["run_id"] / "run.json")
    proc = cli("show", doc["run_id"], "--results", tmp_path, env={"COLUMNS": "120"}, check=0)
    lines = proc.stdout.splitlines()
    # The lines above the table keep the screen's width (they once wrapped to the narrow table's 34 columns).
    assert "rand-read-4k, every row: engine=fio runtime_s=3.0 size=8388608" in lines
    for case in doc["cases"]:
        assert any(case["error"] in line and f"case {case['id']} " in line for line in lines)
