"""Fuzzing `tierbench run`'s inputs in-process: config files (random bytes, TOML of wrong types and ranges),
--param values, --tier specs and the CLI's numbers. The property (harness.assert_refused_or_ok): exit 2 with one
line on stderr and nothing stored, or a correct answer; never a traceback or a hang. An accepted input stops
where measuring would start (harness.no_run), and its plan is checked against rules written here, independently
of workloads.PARAM_RANGES: numbers finite and of the parameter's type, booleans booleans, counts and sizes
positive, block sizes whole sectors, bounded repeats, workers and timeouts."""
from __future__ import annotations

import math
import tomllib

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

import workloads
from tests.fuzz.bad_inputs import REAL_FIO
from tests.fuzz.harness import assert_refused_or_ok, fuzz_settings, invoke, no_run, run_folders
from tests.fuzz.strategies import config_documents, param_flags, param_values, toml_text

FUZZ = fuzz_settings(300)
SMALL = ["--param", "size=1m", "--param", "runtime_s=0.2"]
ZERO_ALLOWED = {"map_tasks", "split_size", "hdfs_readers", "hdfs_read_bytes", "hdfs_read_mbps", "seed",
                "zipf_exponent"}


@pytest.fixture
def space(tmp_path, monkeypatch):
    """A tier directory, a private store, the working directory in tmp_path (no scratch tier in the repo),
    a private emulation directory, and `run` stopped before it measures."""
    tier, store = tmp_path / "tier", tmp_path / "store"
    tier.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERBENCH_EMULATE_DIR", str(tmp_path / "emu"))
    monkeypatch.delenv("TIERBENCH_RESULTS", raising=False)
    with no_run(monkeypatch):
        yield tmp_path, tier, store


def check_plan(answer) -> None:
    """What every accepted plan must hold (written from the issue, not from the code under test)."""
    assert answer.cases, answer.describe()
    for case in answer.cases:
        defaults = workloads.get(case.workload).default_params()
        for key, value in case.params.items():
            default = getattr(defaults, key)
            assert type(value) is type(default), (case.workload, key, value)
            if isinstance(value, bool):
                continue
            assert math.isfinite(value), (key, value)
            assert value > 0 or (key in ZERO_ALLOWED and value == 0), (case.workload, key, value)
        if "bs" in case.params:
            assert case.params["bs"] % 512 == 0
        assert isinstance(case.cache, bool)
        assert 0 <= case.repeat < 1000
        assert case.workers is None or 1 <= case.workers <= 1024
    timeout = answer.options["timeout_s"]
    assert isinstance(timeout, float) and math.isfinite(timeout) and timeout > 0


def _answer(argv, store):
    before = run_folders(store)
    answer = invoke(argv)
    assert_refused_or_ok(answer, store, before)
    event(f"answer: {answer.kind} {answer.code if answer.kind == 'exit' else ''}".strip())
    if answer.kind == "would-run":
        check_plan(answer)
    return answer


@FUZZ
@given(data=st.binary(max_size=400))
def test_config_random_bytes(space, data):
    base, tier, store = space
    path = base / "c.toml"
    path.write_bytes(data)
    _answer(["run", path, "--tier", f"t={tier}", "--results", store, *SMALL], store)


@FUZZ
@given(doc=config_documents())
def test_config_wrong_types_and_ranges(space, doc):
    base, tier, store = space
    text = toml_text(doc)
    path = base / "c.toml"
    path.write_text(text, errors="surrogatepass")
    answer = _answer(["run", path, "--tier", f"t={tier}", "--results", store], store)
    try:
        parsed = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeError):
        assert answer.code == 2, answer.describe()
        return
    if answer.kind != "would-run":
        return
    run = parsed.get("run", {})
    for key in ("cache", "quick"):
        if key in run:
            assert isinstance(run[key], bool), f"[run] {key} = {run[key]!r} was accepted"
    if "cache" in run:
        assert all(c.cache is run["cache"] for c in answer.cases)
    if "repeat" in run:
        assert type(run["repeat"]) is int and max(c.repeat for c in answer.cases) == run["repeat"] - 1
    if "timeout_s" in run:
        assert answer.options["timeout_s"] == run["timeout_s"]
    for name, decl in parsed.get("tiers", {}).items():
        capacity = decl.get("capacity") if isinstance(decl, dict) else None
        if isinstance(capacity, (int, float)):
            assert not isinstance(capacity, bool) and math.isfinite(capacity) and capacity >= 1


@FUZZ
@given(workload=st.sampled_from(workloads.names()), flags=st.lists(param_flags(), min_size=1, max_size=3))
def test_param_values(space, workload, flags):
    base, tier, store = space
    argv = ["run", "--tier", f"t={tier}", "--workload", workload, "--engine", "builtin", "--results", store]
    for flag in flags:
        argv += ["--param", flag]
    _answer(argv, store)


@FUZZ
@given(key=st.sampled_from(["size", "bs", "iodepth", "numjobs", "runtime_s", "direct"]), value=param_values())
def test_baseline_param_values(space, key, value):
    """One parameter of a device baseline, any value: refused, or planned with exactly that value."""
    base, tier, store = space
    answer = _answer(["run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin",
                      "--results", store, *SMALL, "--param", f"{key}={value}"], store)
    if answer.kind == "would-run" and "," not in value:
        assert {type(c.params[key]) for c in answer.cases} == {type(getattr(workloads.get("seq-read-1m").default_params(), key))}


