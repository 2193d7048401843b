"""fio and the builtin engine run every pattern the same way on an emulated fast tier: the same operations and
bytes per phase, and the same I/O reaching the device (layout included), so that their timings compare.

What is asserted is what is deterministic: counts, and the device's sector counters (/sys/block/<loop>/stat)
over each engine's whole run. Timings at these sizes (tens of MiB, phases of tens of milliseconds on a shared
2-core VM whose hypervisor takes freed page-cache memory back) are not: the fio/builtin IOPS agreement is a
CLI measurement at sizes whose phases last long enough (README, "Engines agree").
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import workloads
from bench.engines import builtin as engine_builtin
from bench.engines.fio import engine as engine_fio
from bench.engines.layout import lay_out_pattern, phase_files
from bench.reporting.table import CHECKSUM_MARK, _computed_checksums
from tests.conftest import needs_emulation, needs_fio

MiB = 1024 ** 2
SECTOR = 512
# Small enough for the fixture's 512 MiB tiers, large enough that metadata is noise next to the data.
SIZES = {"hdfs-write": {"block_size": "8m", "blocks": 2, "checksums": "false"},
         "hdfs-read": {"block_size": "8m", "blocks": 4, "readers": 2, "checksums": "false"},
         "mr-spill": {"maps": 2, "spills_per_map": 2, "spill_bytes": "8m"},
         "mr-shuffle": {"maps": 4, "reducers": 4, "map_output_bytes": "8m"}}


def _pattern(name):
    w = workloads.get(name)
    return w.build(workloads.coerce_params(w, SIZES[name]))


def _sectors(device: str) -> tuple:
    fields = Path(f"/sys/block/{os.path.basename(device)}/stat").read_text().split()
    return int(fields[2]), int(fields[6])      # sectors read, sectors written


def _run(engine, pattern, tier, tmp_path, tag) -> tuple:
    directory = os.path.join(tier["path"], f"agreement-{tag}")
    os.makedirs(directory)
    try:
        os.sync()
        before = _sectors(tier["device"])
        out = engine.run(pattern, {"data": directory, "temp": directory}, {"data": "t", "temp": "t"},
                         tmp_path / tag, "case000", 120)
        os.sync()
        after = _sectors(tier["device"])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return out["phases"], (after[0] - before[0]) * SECTOR, (after[1] - before[1]) * SECTOR


@needs_fio
@needs_emulation
@pytest.mark.parametrize("name", sorted(SIZES))
def test_engines_move_the_same_bytes_to_the_device(name, emulated, tmp_path):
    tier = {t["name"]: t for t in emulated["doc"]["tiers"]}["optane"]
    pattern = _pattern(name)
    fio_phases, fio_read, fio_written = _run(engine_fio, pattern, tier, tmp_path, "fio")
    b_phases, b_read, b_written = _run(engine_builtin, pattern, tier, tmp_path, "builtin")
    keys = ("name", "ops_read", "ops_written", "bytes_read", "bytes_written")
    assert [{k: p[k] for k in keys} for p in fio_phases] == [{k: p[k] for k in keys} for p in b_phases]
    assert all(p["wall_s"] > 0 for p in fio_phases + b_phases)
    assert all(p["cpu_s"] >= 0 for p in fio_phases + b_phases)   # per-phase CPU seconds, from both engines
    assert not any(p.get("checksums") for p in b_phases)   # checksums=false: both engines only move bytes
    # fio ran its multi-job phases through the start barrier, in a scratch directory it left no trace of
    assert "exec_prerun=" in (tmp_path / "fio" / "case000.fio").read_text()
    assert sorted(p.name for p in (tmp_path / "fio").iterdir()) == ["case000.fio", "case000.fio.json"]

    # Writes: the phases' bytes plus the layout of what is read before anything writes it, once per engine
    # (fio used to lay out a later phase's fileset up front and then overwrite it: 1.5x on mr-spill).
    layout = sum(p.numjobs * p.nrfiles * p.file_size for p in _laid_out(pattern))
    expected_written = sum(p["bytes_written"] for p in b_phases) + layout
    for written in (fio_written, b_written):
        assert expected_written <= written <= expected_written * 1.05 + 8 * MiB, (written, expected_written)
    # Cold reads reach the device on both engines, buffered ones through the same readahead (fio gives no
    # fadvise hint): the same bytes read.
    cold_reads = sum(r["bytes_read"] for r, p in zip(b_phases, pattern.phases) if p.cold)
    for read in (fio_read, b_read):
        assert cold_reads <= read <= cold_reads * 1.05 + 4 * MiB, (read, cold_reads)


def _laid_out(pattern):
    touched, out = set(), []
    for phase in pattern.phases:
        key = (phase.role, phase.fileset)
        if key not in touched and phase.rw != "write":
            out.append(phase)
        touched.add(key)
    return out


def test_layout_writes_what_a_phase_reads_before_anything_writes_it(tmp_path):
    for name in SIZES:
        pattern = _pattern(name)
        dirs = {"data": str(tmp_path / name / "data"), "temp": str(tmp_path / name / "temp")}
        for d in dirs.values():
            os.makedirs(d)
        done = lay_out_pattern(pattern, dirs)
        assert done == [p.name for p in _laid_out(pattern)]
        for phase in _laid_out(pattern):
            for job in phase_files(phase, dirs[phase.role]):
                assert [os.path.getsize(p) for p in job] == [phase.file_size] * phase.nrfiles
        assert lay_out_pattern(pattern, dirs) == []           # already there: nothing rewritten
    assert [p.name for p in _laid_out(_pattern("hdfs-read"))] == ["read"]
    assert _laid_out(_pattern("mr-spill")) == [] and _laid_out(_pattern("mr-shuffle")) == []


def test_ratio_with_builtin_checksums_is_flagged():
    with_crc = [{"phases": [{"name": "read", "checksums": 4096}]}]
    without = [{"phases": [{"name": "read"}]}, {"error": "boom", "phases": [{"checksums": 1}]}]
    assert _computed_checksums(with_crc) and not _computed_checksums(without)
    assert CHECKSUM_MARK.strip()
