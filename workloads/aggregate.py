"""Word-count-style group-by over a dataset larger than its memory budget, spilling partial aggregates to the
temp tier with Polars' out-of-core engine ("polars-ooc").

Phases:
- "generate" (data tier): a seeded Parquet dataset of `rows` rows (word: string, value: int64) in files of at
  most `rows_per_file` rows. Words are "w<rank>" with rank drawn from a finite Zipf law over `distinct_keys`
  ranks (P(rank k) ~ 1 / (k+1)^zipf_exponent), as word frequencies go. Files are written cold.
- "aggregate" (temp tier): in a child process, `scan_parquet(...).group_by("word").agg(count, sum(value))`
  on the streaming engine, sunk to a Parquet file on the data tier. Polars reads its out-of-core settings
  (POLARS_OOC_SPILL_DIR, POLARS_OOC_MEMORY_BUDGET_MB; nothing spills without a budget) when its engine
  starts, hence the child process; POLARS_OOC_LOG_METRICS=1 makes it print, per plan node, lines such as
      spill_stats(group-by): relief_mb_s(9.64), io(spill=420.08ms, unspill=342.25ms), spill(succ=100.0%, n=10), ...
      prefetch_stats(group-by): file_mb(written=6.5, read=6.5), unspill(demand=10/20.8mb, ...), ...
  on stderr (polars 2.1). Its "MB" are MiB: checked against the child's /proc/self/io wchar on this machine.
- "validate" (data tier): the output must equal the counts and sums kept while generating, word by word.

Also reported: what the child's I/O did at the block layer (/proc/self/io read_bytes, write_bytes and
cancelled_write_bytes during the query): spill files that are written, read back and deleted while still in
the page cache never reach the device, and the cancelled bytes show it. POLARS_MAX_THREADS = ctx["workers"].
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import CaseError
from workloads import job_workload
from workloads._jobio import PhaseLog, check_free_space, read_file, write_cold

MiB = 1024 ** 2
MECHANISM = "polars-ooc"
# Rough bytes per row, for the free-space check: Parquet input (dictionary-encoded words, int64 values),
# and Polars' spill of rows and partial aggregates (about the in-memory size: string + offsets + int64).
_INPUT_BYTES_PER_ROW = 12
_SPILL_BYTES_PER_ROW = 32
_OUTPUT_BYTES_PER_KEY = 32


@dataclass(frozen=True)
class AggregateParams:
    rows: int = 20_000_000            # rows of input
    distinct_keys: int = 5_000_000    # Zipf ranks the words are drawn from
    memory_budget_mb: int = 64        # POLARS_OOC_MEMORY_BUDGET_MB
    zipf_exponent: float = 1.0
    rows_per_file: int = 2_000_000    # rows per input Parquet file (and per generation chunk)
    seed: int = 0

    def __post_init__(self):
        for name in ("rows", "distinct_keys", "memory_budget_mb", "rows_per_file"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.zipf_exponent < 0:
            raise ValueError(f"zipf_exponent must be >= 0, not {self.zipf_exponent}")


# ---- generate ----------------------------------------------------------------------------------------

def zipf_cdf(distinct_keys: int, exponent: float):
    import numpy as np
    weights = np.arange(1, distinct_keys + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def generate(p: AggregateParams, directory: str, io, role: str, cache: bool) -> dict:
    """Write the input dataset; returns the expected per-rank counts and sums and the files' bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(p.seed)
    cdf = zipf_cdf(p.distinct_keys, p.zipf_exponent)
    counts = np.zeros(p.distinct_keys, dtype=np.int64)
    sums = np.zeros(p.distinct_keys, dtype=np.int64)
    files, total = [], 0
    for index, start in enumerate(range(0, p.rows, p.rows_per_file)):
        n = min(p.rows_per_file, p.rows - start)
        ranks = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), p.distinct_keys - 1)
        values = rng.integers(1, 101, n, dtype=np.int64)
        counts += np.bincount(ranks, minlength=p.distinct_keys)
        sums += np.bincount(ranks, weights=values, minlength=p.distinct_keys).astype(np.int64)
        words = pc.binary_join_element_wise("w", pa.array(ranks).cast(pa.string()), "")
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"word": words, "value": values}), sink)
        path = os.path.join(directory, f"part-{index:05d}.parquet")
        total += write_cold(path, sink.getvalue(), io, role, cache)
        files.append(path)
    return {"counts": counts, "sums": sums, "files": files, "input_bytes": total}


# ---- aggregate (child process) -----------------------------------------------------------------------

_DURATION = r"([\d.]+)\s*(ns|us|µs|ms|s)"
_SPILL_STATS = re.compile(r"spill_stats\(([^)]*)\):.*?io\(spill=" + _DURATION + r",\s*unspill=" + _DURATION
                          + r"\),\s*spill\(succ=[^,]*,\s*n=(\d+)\)")
