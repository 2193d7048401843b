"""The HDFS and MapReduce patterns: they build, render, keep the footprint they claim, take overrides, and both
engines run them (tiny sizes) with the bytes and operations the model says."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import workloads
from bench.analysis.metrics import demanded_iops_per_gb
from bench.core.pattern import Pattern, Phase
from bench.engines.fio.job import render_jobfile
from tests.conftest import needs_fio
from workloads import hdfs_write, mr_shuffle
from workloads._jobio import meta_header

KiB, MiB = 1024, 1024 ** 2
PATTERNS = ("hdfs-write", "hdfs-read", "mr-spill", "mr-shuffle")
# Smaller than `quick`, for the engine runs here: a few MiB each.
TINY = {"hdfs-write": {"block_size": "1m", "blocks": 2},
        "hdfs-read": {"block_size": "1m", "blocks": 4, "readers": 2},
        "mr-spill": {"maps": 2, "spills_per_map": 3, "spill_bytes": "1m"},
        "mr-shuffle": {"maps": 4, "reducers": 3, "map_output_bytes": "1536k"}}


def build(name, **overrides) -> Pattern:
    w = workloads.get(name)
    return w.build(workloads.coerce_params(w, overrides))


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("variant", ["default", "quick", "tiny"])
def test_builds_and_renders(name, variant, tmp_path):
    w = workloads.get(name)
    assert w.kind == "pattern"
    overrides = {"default": {}, "quick": dict(w.quick), "tiny": TINY[name]}[variant]
    pattern = build(name, **overrides)
    assert Pattern.from_dict(pattern.to_dict()) == pattern
    text = render_jobfile(pattern, {"data": str(tmp_path / "d"), "temp": str(tmp_path / "t")})
    for phase in pattern.phases:
        assert f"[{phase.name}]" in text
    if variant == "quick":   # a few seconds even on a slow disk
        assert pattern.footprint_bytes() <= 64 * MiB


@pytest.mark.parametrize("name", PATTERNS)
def test_phases_reading_a_fileset_read_exactly_what_was_written(name):
    """A read phase on a fileset an earlier phase wrote must see the same files (no re-layout by the engine)."""
    for variant in ({}, dict(workloads.get(name).quick)):
        written = {}
        for phase in build(name, **variant).phases:
            shape = (phase.numjobs, phase.nrfiles, phase.file_size)
            if phase.fileset in written:
                assert written[phase.fileset] == shape, (phase.name, written[phase.fileset], shape)
            elif phase.writes:
                written[phase.fileset] = shape


def test_hdfs_meta_size():
    assert hdfs_write.meta_file_bytes(128 * MiB) == 7 + 4 * (128 * MiB // 512) == 1048583
    assert hdfs_write.meta_file_bytes_aligned(128 * MiB) == 1052672          # 257 x 4 KiB
    assert abs(hdfs_write.meta_file_bytes(128 * MiB) / (128 * MiB) - 1 / 128) < 1e-5
    assert hdfs_write.meta_file_bytes(1000) == 7 + 4 * 2                      # a partial last chunk counts
    assert hdfs_write.meta_file_bytes(4096, 1024) == 7 + 16
    assert len(meta_header(512)) == hdfs_write.META_HEADER_BYTES             # what the jobs write


def test_hdfs_write_model():
    p = build("hdfs-write")
    blocks, meta = p.phases
    assert (blocks.rw, blocks.bs, blocks.numjobs, blocks.nrfiles, blocks.direct, blocks.end_fsync) == \
        ("write", 64 * KiB, 3, 8, False, True)
    assert blocks.file_size == 128 * MiB
    assert (meta.fileset, meta.file_size, meta.numjobs, meta.nrfiles) == ("meta", 1052672, 3, 8)
    assert p.footprint_bytes() == 3 * 8 * (128 * MiB + 1052672)
    p = build("hdfs-write", replication="2", block_size="64m", packet_size="128k", blocks="3", direct="true")
    assert p.phases[0].numjobs == 2 and p.phases[0].bs == 128 * KiB and p.phases[0].direct
    assert p.footprint_bytes() == 2 * 3 * (64 * MiB + hdfs_write.meta_file_bytes_aligned(64 * MiB))


def test_hdfs_read_model():
    p = build("hdfs-read")
    (read,) = p.phases
    assert (read.rw, read.bs, read.numjobs, read.nrfiles, read.cold) == ("read", 64 * KiB, 4, 2, True)
    assert p.footprint_bytes() == 8 * 128 * MiB
    assert build("hdfs-read", readers=8, blocks=16).footprint_bytes() == 16 * 128 * MiB


def test_mr_spill_model():
    p = build("mr-spill")
    spill, merge_read, merge_write = p.phases
    assert spill.role == merge_read.role == merge_write.role == "temp"
    assert merge_read.fileset == spill.fileset and merge_read.file_service == "roundrobin"
    assert (merge_read.rw, merge_read.bs, merge_read.nrfiles) == ("read", MiB, 4)
    assert spill.file_size == 80 * MiB and spill.end_fsync
    assert merge_write.nrfiles == 1 and merge_write.file_size == 4 * 80 * MiB
    assert p.footprint_bytes() == 2 * 4 * 4 * 80 * MiB        # spills + map outputs


def test_mr_shuffle_model():
    p = build("mr-shuffle")
    out, fetch = p.phases
    segment = mr_shuffle.segment_bytes(128 * MiB, 64)
    assert segment == 2 * MiB
    assert (fetch.rw, fetch.bs, fetch.iodepth, fetch.numjobs, fetch.nrfiles) == ("randread", segment, 5, 64, 16)
    assert fetch.fileset == out.fileset and fetch.file_size == segment
    assert p.footprint_bytes() == 16 * 128 * MiB
    # M x R reads of one segment each
    assert fetch.numjobs * fetch.nrfiles * fetch.file_size // fetch.bs == 16 * 64
    assert mr_shuffle.segment_bytes(10 * MiB, 3) % 4096 == 0
    assert mr_shuffle.segment_bytes(1000, 64) == 4096
    assert not out.direct and fetch.direct      # map outputs through the page cache, fetches O_DIRECT
    out_direct, _ = build("mr-shuffle", direct_map_output="true").phases
    assert out_direct.direct and out_direct.end_fsync


@pytest.mark.parametrize("name,bad", [
    ("hdfs-write", {"block_size": 100 * KiB}),           # not whole packets
    ("hdfs-read", {"blocks": 5, "readers": 2}),          # blocks do not split evenly
    ("mr-spill", {"spills_per_map": 11}),                # beyond one merge pass
    ("mr-shuffle", {"reducers": 0}),
])
def test_bad_params_rejected(name, bad):
    with pytest.raises(ValueError):
        workloads.coerce_params(workloads.get(name), bad)


@pytest.mark.parametrize("name", PATTERNS)
def test_params_are_frozen_dataclasses_with_overridable_defaults(name):
    w = workloads.get(name)
    params = w.default_params()
    assert dataclasses.is_dataclass(params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.direct = not params.direct
    for key in w.quick:
        assert hasattr(params, key)
    with pytest.raises(ValueError):
        workloads.coerce_params(w, {"no_such_param": 1})


def _expected_bytes(phase):
    return phase.numjobs * phase.nrfiles * phase.file_size


def _run(engine, name, tmp_path):
    pattern = build(name, **TINY[name])
    dirs = {"data": str(tmp_path / "data"), "temp": str(tmp_path / "temp")}
    for d in dirs.values():
        Path(d).mkdir()
    out = engine.run(pattern, dirs, {"data": "slow", "temp": "fast"}, tmp_path / "raw", "case000", 60)
    records = {r["name"]: r for r in out["phases"]}
    assert list(records) == [p.name for p in pattern.phases]
    for phase in pattern.phases:
        r = records[phase.name]
        assert r["tier"] == ("slow" if phase.role == "data" else "fast")
        key = "written" if phase.writes else "read"
        assert r[f"bytes_{key}"] == _expected_bytes(phase)
        assert r[f"ops_{key}"] == _expected_bytes(phase) // phase.bs
        assert r["wall_s"] > 0
        if engine.__name__ == "bench.engines.builtin" and phase.checksum_chunk:   # fio has no HDFS checksums
            assert r["checksums"] == _expected_bytes(phase) // phase.checksum_chunk
    metrics = {"iops": sum(r["ops_read"] + r["ops_written"] for r in out["phases"])
               / sum(r["wall_s"] for r in out["phases"])}
    assert demanded_iops_per_gb(pattern, metrics) > 0
    return out


@pytest.mark.parametrize("name", PATTERNS)
def test_builtin_engine_runs_pattern(name, tmp_path):
    from bench.engines import builtin as engine_builtin
    _run(engine_builtin, name, tmp_path)


@needs_fio
@pytest.mark.parametrize("name", PATTERNS)
def test_fio_runs_pattern(name, tmp_path):
    from bench.engines.fio import engine as engine_fio
    _run(engine_fio, name, tmp_path)


def test_demanded_iops_per_gb():
    pattern = build("hdfs-read", block_size="1m", blocks=4, readers=2)      # keeps 4 MiB
    gb = 4 * MiB / 1e9
    assert demanded_iops_per_gb(pattern, {"iops": 100.0}) == pytest.approx(100.0 / gb)
    assert demanded_iops_per_gb(pattern, {"ops_read": 50, "ops_written": 0, "wall_s": 0.5}) == \
        pytest.approx(100.0 / gb)
    assert demanded_iops_per_gb(pattern, {"wall_s": 1.0}) is None            # not measured: no figure, not 0


# ---- checksums (Phase.checksum_chunk) -------------------------------------------------------------------

def test_hdfs_patterns_checksum_every_512_bytes():
    blocks, meta = build("hdfs-write").phases
    assert (blocks.checksum_chunk, meta.checksum_chunk) == (512, 0)      # the meta files are written, not summed
    (read,) = build("hdfs-read").phases
    assert read.checksum_chunk == 512
    assert build("hdfs-write", bytes_per_checksum="4096").phases[0].checksum_chunk == 4096
    assert build("hdfs-read", bytes_per_checksum="1024").phases[0].checksum_chunk == 1024
    for name, bad in (("hdfs-write", 1000), ("hdfs-read", 1000), ("hdfs-read", 128 * KiB), ("hdfs-read", 0)):
        with pytest.raises(ValueError, match="bytes_per_checksum"):
            workloads.coerce_params(workloads.get(name), {"bytes_per_checksum": bad})


@pytest.mark.parametrize("changes, message", [
    ({"checksum_chunk": -512}, "checksum_chunk must be 0"),
    ({"checksum_chunk": 1000}, "multiple of 512"),
    ({"checksum_chunk": 1 << 17, "bs": 1 << 17}, "up to 65536"),
    ({"checksum_chunk": 8192}, "not a whole number of 8192-byte checksum chunks"),
    ({"checksum_chunk": 512, "rw": "randrw"}, "only reads or only writes"),
    ({"checksum_chunk": True}, "checksum_chunk must be 0"),
])
def test_phase_checks_checksum_chunk(changes, message):
    args = {"name": "p", "rw": "write", "bs": 4 * KiB, "size": MiB}
    args.update(changes)
    with pytest.raises(ValueError, match=message):
        Phase(**args)
    phase = Phase("p", "read", bs=64 * KiB, size=MiB, checksum_chunk=4096)
    assert Pattern.from_dict(Pattern("x", (phase,)).to_dict()).phases[0].checksum_chunk == 4096


@pytest.mark.parametrize("name", ["hdfs-write", "hdfs-read"])
def test_fio_job_file_says_checksums_are_builtin_only(name, tmp_path):
    text = render_jobfile(build(name), {"data": str(tmp_path)})
    comments = [line for line in text.splitlines() if "checksum_chunk" in line]
    assert len(comments) == 1 and comments[0].startswith("; checksum_chunk=512: computed by tierbench's "
                                                         "builtin engine only (fio ")
    assert "verify" not in text            # fio is not asked to do anything it would time differently
