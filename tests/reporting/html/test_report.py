"""`tierbench report`: one self-contained HTML file, built from real runs made by the CLI (a small run on
directory tiers; a quick hadoop-tempdata scenario on emulated tiers as root), and checked in headless Chromium.

Every case is its own group (bench.core.case.case_key): scenario steps appear under their labels, each with its
runtime bar, phases and monitor series; the findings and the cluster model come from bench.scenarios.hadoop_tempdata.findings and
bench.scenarios.hadoop_tempdata.cluster_model on the same document."""
import html
import json
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from bench.core.case import case_key, case_key_dict
from bench.reporting.html import case_texts, group_by_case, latency_percentiles
from tests.conftest import cli, cli_json, schema_errors

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DATA = Path(__file__).resolve().parents[2] / "data" / "fio"
STEPS = ("a", "b", "c", "d", "a-half", "e", "scale-1", "scale-2")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """A small real run on two directory tiers (no root): rand-read-4k at iodepth 1 and 32 on both, and a tiny
    terasort with data on one tier and temp data on the other, 2 repeats each."""
    if shutil.which("fio") is None:
        pytest.skip("needs fio on PATH (apt-get install fio)")
    tmp = tmp_path_factory.mktemp("plain")
    for name in ("data", "temp"):
        (tmp / name).mkdir()
    store = tmp / "results"
    doc = cli_json("run", "--tier", f"d={tmp / 'data'}:hdd", "--tier", f"t={tmp / 'temp'}:ssd",
                   "--workload", "rand-read-4k", "--workload", "terasort", "--data", "d", "--temp", "t",
                   "--param", "size=4m", "--param", "runtime_s=1.2", "--param", "direct=false",
                   "--param", "records=100000", "--param", "block_size=1m", "--repeat", "2", "--results", store,
                   timeout=600)
    assert doc["status"] == "complete", [c["error"] for c in doc["cases"]]
    return {"doc": doc, "store": store, "run_id": doc["run_id"], "tmp": tmp}


def _report(store, *runs, out) -> str:
    proc = cli("report", *runs, "-o", out, "--results", store, check=0, timeout=600)
    assert "wrote" in proc.stderr and proc.stdout == ""
    return Path(out).read_text()


@pytest.fixture(scope="module")
def plain_report(plain_run):
    out = plain_run["tmp"] / "plain.html"
    return out, _report(plain_run["store"], plain_run["run_id"], out=out)


def _section(text: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    assert m, f"no section {sid}"
    return m.group(1)


def _rows(section: str) -> list:
    """The table rows of a section as lists of cell texts (tags stripped, entities decoded)."""
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)]


def _alts(section: str) -> list:
    return [html.unescape(a) for a in re.findall(r'<img alt="([^"]*)"', section)]


def test_run_documents_match_the_schema(plain_run):
    assert schema_errors(plain_run["doc"]) == []
    stored = json.loads((plain_run["store"] / plain_run["run_id"] / "run.json").read_text())
    assert schema_errors(stored) == []


def test_report_is_self_contained(plain_report):
    _, text = plain_report
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs)
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', text)
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text


def test_report_of_a_real_run_shows_each_case_its_phases_and_its_monitor_series(plain_run, plain_report):
    doc, (_, text) = plain_run["doc"], plain_report
    groups = group_by_case(doc)
    assert len(groups) == 5     # rand-read-4k x 2 tiers x 2 iodepths, and the terasort
    # Cases: one row per case key, each with its 2 repeats; the iodepths are told apart.
    rows = _rows(_section(text, "cases"))
    body = [r for r in rows[1:] if r and r[0] in ("rand-read-4k", "terasort")]
    assert len(body) == 5 and {r[rows[0].index("repeats")] for r in body} == {"2"}
    assert {r[rows[0].index("params")] for r in body if r[0] == "rand-read-4k"} == {"iodepth=1", "iodepth=32"}
    # Monitor: the bug was that the report read doc["monitor"] while the runner stores case["monitor"].
    monitor = _section(text, "monitor")
    assert "monitor series: not measured" not in monitor
    texts = case_texts(doc)
    with_series = [k for k, cases in groups.items()
                   if any(not c["error"] and c["monitor"]["series"]["t_s"] for c in cases)]
    assert len(with_series) >= 4   # the 1.2 s rand-read-4k cases span two 0.5 s monitor intervals
    assert _alts(monitor) == [f"monitor {texts[k]}" for k in with_series]
    for k in set(groups) - set(with_series):
        assert html.escape(texts[k]) in monitor   # listed as shorter than one interval, not left out silently
    # Phases: the terasort's own row, its phases in the order they ran, each median over its 2 repeats.
    (sort_key,) = [k for k in groups if case_key_dict(k)["workload"] == "terasort"]
    phases = _rows(_section(text, "phases"))
    (row,) = [r for r in phases if r[0] == texts[sort_key]]
    names = [p["name"] for p in groups[sort_key][0]["phases"]]
    assert [h.split(" (")[0] for h in phases[0][2:-1]] == names
    for i, name in enumerate(names):
        median = statistics.median(p["wall_s"] for c in groups[sort_key] for p in c["phases"] if p["name"] == name)
        assert row[2 + i].split(" s ")[0] == _fmt(median)


