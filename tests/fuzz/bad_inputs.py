"""The concrete bad inputs of issue 12 (and their neighbours), each named, and the script that counts how
tierbench answers them.

Every entry is one `tierbench` command line against a private workspace (a tier directory, a results store
holding two real runs made by `tierbench import` of captured fio output, config and fio JSON files written
from the entry). The expected answer is "refused" (exit 2, one line on stderr starting "tierbench: error:",
no run folder added) or, for a store holding one bad run document, "reported" (exit 0, the good run still
listed, exactly one line on stderr naming the bad one).

    .venv/bin/python -m tests.fuzz.bad_inputs            # every entry through the real CLI, one process each
    .venv/bin/python -m tests.fuzz.bad_inputs -v         # and one line per entry

prints: tried / answered as expected (exit 2 and one line, or reported) / wrong exit code or answer /
tracebacks / hangs (no answer within 60 s). tests/fuzz/test_bad_inputs.py runs the same table in-process.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Union

ROOT = Path(__file__).resolve().parents[2]
FIO_DATA = ROOT / "tests" / "data" / "fio"
REAL_FIO = FIO_DATA / "randread-4k.json"          # fio 3.33, json (tests/data/fio/README.md)
HANG_S = 60.0

Content = Union[str, bytes, Callable[[], bytes], "Special"]


@dataclass(frozen=True)
class BadInput:
    name: str
    argv: tuple                       # templates: {tier} {store} {dir} {file} {good_run} {bad_run}
    files: Mapping[str, Content] = field(default_factory=dict)   # written into {dir}; "file" is the first
    expect: str = "refused"           # or "reported"
    run_doc: Callable = None          # for "reported": mutates the bad run's run.json (a dict)
    raw: Mapping[str, Content] = field(default_factory=dict)    # written into the bad run's raw/, then removed


# -- building blocks ------------------------------------------------------------------------------------

RUN = ("run", "--tier", "t={tier}", "--workload", "seq-read-1m", "--engine", "builtin", "--results", "{store}")
SMALL = ("--param", "size=1m", "--param", "runtime_s=0.2")     # if a bad input were accepted: a short run


def _run(*extra) -> tuple:
    return RUN + SMALL + tuple(extra)


def _config(text: Content, *extra) -> tuple:
    return ("run", "{file}", "--tier", "t={tier}", "--results", "{store}") + tuple(extra)


def _fio_doc() -> dict:
    return json.loads(REAL_FIO.read_text())


def _fio(mutate: Callable[[dict], None]) -> Callable[[], bytes]:
    """The real fio document, changed by `mutate`; NaN/Infinity written as Python's json writes them."""
    def make() -> bytes:
        doc = _fio_doc()
        mutate(doc)
        return json.dumps(doc, indent=2).encode()
    return make


def _fio_text(old: str, new: str) -> Callable[[], bytes]:
    def make() -> bytes:
        text = REAL_FIO.read_text()
        assert old in text, old
        return text.replace(old, new, 1).encode()
    return make


def _set(path: str, value):
    """A mutation setting doc[...] at a dotted path ("jobs.0.read.iops")."""
    def mutate(doc):
        *head, last = path.split(".")
        node = doc
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if isinstance(node, list) else last] = value
    return mutate


_DELETE = object()


