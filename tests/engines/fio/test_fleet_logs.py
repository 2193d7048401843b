"""A fleet host's figures over time from fio's per-I/O completion-latency logs (bench/engines/fio/fleet_logs.py):
the log options added to every job section, and rows from logs written by a real fio run (locally: the same
log format a server ships back), adding up to fio's own totals; a log that lost I/Os, or holds a line that is
not fio's, fails the host."""
from __future__ import annotations

import json
import subprocess

import pytest

from bench.analysis.intervals import check_interval_sums, interval_figures
from bench.core.errors import CaseError
from bench.engines.fio.fleet_logs import host_rows, log_prefix, with_interval_logs
from tests.conftest import needs_fio

JOBS = """\
[global]
ioengine=psync
size=1m
bs=4k

[writer]
rw=write
write_lat_log=theirs

[reader]
stonewall
rw=randread
filename=writer.0.0
runtime=1
time_based=1
"""


def test_every_job_section_logs_each_io_and_the_options_come_last():
    text, prefixes = with_interval_logs(JOBS, 3)
    assert prefixes == {log_prefix(3, 0): "writer", log_prefix(3, 1): "reader"}
    writer = text.split("[writer]")[1].split("[reader]")[0]
    # the section's own write_lat_log comes first, so the one added after it holds
    assert writer.index("write_lat_log=theirs") < writer.index(f"write_lat_log={log_prefix(3, 0)}")
    assert text.count("log_avg_msec=0") == 2 and text.count("log_unix_epoch=1") == 2
    assert "[global]\nioengine=psync" in text          # [global] gets none


@needs_fio
def test_rows_from_real_logs_add_up_to_fios_totals(tmp_path):
    text, prefixes = with_interval_logs(JOBS, 0)
    (tmp_path / "job.fio").write_text(text)
    subprocess.run(["fio", "--output-format=json", "--output=out.json", "job.fio"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    jobs = {j["jobname"]: j for j in json.loads((tmp_path / "out.json").read_text())["jobs"]}
    rows = host_rows(tmp_path, prefixes, 0.25)
    for phase, direction in (("writer", "write"), ("reader", "read")):
        mine = [r for r in rows if r["phase"] == phase and r["direction"] == direction]
        assert sum(r["ops"] for r in mine) == jobs[phase][direction]["total_ios"]
        assert sum(r["bytes"] for r in mine) == jobs[phase][direction]["io_bytes"]
        assert [r["index"] for r in mine] == list(range(len(mine)))
        assert all(r["t_end_s"] > r["t_start_s"] and r["active_s"] > 0 for r in mine)
    reads = [r for r in rows if r["phase"] == "reader"]
    assert len(reads) >= 4          # a 1 s phase in 0.25 s intervals
    assert min(r["t_start_s"] for r in rows) == 0.0
    renamed = host_rows(tmp_path, prefixes, 1.0, lambda name: "all")     # sections of one group share a phase
    assert {r["phase"] for r in renamed} == {"all"}
    log = next(tmp_path.glob(f"{log_prefix(0, 1)}_clat.*.log"))
    # a log that lost I/Os (cut short) no longer adds up to fio's totals: the host's case fails on it
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[: len(lines) * 9 // 10]))
    figures = interval_figures(host_rows(tmp_path, prefixes, 1.0))
    with pytest.raises(CaseError, match="read intervals add up to"):
        check_interval_sums(figures, jobs["reader"]["read"]["total_ios"], jobs["writer"]["write"]["total_ios"])
    log.write_text("".join(lines) + "not, a, fio, line\n")
    with pytest.raises(CaseError, match="is not a fio log line"):
        host_rows(tmp_path, prefixes, 1.0)
