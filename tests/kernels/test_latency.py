"""kernels.latency_bins: fio's bin layout and fio's percentile definition, checked on fio's own json+ output."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kernels.latency_bins import (
    PLAT_NR,
    PLAT_VAL,
    bin_index,
    bin_value,
    bins_from_array,
    bins_to_array,
    merge_bins,
    percentile_from_bins,
    percentiles_us,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "fio"
JSON_PLUS = sorted(DATA.glob("*.plus.json")) + [DATA / "qd-note-stdout.txt", DATA / "concat-2runs.txt"]


def fio_documents(path: Path) -> list:
    """Every JSON document in a captured file, read with the json module alone (text around is skipped)."""
    text, decoder, docs = path.read_text(), json.JSONDecoder(), []
    start = text.find("\n{") + 1 if not text.startswith("{") else 0
    while 0 <= start < len(text):
        doc, end = decoder.raw_decode(text, start)
        docs.append(doc)
        start = text.find("{", end)
    return docs


def fio_directions_with_bins(path: Path):
    """(entry name, direction, clat_ns block) for every direction that carries json+ bins."""
    for doc in fio_documents(path):
        for entry in doc.get("jobs", []) + doc.get("client_stats", []):
            for direction in ("read", "write", "trim", "mixed"):
                clat = entry.get(direction, {}).get("clat_ns", {})
                if clat.get("bins"):
                    yield entry["jobname"], direction, clat


def test_bin_layout_round_trips_every_bin():
    values = [bin_value(i) for i in range(PLAT_NR)]
    assert values == sorted(set(values)), "bin values must rise strictly"
    assert all(bin_index(v) == i for i, v in enumerate(values))


def test_small_values_are_their_own_bin():
    assert [bin_index(v) for v in range(2 * PLAT_VAL)] == list(range(2 * PLAT_VAL))
    assert [bin_value(i) for i in range(2 * PLAT_VAL)] == list(range(2 * PLAT_VAL))


def test_known_bins():
    # 128..129 ns share bin 128 (one error bit), whose value is its middle, 129
    assert bin_index(128) == bin_index(129) == 128 and bin_value(128) == 129
    assert bin_index(130) == 129 and bin_value(129) == 131
    # 1 ms: msb 19, 13 error bits
    assert bin_index(1_000_000) == ((19 - 6 + 1) << 6) + ((1_000_000 >> 13) & 63)


@pytest.mark.parametrize("value", [128, 200, 1000, 4095, 4096, 123_456, 9_999_999, 2_000_000_000])
def test_bin_value_within_bin_resolution(value):
    # a bin is at most 1/64 of its value wide, and its value is its middle
    assert abs(bin_value(bin_index(value)) - value) <= value / 128


def test_values_past_the_range_land_in_the_last_bin():
    assert bin_index(10 ** 15) == PLAT_NR - 1
    with pytest.raises(ValueError):
        bin_index(-1)
    with pytest.raises(ValueError):
        bin_value(PLAT_NR)


def test_bins_from_array_and_back():
    counts = np.zeros(PLAT_NR, dtype=np.uint64)
    counts[[3, 200, 1000]] = [5, 7, 1]
    bins = bins_from_array(counts)
    assert bins == {3: 5, bin_value(200): 7, bin_value(1000): 1}
    assert bins_to_array(bins) == counts.tolist()
    assert bins_from_array([]) == {}
    with pytest.raises(ValueError):
        bins_from_array([0] * (PLAT_NR + 1))
    with pytest.raises(ValueError):
        bins_from_array([1, -1])


def test_merge_bins_sums_counts():
    assert merge_bins({5: 1, 129: 2}, {129: 3, 7: 1}, {}) == {5: 1, 7: 1, 129: 5}
    assert list(merge_bins({900: 1}, {5: 1})) == [5, 900]


def test_percentile_definition():
    bins = {1: 50, 2: 50}
    assert percentile_from_bins(bins, 50) == 1.0          # running count reaches 50 % at the first bin
    assert percentile_from_bins(bins, 50.0001) == 2.0
    assert percentile_from_bins(bins, 100) == 2.0
    assert percentile_from_bins({100: 1}, 1) == 100.0
    # 99.9 as a double is slightly above 99.9: 999 of 1000 samples do not reach it (fio agrees)
    assert percentile_from_bins({1: 999, 2: 1}, 99.9) == 2.0
    assert percentile_from_bins({1: 9999, 2: 1}, 99.99) == 1.0  # 99.99 as a double is slightly below


@pytest.mark.parametrize("bins, q", [({1: 1}, 0), ({1: 1}, 100.5), ({}, 50), ({5: 0}, 50)])
def test_percentile_refuses_bad_input(bins, q):
    with pytest.raises(ValueError):
        percentile_from_bins(bins, q)


def test_percentiles_us_converts_ns():
    assert percentiles_us({1500: 1, 2500: 1}, [50, 100]) == {50.0: 1.5, 100.0: 2.5}
    assert percentiles_us({}, [50]) == {}


@pytest.mark.parametrize("path", JSON_PLUS, ids=lambda p: p.name)
def test_percentiles_from_bins_equal_fios_own(path):
    """For every fio entry with bins, every percentile fio printed is exactly the one the bins give."""
    checked = 0
    for name, direction, clat in fio_directions_with_bins(path):
        bins = {int(k): v for k, v in clat["bins"].items()}
        assert sum(bins.values()) == clat["N"]
        for q, fio_ns in clat["percentile"].items():
            assert percentile_from_bins(bins, float(q)) == fio_ns, (name, direction, q)
            checked += 1
        assert all(bin_value(bin_index(v)) == v for v in bins), "fio's bin keys are bin values"
    assert checked, f"{path.name} has no json+ bins"
