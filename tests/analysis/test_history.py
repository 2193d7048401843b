"""bench.analysis.history and `tierbench history`: a metric across runs, chronological, with change points."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.analysis.history import metric_history
from bench.core.errors import UserError
from bench.store.runs import Store
from tests.analysis.compare_fixtures import make_doc, started, write_run

ROOT = Path(__file__).resolve().parents[2]


def series_docs(step_at=None, n=14, factor=0.8):
    docs = [make_doc(f"run-{i:02d}", 200 + i, repeats=3, started_at=started(i),
                     iops_factor=factor if step_at is not None and i >= step_at else 1.0) for i in range(n)]
    random.Random(0).shuffle(docs)  # order of the input must not matter: started_at decides
    return docs


def test_step_is_flagged_at_the_right_run_as_worse():
    result = metric_history(series_docs(step_at=8), "iops", workload="rand-read-4k", tier="nvme")
    assert len(result["series"]) == 1
    s = result["series"][0]
    assert [p["run_id"] for p in s["points"]] == [f"run-{i:02d}" for i in range(14)]
    assert all(p["n"] == 3 for p in s["points"])
    assert [(c["run_id"], c["effect"]) for c in s["change_points"]] == [("run-08", "worse")]
    assert s["change_points"][0]["relative_change"] == pytest.approx(-0.2, abs=0.03)
    assert not s["change_points"][0]["host_changed"]


def test_lower_is_better_metrics_and_improvements():
    docs = [make_doc(f"r{i:02d}", 300 + i, repeats=3, started_at=started(i), lat_factor=0.6 if i >= 6 else 1.0)
            for i in range(12)]
    s = metric_history(docs, "lat_p99_us", workload="seq-read-1m", tier="hdd")["series"][0]
    assert [(c["index"], c["effect"]) for c in s["change_points"]] == [(6, "better")]


def test_no_change_point_without_a_step():
    result = metric_history(series_docs(), "iops")
    assert len(result["series"]) == 4
    assert all(s["change_points"] == [] for s in result["series"])


def test_missing_metric_is_bad_input():
    with pytest.raises(UserError, match="no run in the store measured write_iops"):
        metric_history(series_docs(), "write_iops")
    with pytest.raises(UserError, match="for workload=nope"):
        metric_history(series_docs(), "iops", workload="nope")


def test_history_cli_json(tmp_path):
    store = Store(tmp_path / "store")
    for doc in series_docs(step_at=7):
        write_run(store, doc)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench", "history", "--metric", "iops", "--tier", "hdd",
                           "--results", str(store.root), "--json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["metric"] == "iops" and doc["runs"] == 14 and len(doc["series"]) == 2
    assert all([c["run_id"] for c in s["change_points"]] == ["run-07"] for s in doc["series"])
    human = subprocess.run([sys.executable, "-m", "bench", "history", "--metric", "iops", "--workload",
                            "rand-read-4k", "--results", str(store.root)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert human.returncode == 0 and "worse" in human.stdout and "worse" not in human.stderr
    bad = subprocess.run([sys.executable, "-m", "bench", "history", "--metric", "nope",
                          "--results", str(store.root)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_a_step_up_from_zero_has_no_ratio_and_prints_as_json(tmp_path, capsys):
    """issue 21: a level of 0 before a change point gave relative_change inf, which `history --json` printed as
    `Infinity` (not JSON); it is null (no ratio from 0), and the output is valid JSON."""
    docs = series_docs(step_at=8)
    for doc in docs:
        for case in doc["cases"]:
            case["metrics"]["iops"] = case["metrics"]["iops"] if int(doc["run_id"][-2:]) >= 8 else 0.0
    s = metric_history(docs, "iops", workload="rand-read-4k", tier="nvme")["series"][0]
    (cp,) = s["change_points"]
    assert cp["run_id"] == "run-08" and cp["relative_change"] is None
    json.loads(json.dumps(s, allow_nan=False))
