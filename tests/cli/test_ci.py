"""tierbench in a CI pipeline (issue 20), end to end through the real CLI: two stores, two temporary tier
folders and a renamed host gate a real regression at 3 repeats a side; --strict fails an inconclusive gate; the
formats CI systems read are checked against their published schema or documented shape; runs carry tags and the
revision; the example workflows parse and every tierbench command in them is accepted by the CLI's parser."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from bench.cli import build_parser
from bench.core.errors import UserError
from tests.conftest import ROOT, cli, cli_json, needs_emulation, needs_fio

FIO_CASE = ("--workload", "rand-read-4k", "--param", "runtime_s=0.5", "--param", "size=8m", "--param", "iodepth=1",
            "--engine", "fio")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two real runs of one case, 3 repeats each, on a directory tier; the second with a tag."""
    if shutil.which("fio") is None:
        pytest.skip("needs fio on PATH (apt-get install fio)")
    base = tmp_path_factory.mktemp("ci")
    tier, store = base / "tier", base / "store"
    tier.mkdir()
    a = cli_json("run", "--tier", f"t={tier}", *FIO_CASE, "--repeat", "3", "--results", store)
    b = cli_json("run", "--tier", f"t={tier}", *FIO_CASE, "--repeat", "3", "--results", store,
                 "--tag", "build=42", "--tag", "branch=feature-x")
    return store, a, b


# -- the published shapes -------------------------------------------------------------------------------------

# Bencher Metric Format, as published at https://bencher.dev/docs/reference/bencher-metric-format (JSON Schema
# https://bencher.dev/bmf.json, draft-07): benchmark -> measure -> {value (required), lower_value, upper_value}.
BMF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema", "type": "object",
    "patternProperties": {".+": {"type": "object", "patternProperties": {".+": {
        "type": "object", "required": ["value"],
        "properties": {"value": {"type": "number"}, "lower_value": {"type": "number"},
                       "upper_value": {"type": "number"}}}}}}}

# github-action-benchmark's custom tools (customBiggerIsBetter / customSmallerIsBetter), as its README documents
# them: a JSON array of {name, unit, value} with optional range and extra strings.
GAB_SCHEMA = {
    "type": "array", "items": {"type": "object", "required": ["name", "unit", "value"],
                               "properties": {"name": {"type": "string", "minLength": 1}, "unit": {"type": "string"},
                                              "value": {"type": "number"}, "range": {"type": "string"},
                                              "extra": {"type": "string"}}}}


def check_junit(text: str) -> ET.Element:
    """The rules of the Apache Ant JUnit schema (windyroad/JUnit-Schema, JUnit.xsd) that CI tools rely on:
    testsuites > testsuite(package, id, name, timestamp without zone, hostname, tests, failures, errors, time) >
    properties, testcase*(name, classname, time; at most one of skipped/error/failure, the last two with a
    type), system-out, system-err; the counts agree with the test cases."""
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites"
    suites = list(root)
    assert suites and all(s.tag == "testsuite" for s in suites)
    for suite in suites:
        for attr in ("package", "id", "name", "timestamp", "hostname", "tests", "failures", "errors", "time"):
            assert suite.get(attr), f"testsuite lacks {attr}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))
        float(suite.get("time"))
        children = [c.tag for c in suite]
        assert children[0] == "properties" and children[-2:] == ["system-out", "system-err"]
        assert set(children[1:-2]) <= {"testcase"}
        cases = suite.findall("testcase")
        for case in cases:
            assert case.get("name") and case.get("classname") and float(case.get("time")) >= 0
            outcome = list(case)
            assert len(outcome) <= 1 and all(o.tag in ("skipped", "error", "failure") for o in outcome)
            for o in outcome:
                assert o.tag == "skipped" or o.get("type")
        assert int(suite.get("tests")) == len(cases)
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr) or 0) == sum(1 for c in cases if c.find(tag) is not None)
    return root