def _fmt(value):
    from bench.reporting.html.elements import num as _num
    return _num(value)


def test_report_of_a_plain_run_has_no_findings_and_a_model_with_its_assumptions(plain_report):
    _, text = plain_report
    assert '<section id="findings">' not in text      # left out, and named once at the end
    assert "Findings of the scenario" in text[text.index("Not in these runs:"):]
    model = _section(text, "model")
    rows = _rows(model)
    assert any(r[0] == "data d, temp t" for r in rows), rows
    header = next(r for r in rows if r[:2] == ["parameter", "value"])
    assert header[-1] == "source"
    assert all(r[-1] for r in rows if len(r) == len(header) and r != header)


def test_missing_data_is_named_once_at_the_end(tmp_path):
    """An imported fio output has no phases, no monitor series and no scaling: those sections are left out and
    named once, at the end ("not in these runs"), with no empty placeholder."""
    store = tmp_path / "results"
    doc = cli_json("import", str(DATA / "randread-4k.plus.json"), "--results", store)
    assert schema_errors(doc) == []
    text = _report(store, doc["run_id"], out=tmp_path / "r.html")
    missing = html.unescape(text[text.index("Not in these runs:"):])
    for sid, what in (("phases", "Phases per step"), ("scaling", "Scaling"),
                      ("monitor", "Monitor: CPU and devices per case"),
                      ("model", "Cluster model (no terasort case among these runs)")):
        assert what in missing and f'<section id="{sid}">' not in text
    assert text.count("Not in these runs:") == 1 and ": not measured</p>" not in text
    assert '<section id="compare">' not in text


def test_latency_percentiles_from_bins():
    xs, ys = latency_percentiles({"2000": 50, "1000": 25, "4000": 25, "8000": 0})
    assert xs == [1.0, 2.0, 4.0]
    assert ys == pytest.approx([0.125, 0.5, 0.875])


def test_report_cli_bad_input(plain_run, tmp_path):
    for args, needle in ((["nope", "-o", tmp_path / "x.html"], "no run 'nope'"),
                         ([plain_run["run_id"], "-o", tmp_path / "missing" / "x.html"], "does not exist")):
        proc = cli("report", *args, "--results", plain_run["store"], timeout=120)
        assert proc.returncode == 2 and needle in proc.stderr and proc.stderr.count("\n") == 1


# -- a real quick scenario (root: emulated tiers) -------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario_report(scenario_run, plain_run):
    """The report of the scenario run and the small run (copied into the scenario's store)."""
    shutil.copytree(plain_run["store"] / plain_run["run_id"], scenario_run["store"] / plain_run["run_id"],
                    dirs_exist_ok=True)
    out = plain_run["tmp"] / "scenario.html"
    return out, _report(scenario_run["store"], scenario_run["run_id"], plain_run["run_id"], out=out)


def test_scenario_document_matches_the_schema(scenario_run):
    assert schema_errors(scenario_run["doc"]) == []


def test_scenario_report_shows_findings_runtime_per_step_and_the_model(scenario_run, scenario_report):
    from bench.scenarios.hadoop_tempdata.findings import findings

    doc, (_, text) = scenario_run["doc"], scenario_report
    section = _section(text, "findings")
    found = findings(doc)
    rows = _rows(section)
    assert [r[0] for r in rows[1:]] == [f["claim"] for f in found]
    assert [r[3] for r in rows[1:]] == [f["verdict_text"] for f in found]
    assert f"runtime per step {doc['run_id']}" in _alts(section)
    model = _section(text, "model")
    assert re.search(r"data hdd, temp optane", model) and "Assumptions" in model
    assert "sort job" in model    # the model's scope: the sort's phases