_FILE_MB = re.compile(r"prefetch_stats\(([^)]*)\):\s*file_mb\(written=([\d.]+),\s*read=([\d.]+)\)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_spill_log(text: str) -> dict:
    """Spill figures from POLARS_OOC_LOG_METRICS output, summed over plan nodes: bytes written to and read
    back from spill files (MiB in the log), spill and unspill I/O seconds, spills. Raises ValueError when
    the text holds no such line (polars did not run out-of-core, or its log format changed)."""
    stats = list(_SPILL_STATS.finditer(text))
    files = list(_FILE_MB.finditer(text))
    if not stats or not files:
        raise ValueError("no POLARS_OOC_LOG_METRICS lines (spill_stats/prefetch_stats) in polars' stderr")
    return {
        "spill_written_bytes": round(sum(float(m.group(2)) for m in files) * MiB),
        "spill_read_bytes": round(sum(float(m.group(3)) for m in files) * MiB),
        "spill_write_s": sum(float(m.group(2)) * _UNIT_S[m.group(3)] for m in stats),
        "spill_read_s": sum(float(m.group(4)) * _UNIT_S[m.group(5)] for m in stats),
        "spill_count": sum(int(m.group(6)) for m in stats),
        "nodes": sorted({m.group(1) for m in stats}),
    }


def _proc_io() -> dict:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f.read().splitlines() if line)}


def _child_main(args: dict) -> dict:
    """Runs in the child: the group-by, sunk to args["output"]; returns its timings and I/O counters."""
    import polars as pl

    io0, cpu0, wall0 = _proc_io(), time.process_time(), time.monotonic()
    (pl.scan_parquet(os.path.join(args["input"], "*.parquet"))
       .group_by("word")
       .agg(pl.len().alias("count"), pl.col("value").sum().alias("total"))
       .sink_parquet(args["output"]))
    fd = os.open(args["output"], os.O_RDONLY)
    try:
        os.fsync(fd)
        if not args["cache"]:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    wall, cpu, io1 = time.monotonic() - wall0, time.process_time() - cpu0, _proc_io()
    return {"wall_s": wall, "cpu_s": cpu, "io": {k: io1[k] - io0[k] for k in io0},
            "output_bytes": os.path.getsize(args["output"]), "polars": pl.__version__,
            "threads": pl.thread_pool_size()}


def run_child(input_dir: str, output: str, spill_dir: str, budget_mb: int, threads: int, cache: bool) -> tuple:
    """Run the group-by in a fresh interpreter with Polars' out-of-core settings; returns (result, stderr)."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, POLARS_OOC_SPILL_DIR=spill_dir, POLARS_OOC_MEMORY_BUDGET_MB=str(budget_mb),
               POLARS_OOC_LOG_METRICS="1", POLARS_MAX_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    args = json.dumps({"input": input_dir, "output": output, "cache": cache})
    proc = subprocess.run([sys.executable, "-m", "workloads.aggregate", args], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise CaseError(f"aggregate: polars child exited {proc.returncode}: {tail}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise CaseError(f"aggregate: polars child printed no result (stdout: {proc.stdout[-300:]!r})")
    return json.loads(lines[-1]), proc.stderr


# ---- validate ----------------------------------------------------------------------------------------

def validate(output, expected: dict, io, role: str) -> int:
    """Compare the output (a Parquet file, or a list of them: one table) word by word with the expected counts
    and sums; returns the groups. Raises CaseError on any difference."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    paths = [output] if isinstance(output, str) else list(output)
    table = pa.concat_tables([pq.read_table(pa.py_buffer(read_file(path, io, role))) for path in paths])
    words = table.column("word").combine_chunks()
    if pc.any(pc.invert(pc.starts_with(words, "w"))).as_py():
        raise CaseError("aggregate: output holds words that were never generated")
    ranks = pc.cast(pc.utf8_slice_codeunits(words, 1), pa.int64()).to_numpy()
    counts = table.column("count").to_numpy().astype(np.int64)
    totals = table.column("total").to_numpy().astype(np.int64)
    want_counts, want_sums = expected["counts"], expected["sums"]
    present = np.flatnonzero(want_counts)
    problems = []
    if len(ranks) != len(present):
        problems.append(f"{len(ranks)} groups, expected {len(present)}")
    if len(np.unique(ranks)) != len(ranks):
        problems.append("a word appears in more than one group")
    if ranks.size and (ranks.min() < 0 or ranks.max() >= len(want_counts)):
        problems.append("a word outside the generated vocabulary")
    elif not problems:
        if not np.array_equal(counts, want_counts[ranks]):
            problems.append(f"{int(np.sum(counts != want_counts[ranks]))} groups have a wrong count")
        if not np.array_equal(totals, want_sums[ranks]):
            problems.append(f"{int(np.sum(totals != want_sums[ranks]))} groups have a wrong sum")
    if problems:
        raise CaseError("aggregate: output is wrong: " + "; ".join(problems))
    return len(ranks)