def check_markdown(text: str) -> list:
    """GitHub's step summary: Markdown under its 1 MiB limit whose tables have a header, a separator and rows of
    one width. Returns the tables' rows."""
    assert len(text.encode()) < 1024 * 1024
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [len(re.split(r"(?<!\\)\|", r)) for r in rows]
    assert rows and len(set(cells)) == 1, rows
    assert re.fullmatch(r"\|(---\|)+", rows[1])
    return rows


# -- formats --------------------------------------------------------------------------------------------------

def test_every_format_of_a_run_has_its_published_shape(two_runs):
    store, a, _ = two_runs
    out = {fmt: cli("export", a["run_id"], "--format", fmt, "--results", store, check=0).stdout
           for fmt in ("junit", "github-summary", "github-action-benchmark", "github-action-benchmark-smaller",
                       "bencher", "csv")}
    root = check_junit(out["junit"])
    (case,) = root.iter("testcase")
    assert case.get("name").startswith("rand-read-4k tier=t") and case.find("failure") is None
    check_markdown(out["github-summary"])
    bigger, smaller = json.loads(out["github-action-benchmark"]), json.loads(out["github-action-benchmark-smaller"])
    jsonschema.validate(bigger, GAB_SCHEMA)
    jsonschema.validate(smaller, GAB_SCHEMA)
    iops = next(e for e in bigger if e["name"].endswith(" iops"))
    measured = sorted(c["metrics"]["iops"] for c in a["cases"])
    assert iops["value"] == pytest.approx(measured[1]) and iops["unit"] == "IOPS"
    assert any(e["name"].endswith("lat_p99_us") and e["unit"] == "us" for e in smaller)
    assert not any(e["name"].endswith(" iops") for e in smaller)
    bmf = json.loads(out["bencher"])
    jsonschema.validate(bmf, BMF_SCHEMA)
    (bench,) = bmf.values()
    assert bench["iops"]["lower_value"] == pytest.approx(measured[0])
    assert bench["iops"]["upper_value"] == pytest.approx(measured[2])
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert {r["metric"] for r in rows} >= {"iops", "lat_p99_us"} and all(r["n"] == "3" for r in rows)


