"""Config files: every key's type and range checked when read (bench.execution.config), with one-line UserErrors."""
import math

import pytest

from bench.core.errors import UserError
from bench.core.units import CAPACITY_MAX_BYTES
from bench.execution.config import (
    Config,
    _decimal_size,
    check_timeout,
    from_toml,
    load_toml,
    parse_workers,
    validate,
)


def _load(tmp_path, content):
    path = tmp_path / "c.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return validate(from_toml(load_toml(str(path)), str(path)))


def test_a_full_config_reads_with_its_types(tmp_path):
    cfg = _load(tmp_path, '[tiers.fast]\npath = "/dev/shm"\nclass = "memory"\ncapacity = "1.6T"\n'
                          '[tiers.slow]\ncapacity = 8000000000000\n'
                          '[run]\nworkloads = "seq-read-1m"\nengine = ["fio", "builtin", "fio"]\nrepeat = 3\n'
                          'workers = [1, 2]\ncache = true\nquick = false\ntimeout_s = 30\ndata = "slow"\n'
                          '[params]\niodepth = [1, 8]\ndirect = false\n')
    assert [(t.name, t.path, t.cls, t.capacity_bytes) for t in cfg.tiers] == [
        ("fast", "/dev/shm", "memory", 1_600_000_000_000), ("slow", None, None, 8_000_000_000_000)]
    assert cfg.workloads == ["seq-read-1m"] and cfg.engines == ["fio", "builtin"]
    assert (cfg.repeat, cfg.workers, cfg.cache, cfg.quick, cfg.timeout_s, cfg.data) == (3, [1, 2], True, False, 30.0, "slow")
    assert cfg.params == {"iodepth": [1, 8], "direct": [False]}
    assert isinstance(cfg.timeout_s, float)


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)), "not UTF-8"),
    (b'[run]\nworkloads = ["\xff"]\n', "not UTF-8"),
    ("a = " + "[" * 3000 + "]" * 3000, "invalid TOML"),
    ("tiers = 5\n", "tiers must be a table"),
    ("params = 5\n", "params must be a table"),
    ("[tiers.a]\npath = 5\n", "path must be a non-empty string"),
    ('[tiers.a]\npath = "/x\\u0000y"\n', "NUL"),
    ('[tiers."a b"]\npath = "/x"\n', "tier name"),
    ('[tiers.a]\nclass = "floppy"\n', "is not one of"),
    ('[tiers.a]\ncapacity = "1e400T"\n', "capacity: must be from 1 byte"),
    ('[tiers.a]\ncapacity = "-5T"\n', "capacity: expected a size"),
    ("[tiers.a]\ncapacity = true\n", "capacity: expected a size"),
    ('[run]\ncache = "false"\n', "cache must be true or false"),
    ("[run]\nquick = 0\n", "quick must be true or false"),
    ("[run]\nrepeat = 9223372036854775807\n", "repeat must be an integer from 1 to 1000"),
    ("[run]\nrepeat = true\n", "repeat must be an integer"),
    ("[run]\nworkers = [1, 0]\n", "workers must be an integer from 1 to 1024"),
    ("[run]\nworkers = []\n", "workers must not be empty"),
    ("[run]\ntimeout_s = nan\n", "timeout_s must be a number of seconds above 0"),
    ("[run]\ntimeout_s = 0\n", "timeout_s must be a number of seconds above 0"),
    ("[run]\nengine = 5\n", "engine must be a non-empty string"),
    ("[run]\nworkloads = []\n", "workloads must not be empty"),
    ("[params]\niodepth = []\n", "must be a value or a non-empty array"),
    ("[params.x]\ny = 1\n", "must be a value or a non-empty array"),
])
def test_bad_configs_are_refused_in_one_line(tmp_path, content, message):
    with pytest.raises(UserError, match=message) as e:
        _load(tmp_path, content)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value, expected", [("8T", 8 * 10 ** 12), ("1.6 TB", 1_600_000_000_000), ("500GB", 5 * 10 ** 11),
                                             ("8e12", 8 * 10 ** 12), (4096, 4096), (8.5e12, 8_500_000_000_000)])
def test_capacities_are_decimal(value, expected):
    assert _decimal_size(value) == expected


@pytest.mark.parametrize("value", ["1e400T", "-5T", "0", 0, -1, float("nan"), float("inf"), True, "lots", [1],
                                   CAPACITY_MAX_BYTES + 1])
def test_bad_capacities(value):
    with pytest.raises(ValueError):
        _decimal_size(value)


def test_cli_numbers_are_bounded():
    assert parse_workers("1,2,1024") == [1, 2, 1024]
    for bad in ("0", "1025", "x", ",", "1,-1", "1.5"):
        with pytest.raises(UserError, match="from 1 to 1024"):
            parse_workers(bad)
    assert check_timeout(5, "--timeout") == 5.0
    for bad in (0, -1, math.nan, math.inf, 1e9, True, "5"):
        with pytest.raises(UserError, match="--timeout must be"):
            check_timeout(bad, "--timeout")
    for cfg in (Config(repeat=0), Config(repeat=1001), Config(repeat=2 ** 63), Config(workers=[0]),
                Config(timeout_s=0.0), Config(engines=["dd"])):
        with pytest.raises(UserError):
            validate(cfg)
