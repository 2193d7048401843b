"""The aggregate job: Polars' out-of-core group-by spills to the temp tier, its result equals an in-memory
group-by of the same input, and its spill log is parsed as polars 2.1 prints it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import workloads
from bench.core.errors import CaseError, UserError
from workloads import aggregate
from workloads._jobio import IOCounts

# polars 2.1's POLARS_OOC_LOG_METRICS lines, as printed on this machine (20 M rows, 64 MB budget), with the
# unrelated bytes one run printed in front of a line.
LOG = """\
9412spill_stats(group-by-partition): relief_mb_s(1072.50), io(spill=8.32s, unspill=2.11s), spill(succ=100.0%, n=1560), spill_explore(succ=11.6%, n=13311), prefetch_explore(succ=NaN%, n=0)
prefetch_stats(group-by-partition): file_mb(written=133.2, read=133.2), unspill(demand=1560/376.9mb, prefetch=0/0.0mb), prefetch(hit=0, wasted=0), process_peak_mb(prefetch_in_flight=0.0, reserved=0.0)
spill_stats(group-by): relief_mb_s(1441.95), io(spill=2.87s, unspill=1.70s), spill(succ=100.0%, n=78), spill_explore(succ=0.6%, n=12343), prefetch_explore(succ=NaN%, n=0)
prefetch_stats(group-by): file_mb(written=133.9, read=133.9), unspill(demand=78/376.9mb, prefetch=0/0.0mb), prefetch(hit=0, wasted=0), process_peak_mb(prefetch_in_flight=0.0, reserved=0.0)
spill_stats(in-memory-sink): relief_mb_s(76.96), io(spill=571.53ms, unspill=0.00ns), spill(succ=100.0%, n=40), spill_explore(succ=0.3%, n=12102), prefetch_explore(succ=NaN%, n=0)
prefetch_stats(in-memory-sink): file_mb(written=17.8, read=17.8), unspill(demand=40/62.6mb, prefetch=0/0.0mb), prefetch(hit=0, wasted=0), process_peak_mb(prefetch_in_flight=0.0, reserved=0.0)
"""

SMALL = {"rows": 400_000, "distinct_keys": 100_000, "memory_budget_mb": 4, "rows_per_file": 100_000}


def make_ctx(tmp_path: Path, workers: int = 2) -> dict:
    for d in ("data", "temp"):
        (tmp_path / d).mkdir()
    return {"dirs": {"data": str(tmp_path / "data"), "temp": str(tmp_path / "temp")},
            "tiers": {"data": "hdd", "temp": "nvme"}, "workers": workers, "cache": False,
            "raw_dir": tmp_path / "raw", "stem": "case000"}


def test_parse_spill_log():
    s = aggregate.parse_spill_log(LOG)
    assert s["spill_written_bytes"] == round((133.2 + 133.9 + 17.8) * 2 ** 20)
    assert s["spill_read_bytes"] == s["spill_written_bytes"]
    assert s["spill_write_s"] == pytest.approx(8.32 + 2.87 + 0.57153)
    assert s["spill_read_s"] == pytest.approx(2.11 + 1.70)
    assert s["spill_count"] == 1560 + 78 + 40
    assert s["nodes"] == ["group-by", "group-by-partition", "in-memory-sink"]
    with pytest.raises(ValueError, match="POLARS_OOC_LOG_METRICS"):
        aggregate.parse_spill_log("no metrics here\n")


def test_aggregate_spills_and_equals_in_memory_group_by(tmp_path):
    ctx = make_ctx(tmp_path)
    out = workloads.get("aggregate").run(workloads.coerce_params(workloads.get("aggregate"), SMALL), ctx)
    phases = {p["name"]: p for p in out["phases"]}
    assert list(phases) == ["generate", "aggregate", "validate"]
    assert phases["validate"]["valid"] is True
    assert phases["aggregate"]["spill_mechanism"] == "polars-ooc"
    assert out["implementation"].startswith("polars-ooc:")
    m = out["metrics"]
    assert m["spill_written_bytes"] > 0, "a 4 MB budget must make polars spill"
    assert phases["aggregate"]["io"]["temp"]["bytes_written"] == m["spill_written_bytes"]
    assert phases["aggregate"]["tier"] == "nvme" and phases["generate"]["tier"] == "hdd"
    assert m["rows_count"] == 400_000
    for name in m:
        assert name.endswith(("_bytes", "_s", "_count", "_bytes_per_s")), name
    # nothing left behind in the spill directory
    assert not any(p.is_file() for p in (tmp_path / "temp").rglob("*"))
    # the result equals an in-memory group-by of the same input
    data = Path(ctx["dirs"]["data"])
    want = (pl.read_parquet(data / "aggregate-input" / "*.parquet")
              .group_by("word").agg(pl.len().alias("count"), pl.col("value").sum().alias("total"))
              .sort("word"))
    got = pl.read_parquet(data / "aggregate-output.parquet").sort("word")
    assert got.height == want.height == m["groups_count"]
    assert got["word"].to_list() == want["word"].to_list()
    assert got["count"].cast(pl.Int64).to_list() == want["count"].cast(pl.Int64).to_list()
    assert got["total"].to_list() == want["total"].to_list()


def test_validation_catches_a_wrong_result(tmp_path):
    p = workloads.coerce_params(workloads.get("aggregate"), {"rows": 2000, "distinct_keys": 50,
                                                             "rows_per_file": 1000})
    io = IOCounts()
    expected = aggregate.generate(p, str(tmp_path), io, "data", cache=True)
    assert io.by_role()["data"]["bytes_written"] == expected["input_bytes"]
    table = (pl.read_parquet(tmp_path / "*.parquet").group_by("word")
               .agg(pl.len().alias("count"), pl.col("value").sum().alias("total")))
    out = tmp_path / "out.parquet"
    table.write_parquet(out)
    assert aggregate.validate(str(out), expected, io, "data") == table.height
    table.with_columns(pl.when(pl.col("word") == "w0").then(pl.col("total") + 1)
                       .otherwise(pl.col("total")).alias("total")).write_parquet(out)
    with pytest.raises(CaseError, match="wrong sum"):
        aggregate.validate(str(out), expected, io, "data")
    table.filter(pl.col("word") != "w0").write_parquet(out)
    with pytest.raises(CaseError, match="groups, expected"):
        aggregate.validate(str(out), expected, io, "data")


def test_generated_keys_follow_a_zipf_law(tmp_path):
    p = workloads.coerce_params(workloads.get("aggregate"), {"rows": 200_000, "distinct_keys": 1000})
    expected = aggregate.generate(p, str(tmp_path), IOCounts(), "data", cache=True)
    counts = expected["counts"]
    assert counts.sum() == 200_000
    assert counts[0] > counts[9] > counts[99]                       # rank 1 most frequent
    assert counts[0] / counts[9] == pytest.approx(10, rel=0.2)      # exponent 1: P ~ 1/rank
    again = aggregate.generate(p, str(tmp_path), IOCounts(), "data", cache=True)
    assert np.array_equal(again["counts"], counts)                  # seeded


def test_refuses_when_the_tier_is_too_small(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 0, 1_000_000))
    with pytest.raises(UserError, match="1000000 bytes"):
        workloads.get("aggregate").run(workloads.get("aggregate").default_params(), make_ctx(tmp_path))
