"""Plans from config files and flags: sweeps, repeats, quick overrides, bad input."""
import pytest

from bench.core.errors import UserError
from bench.core.units import parse_size
from bench.execution import plan
from bench.execution.config import Config, from_toml, load_toml, parse_param_flag, parse_workers, validate


def test_default_sweep_gives_qd1_and_qd32():
    cases = plan.build(Config(workloads=["rand-read-4k"]), ["a", "b"])
    assert sorted((c.tier, c.params["iodepth"]) for c in cases) == [("a", 1), ("a", 32), ("b", 1), ("b", 32)]


def test_param_sweep_repeat_and_engines():
    cfg = Config(workloads=["seq-read-1m"], params={"bs": ["64k", "1m"]}, repeat=2, engines=["fio", "builtin"])
    cases = plan.build(cfg, ["t"])
    assert len(cases) == 2 * 2 * 2
    assert {c.params["bs"] for c in cases} == {65536, 1048576}
    assert [c.repeat for c in cases[:4]] == [0, 0, 0, 0]  # repeats outermost
    assert len({c.key() for c in cases}) == 4


def test_quick_overrides_unless_user_sets_them():
    cases = plan.build(Config(workloads=["seq-write-1m"], quick=True, params={"runtime_s": ["1.5"]}), ["t"])
    assert cases[0].params == {"runtime_s": 1.5, "size": 64 * 1024 ** 2}


def test_workers_become_numjobs_for_patterns():
    cases = plan.build(Config(workloads=["seq-read-1m"], workers=[1, 2]), ["t"])
    assert [c.params["numjobs"] for c in cases] == [1, 2]


@pytest.mark.parametrize("cfg,message", [
    (Config(workloads=["nope"]), "unknown workload"),
    (Config(workloads=["seq-read-1m"], params={"colour": ["red"]}), "no selected workload has this parameter"),
    (Config(workloads=["seq-read-1m"], params={"iodepth": ["deep"]}), "not a number"),
    (Config(workloads=["seq-read-1m"], data="elsewhere"), "not configured"),
])
def test_bad_plans(cfg, message):
    with pytest.raises(UserError, match=message):
        plan.build(cfg, ["t"])


def test_toml_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[tiers.fast]\npath = "/dev/shm"\nclass = "memory"\ncapacity = "1.6T"\n'
                    '[run]\nworkloads = ["rand-read-4k"]\nengine = ["fio", "builtin"]\nrepeat = 3\n'
                    '[params]\niodepth = [1, 8]\n')
    cfg = validate(from_toml(load_toml(str(path)), str(path)))
    assert cfg.tiers[0].capacity_bytes == 1_600_000_000_000
    assert cfg.engines == ["fio", "builtin"] and cfg.repeat == 3 and cfg.params == {"iodepth": [1, 8]}


@pytest.mark.parametrize("text,message", [
    ("[run]\nrepeat = 0\n", "repeat"), ("[bogus]\n", "unknown section"), ("[run\n", "invalid TOML"),
    ("[run]\nengine = 'dd'\n", "unknown engine"), ("[tiers.a]\nsize = 3\n", "unknown key"),
])
def test_bad_toml(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        validate(from_toml(load_toml(str(path)), str(path)))


def test_flag_parsers():
    assert parse_param_flag("iodepth=1,32") == ("iodepth", ["1", "32"])
    assert parse_workers("1,2,4") == [1, 2, 4]
    for bad in ("iodepth", "=1"):
        with pytest.raises(UserError):
            parse_param_flag(bad)
    with pytest.raises(UserError):
        parse_workers("0,x")


# ---- parameters checked by the plan (types, ranges, the workload's own rules, the plan's size) ------------

import dataclasses  # noqa: E402
import math  # noqa: E402

import workloads  # noqa: E402


def test_every_parameter_of_every_workload_has_a_range():
    """Adding a workload parameter means deciding its range (workloads.PARAM_RANGES); defaults, quick
    overrides and default sweeps are within them."""
    for w in workloads.all_workloads():
        defaults = w.default_params()
        for f in dataclasses.fields(defaults):
            value = getattr(defaults, f.name)
            if isinstance(value, bool):
                continue
            assert f.name in workloads.PARAM_RANGES, f"{w.name}.{f.name} has no range"
            workloads.PARAM_RANGES[f.name].check(f.name, value)
        workloads.coerce_params(w, dict(w.quick))
        for key, values in w.default_sweep.items():
            for value in values:
                workloads.coerce_params(w, {key: value})


@pytest.mark.parametrize("params, message", [
    ({"size": ["0"]}, "size must be from 1 byte"), ({"iodepth": ["0"]}, "iodepth must be from 1"),
    ({"bs": ["3"]}, "bs must be from 512 bytes"), ({"bs": ["1000"]}, "multiple of 512"),
    ({"runtime_s": ["nan"]}, "finite"), ({"runtime_s": [math.inf]}, "finite"), ({"runtime_s": ["0"]}, "runtime_s must be"),
    ({"direct": ["maybe"]}, "true or false"), ({"direct": [1]}, "true or false"), ({"iodepth": [True]}, "whole number"),
    ({"size": [1.5]}, "whole number"), ({"size": ["1.3"]}, "whole number of bytes"), ({"size": ["4k"]}, "less than one block"),
    ({"numjobs": ["0"]}, "numjobs must be from 1"), ({"size": ["1m", "0"]}, "size=0"),
])
def test_bad_parameters_are_refused_by_the_plan(params, message):
    cfg = Config(workloads=["seq-read-1m"], params=params)
    with pytest.raises(UserError, match=message):
        plan.check(cfg)
    with pytest.raises(UserError, match=message):
        plan.build(cfg, ["t"])


def test_plan_checks_what_the_worker_would_refuse():
    with pytest.raises(UserError, match="blocks .5. must be a multiple of readers"):
        plan.check(Config(workloads=["hdfs-read"], params={"blocks": [5], "readers": [2]}))
    with pytest.raises(UserError, match="hdfs-read has no numjobs"):
        plan.check(Config(workloads=["hdfs-read"], workers=[2]))
    with pytest.raises(UserError, match="numjobs must be from 1 to 1024"):
        plan.check(Config(workloads=["seq-read-1m"], workers=[2000]))


def test_plan_size_is_bounded_before_it_is_built():
    cfg = Config(workloads=["seq-read-1m"], repeat=1000, params={"size": [f"{i}m" for i in range(1, 12)]})
    with pytest.raises(UserError, match="11000 cases, more than 10000"):
        plan.check(cfg)
    small = Config(workloads=["rand-read-4k"], engines=["fio", "builtin"], workers=[1, 2], repeat=3)
    assert plan._count(plan._selected(small), small, 2) == len(plan.build(small, ["a", "b"])) == 3 * 2 * 2 * 2 * 2


def test_sizes_parse_exactly():
    assert parse_size("9007199254740993") == 9007199254740993     # no float rounding
    assert parse_size("1.5m") == 1536 * 1024 and parse_size("64KiB") == 65536
    for bad in ("1e400", "-1", "nan", "1.3", "0x10", "9" * 40):
        with pytest.raises(ValueError):
            parse_size(bad)