TIER_SPEC_PARTS = dict(
    name=st.sampled_from(["t", "a", "x.y", "T-1_b"]) | st.sampled_from(["1a", "", "a b", "-", "a" * 40])
    | st.text(max_size=8),
    path=st.sampled_from(["tier", "tier/", "./tier", "tier//"]) | st.sampled_from(["missing", "file", "", "tier:"])
    | st.text(max_size=12),
    cls=st.none() | st.sampled_from(["hdd", "nvme", "memory"]) | st.sampled_from(["floppy", "", ":"])
    | st.text(max_size=5),
    raw=st.none() | st.none() | st.text(max_size=16))


def _tier_spec(base, name, path, cls, raw) -> str:
    """A --tier spec from its parts (or raw text). Paths stay inside the fuzz directory (no absolute path, no
    '..'), so an accepted tier is never anywhere else."""
    (base / "file").write_bytes(b"x")
    spec = raw if raw is not None else f"{name}={path}" + (f":{cls}" if cls is not None else "")
    tail = spec.split("=", 1)[1] if "=" in spec else ""
    assume(not tail.startswith(("/", "~")) and ".." not in tail and "\0" not in spec)
    return spec


@FUZZ
@given(**TIER_SPEC_PARTS)
def test_tier_specs(space, name, path, cls, raw):
    base, tier, store = space
    spec = _tier_spec(base, name, path, cls, raw)
    answer = _answer(["run", "--tier", spec, "--workload", "seq-read-1m", "--engine", "builtin", "--results",
                      store, *SMALL], store)
    if answer.kind == "would-run":
        for t in answer.options["tiers"]:
            assert str(t.path).startswith(str(base)), t.path


@fuzz_settings(100)
@given(**TIER_SPEC_PARTS)
def test_import_tier_specs(space, name, path, cls, raw):
    base, tier, store = space
    spec = _tier_spec(base, name, path, cls, raw)
    _answer(["import", REAL_FIO, "--tier", spec, "--results", store], store)


@FUZZ
@given(repeat=st.none() | st.integers(-5, 2 ** 70).map(str) | st.text(max_size=6),
       workers=st.none() | st.lists(st.integers(-3, 3000), min_size=0, max_size=3).map(lambda v: ",".join(map(str, v)))
       | st.text(max_size=6),
       timeout=st.none() | st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.text(max_size=6))
def test_cli_numbers(space, repeat, workers, timeout):
    base, tier, store = space
    argv = ["run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin", "--results", store,
            *SMALL]
    for flag, value in (("--repeat", repeat), ("--workers", workers), ("--timeout", timeout)):
        if value is not None:
            argv += [f"{flag}={value}"]
    answer = _answer(argv, store)
    if answer.kind == "would-run" and timeout is not None:
        assert answer.options["timeout_s"] == float(timeout)


# issue 23: import-trace reads any file a user names: every answer is a refusal in one line or a stored trace
_TRACE_FIELD = st.one_of(st.integers(-3, 2 ** 66).map(str), st.sampled_from(["R", "W", "Read", "Write", "0", "1", "",
                                                                           "nan", "-0", "1e3", " 7"]),
                         st.text(alphabet=",\n\r\"x\x00é", max_size=4))


@fuzz_settings(150)
@given(fmt=st.sampled_from(["msr", "alibaba", "tencent", "fio-iolog"]),
       rows=st.lists(st.lists(_TRACE_FIELD, min_size=3, max_size=8), min_size=0, max_size=6),
       header=st.sampled_from(["", "fio version 3 iolog\n", "fio version 2 iolog\n", "Timestamp,Offset\n"]),
       sep=st.sampled_from([",", " "]))
def test_import_trace_files(space, fmt, rows, header, sep):
    base, tier, store = space
    path = base / "trace.csv"
    path.write_text(header + "".join(sep.join(r) + "\n" for r in rows))
    answer = _answer(["import-trace", str(path), "--format", fmt, "--results", store], store)
    if answer.kind == "exit" and answer.code == 0:
        import json

        run = max(run_folders(store))
        doc = json.loads((store / run / "run.json").read_text())
        assert doc["kind"] == "trace" and doc["trace"]["totals"]["ops_read"] + doc["trace"]["totals"]["ops_written"] > 0
@FUZZ
@given(labels=st.lists(st.text(max_size=20) | st.sampled_from(["instance=m5d.large", "zone=a", "x=y", "=", "a="]),
                       max_size=3),
       price=st.none() | st.sampled_from(["0.5", "0", "-1", "nan", "inf", "1e400", "x", ""]) | st.text(max_size=6),
       region=st.none() | st.text(max_size=10))
def test_machine_labels_and_price(space, labels, price, region):
    """What a run ran on (--label, --price-per-hour, --region): refused in one line, or recorded as given."""
    base, tier, store = space
    assume(all("\0" not in x for x in labels) and (region is None or "\0" not in region))
    argv = ["run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin", "--results", store,
            *SMALL]
    for label in labels:
        argv += ["--label", label]
    if price is not None:
        argv += ["--price-per-hour", price]
    if region is not None:
        argv += ["--region", region]
    answer = _answer(argv, store)
    if answer.kind == "would-run" and price is not None:
        assert math.isfinite(float(price)) and float(price) > 0