def test_a_gate_as_junit_and_summary(two_runs, tmp_path):
    store, a, b = two_runs
    junit, summary = tmp_path / "gate.xml", tmp_path / "summary.md"
    proc = cli("compare", a["run_id"], b["run_id"], "--fail", "iops:-5%", "--junit", junit, "--summary", summary,
               "--results", store)
    assert proc.returncode in (0, 1), proc.stderr
    root = check_junit(junit.read_text())
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == [f"{next(iter(names)).split(' [')[0]} [iops]"]
    rows = check_markdown(summary.read_text())
    assert summary.read_text().startswith("## tierbench gate: " + ("PASS" if proc.returncode == 0 else "FAIL"))
    assert any("| iops |" in r for r in rows)
    assert oct(junit.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    again = cli("export", a["run_id"], b["run_id"], "--format", "junit", "--fail", "iops:-5%", "--results", store)
    assert again.returncode == 0 and ET.fromstring(again.stdout.encode()).find("testsuite").get("tests") == "1"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("target", ["fifo", "symlink", "dir", "missing-folder"])
def test_output_files_are_regular_files_only(two_runs, tmp_path, target):
    store, a, _ = two_runs
    path = tmp_path / "out"
    if target == "fifo":
        os.mkfifo(path)
    elif target == "symlink":
        (tmp_path / "victim").write_text("keep")
        path.symlink_to(tmp_path / "victim")
    elif target == "dir":
        path.mkdir()
    else:
        path = tmp_path / "no" / "out"
    proc = cli("export", a["run_id"], "--format", "csv", "-o", path, "--results", store, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    if target == "symlink":
        assert (tmp_path / "victim").read_text() == "keep"


# -- tags and revision --------------------------------------------------------------------------------------

def test_tags_and_revision_are_stored_and_select_runs(two_runs):
    store, a, b = two_runs
    assert b["tags"]["build"] == "42" and b["tags"]["branch"] == "feature-x"   # a given tag wins
    assert a["revision"]["source"] == "git" and a["tags"]["commit"] == a["revision"]["commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", a["revision"]["commit"]) and isinstance(a["revision"]["dirty"], bool)
    shown = cli_json("show", "tag:build=42", "--results", store)
    assert shown["run_id"] == b["run_id"]
    hist = cli_json("history", "--metric", "iops", "--tag", "build=42", "--results", store)
    assert [p["run_id"] for s in hist["series"] for p in s["points"]] == [b["run_id"]]
    by_commit = cli_json("history", "--metric", "iops", "--tag", f"commit={a['tags']['commit'][:10]}",
                         "--results", store)
    assert {p["run_id"] for s in by_commit["series"] for p in s["points"]} >= {a["run_id"]}
    proc = cli("compare", "tag:build=43", "latest", "--results", store)
    assert proc.returncode == 2 and "carries build=43" in proc.stderr


def test_ci_variables_name_the_revision(tmp_path):
    env = {"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF_NAME": "main"}
    doc = cli_json("run", "--tier", f"t={tmp_path}", "--workload", "rand-read-4k", "--engine", "builtin",
                   "--param", "runtime_s=0.2", "--param", "size=1m", "--results", tmp_path / "s", env=env)
    assert doc["revision"] == {"commit": env["GITHUB_SHA"], "branch": "main", "dirty": None, "source": "github"}
    assert doc["tags"] == {"commit": env["GITHUB_SHA"], "branch": "main"}


@pytest.mark.parametrize("tag", ["nokey", "=v", "1a=b", "k=", "k=a\x01b", f"k={'x' * 300}"])
def test_bad_tags_are_refused(tmp_path, tag):
    proc = cli("run", "--tier", f"t={tmp_path}", "--tag", tag, "--results", tmp_path / "s")
    assert proc.returncode == 2 and proc.stderr.startswith("tierbench: error: --tag") and not (tmp_path / "s").exists()


def test_a_tag_given_twice_is_refused(tmp_path):
    proc = cli("run", "--tier", f"t={tmp_path}", "--tag", "a=1", "--tag", "a=2", "--results", tmp_path / "s")
    assert proc.returncode == 2 and "given twice" in proc.stderr


# -- the example workflows ----------------------------------------------------------------------------------

def _shell_lines(workflow: dict) -> list:
    """Every shell line of a GitHub Actions (`run`) or GitLab CI (`script`, `before_script`) workflow."""
    out = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in ("run", "script", "before_script"):
            out.extend(node.splitlines())
    walk(workflow)
    return out


def tierbench_commands(lines: list) -> list:
    """The tierbench command lines in shell lines (after `if`, `!`, `&&` or `then`), split as the shell would,
    up to a redirection or a shell operator."""
    commands = []
    for line in lines:
        for part in re.split(r"&&|\|\||;|\bthen\b|\bif\b|!", line):
            words = shlex.split(part, comments=True)
            if words and words[0] == "tierbench":
                cut = next((i for i, w in enumerate(words) if w[:1] in (">", "<", "|") or w in ("2>", "2>&1")),
                           len(words))
                commands.append(words[1:cut])
    return commands


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_example_workflows_parse_and_the_cli_accepts_every_command(name):
    yaml = pytest.importorskip("yaml", reason="pyyaml comes with the test extras")
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / name).read_text())
    commands = tierbench_commands(_shell_lines(workflow))
    assert {c[0] for c in commands} >= {"run", "compare", "export"}
    parser = build_parser()
    for args in commands:
        try:
            parsed = parser.parse_args(args)
        except UserError as e:
            pytest.fail(f"{name}: tierbench {' '.join(args)}: {e}")
        if args[0] == "run":
            assert parsed.repeat >= 5, "a gate needs repeats a side"
        if args[0] == "compare":
            assert parsed.strict and parsed.junit


