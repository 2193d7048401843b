"""The report as a reader gets it: the answer on the first screen, nothing wider than a 1280 px window (checked
in headless Chromium), failed cases with their error and raw files, empty sections named once, and the files
`report` writes (-o, --png, --json) with an ordinary file's mode. Inputs are real run documents made by the
CLI (tests/data/report/README.md, tests/data/scenario/README.md)."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bench.reporting.html import render_report
from tests.conftest import ROOT, cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DATA = Path(__file__).resolve().parents[2] / "data"
SCENARIO, REPORT = DATA / "scenario", DATA / "report"

# The four reports of the "done when": each must show its answer without scrolling.
PAGES = {
    "regression-pair": (REPORT / "regression-base.json", REPORT / "regression-new.json"),
    "scenario": (SCENARIO / "quick-spark-1.json",),
    "spark-run": (REPORT / "spark-terasort.json",),
    "two-machines": (REPORT / "machine-a.json", REPORT / "machine-b.json"),
}


def _docs(paths) -> list:
    return [json.loads(p.read_text()) for p in paths]


def _section(text: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    return m.group(1) if m else ""


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


# -- the summary block, from the documents --------------------------------------------------------------------

def test_regression_pair_says_fail_and_names_the_regressions_first():
    from bench.analysis.compare import compare_runs

    base, new = _docs(PAGES["regression-pair"])
    result = compare_runs(base, new)
    page = render_report([base, new])
    summary = _section(page, "summary")
    assert page.index('<section id="summary">') < page.index("<nav>")     # before every detail section
    assert ("FAIL" if result["regressions"] else "PASS") in summary
    for r in result["regressions"]:
        assert html.escape(r["case"]) in summary and r["metric"] in summary


def test_run_summary_gives_the_best_tier_with_margin_and_interval():
    from bench.reporting.summary import summary

    doc = json.loads((REPORT / "regression-base.json").read_text())
    data = summary([doc])
    assert data["kind"] == "run"
    rows = {b["workload"]: b for b in data["per_run"][0]["best_tiers"]}
    assert rows, data
    for row in rows.values():
        # hdd (throttled) against nvme: nvme wins each rand-read-4k, by more than the interval's low end is below 0.
        assert row["best_tier"] == "nvme" and row["next_tier"] == "hdd" and row["margin"] > 0
        assert row["ci_low"] is not None and row["ci_low"] <= row["margin"] <= row["ci_high"]
    page = render_report([doc])
    first = _text(_section(page, "summary"))
    assert "Best tier per workload" in first and "Bottleneck of each case" in first


def test_two_machines_give_a_winner_table():
    a, b = _docs(PAGES["two-machines"])
    assert a["machine"]["hostname"] != b["machine"]["hostname"]
    summary = _section(render_report([a, b]), "summary")
    # The same VM under another hostname: one hardware class, so a gate (PASS/FAIL) and, as the hosts differ,
    # the winner table beside it (issue 20: hostnames never block a gate).
    assert "Which machine wins" in summary and ("PASS" in summary or "FAIL" in summary)
    assert a["machine"]["hostname"] in summary and b["machine"]["hostname"] in summary
    from bench.reporting.summary import machine_winners

    rows = machine_winners([a, b])
    # One row per workload, tier and the parameter that tells cases apart (iodepth 1 and 32 are not merged).
    assert len({r["workload"] for r in rows}) == len(rows)
    assert {"rand-read-4k @ disk iodepth=1", "rand-read-4k @ disk iodepth=32"} <= {r["workload"] for r in rows}
    for r in rows:
        values = sorted(r["values"].values(), reverse=r["higher_is_better"])
        assert r["values"][r["winner"]] == values[0]
        assert r["margin"] == pytest.approx((values[0] / values[1] if r["higher_is_better"]
                                             else values[1] / values[0]) - 1)


def test_scenario_summary_lists_every_finding_with_its_verdict():
    from bench.scenarios.hadoop_tempdata.findings import findings

    (doc,) = _docs(PAGES["scenario"])
    summary = _text(_section(render_report([doc]), "summary"))
    for f in findings(doc, "replay") + findings(doc, "spark"):
        assert f["claim"] in summary and f["verdict_text"] in summary


def test_spark_run_has_its_cluster_model_reason_not_a_false_one():
    (doc,) = _docs(PAGES["spark-run"])
    assert any(c["engine"] == "spark" and not c["error"] and {p["name"] for p in c["phases"]} >= {"map", "reduce"}
               for c in doc["cases"])
    page = render_report([doc])
    assert "has no successful terasort case with map and reduce phases" not in page
    assert "ran on Spark, which counts no I/O operations" in page


def test_failed_cases_show_error_and_raw_files_and_empty_sections_are_named_once():
    doc = json.loads((REPORT / "failed-case.json").read_text())
    failed = [c for c in doc["cases"] if c["error"]]
    assert failed
    page = render_report([doc], folders={doc["run_id"]: Path("/store") / doc["run_id"]})
    section = _section(page, "failed")
    for c in failed:
        assert html.escape(c["error"]) in section
        for raw in c["raw"]:
            assert f"/store/{doc['run_id']}/raw/{raw}" in section
    assert "FAILED" in _section(page, "summary")
    # No scenario in this run: no findings section, no placeholder, and one line naming what is absent.
    assert '<section id="findings">' not in page and ": not measured</p>" not in page
    assert page.count("Not in these runs:") == 1
    assert "Findings of the scenario" in page[page.index("Not in these runs:"):]


# -- headless Chromium: widths and the first screen ------------------------------------------------------------

_PROBE = """<script>window.addEventListener('load', function () {
  var w = window.innerWidth, wide = [];
  document.querySelectorAll('body *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) { wide.push(e.tagName + ':' + Math.round(r.right)); }
  });
  var s = document.getElementById('summary'), answer = s.querySelector('.verdict, table, ul');
  var p = document.createElement('pre'); p.id = 'probe';
  p.textContent = JSON.stringify({inner: w, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 20),
    answerBottom: answer ? answer.getBoundingClientRect().top + Math.min(answer.getBoundingClientRect().height, 120)
                         : null});
  document.body.appendChild(p);
});</script>"""


def _chromium(profile: Path, *args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); the "
                                             "width check loads the page in a browser")
@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_fits_1280_px_and_shows_the_answer_on_the_first_screen(name, tmp_path):
    page = render_report(_docs(PAGES[name]))
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"))
    dom = _chromium(tmp_path / "profile", "--window-size=1280,800", "--virtual-time-budget=5000", "--dump-dom",
                    probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result["inner"] == 1280
    assert result["scroll"] <= result["inner"] and result["wide"] == [], result
    assert result["answerBottom"] is not None and result["answerBottom"] <= 800, result


# -- the files `report` writes ---------------------------------------------------------------------------------

def _report_cli(*args, umask=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "bench", "report", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def test_report_writes_html_charts_and_summary_with_an_ordinary_files_mode(tmp_path):
    runs = [str(p) for p in PAGES["regression-pair"]]
    out, charts = tmp_path / "r.html", tmp_path / "charts"
    proc = _report_cli(*runs, "-o", out, "--png", charts, "--json", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)            # exactly one JSON document on stdout
    assert result["report"] == str(out) and result["summary"]["kind"] == "comparison"
    assert result["summary"]["comparisons"][0]["base"] == json.loads(Path(runs[0]).read_text())["run_id"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    images = out.read_text().count("<img ")
    pngs, svgs = sorted(charts.glob("*.png")), sorted(charts.glob("*.svg"))
    assert len(pngs) == len(svgs) == images > 0
    assert [p.stem for p in pngs] == [p.stem for p in svgs]
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and stat.S_IMODE(p.stat().st_mode) == 0o644
    assert all(p.read_text().lstrip().startswith("<?xml") for p in svgs[:2])
    # The umask is honoured, not overridden: 027 gives 0640.
    again = _report_cli(*runs, "-o", out, umask=0o027)
    assert again.returncode == 0 and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert again.stdout == "" and "wrote" in again.stderr


def test_report_json_alone_prints_the_summary_and_writes_nothing(tmp_path):
    proc = cli("report", *PAGES["scenario"], "--json", "--results", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["report"] is None and result["charts"] == []
    assert result["summary"]["kind"] == "scenario" and result["summary"]["per_run"][0]["findings"]
    assert not (tmp_path / "store").exists()


def test_report_never_writes_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "r.html"
    link.symlink_to(target)
    proc = cli("report", *PAGES["spark-run"], "-o", link, "--results", tmp_path / "store")
    assert proc.returncode == 2 and "symbolic link" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert target.read_text() == "keep me" and link.is_symlink()