def test_scenario_report_shows_every_step_separately(scenario_run, scenario_report):
    doc, (_, text) = scenario_run["doc"], scenario_report
    labels = {c["label"] for c in doc["cases"]}
    assert set(STEPS) <= labels
    texts = case_texts(doc)
    cases = _rows(_section(text, "cases"))
    steps = [r[0] for r in cases if r and r[0] in labels]
    assert sorted(steps) == sorted(labels)          # one row per step, none pooled
    phases = _section(text, "phases")
    prefix = doc["run_id"] + ": "
    for key, group in group_by_case(doc).items():
        label = case_key_dict(key)["label"]
        if label not in STEPS:
            continue
        row = next(r for r in _rows(phases) if r[0] == texts[key])
        assert row[-1] == _fmt(statistics.median(sum(p["wall_s"] for p in c["phases"]) for c in group))
        monitor = _section(text, "monitor")
        assert (f"monitor {prefix}{texts[key]}" in _alts(monitor)
                or html.escape(prefix + texts[key]) in monitor), label
    assert case_key(doc["cases"][0]) in group_by_case(doc)


# -- headless Chromium --------------------------------------------------------------------------------------

def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--user-data-dir=" + str(args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); "
                                             "the report's browser check needs it")
def test_report_loads_in_headless_chromium(plain_report, tmp_path):
    # The report has no JavaScript. This test checks a copy with one probe script added, which records
    # whether each <img> decoded (naturalWidth > 0) into the DOM that --dump-dom prints.
    report_file, text = plain_report
    images = text.count("<img ")
    assert images >= 7   # runtime-free plain run: phases, IOPS/GB, latency, 4+ monitor figures
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", (
        "<script>window.addEventListener('load', function () {"
        "var s = Array.from(document.images).map(function (i) { return i.complete && i.naturalWidth > 0 ? 1 : 0; });"
        "var p = document.createElement('pre'); p.id = 'img-probe'; p.textContent = 'decoded:' + s.join(',');"
        "document.body.appendChild(p); });</script></body>")))
    profile = tmp_path / "profile"
    dom = _chromium(profile, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    decoded = re.search(r'id="img-probe">decoded:([01,]+)<', dom.stdout)
    assert decoded, dom.stdout[-2000:]
    flags = decoded.group(1).split(",")
    assert len(flags) == images and set(flags) == {"1"}

    shot = tmp_path / "shot.png"
    proc = _chromium(profile, f"--screenshot={shot}", "--window-size=1200,3000", report_file.as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (3000, 1200)
    # Not blank: plenty of non-white pixels and many distinct colours (text, tables, plot lines).
    rgb = (pixels[..., :3] * 255).astype("uint8").reshape(-1, 3)
    assert (rgb.min(axis=1) < 200).mean() > 0.02
    assert len({tuple(c) for c in rgb[::97]}) > 50


def test_report_of_a_spark_scenario_shows_both_engines_and_the_fidelity():
    """A real `scenario hadoop-tempdata --engine spark` document (tests/data/scenario/README.md says how it was
    made): findings per engine, the replay-fidelity table, and Spark's steps apart from the replay's."""
    from bench.reporting.html import render_report
    from bench.scenarios.hadoop_tempdata.fidelity import fidelity
    from bench.scenarios.hadoop_tempdata.findings import findings

    doc = json.loads((Path(__file__).resolve().parents[2] / "data" / "scenario" / "quick-spark-1.json").read_text())
    text = render_report([doc])
    section = _section(text, "findings")
    assert "<h4>on replay</h4>" in section and "<h4>on spark</h4>" in section
    tables = re.findall(r"<table>(.*?)</table>", section, re.S)
    for engine, found in zip(("replay", "spark"), tables):
        assert [r[0] for r in _rows(found)[1:]] == [f["claim"] for f in findings(doc, engine)]
        assert [r[3] for r in _rows(found)[1:]] == [f["verdict_text"] for f in findings(doc, engine)]
    fid = fidelity(doc)
    rows = _rows(tables[2])
    assert rows[0] == ["figure", "replay", "spark", "recorded Spark I/O replayed", "replay differs?",
                       "recorded differs?"]
    assert [r[0] for r in rows[1:]] == [r["figure"] for r in fid["rows"]]
    word = {True: "yes", False: "no", None: "not measured"}
    assert [r[4] for r in rows[1:]] == [word[r["differs"]] for r in fid["rows"]]
    # this run predates the recording (tests/scenarios/hadoop_tempdata/test_spark_recorded.py has one): its
    # recorded column is not measured
    assert {r[3] for r in rows[1:]} == {"not measured"} and {r[5] for r in rows[1:]} == {"not measured"}
    texts = case_texts(doc)
    spark_steps = [texts[case_key(c)] for c in doc["cases"] if c["engine"] == "spark"]
    replay_steps = [texts[case_key(c)] for c in doc["cases"] if c["engine"] == "job"]
    assert spark_steps and all(" on spark" in t for t in spark_steps)
    assert not set(spark_steps) & set(replay_steps)