def test_the_command_finder_finds_commands_and_stops_at_redirections():
    lines = ['if ! tierbench show tag:branch=main --results store --json > /dev/null; then',
             'tierbench compare a b --summary "$GITHUB_STEP_SUMMARY"', "echo tierbench run"]
    assert tierbench_commands(lines) == [["show", "tag:branch=main", "--results", "store", "--json"],
                                         ["compare", "a", "b", "--summary", "$GITHUB_STEP_SUMMARY"]]


# -- the gate on real runners: two stores, a renamed host, a real throttle --------------------------------------

def _emulated_run(base: Path, hdd_iops: int, store: Path, hostname: str, repeat: int) -> dict:
    """Build emulated tiers in their own folder with the hdd throttled to `hdd_iops`, run rand-read-4k on the
    hdd tier under `hostname` (a UTS namespace: the host really is renamed), tear the tiers down."""
    env = dict(os.environ, TIERBENCH_EMULATE_DIR=str(base / "emulated"))
    py = [sys.executable, "-m", "bench"]
    subprocess.run(py + ["tiers", "emulate", "--size", "256m", "--hdd-model", "throttle", "--hdd-iops", str(hdd_iops),
                         "--hdd-mbps", "200"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    try:
        run = py + ["run", "--tier", "hdd", "--workload", "rand-read-4k", "--engine", "fio", "--param", "runtime_s=1",
                    "--param", "size=16m", "--param", "iodepth=1", "--repeat", str(repeat), "--results", str(store),
                    "--json"]
        proc = subprocess.run(["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *run],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    finally:
        subprocess.run(py + ["tiers", "teardown"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)


@needs_fio
@needs_emulation
def test_two_stores_and_a_renamed_host_gate_a_real_regression_at_three_repeats(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to rename the host")
    base = _emulated_run(tmp_path / "a", 400, tmp_path / "store-a", "ci-runner-1", 3)
    new = _emulated_run(tmp_path / "b", 200, tmp_path / "store-b", "ci-runner-2", 3)
    assert base["machine"]["hostname"] == "ci-runner-1" and new["machine"]["hostname"] == "ci-runner-2"
    ta, tb = base["tiers"][0], new["tiers"][0]
    assert ta["path"] != tb["path"]
    a_dir, b_dir = tmp_path / "store-a" / base["run_id"], tmp_path / "store-b" / new["run_id"]
    junit = tmp_path / "gate.xml"
    proc = cli("compare", a_dir, b_dir, "--fail", "iops:-5%", "--junit", junit)
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSION" in proc.stderr and "iops regressed" in proc.stderr
    gate = json.loads(cli("compare", a_dir, b_dir, "--fail", "iops:-5%", "--json").stdout)
    (r,) = [r for e in gate["cases"] for r in e["metrics"] if r["metric"] == "iops"]
    assert r["p_value"] == pytest.approx(0.05) and r["ratio"] < 0.7 and r["ci_high"] < 0.95
    failure = check_junit(junit.read_text()).find(".//failure")
    assert failure is not None and "iops regressed" in failure.get("message")
    # Asked to match the hostname too, the same pair is refused, naming it.
    proc = cli("compare", a_dir, b_dir, "--same-class-as", "cpu_model,hostname")
    assert proc.returncode == 2 and "hostname differs ('ci-runner-1' vs 'ci-runner-2')" in proc.stderr
    # Two repeats cannot decide: inconclusive, which --strict fails.
    few = _emulated_run(tmp_path / "c", 400, tmp_path / "store-b", "ci-runner-3", 2)
    lax = cli("compare", a_dir, tmp_path / "store-b" / few["run_id"], "--fail", "iops:-5%")
    strict = cli("compare", a_dir, tmp_path / "store-b" / few["run_id"], "--fail", "iops:-5%", "--strict")
    assert lax.returncode == 0 and strict.returncode == 1, strict.stderr
    assert "INCONCLUSIVE (--strict)" in strict.stderr and "n<3" in strict.stderr

