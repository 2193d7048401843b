"""bench.analysis.metrics: the case metrics' formulas on hand-worked numbers, and one list of latency percentiles."""
import pytest

from bench.analysis.metrics import case_metrics, iops_per_gb
from bench.core.metric_registry import CASE_METRICS, LATENCY_PERCENTILES


def test_iops_per_gb_is_per_10_to_the_9_bytes():
    assert iops_per_gb(1000.0, 500 * 10**9) == pytest.approx(2.0)       # 1000 IOPS on 500 GB
    assert iops_per_gb(150.0, 4 * 10**12) == pytest.approx(0.0375)      # one HDD: 150 IOPS on 4 TB


def test_case_metrics_by_hand():
    phases = [{"wall_s": 2.0, "ops_read": 300, "bytes_read": 300 * 4096, "ops_written": 0, "bytes_written": 0},
              {"wall_s": 2.0, "ops_read": 0, "bytes_read": 0, "ops_written": 100, "bytes_written": 100 * 4096}]
    m = case_metrics(phases, capacity_bytes=10**9)
    assert m["wall_s"] == 4.0 and m["iops"] == pytest.approx(100.0)     # 400 ops over 4 s of phases
    assert m["read_iops"] == pytest.approx(75.0) and m["write_iops"] == pytest.approx(25.0)
    assert m["iops_per_gb"] == pytest.approx(100.0)                      # 100 IOPS on 1 GB
    assert "lat_p99_us" not in m                                         # no bins: not measured, not 0
    assert "iops_per_gb" not in case_metrics(phases, capacity_bytes=None)


def test_one_list_of_latency_percentiles():
    assert LATENCY_PERCENTILES == {"p50": 50.0, "p99": 99.0, "p999": 99.9}
    assert {f"lat_{name}_us" for name in LATENCY_PERCENTILES} <= set(CASE_METRICS)


def test_the_registry_gives_each_case_metric_a_unit_direction_and_threshold():
    from bench.core.metric_registry import EXACT, METRICS, UNITS, default_threshold, direction, unit_of
    for name, metric in METRICS.items():
        assert metric.unit in UNITS and metric.direction in (1, -1, 0, None), name
        assert (unit_of(name), direction(name), default_threshold(name)) == \
            (metric.unit, metric.direction, metric.threshold), name
        assert metric.threshold == 0.0 if metric.direction == EXACT else metric.threshold > 0, name
    # names outside the table follow the suffix rules
    assert (unit_of("sort_s"), direction("sort_s"), default_threshold("sort_s")) == ("s", None, 0.10)
    assert (direction("map_wall_s"), default_threshold("map_wall_s")) == (-1, 0.05)
    with pytest.raises(ValueError):
        unit_of("no_unit_here")