# ---- the job -----------------------------------------------------------------------------------------

def space_needed(p: AggregateParams) -> tuple:
    """(bytes kept on the data tier, bytes kept on the temp tier) at the job's peak: input and output, spill."""
    input_bytes = p.rows * _INPUT_BYTES_PER_ROW
    output_bytes = min(p.rows, p.distinct_keys) * _OUTPUT_BYTES_PER_KEY
    return input_bytes + output_bytes, p.rows * _SPILL_BYTES_PER_ROW


def run(p: AggregateParams, ctx: dict) -> dict:
    data_dir, temp_dir = ctx["dirs"]["data"], ctx["dirs"]["temp"]
    cache = bool(ctx.get("cache"))
    threads = max(1, int(ctx.get("workers") or 1))
    input_bytes = p.rows * _INPUT_BYTES_PER_ROW
    data_bytes, spill_bytes = space_needed(p)
    needs = {data_dir: data_bytes}
    needs[temp_dir] = needs.get(temp_dir, 0) + spill_bytes
    check_free_space(needs, f"aggregate ({p.rows} rows, about {input_bytes} bytes of input and "
                             f"{spill_bytes} bytes of spill)")

    input_dir = os.path.join(data_dir, "aggregate-input")
    spill_dir = os.path.join(temp_dir, "polars-spill")
    output = os.path.join(data_dir, "aggregate-output.parquet")
    os.mkdir(input_dir)    # inside the case directory: never recreates a vanished tier root
    if not os.path.isdir(spill_dir):
        os.mkdir(spill_dir)
    log = PhaseLog(ctx["tiers"], children=True)

    with log.phase("generate", "data") as (record, io):
        expected = generate(p, input_dir, io, "data", cache)

    with log.phase("aggregate", "temp") as (record, io):
        result, stderr = run_child(input_dir, output, spill_dir, p.memory_budget_mb, threads, cache)
        try:
            spill = parse_spill_log(stderr)
        except ValueError as e:
            raise CaseError(f"aggregate: {e}; stderr ends: {stderr.strip()[-300:]!r}") from None
        child_io = result["io"]
        # Bytes by tier: spill files on temp (polars' own figures); input read and output written on data.
        # Ops are the child's read/write system calls during the query (polars does not count them by file).
        io.wrote("temp", spill["spill_written_bytes"], ops=0)
        io.read("temp", spill["spill_read_bytes"], ops=0)
        io.read("data", expected["input_bytes"], ops=0)
        io.wrote("data", result["output_bytes"], ops=0)
    record["ops_read"], record["ops_written"] = child_io["syscr"], child_io["syscw"]
    record["spill_mechanism"] = MECHANISM

    with log.phase("validate", "data") as (record, io):
        groups = validate(output, expected, io, "data")
        record["valid"] = True

    agg = log.get("aggregate")
    metrics = {
        "rows_count": p.rows,
        "groups_count": groups,
        "input_bytes": expected["input_bytes"],
        "output_bytes": result["output_bytes"],
        "spill_written_bytes": spill["spill_written_bytes"],
        "spill_read_bytes": spill["spill_read_bytes"],
        "spill_write_s": spill["spill_write_s"],
        "spill_read_s": spill["spill_read_s"],
        "spill_count": spill["spill_count"],
        "query_s": result["wall_s"],
        "query_device_read_bytes": child_io["read_bytes"],
        "query_device_write_bytes": child_io["write_bytes"],
        "query_cancelled_write_bytes": child_io["cancelled_write_bytes"],
        "memory_budget_bytes": p.memory_budget_mb * MiB,
    }
    if agg["wall_s"] > 0:
        metrics["aggregated_bytes_per_s"] = expected["input_bytes"] / agg["wall_s"]
    return {"phases": log.records, "metrics": metrics, "threads": threads,
            "implementation": f"{MECHANISM}:polars-{result['polars']}"}


WORKLOAD = job_workload(
    "aggregate", AggregateParams, run,
    "Word-count group-by larger than its memory budget; Polars out-of-core spills partials to the temp tier",
    quick={"rows": 1_000_000, "distinct_keys": 300_000, "memory_budget_mb": 16, "rows_per_file": 250_000})


if __name__ == "__main__":
    print(json.dumps(_child_main(json.loads(sys.argv[1]))), flush=True)
