"""Plans from config files and flags: sweeps, repeats, quick overrides, bad input."""
import pytest

from bench import plan
from bench.config import Config, from_toml, load_toml, parse_param_flag, parse_workers, validate
from bench.errors import UserError


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
