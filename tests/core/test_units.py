"""bench.core.units: the two size conventions on hand-worked values (binary for transfers, decimal for capacity)."""
import pytest

from bench.core.units import CAPACITY_MAX_BYTES, parse_capacity, parse_size


def test_transfer_sizes_are_binary():
    assert parse_size("4k") == 4096 and parse_size("1m") == 1048576 and parse_size("2G") == 2 * 1024 ** 3


def test_capacities_are_decimal_as_drives_are_sold():
    assert parse_capacity("8T") == 8 * 10 ** 12 and parse_capacity("1.6T") == 1_600_000_000_000
    assert parse_capacity("500G") == 500 * 10 ** 9 and parse_capacity(4096) == 4096


def test_the_same_text_differs_by_convention():
    assert parse_size("1t") == 1024 ** 4 != parse_capacity("1T") == 10 ** 12


@pytest.mark.parametrize("bad", ["0", "-1T", "8X", "nan", CAPACITY_MAX_BYTES * 10, float("inf")])
def test_bad_capacities_are_refused(bad):
    with pytest.raises(ValueError):
        parse_capacity(bad)