def _tar(files: dict) -> bytes:
    """A gzip'd tar holding `files` ({name: bytes}) in order, made in memory."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _import(content: Content) -> tuple:
    return ("import", "{file}", "--results", "{store}")


def _root_device():
    """The block device node under / (e.g. /dev/vda1), or None where / is on none (an overlay, a tmpfs)."""
    dev = os.stat("/").st_dev
    link = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if not os.major(dev) or not os.path.exists(link):
        return None
    node = f"/dev/{os.path.basename(os.path.realpath(link))}"
    return node if os.path.exists(node) else None


# -- the table ------------------------------------------------------------------------------------------

def _entries() -> list:
    e = []

    # configs run with short, small cases if a bad one were accepted (the script runs the real CLI)
    def config(name, text, *extra):
        e.append(BadInput(name, _config(text, *extra), {"c.toml": text}))

    def config_small(name, text):   # the workload and engine come from flags
        config(name, text, "--workload", "seq-read-1m", "--engine", "builtin", *SMALL)

    def config_run(name, text):     # [run] keys under test; the workload comes from the flag
        config(name, text, "--workload", "seq-read-1m", *SMALL)

    def config_params(name, line):  # [params] under test; the rest of the config keeps the case small
        head = '[run]\nworkloads = ["seq-read-1m"]\nengine = "builtin"\n[params]\n'
        defaults = "".join(f"{k} = {v}\n" for k, v in (("size", '"1m"'), ("runtime_s", "0.2"))
                           if not line.startswith(k))
        config(name, head + defaults + line)

    # config files: not TOML, not UTF-8, missing
    config_small("config-random-bytes", bytes(range(256)) * 3)
    config_small("config-bad-utf8", b'[run]\nworkloads = ["seq-read-1m\xff"]\n')
    config_small("config-nul-bytes", b"\x00\x00\x00")
    config_small("config-not-toml", "[run\n")
    config_small("config-nested-too-deep", "a = " + "[" * 5000 + "]" * 5000 + "\n")
    e.append(BadInput("config-missing", ("run", "{dir}/no-such.toml", "--tier", "t={tier}", "--results", "{store}")))
    e.append(BadInput("config-is-a-directory", ("run", "{dir}", "--tier", "t={tier}", "--results", "{store}")))
    # config: sections and tiers of the wrong type
    config_small("config-tiers-5", "tiers = 5\n")
    config_small("config-params-5", "params = 5\n")
    config_small("config-run-5", "run = 5\n")
    config_small("config-unknown-section", "[bogus]\n")
    config_small("config-tier-not-table", "[tiers]\na = 5\n")
    config_small("config-tier-path-5", "[tiers.a]\npath = 5\n")
    config_small("config-tier-path-empty", '[tiers.a]\npath = ""\n')
    config_small("config-tier-path-nul", '[tiers.a]\npath = "/tmp/a\\u0000b"\n')
    config_small("config-tier-class-5", "[tiers.a]\npath = \"/tmp\"\nclass = 5\n")
    config_small("config-tier-class-unknown", '[tiers.a]\npath = "/tmp"\nclass = "floppy"\n')
    config_small("config-tier-name-space", '[tiers."a b"]\npath = "/tmp"\n')
    config_small("config-tier-unknown-key", '[tiers.a]\nsize = 3\n')
    config_small("config-capacity-1e400T", '[tiers.t]\ncapacity = "1e400T"\n')
    config_small("config-capacity-minus-5T", '[tiers.t]\ncapacity = "-5T"\n')
    config_small("config-capacity-0", '[tiers.t]\ncapacity = 0\n')
    config_small("config-capacity-nan", "[tiers.t]\ncapacity = nan\n")
    config_small("config-capacity-bool", "[tiers.t]\ncapacity = true\n")
    config_small("config-capacity-words", '[tiers.t]\ncapacity = "lots"\n')
    # config: [run] keys of the wrong type or range
    config_run("config-cache-string-false", '[run]\nworkloads = ["seq-read-1m"]\nengine = "builtin"\ncache = "false"\n')
    config_run("config-cache-1", '[run]\nworkloads = ["seq-read-1m"]\nengine = "builtin"\ncache = 1\n')
    config_run("config-quick-string", '[run]\nworkloads = ["seq-read-1m"]\nengine = "builtin"\nquick = "yes"\n')
    config_run("config-repeat-0", "[run]\nrepeat = 0\n")
    config_run("config-repeat-huge", "[run]\nrepeat = 9223372036854775807\n")
    config_run("config-repeat-float", "[run]\nrepeat = 1.5\n")
    config_run("config-repeat-string", '[run]\nrepeat = "3"\n')
    config_run("config-repeat-bool", "[run]\nrepeat = true\n")
    config_run("config-workers-0", "[run]\nworkers = [0]\n")
    config_run("config-workers-2000", "[run]\nworkers = 2000\n")
    config_run("config-workers-string", '[run]\nworkers = "1,2"\n')
    config_run("config-workers-empty", "[run]\nworkers = []\n")
    config_run("config-timeout-0", "[run]\ntimeout_s = 0\n")
    config_run("config-timeout-negative", "[run]\ntimeout_s = -1.0\n")
    config_run("config-timeout-nan", "[run]\ntimeout_s = nan\n")
    config_run("config-timeout-inf", "[run]\ntimeout_s = inf\n")
    config_run("config-timeout-string", '[run]\ntimeout_s = "10"\n')
    config_run("config-interval-0", "[run]\ninterval_s = 0\n")
    config_run("config-interval-nan", "[run]\ninterval_s = nan\n")
    config_run("config-interval-string", '[run]\ninterval_s = "1"\n')
    config_run("config-engine-5", "[run]\nengine = 5\n")
    config_run("config-engine-dd", '[run]\nengine = "dd"\n')
    config_run("config-engine-empty", "[run]\nengine = []\n")
    config_run("config-workloads-5", "[run]\nworkloads = 5\n")
    config_run("config-workloads-empty", "[run]\nworkloads = []\n")
    config("config-workloads-unknown", '[run]\nworkloads = ["nope"]\n')
    config_run("config-data-5", "[run]\ndata = 5\n")
    config("config-data-unknown-tier", '[run]\nworkloads = ["terasort"]\ndata = "elsewhere"\n[params]\nrecords = 1000\n')
    config_run("config-run-unknown-key", "[run]\ncolour = 1\n")
    # config: [params]
    config_small("config-param-nested-table", "[params.x]\ny = 1\n")
    config_params("config-param-empty-array", "iodepth = []\n")
    config_params("config-param-iodepth-0", "iodepth = 0\n")
    config_params("config-param-direct-1", "direct = 1\n")
    config_params("config-param-direct-string", 'direct = "maybe"\n')
    config_params("config-param-size-negative", "size = -1\n")
    config_params("config-param-size-float", "size = 1.5\n")
    config_params("config-param-bs-3", "bs = 3\n")
    config_params("config-param-iodepth-bool", "iodepth = true\n")
    config_params("config-param-date", "size = 1979-05-27\n")
    config_params("config-param-unknown", "colour = 1\n")
    config_params("config-param-runtime-nan", "runtime_s = nan\n")
    config_params("config-param-runtime-inf", "runtime_s = inf\n")

    # --param values
    for name, value in [("size-0", "size=0"), ("size-negative", "size=-1"), ("size-1e400", "size=1e400"),
                        ("size-10x", "size=10x"), ("size-not-whole", "size=1.3"), ("size-10p", "size=10p"),
                        ("size-huge-digits", "size=" + "9" * 400), ("size-below-bs", "size=4k"),
                        ("iodepth-0", "iodepth=0"), ("iodepth-negative", "iodepth=-1"),
                        ("iodepth-huge", "iodepth=99999999"), ("bs-3", "bs=3"), ("bs-1000", "bs=1000"),
                        ("bs-0", "bs=0"), ("runtime-nan", "runtime_s=nan"), ("runtime-inf", "runtime_s=inf"),
                        ("runtime-0", "runtime_s=0"), ("runtime-negative", "runtime_s=-1"),
                        ("runtime-1e400", "runtime_s=1e400"), ("direct-maybe", "direct=maybe"),
                        ("direct-2", "direct=2"), ("numjobs-0", "numjobs=0"), ("numjobs-5000", "numjobs=5000"),
                        ("unknown-key", "colour=red"), ("no-equals", "size"), ("no-value", "size="),
                        ("no-key", "=1"), ("one-bad-in-sweep", "size=1m,0")]:
        e.append(BadInput(f"param-{name}", _run("--param", value)))
    e.append(BadInput("param-hdfs-read-blocks-uneven",
                      RUN[:4] + ("hdfs-read",) + RUN[5:] + ("--param", "blocks=5", "--param", "readers=2")))
    e.append(BadInput("param-terasort-records-0", ("run", "--tier", "t={tier}", "--workload", "terasort",
                                                   "--param", "records=0", "--results", "{store}")))
    e.append(BadInput("param-aggregate-zipf-nan", ("run", "--tier", "t={tier}", "--workload", "aggregate",
                                                    "--param", "zipf_exponent=nan", "--results", "{store}")))
    # CLI numbers and names
    for name, extra in [("repeat-0", ("--repeat", "0")), ("repeat-negative", ("--repeat", "-1")),
                        ("repeat-huge", ("--repeat", "9223372036854775807")), ("repeat-1001", ("--repeat", "1001")),
                        ("repeat-word", ("--repeat", "x")), ("workers-0", ("--workers", "0")),
                        ("workers-2000", ("--workers", "2000")), ("workers-word", ("--workers", "x")),
                        ("workers-empty", ("--workers", ",")), ("workers-negative", ("--workers", "1,-1")),
                        ("timeout-0", ("--timeout", "0")), ("timeout-negative", ("--timeout", "-1")),
                        ("timeout-nan", ("--timeout", "nan")), ("timeout-inf", ("--timeout", "inf")),
                        ("timeout-1e400", ("--timeout", "1e400")), ("timeout-word", ("--timeout", "x")),
                        ("engine-dd", ("--engine", "dd")), ("workload-unknown", ("--workload", "nope")),
                        ("plan-too-large", ("--repeat", "1000", "--param", "size=" + ",".join(f"{i}m" for i in range(1, 40)))),
                        ("workers-on-hdfs-read", ("--workload", "hdfs-read", "--workers", "2")),
                        ("interval-0", ("--interval", "0")), ("interval-nan", ("--interval", "nan")),
                        ("interval-inf", ("--interval", "inf")), ("interval-huge", ("--interval", "1e9")),
                        ("interval-word", ("--interval", "x")),
                        ("round-s-without-steady-state", ("--round-s", "1")),
                        ("round-s-0", ("--steady-state", "--round-s", "0")),
                        ("round-s-nan", ("--steady-state", "--round-s", "nan")),
                        ("max-rounds-4", ("--steady-state", "--max-rounds", "4")),
                        ("max-rounds-huge", ("--steady-state", "--max-rounds", "9223372036854775807")),
                        ("max-rounds-word", ("--steady-state", "--max-rounds", "x")),
                        ("steady-state-on-a-job", ("--steady-state", "--workload", "terasort")),
                        ("precondition-with-job-file", ("--precondition", "--job-file", "{dir}/none.fio"))]:
        e.append(BadInput(f"cli-{name}", _run(*extra)))
    # --tier specs
    for name, spec in [("empty", ""), ("no-name", "=/tmp"), ("name-digit", "1a={tier}"),
                       ("empty-path", "a="), ("class-unknown", "a={tier}:floppy"), ("missing-path", "a={dir}/nope"),
                       ("file-not-dir", "a={dir}/plain-file"), ("unknown-name", "ghost"),
                       ("newline-name", "a\nb={tier}"), ("long-path", "a=/" + "x" * 5000),
                       ("long-name", "a" * 100 + "={tier}")]:
        e.append(BadInput(f"tier-{name}", ("run", "--tier", spec, "--workload", "seq-read-1m", "--engine", "builtin")
                          + SMALL + ("--results", "{store}"), {"plain-file": b"x"}))
    e.append(BadInput("tier-repeated-name", ("run", "--tier", "a={tier}", "--tier", "a={tier}") + RUN[3:] + SMALL))

    # fio JSON for import
    def fio(name, content):
        e.append(BadInput(f"import-{name}", _import(content), {"out.json": content}))

    fio("infinity-iops", _fio(_set("jobs.0.read.iops", float("inf"))))
    fio("nan-bw", _fio(_set("jobs.0.read.bw_bytes", float("nan"))))
    fio("minus-infinity-lat", _fio(_set("jobs.0.read.clat_ns.mean", float("-inf"))))
    fio("1e400-runtime", _fio_text('"runtime" : 1001', '"runtime" : 1e400'))
    fio("negative-iops", _fio(_set("jobs.0.read.iops", -5.0)))
    fio("negative-total-ios", _fio(_set("jobs.0.read.total_ios", -1)))
    fio("string-iops", _fio(_set("jobs.0.read.iops", "fast")))
    fio("bool-io-bytes", _fio(_set("jobs.0.read.io_bytes", True)))
    fio("float-total-ios", _fio(_set("jobs.0.read.total_ios", 1.5)))
    fio("huge-total-ios", _fio(_set("jobs.0.read.total_ios", 10 ** 30)))
    fio("no-total-ios", _fio(_set("jobs.0.read.total_ios", _DELETE)))
    fio("no-iops", _fio(_set("jobs.0.read.iops", _DELETE)))
    fio("no-clat", _fio(_set("jobs.0.read.clat_ns", _DELETE)))
    fio("no-jobs", _fio(_set("jobs", _DELETE)))
    fio("jobs-not-list", _fio(_set("jobs", {"a": 1})))
    fio("jobs-empty", _fio(_set("jobs", [])))          # found by test_fuzz_fio_json: imported as an empty run
    fio("job-not-object", _fio(_set("jobs.0", 5)))
    fio("no-jobname", _fio(_set("jobs.0.jobname", _DELETE)))
    fio("jobname-object", _fio(_set("jobs.0.jobname", {"x": 1})))
    fio("groupid-string", _fio(_set("jobs.0.groupid", "one")))
    fio("error-string", _fio(_set("jobs.0.error", "EIO")))
    fio("read-not-object", _fio(_set("jobs.0.read", [1, 2])))
    fio("clat-not-object", _fio(_set("jobs.0.read.clat_ns", 7)))
    fio("samples-string", _fio(_set("jobs.0.read.clat_ns.N", "many")))
    fio("percentile-key-word", _fio(_set("jobs.0.read.clat_ns.percentile", {"ninety": 5})))
    fio("percentile-not-object", _fio(_set("jobs.0.read.clat_ns.percentile", [1])))
    fio("percentile-above-100", _fio(_set("jobs.0.read.clat_ns.percentile", {"150.0": 5})))
    fio("no-mean-with-samples", _fio(_set("jobs.0.read.clat_ns.mean", _DELETE)))
    fio("usr-cpu-string", _fio(_set("jobs.0.usr_cpu", "busy")))
    fio("job-options-list", _fio(_set("jobs.0.job options", [1])))
    fio("timestamp-string", _fio(_set("timestamp", "now")))
    fio("version-fio2", _fio(_set("fio version", "fio-2.2")))
    fio("version-number", _fio(_set("fio version", 3)))
    fio("truncated", lambda: REAL_FIO.read_bytes()[:500])
    fio("empty", b"")
    fio("random-bytes", bytes(range(256)) * 4)
    fio("not-fio-json", b'{"hello": 1}')
    fio("json-array", b"[1, 2, 3]")
    fio("deeply-nested", b'{"jobs": ' + b"[" * 100000 + b"]" * 100000 + b"}")
    e.append(BadInput("import-missing-file", ("import", "{dir}/nope.json", "--results", "{store}")))
    e.append(BadInput("import-directory", ("import", "{dir}", "--results", "{store}")))
    e.append(BadInput("import-second-file-bad", ("import", str(REAL_FIO), "{file}", "--results", "{store}"),
                      {"bad.json": _fio(_set("jobs.0.read.iops", float("inf")))}))
    e.append(BadInput("import-tier-bad", ("import", str(REAL_FIO), "--tier", "=x", "--results", "{store}")))

    # other commands' numbers
    e.append(BadInput("model-drive-tb-nan", ("model", "{good_run}", "--drive-tb", "nan", "--results", "{store}")))
    e.append(BadInput("model-drive-tb-negative", ("model", "{good_run}", "--drive-tb", "-1", "--results", "{store}")))
    # the emulated hdd's flags: refused before anything is built (the emulation folder is {dir}/em)
    emulate = ("tiers", "emulate", "--dir", "{dir}/em", "--size", "64m")
    for name, extra in (("rpm-nan", ("--hdd-rpm", "nan")), ("rpm-zero", ("--hdd-rpm", "0")),
                        ("seek-negative", ("--hdd-seek-ms", "-1")), ("seek-below-track", ("--hdd-seek-ms", "0.1")),
                        ("mbps-inf", ("--hdd-mbps", "inf")), ("model-unknown", ("--hdd-model", "disk")),
                        ("rpm-with-throttle", ("--hdd-model", "throttle", "--hdd-rpm", "7200")),
                        ("drives-99", ("--hdd-drives", "99"))):
        e.append(BadInput(f"emulate-hdd-{name}", emulate + extra))
    e.append(BadInput("run-hdd-rpm-without-emulate", RUN + SMALL + ("--hdd-rpm", "5400")))

    # issue 20: tags, tag references, the gate's and the exports' flags, output paths
    S = ("--results", "{store}")
    for name, tag in (("no-equals", "nokey"), ("bad-key", "1x=y"), ("empty-value", "k="),
                      ("control-char", "k=a\x01b"), ("long", "k=" + "x" * 300)):
        e.append(BadInput(f"tag-{name}", _run("--tag", tag)))
    e.append(BadInput("tag-twice", _run("--tag", "a=1", "--tag", "a=2")))
    e.append(BadInput("compare-tag-ref-none", ("compare", "tag:build=nope", "{good_run}") + S))
    e.append(BadInput("compare-tag-ref-empty", ("compare", "tag:", "{good_run}") + S))
    e.append(BadInput("compare-tag-ref-bad-key", ("compare", "tag:=x", "{good_run}") + S))
    e.append(BadInput("compare-same-class-unknown", ("compare", "{good_run}", "{bad_run}", "--same-class-as",
                                                     "colour") + S))
    e.append(BadInput("compare-same-class-empty", ("compare", "{good_run}", "{bad_run}", "--same-class-as", ",") + S))
    e.append(BadInput("compare-strict-across", ("compare", "{good_run}", "{bad_run}", "--across-machines",
                                                "--strict") + S))
    e.append(BadInput("compare-junit-missing-folder", ("compare", "{good_run}", "{bad_run}", "--junit",
                                                       "{dir}/no/gate.xml") + S))
    e.append(BadInput("compare-summary-is-dir", ("compare", "{good_run}", "{bad_run}", "--summary", "{dir}") + S))
    e.append(BadInput("export-format-unknown", ("export", "{good_run}", "--format", "xml") + S))
    e.append(BadInput("export-output-dir", ("export", "{good_run}", "--format", "csv", "-o", "{dir}") + S))
    e.append(BadInput("export-output-device", ("export", "{good_run}", "--format", "csv", "-o", "/dev/null") + S))
    e.append(BadInput("export-three-runs", ("export", "{good_run}", "{good_run}", "{bad_run}", "--format",
                                            "csv") + S))
    e.append(BadInput("export-strict-one-run", ("export", "{good_run}", "--format", "junit", "--strict") + S))
    e.append(BadInput("history-tag-bad", ("history", "--metric", "iops", "--tag", "=x") + S))
    # issue 23: record, replay, import-trace
    def trace(name, fmt, content):
        e.append(BadInput(f"import-trace-{name}", ("import-trace", "{file}", "--format", fmt, "--results", "{store}"),
                          {"trace.csv": content}))

    trace("msr-bad-type", "msr", b"128166372003061629,hm,0,Erase,0,4096,1\n")
    trace("msr-negative-offset", "msr", b"128166372003061629,hm,0,Read,-4096,4096,1\n")
    trace("msr-size-word", "msr", b"128166372003061629,hm,0,Read,0,big,1\n")
    trace("msr-short-line", "msr", b"128166372003061629,hm,0,Read\n")
    trace("alibaba-bad-opcode", "alibaba", b"3,X,4096,4096,1577808000000010\n")
    trace("alibaba-zero-length", "alibaba", b"3,R,4096,0,1577808000000010\n")
    trace("alibaba-float-offset", "alibaba", b"3,R,40.5,4096,1577808000000010\n")
    trace("tencent-iotype-2", "tencent", b"1538323199,16,8,2,1576\n")
    trace("tencent-huge-size", "tencent", b"1538323199,16,99999999999999999999,0,1576\n")
    trace("header-only", "tencent", b"Timestamp,Offset,Size,IOType,VolumeID\n")
    trace("empty", "alibaba", b"")
    trace("not-utf8", "msr", bytes(range(128, 256)))
    trace("iolog-bad-header", "fio-iolog", b"fio version 9 iolog\n")
    trace("iolog-trim", "fio-iolog", b"fio version 3 iolog\n1 /x add\n2 /x open\n3 /x trim 0 4096\n")
    trace("iolog-read-no-length", "fio-iolog", b"fio version 3 iolog\n1 /x add\n2 /x read 0\n")
    trace("iolog-time-backwards", "fio-iolog", b"fio version 3 iolog\n9 /x read 0 4096\n2 /x read 0 4096\n")
    trace("unknown-format", "blktrace", b"1,2,3\n")
    e.append(BadInput("import-trace-missing", ("import-trace", "{dir}/nope.csv", "--format", "msr", "--results",
                                               "{store}")))
    e.append(BadInput("import-trace-directory", ("import-trace", "{dir}", "--format", "msr", "--results", "{store}")))
    e.append(BadInput("import-trace-device", ("import-trace", "/dev/zero", "--format", "msr", "--results", "{store}")))
    e.append(BadInput("import-trace-no-format", ("import-trace", "{dir}/nope.csv", "--results", "{store}")))
    e.append(BadInput("replay-not-a-trace", ("replay", "{good_run}", "--tier", "t={tier}", "--results", "{store}")))
    e.append(BadInput("replay-no-such-run", ("replay", "nope", "--tier", "t={tier}", "--results", "{store}")))
    e.append(BadInput("replay-no-tier", ("replay", "{good_run}", "--results", "{store}")))
    e.append(BadInput("replay-tier-missing", ("replay", "{good_run}", "--tier", "t={dir}/nope", "--results",
                                              "{store}")))
    e.append(BadInput("replay-tier-system", ("replay", "{good_run}", "--tier", "t=/etc", "--results", "{store}")))
    e.append(BadInput("replay-repeat-0", ("replay", "{good_run}", "--tier", "t={tier}", "--repeat", "0",
                                          "--results", "{store}")))
    e.append(BadInput("replay-timeout-nan", ("replay", "{good_run}", "--tier", "t={tier}", "--timeout", "nan",
                                             "--results", "{store}")))
    e.append(BadInput("record-no-command", ("record", "--results", "{store}")))
    e.append(BadInput("record-no-such-program", ("record", "--results", "{store}", "--", "{dir}/no-such-program")))
    e.append(BadInput("record-relative-path", ("record", "--path", "rel", "--results", "{store}", "--", "true")))
    # what a run ran on: labels, region and price (docs/machines.md)
    e.append(BadInput("run-label-no-equals", _run("--label", "instance")))
    e.append(BadInput("run-label-bad-key", _run("--label", "Bad Key=x")))
    e.append(BadInput("run-label-empty-value", _run("--label", "instance=")))
    e.append(BadInput("run-label-twice", _run("--label", "instance=a", "--label", "instance=b")))
    e.append(BadInput("run-label-control-chars", _run("--label", "zone=a\x07b")))
    e.append(BadInput("run-region-twice", _run("--label", "region=a", "--region", "b")))
    e.append(BadInput("run-price-negative", _run("--price-per-hour", "-1")))
    e.append(BadInput("run-price-nan", _run("--price-per-hour", "nan")))
    e.append(BadInput("run-price-inf", _run("--price-per-hour", "inf")))
    e.append(BadInput("run-price-text", _run("--price-per-hour", "cheap")))

    # compare --machines and its catalogs
    machines = ("compare", "{good_run}", "{bad_run}", "--machines", "--force", "--results", "{store}")
    e.append(BadInput("machines-one-run", ("compare", "{good_run}", "--machines", "--results", "{store}")))
    e.append(BadInput("machines-same-host", ("compare", "{good_run}", "{good_run}", "--machines",
                                             "--results", "{store}")))
    e.append(BadInput("machines-price-unknown-run", machines + ("--price", "nope=1",)))
    e.append(BadInput("machines-catalog-missing", machines + ("--catalog", "{dir}/nope.toml")))
    e.append(BadInput("machines-catalog-directory", machines + ("--catalog", "{dir}")))

    def catalog(name, content):
        e.append(BadInput(f"machines-catalog-{name}", machines + ("--catalog", "{file}"), {"c.toml": content}))

    entry = '[[instance]]\nprovider = "aws"\ninstance_type = "x"\ntier_class = "nvme"\nsource = "s"\nsource_date = "d"\n'
    catalog("not-toml", "[[instance\n")
    catalog("random-bytes", bytes(range(256)) * 3)
    catalog("too-large", lambda: b"# " + b"x" * (2 << 20) + b"\n")
    catalog("instance-5", "instance = 5\n")
    catalog("unknown-table", "[bogus]\n")
    catalog("no-figure", entry)
    catalog("negative-iops", entry + "read_iops_4k = -5\n")
    catalog("nan-iops", entry + "read_iops_4k = nan\n")
    catalog("unknown-field", entry + "read_iops_4k = 5\nspeed = 3\n")
    catalog("no-source", entry.replace('source = "s"\n', "") + "read_iops_4k = 5\n")
    e.append(BadInput("machines-catalog-without-machines", ("compare", "{good_run}", "{bad_run}", "--catalog",
                                                            "{file}", "--results", "{store}"), {"c.toml": entry}))

    # run bundles (bench.store.bundle; tests/store/test_bundle.py builds the hostile tars)
    def bundle(name, content):
        e.append(BadInput(f"import-bundle-{name}", ("import", "--bundle", "{file}", "--results", "{store}"),
                          {"b.tgz": content}))

    bundle("empty", b"")
    bundle("random-bytes", bytes(range(256)) * 4)
    bundle("gzip-of-junk", lambda: __import__("gzip").compress(b"junk" * 100))
    bundle("tar-without-manifest", lambda: _tar({"x/run.json": b"{}"}))
    bundle("manifest-not-json", lambda: _tar({"MANIFEST.json": b"{nope"}))
    bundle("manifest-traversal", lambda: _tar({"MANIFEST.json": json.dumps(
        {"format": "tierbench-bundle", "version": 1, "run_id": "r",
         "files": {"../evil": {"sha256": "0" * 64, "bytes": 1}, "r/run.json": {"sha256": "0" * 64, "bytes": 1}}}
    ).encode()}))
    e.append(BadInput("import-bundle-missing", ("import", "--bundle", "{dir}/nope.tgz", "--results", "{store}")))
    e.append(BadInput("import-bundle-directory", ("import", "--bundle", "{dir}", "--results", "{store}")))
    e.append(BadInput("import-bundle-with-files", ("import", str(REAL_FIO), "--bundle", "{dir}/x.tgz",
                                                   "--results", "{store}")))
    e.append(BadInput("export-bundle-directory", ("export", "{good_run}", "--bundle", "{dir}", "--results", "{store}")))
    e.append(BadInput("export-bundle-no-parent", ("export", "{good_run}", "--bundle", "{dir}/no/such/b.tgz",
                                                  "--results", "{store}")))
    e.append(BadInput("export-unknown-run", ("export", "nope", "--bundle", "{dir}/b.tgz", "--results", "{store}")))
    # issue 22: raw devices. Only devices every machine has are named (the disk under /, read-only workloads,
    # no --destroy-data, so that a guard that failed would read and never write); loop devices made by the
    # tests are refused and measured in tests/tiers/test_raw_device.py.
    raw = ("--quick", "--param", "size=1m", "--param", "runtime_s=0.2", "--results", "{store}")
    root = _root_device()
    if root:
        e.append(BadInput("raw-device-under-root", ("run", "--tier", f"n={root}", "--workload", "seq-read-1m") + raw))
        e.append(BadInput("raw-device-under-root-builtin", ("run", "--tier", f"n={root}:hdd", "--workload",
                                                            "rand-read-4k", "--engine", "builtin") + raw))
    e.append(BadInput("raw-character-device", ("run", "--tier", "n=/dev/null", "--workload", "seq-read-1m") + raw))
    e.append(BadInput("raw-missing-device", ("run", "--tier", "n=/dev/tierbench-no-such-device:nvme",
                                             "--workload", "seq-read-1m") + raw))
    e.append(BadInput("raw-drive-class-unknown", ("model", "{good_run}", "--drive-class", "unknown",
                                                  "--results", "{store}")))

    # report outputs: a regular file or a new path, never a device, folder or missing folder; something to write
    e.append(BadInput("report-output-device", ("report", "{good_run}", "-o", "/dev/null", "--results", "{store}")))
    e.append(BadInput("report-output-folder", ("report", "{good_run}", "-o", "{dir}", "--results", "{store}")))
    e.append(BadInput("report-output-missing-folder", ("report", "{good_run}", "-o", "{dir}/nope/r.html",
                                                       "--results", "{store}")))
    e.append(BadInput("report-png-is-a-file", ("report", "{good_run}", "--png", "{file}", "--results", "{store}"),
                      {"charts.txt": b"not a folder"}))
    e.append(BadInput("report-png-is-a-device", ("report", "{good_run}", "--png", "/dev/null", "--results",
                                                 "{store}")))
    e.append(BadInput("report-nothing-to-write", ("report", "{good_run}", "--results", "{store}")))

    # a store with one bad run document next to a good one: reported in one line, the rest still works
    def store(name, mutate):
        for command in (("list",), ("list", "--json"), ("history", "--metric", "iops")):
            e.append(BadInput(f"store-{name}-{'-'.join(command).replace('--', '')}",
                              command + ("--results", "{store}"), expect="reported", run_doc=mutate))

    store("machine-null", lambda d: d.__setitem__("machine", None))
    store("cases-string", lambda d: d.__setitem__("cases", "none"))
    store("metrics-string", lambda d: d["cases"][0].__setitem__("metrics", "fast"))
    store("not-json", "not json")

    # issue 21: write paths, job files, serve, bounded input; stores, imports, numbers
    e.extend(_issue21_entries())
    e.extend(_issue21_store_entries())
    return e


@dataclass(frozen=True)
class Special:
    """A file that is not plain bytes: kind "fifo" (os.mkfifo) or "link" (a symbolic link to `target`, a name
    in the same folder)."""
    kind: str
    target: str = ""


FIFO = Special("fifo")
HOST = "127.0.0.1:1"      # refused before any host is contacted: nothing listens there


def _deep_json(depth: int = 100000) -> bytes:
    return b'{"tiers": ' + b"[" * depth + b"]" * depth + b"}"


def _issue21_entries() -> list:
    """Issue 21's bad inputs: where tierbench writes (report -o, --export-jobs, serve's pid and log files), what
    a job file may do, serve's arguments, files that are not regular or too deep, Spark master URLs, and the
    inputs that were accepted silently."""
    e = []
    # 1. outputs: never a device, FIFO, link, directory, missing folder or system path
    report = ("report", "{good_run}", "--results", "{store}", "-o")
    for name, target in [("dev-null", "/dev/null"), ("dev-full", "/dev/full"), ("fifo", "{file}"),
                         ("etc", "/etc/tierbench-report.html"), ("missing-folder", "{dir}/nope/r.html"),
                         ("directory", "{dir}")]:
        e.append(BadInput(f"report-o-{name}", report + (target,), {"out.html": FIFO} if name == "fifo" else {}))
    e.append(BadInput("report-o-symlink", report + ("{file}",),
                      {"link.html": Special("link", "target.html"), "target.html": b"keep"}))
    e.append(BadInput("export-jobs-etc", _run("--export-jobs", "/etc/tierbench-jobs")))
    e.append(BadInput("export-jobs-fifo", _run("--export-jobs", "{file}"), {"jobs": FIFO}))
    e.append(BadInput("export-jobs-missing-parent", _run("--export-jobs", "{dir}/a/b")))

    # 2. job files: paths outside the tier, commands, engines, limits, space
    def job(name, text, *extra):
        e.append(BadInput(f"jobfile-{name}", ("run", "--tier", "t={tier}", "--job-file", "{file}", "--results",
                                               "{store}") + tuple(extra), {"j.fio": text}))

    job("filename-dotdot", "[j]\nfilename=../../../../../../../esc.dat\nsize=1m\nrw=write\n", "--quick")
    job("filename-absolute-outside", "[j]\nfilename=/tmp/tierbench-esc.dat\nsize=1m\nrw=write\n", "--quick")
    job("bw-log-dotdot", "[j]\nwrite_bw_log=../../../esc\nsize=1m\nrw=write\n", "--quick")
    job("write-iolog-dotdot", "[j]\nwrite_iolog=../../esc.log\nsize=1m\nrw=write\n", "--quick")
    job("read-iolog-etc", "[j]\nread_iolog=/etc/passwd\nsize=1m\nrw=read\n", "--quick")
    job("filename-env", "[j]\nfilename=${HOME}/esc\nsize=1m\nrw=write\n", "--quick")
    job("global-filename-dotdot", "[global]\nfilename=../esc\n[j]\nsize=1m\nrw=write\n", "--quick")
    job("mem-file-outside", "[j]\nmem=mmapshared:/tmp/tierbench-esc-mem\nsize=1m\nrw=write\n", "--quick")
    job("exec-prerun", "[j]\nexec_prerun=touch /tmp/tierbench-pwned\nsize=1m\nrw=write\n", "--quick")
    job("exec-postrun", "[j]\nexec_postrun=touch /tmp/tierbench-pwned\nsize=1m\nrw=write\n", "--quick")
    job("engine-exec", "[j]\nioengine=exec\nprogram=/bin/true\nsize=1m\n", "--quick")
    job("engine-sg", "[j]\nioengine=sg\nfilename=x\nsize=1m\nrw=read\n", "--quick")
    job("engine-external", "[j]\nioengine=external:/tmp/x.so\nsize=1m\nrw=read\n", "--quick")
    job("engine-net", "[j]\nioengine=net\nfilename=localhost/8888\nsize=1m\nrw=write\n", "--quick")
    job("cgroup", "[j]\ncgroup=tierbench-esc\nsize=1m\nrw=write\n", "--quick")
    job("size-100000g", "[j]\nsize=100000g\nrw=write\n")
    job("size-0", "[j]\nsize=0\nrw=write\n", "--quick")
    job("numjobs-100000", "[j]\nnumjobs=100000\nsize=1m\nrw=write\n", "--quick")
    job("10000-jobs", "".join(f"[j{i}]\nsize=4k\nrw=read\n" for i in range(10000)), "--quick")
    job("2000-at-once", "[global]\nsize=4k\nrw=read\n" + "".join(f"[j{i}]\nnumjobs=200\n" for i in range(10)),
        "--quick")
    e.append(BadInput("jobfile-allow-job-commands-without-job-file", _run("--allow-job-commands")))
    e.append(BadInput("jobfile-allow-engine-without-job-file", _run("--allow-engine", "sg")))
    e.append(BadInput("jobfile-fifo", ("run", "--tier", "t={tier}", "--job-file", "{file}", "--results", "{store}"),
                      {"j.fio": FIFO}))
    e.append(BadInput("jobfile-dev-zero", ("run", "--tier", "t={tier}", "--job-file", "/dev/zero", "--results",
                                           "{store}")))
    e.append(BadInput("jobfile-fleet-dotdot", ("run", "--host", HOST, "--tier", "t=/srv/tier", "--job-file",
                                               "{file}", "--quick", "--results", "{store}"),
                      {"j.fio": "[j]\nfilename=../../esc\nsize=1m\nrw=write\n"}))
    e.append(BadInput("jobfile-fleet-exec", ("run", "--host", HOST, "--tier", "t=/srv/tier", "--job-file",
                                             "{file}", "--quick", "--results", "{store}"),
                      {"j.fio": "[j]\nexec_postrun=rm -rf /\nsize=1m\nrw=write\n"}))

    # hosts files and host-detect files
    fleet = ("run", "--tier", "t=/srv/tier", "--workload", "seq-read-1m", "--results", "{store}") + SMALL
    e.append(BadInput("hosts-dev-zero", fleet + ("--hosts", "/dev/zero")))
    e.append(BadInput("hosts-fifo", fleet + ("--hosts", "{file}"), {"hosts": FIFO}))
    e.append(BadInput("hosts-directory", fleet + ("--hosts", "{dir}")))
    e.append(BadInput("hosts-too-big", fleet + ("--hosts", "{file}"), {"hosts": b"127.0.0.1\n" * 200000}))
    e.append(BadInput("hosts-bad-utf8", fleet + ("--hosts", "{file}"), {"hosts": b"node\xff1\n"}))
    e.append(BadInput("hosts-ipv6-not-address", fleet + ("--host", "fe80::zz:1")))
    e.append(BadInput("hosts-port-0", fleet + ("--host", "127.0.0.1:0")))
    for name, content in [("deep", _deep_json()), ("fifo", FIFO), ("not-json", b"{"), ("list", b"[1]"),
                          ("tiers-not-list", b'{"tiers": 5}'), ("tier-unknown", b'{"tiers": [{"name": "x"}]}')]:
        e.append(BadInput(f"host-detect-{name}", fleet + ("--host", HOST, "--host-detect", f"{HOST}={{file}}"),
                          {"d.json": content}))
    e.append(BadInput("host-detect-dev-zero", fleet + ("--host", HOST, "--host-detect", f"{HOST}=/dev/zero")))

    # 5. serve: refused before any server starts
    e.append(BadInput("serve-stop-not-a-pid-file", ("serve", "stop", "x", "--pid-file", "{file}"),
                      {"notes.txt": b"my notes\n"}))
    e.append(BadInput("serve-stop-json-without-marker", ("serve", "stop", "x", "--pid-file", "{file}"),
                      {"p.pid": json.dumps({"pid": 1, "start_time": 0}).encode()}))
    e.append(BadInput("serve-stop-deep-pid-file", ("serve", "stop", "x", "--pid-file", "{file}"),
                      {"p.pid": _deep_json()}))
    e.append(BadInput("serve-status-fifo-pid-file", ("serve", "status", "x", "--pid-file", "{file}"), {"p.pid": FIFO}))
    e.append(BadInput("serve-start-pid-file-missing-folder",
                      ("serve", "start", "127.0.0.1:1", "--pid-file", "{dir}/nope/p.pid")))
    e.append(BadInput("serve-start-log-missing-folder",
                      ("serve", "start", "127.0.0.1:1", "--pid-file", "{dir}/p.pid", "--log", "{dir}/nope/l.log")))
    e.append(BadInput("serve-start-log-directory",
                      ("serve", "start", "127.0.0.1:1", "--pid-file", "{dir}/p.pid", "--log", "{dir}")))
    e.append(BadInput("serve-start-log-dev-full",
                      ("serve", "start", "127.0.0.1:1", "--pid-file", "{dir}/p.pid", "--log", "/dev/full")))
    e.append(BadInput("serve-start-pid-file-etc", ("serve", "start", "127.0.0.1:1", "--pid-file", "/etc/tb.pid")))
    e.append(BadInput("serve-start-pid-file-is-notes", ("serve", "start", "127.0.0.1:1", "--pid-file", "{file}"),
                      {"notes.txt": b"my notes\n"}))
    for name, address in [("ipv6-port-too-big", "::1:99999"), ("ipv6-unclosed", "[::1"),
                          ("ipv6-bad-port", "[::1]:x"), ("port-0", "127.0.0.1:0"), ("any", "0.0.0.0")]:
        e.append(BadInput(f"serve-start-{name}", ("serve", "start", address, "--pid-file", "{dir}/p.pid")))

    # 6. bounded input: imports, stored documents nested too deep
    e.append(BadInput("import-fifo", ("import", "{file}", "--results", "{store}"), {"out.json": FIFO}))
    e.append(BadInput("import-dev-zero", ("import", "/dev/zero", "--results", "{store}")))
    e.append(BadInput("config-fifo", ("run", "{file}", "--tier", "t={tier}", "--results", "{store}"), {"c.toml": FIFO}))
    e.append(BadInput("show-deep-run-document", ("show", "{bad_run}", "--results", "{store}"),
                      run_doc=_deep_json().decode()))
    for command in (("list",), ("history", "--metric", "iops")):
        e.append(BadInput(f"store-deep-{'-'.join(command)}", command + ("--results", "{store}"), expect="reported",
                          run_doc=_deep_json().decode()))
    e.append(BadInput("compare-deep-file", ("compare", "{good_run}", "{file}", "--results", "{store}"),
                      {"deep.json": _deep_json()}))

    # Spark master URLs: refused before any case (or cluster) starts
    spark = ("run", "--tier", "t={tier}", "--workload", "terasort", "--engine", "spark", "--param", "records=1000",
             "--results", "{store}", "--spark-master")
    for name, url in [("no-host", "spark://nohost.invalid:1"), ("port-0", "spark://127.0.0.1:0"),
                      ("port-99999", "spark://127.0.0.1:99999"), ("refused", "spark://127.0.0.1:1"),
                      ("http", "http://127.0.0.1:7077"), ("no-port", "spark://127.0.0.1"), ("empty-host", "spark://:7077")]:
        e.append(BadInput(f"spark-master-{name}", spark + (url,)))

    # accepted silently before
    e.append(BadInput("tier-host-not-in-run", ("run", "--host", HOST, "--tier", "f={tier}@127.0.0.77", "--workload",
                                               "seq-read-1m", "--results", "{store}") + SMALL))
    e.append(BadInput("param-empty-in-list", _run("--param", "iodepth=1,,2")))
    e.append(BadInput("param-trailing-comma", _run("--param", "iodepth=1,")))
    e.append(BadInput("param-repeated-key", _run("--param", "size=2m")))
    e.append(BadInput("workload-repeated", _run("--workload", "seq-read-1m")))
    e.append(BadInput("config-workload-repeated", ("run", "{file}", "--tier", "t={tier}", "--results", "{store}")
                      + SMALL, {"c.toml": '[run]\nworkloads = ["seq-read-1m", "seq-read-1m"]\nengine = "builtin"\n'}))
    e.append(BadInput("list-results-empty", ("list", "--results", "")))
    e.append(BadInput("show-results-empty", ("show", "latest", "--results", "")))
    return e


# issue 21: stores, imports, numbers
# A damaged run document is refused by show/report in one line (the schema is the one check); a case recovered
# from raw/ (its run's process died) is checked like a stored one: `show --json` answers (exit 0) with valid
# JSON where the damaged case is failed with the reason and no figures ("recovered"); the cluster model refuses
# figures outside a float's range.

SCENARIO_DOC = ROOT / "tests" / "data" / "scenario" / "quick-1.json"    # a real scenario run (terasort cases)
RECOVERED_ID = 7


def _as_scenario(doc: dict) -> None:
    """The bad run becomes a real scenario document (under its own run id): `model` has terasort cases to use."""
    run_id = doc["run_id"]
    doc.clear()
    doc.update(json.loads(SCENARIO_DOC.read_text()), run_id=run_id)


def _dead_running(doc: dict) -> None:
    """The bad run as one whose process died mid-run (a pid above the kernel's pid_max): readers recover its
    cases from raw/."""
    import socket

    doc.update(status="running", finished_at=None,
               process={"pid": 2 ** 22 + 7, "host": socket.gethostname(), "start_time": 1.0})


_SPEC = json.dumps({"case": {"id": RECOVERED_ID, "workload": "rand-read-4k", "kind": "pattern", "tier": "t",
                             "engine": "fio", "params": {}, "repeat": 0}}).encode()


def _issue21_store_entries() -> list:
    e = []

    def damaged(name, mutate):
        for command in (("show", "{bad_run}"), ("show", "{bad_run}", "--json"),
                        ("report", "{bad_run}", "-o", "{dir}/r.html")):
            label = "-".join(a.strip("-{}") for a in command[:1] + command[2:3] if a != "{bad_run}")
            e.append(BadInput(f"store-{name}-{label}", command + ("--results", "{store}"), run_doc=mutate))

    def tier_field(field, value):
        return lambda d: d["tiers"][0].__setitem__(field, value)

    damaged("tier-capacity-string", tier_field("capacity_bytes", "big"))
    damaged("tier-emulated-list", tier_field("emulated", [1, 2]))
    damaged("tiers-not-list", lambda d: d.__setitem__("tiers", {"a": 1}))
    damaged("bins-count-string", lambda d: d["cases"][0].__setitem__("latency_bins_ns", {"read": {"1000": "x"}}))
    damaged("bins-key-word", lambda d: d["cases"][0].__setitem__("latency_bins_ns", {"read": {"slow": 3}}))
    damaged("bins-not-object", lambda d: d["cases"][0].__setitem__("latency_bins_ns", [1, 2]))
    damaged("metric-nan", lambda d: d["cases"][0]["metrics"].__setitem__("iops", float("nan")))
    damaged("metric-inf", lambda d: d["cases"][0]["metrics"].__setitem__("lat_p99_us", float("inf")))
    damaged("nested-deep", '{"run_id": ' + "[" * 100000 + "]" * 100000 + "}")
    show_json = ("show", "{bad_run}", "--json", "--results", "{store}")
    for name, result in (("nan", b'{"error": null, "metrics": {"iops": NaN}}'),
                         ("string", b'{"error": null, "metrics": {"iops": "slow"}}'),
                         ("metrics-list", b'{"error": null, "metrics": [1, 2]}'),
                         ("phases-string", b'{"error": null, "metrics": {"iops": 5.0}, "phases": "x"}'),
                         ("nested", b'{"metrics": ' + b"[" * 50000 + b"]" * 50000 + b"}")):
        e.append(BadInput(f"store-recovered-result-{name}-show-json", show_json, expect="recovered",
                          run_doc=_dead_running,
                          raw={"case007.spec.json": _SPEC, "case007.result.json": result}))
    for name, spec in (("types", b'{"case": {"id": "seven", "workload": 3, "tier": null}}'),
                       ("nested", b'{"case": ' + b"[" * 50000 + b"]" * 50000 + b"}")):
        e.append(BadInput(f"store-recovered-spec-{name}-show-json", show_json, expect="recovered",
                          run_doc=_dead_running,
                          raw={"case007.spec.json": spec, "case007.result.json": b'{"error": null}'}))
    for value in ("lots", "0", "-1", "1e400", "inf", "nan", "2E"):
        e.append(BadInput(f"import-capacity-{value}", ("import", str(REAL_FIO), "--capacity", value,
                                                        "--results", "{store}")))
    for flag in ("--stored-tb", "--drive-usd", "--drive-tb", "--daily-tb"):
        e.append(BadInput(f"model{flag[1:]}-1e308", ("model", "{bad_run}", flag, "1e308", "--results", "{store}"),
                          run_doc=_as_scenario))
    return e


BAD_INPUTS = _entries()


# -- the workspace -------------------------------------------------------------------------------------

@dataclass
class Workspace:
    dir: Path
    tier: Path
    store: Path
    good_run: str
    bad_run: str


def make_workspace(base: Path, invoke_cli: Callable[[list], None]) -> Workspace:
    """A tier directory and a store with two real runs (`tierbench import` of the captured fio output).
    `invoke_cli(argv)` runs the CLI (a subprocess for the script, in-process for the tests)."""
    tier, store = base / "tier", base / "store"
    tier.mkdir(parents=True)
    for _ in range(2):
        invoke_cli(["import", str(REAL_FIO), "--results", str(store)])
    runs = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(runs) == 2, runs
    return Workspace(base, tier, store, runs[0], runs[1])


def prepare(entry: BadInput, ws: Workspace, scratch: Path) -> list:
    """Write the entry's files into `scratch` (and mutate the bad run's document); return its argv."""
    scratch.mkdir(parents=True, exist_ok=True)
    names = list(entry.files)
    for name, content in entry.files.items():
        if isinstance(content, Special):
            if content.kind == "fifo":
                os.mkfifo(scratch / name)
            else:
                (scratch / name).symlink_to(content.target)
            continue
        data = content() if callable(content) else content
        (scratch / name).write_bytes(data.encode() if isinstance(data, str) else data)
    for name, content in entry.raw.items():
        data = content() if callable(content) else content
        (ws.store / ws.bad_run / "raw" / name).write_bytes(data.encode() if isinstance(data, str) else data)
    if entry.run_doc is not None:
        path = ws.store / ws.bad_run / "run.json"
        if isinstance(entry.run_doc, str):
            path.write_text(entry.run_doc)
        else:
            doc = json.loads(path.read_text())
            entry.run_doc(doc)
            path.write_text(json.dumps(doc))
    values = {"tier": ws.tier, "store": ws.store, "dir": scratch, "good_run": ws.good_run,
              "bad_run": ws.bad_run, "file": scratch / names[0] if names else ""}
    return [a.format(**values) if "{" in a and "}" in a and not a.startswith("{\"") else a for a in entry.argv]


def restore(entry: BadInput, ws: Workspace, saved: bytes) -> None:
    for name in entry.raw:
        (ws.store / ws.bad_run / "raw" / name).unlink(missing_ok=True)
    if entry.run_doc is not None:
        (ws.store / ws.bad_run / "run.json").write_bytes(saved)


# -- the verdict ---------------------------------------------------------------------------------------

def verdict(entry: BadInput, code, stdout: str, stderr: str, runs_before: set, runs_after: set,
            ws: Workspace) -> str:
    """"ok", "traceback", "hang" or "wrong: <why>" for one answer."""
    if code == "hang":
        return "hang"
    if "Traceback" in stderr or code == "traceback":
        return "traceback"
    one_line = stderr.endswith("\n") and stderr.count("\n") == 1 and "\r" not in stderr
    if entry.expect == "refused":
        if code != 2:
            return f"wrong: exit {code}"
        if not one_line or not stderr.startswith("tierbench: error: "):
            return f"wrong: stderr is not one error line ({stderr[:200]!r})"
        if runs_after != runs_before:
            return f"wrong: stored {sorted(runs_after - runs_before)}"
        return "ok"
    if code != 0:
        return f"wrong: exit {code} ({stderr[:200]!r})"
    if entry.expect == "recovered":
        return _recovered_verdict(stdout)
    lines = [line for line in stderr.splitlines() if ws.bad_run in line]
    if len(lines) != 1:
        return f"wrong: {len(lines)} stderr lines name the bad run ({stderr[:300]!r})"
    if ws.good_run not in stdout + stderr:
        return "wrong: the good run is not shown"
    return "ok"


# Places a bad input could have written to outside the workspace (the escapes the entries try).
ESCAPE_GLOBS = ("/tmp/tierbench-esc*", "/tmp/tierbench-pwned*", "/etc/tierbench-*", "/etc/tb.pid", "/esc*")


def files_state(*folders: Path) -> dict:
    """{path: kind} of everything under `folders` (kinds: file, dir, fifo, link, other) and at ESCAPE_GLOBS:
    compared before and after an entry, a new path or a changed kind (a FIFO turned into a file) is a file
    the entry left behind."""
    import glob
    import stat as st

    out = {}
    paths = [p for f in folders if f.exists() for p in [f, *f.rglob("*")]]
    paths += [Path(p) for pattern in ESCAPE_GLOBS for p in glob.glob(pattern)]
    for p in paths:
        try:
            mode = p.lstat().st_mode
        except OSError:
            continue
        out[str(p)] = ("link" if st.S_ISLNK(mode) else "fifo" if st.S_ISFIFO(mode) else "dir" if st.S_ISDIR(mode)
                       else "file" if st.S_ISREG(mode) else "other")
    return out


def left_files(before: dict, after: dict) -> list:
    return sorted(p for p, kind in after.items() if before.get(p) != kind)


def _recovered_verdict(stdout: str) -> str:
    """issue 21: `show --json` of a run with a damaged case in raw/: valid JSON (no NaN), the case failed with
    the reason and no figures, or left out when its spec itself is damaged."""
    def refuse(name):
        raise ValueError(f"{name} in the output")
    try:
        doc = json.loads(stdout, parse_constant=refuse)
    except ValueError as e:
        return f"wrong: not valid JSON ({e})"
    case = next((c for c in doc.get("cases", []) if c.get("id") == RECOVERED_ID), None)
    if case is not None and ("damaged" not in (case.get("error") or "") or case.get("metrics")):
        return f"wrong: the damaged recovered case is shown as {case.get('error')!r} with {case.get('metrics')!r}"
    return "ok"


def _store_runs(store: Path) -> set:
    return {p.name for p in store.iterdir()} if store.is_dir() else set()


def main(argv=None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    python = [sys.executable, "-m", "bench"]
    env = dict(os.environ, TIERBENCH_EMULATE_DIR=tempfile.mkdtemp(prefix="tierbench-bad-emu-"))
    base = Path(tempfile.mkdtemp(prefix="tierbench-bad-inputs-"))
    try:
        def setup_cli(a):
            subprocess.run(python + a, cwd=ROOT, env=env, check=True, capture_output=True, timeout=HANG_S)

        ws = make_workspace(base / "ws", setup_cli)
        counts = {"ok": 0, "wrong": 0, "traceback": 0, "hang": 0}
        stored, left = 0, 0
        problems = []
        for i, entry in enumerate(BAD_INPUTS):
            saved = (ws.store / ws.bad_run / "run.json").read_bytes()
            command = prepare(entry, ws, base / f"e{i:03d}")
            files_before = files_state(base / f"e{i:03d}", ws.tier)
            before = _store_runs(ws.store)
            try:
                proc = subprocess.run(python + command, cwd=base, env=env, capture_output=True, text=True,
                                      errors="backslashreplace", timeout=HANG_S)
                code, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired as ex:
                code, out, err = "hang", "", str(ex)
            result = verdict(entry, code, out, err, before, _store_runs(ws.store), ws)
            stored += bool(_store_runs(ws.store) - before)
            extra_files = left_files(files_before, files_state(base / f"e{i:03d}", ws.tier))
            if extra_files:
                left += 1
                problems.append(f"{entry.name}: left files {extra_files[:3]}")
            restore(entry, ws, saved)
            for extra in _store_runs(ws.store) - before:      # a wrongly stored run: keep the table independent
                shutil.rmtree(ws.store / extra, ignore_errors=True)
            counts[result.split(":")[0]] += 1
            if result != "ok":
                problems.append(f"{entry.name}: {result}" + (f"\n    {err.strip().splitlines()[-1][:300]}"
                                                               if err.strip() else ""))
            if args.verbose:
                print(f"{entry.name:45s} {result:10.60s} {err.strip().splitlines()[-1][:110] if err.strip() else ''}")
        refused = sum(1 for e in BAD_INPUTS if e.expect == "refused")
        print(f"bad inputs tried: {len(BAD_INPUTS)} ({refused} to refuse, {len(BAD_INPUTS) - refused} bad run "
              f"documents to report)")
        print(f"answered as expected (exit 2 and one line / reported in one line): {counts['ok']}")
        print(f"wrong exit code or answer: {counts['wrong']}")
        print(f"tracebacks: {counts['traceback']}")
        print(f"hangs (no answer in {HANG_S:g} s): {counts['hang']}")
        print(f"stored a run: {stored}")
        print(f"left files behind: {left}")
        for line in problems:
            print("  " + line)
        return 0 if counts["ok"] == len(BAD_INPUTS) and not left else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(env["TIERBENCH_EMULATE_DIR"], ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
