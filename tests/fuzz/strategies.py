"""Hypothesis strategies shared by the fuzz tests: TOML values and documents (with a small TOML writer: no
TOML writer is a dependency), values for --param, tier specs, and mutations of JSON documents."""
from __future__ import annotations

import copy
import json
import math

from hypothesis import strategies as st

import workloads

PARAM_NAMES = sorted({f for w in workloads.all_workloads() for f in w.params.__dataclass_fields__})
WORKLOAD_NAMES = workloads.names()


# -- TOML ---------------------------------------------------------------------------------------------

def toml_scalars():
    return st.one_of(
        st.booleans(),
        st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
        st.integers(min_value=-3, max_value=70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(["8T", "1.6T", "-5T", "1e400T", "0", "false", "true", "fio", "builtin", "1m", "4k",
                         "nan", "inf", "/tmp", ""] + WORKLOAD_NAMES),
    )


def toml_values(depth: int = 2):
    scalars = toml_scalars()
    if depth == 0:
        return scalars
    inner = toml_values(depth - 1)
    return st.one_of(scalars, scalars, st.lists(inner, max_size=4),
                     st.dictionaries(st.text(max_size=8), inner, max_size=3))


def _key(k: str) -> str:
    return json.dumps(k)      # a TOML basic string: the escapes JSON writes are TOML's (\uXXXX, \n, \")


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_text(doc: dict) -> str:
    """TOML for a document of sections: top-level non-table values first, then one [section] per table."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, section in doc.items():
        if isinstance(section, dict):
            lines.append(f"[{_key(name)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in section.items()]
    return "\n".join(lines) + "\n"


RUN_KEYS = ["workloads", "engine", "repeat", "data", "temp", "workers", "cache", "quick", "timeout_s"]


@st.composite
def config_documents(draw):
    """Configs near the real shape: known sections and keys with values of any type (and some unknown)."""
    doc = {}
    if draw(st.booleans()):
        tiers = {}
        for name in draw(st.lists(st.sampled_from(["t", "a", "fast", "a b", ""]) | st.text(max_size=6), max_size=2)):
            tiers[name] = draw(st.one_of(
                toml_scalars(),
                st.dictionaries(st.sampled_from(["path", "class", "capacity", "size"]), toml_values(0), max_size=3)))
        doc["tiers"] = tiers
    if draw(st.booleans()):
        doc["run"] = draw(st.dictionaries(st.sampled_from(RUN_KEYS) | st.text(max_size=6), toml_values(1),
                                          max_size=4))
        doc["run"].setdefault("workloads", [draw(st.sampled_from(WORKLOAD_NAMES))])
    if draw(st.booleans()):
        doc["params"] = draw(st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=6),
                                             toml_values(1), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(max_size=6))] = draw(toml_values(1))
    return doc


# -- --param values and tier specs ---------------------------------------------------------------------

def param_values():
    number = st.one_of(st.integers(-10, 10 ** 7).map(str), st.floats().map(repr),
                       st.integers(0, 2 ** 70).map(str), st.decimals(allow_nan=True).map(str))
    size = st.tuples(st.integers(0, 5000), st.sampled_from(["", "k", "m", "g", "t", "p", "KiB", "MB", "x"]),
                     st.sampled_from(["", ".5", ".25"])).map(lambda t: f"{t[0]}{t[2]}{t[1]}")
    word = st.sampled_from(["true", "false", "yes", "off", "maybe", "nan", "inf", "-inf", "1e400", "", " ",
                            "0x10", "1_000", "٣"])
    return st.one_of(number, size, word, st.text(max_size=12))


def param_flags():
    """KEY=V1[,V2] texts, keys mostly real parameter names."""
    key = st.sampled_from(PARAM_NAMES) | st.text(max_size=6)
    return st.tuples(key, st.lists(param_values(), min_size=1, max_size=2)).map(
        lambda t: f"{t[0]}={','.join(t[1])}")


# -- JSON documents ------------------------------------------------------------------------------------

def json_values():
    return st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.integers(-1, 5),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def paths(doc, prefix=()):
    """Every path (tuple of keys/indices) into a JSON document, the root's children first."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out += paths(v, prefix + (k,))
    return out


@st.composite
def mutated(draw, doc: dict, max_changes: int = 3):
    """A deep copy of `doc` with 1..max_changes changes: a value deleted, replaced by any JSON value
    (NaN, Infinity and wrong types included), or a number made negative / huge / non-finite."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_changes))):
        candidates = paths(doc)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        last = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "number"]))
        if op == "delete":
            del parent[last]
        elif op == "number" and isinstance(parent[last], (int, float)) and not isinstance(parent[last], bool):
            parent[last] = draw(st.sampled_from([-parent[last] - 1, float("inf"), float("-inf"), float("nan"),
                                                 parent[last] * 10 ** 30, 0, 0.5]))
        else:
            parent[last] = draw(json_values())
    return doc


# -- issue 21: job files, hosts and host-detect files, serve arguments, Spark master URLs ------------------

JOB_PATH_OPTIONS = ["filename", "filename_format", "opendir", "read_iolog", "write_iolog", "write_bw_log",
                    "write_lat_log", "write_iops_log", "write_hist_log", "replay_redirect"]
JOB_OTHER_OPTIONS = ["size", "numjobs", "nrfiles", "filesize", "rw", "bs", "ioengine", "iodepth", "runtime",
                     "exec_prerun", "exec_postrun", "cgroup", "mem", "stonewall", "directory", "include"]


def job_paths():
    return st.one_of(
        st.sampled_from(["data", "a/b", "../esc", "../../../../../../etc/passwd", "a/../../esc", "/etc/passwd",
                         "/tmp/tierbench-fuzz-esc", "${HOME}/x", "$jobnum", "sub/$jobnum.$filenum", "/dev/sdz",
                         "a\\:b", "x:../y", "", ".", "..", "/"]),
        st.text(alphabet="ab./$:{}~", max_size=12))


def job_values(option: str):
    if option in JOB_PATH_OPTIONS or option == "directory":
        return job_paths()
    return st.one_of(
        st.sampled_from({"size": ["1m", "0", "100000g", "4k", "10%", "1m-2m", "x"],
                         "numjobs": ["1", "2", "0", "100000", "-1", "x"], "nrfiles": ["1", "3", "0", "99999"],
                         "filesize": ["4k", "1m", "0"], "rw": ["read", "write", "randrw", "trim", "x"],
                         "bs": ["4k", "1m", "3", "0"], "ioengine": ["psync", "libaio", "sg", "exec", "net",
                                                                   "external:/tmp/x.so", "io_uring_cmd", "nope"],
                         "iodepth": ["1", "32", "0"], "runtime": ["1", "1h", "x"],
                         "exec_prerun": ["true", "touch /tmp/tierbench-fuzz-pwned"], "exec_postrun": ["true"],
                         "cgroup": ["tb"], "mem": ["malloc", "mmapshared:/tmp/tierbench-fuzz-mem", "mmap:data"],
                         "stonewall": [""], "include": ["x.fio"]}.get(option, ["1"])),
        st.text(max_size=6))


@st.composite
def job_files(draw):
    """fio job files near the real shape: a [global] maybe, 1-3 job sections, options with values that stay in
    the tier or try to leave it, run commands, use other engines or break the limits; sometimes random text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=80))
    lines = []
    sections = (["global"] if draw(st.booleans()) else []) + [f"j{i}" for i in range(draw(st.integers(1, 3)))]
    for name in sections:
        lines.append(f"[{name}]")
        options = draw(st.lists(st.sampled_from(JOB_PATH_OPTIONS + JOB_OTHER_OPTIONS), max_size=4, unique=True))
        if name != "global" and "size" not in options:
            options.append("size")
        for option in options:
            value = draw(job_values(option))
            lines.append(option if option == "stonewall" else f"{option}={value}")
    return "\n".join(lines) + "\n"


def hosts_files():
    """A --hosts file: lines of host specs (good, bad, IPv6 forms, comments) or any bytes."""
    line = st.one_of(st.sampled_from(["127.0.0.1", "127.0.0.1:1", "[::1]:1", "::1:1", "node1", "# comment",
                                      "", "0.0.0.0", "[::1", "host:0", "host:99999", "fe80::zz", "a b",
                                      "127.0.0.1:1 # x"]),
                     st.text(max_size=20))
    return st.one_of(st.lists(line, max_size=6).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
                     st.binary(max_size=64))


@st.composite
def host_detect_documents(draw, tier_path: str):
    """`tiers detect --json` as it would be for one tier at `tier_path`, mutated; or nested too deep; or bytes."""
    good = {"tiers": [{"name": "t", "path": tier_path, "class": "nvme", "device": "nvme0n1", "model": "x",
                       "rotational": False, "filesystem": "ext4", "capacity_bytes": 10 ** 12,
                       "nominal_capacity_bytes": None, "reason": None}]}
    kind = draw(st.integers(0, 9))
    if kind == 0:
        depth = draw(st.integers(60, 5000))
        return ("[" * depth + "]" * depth).encode()
    if kind == 1:
        return draw(st.binary(max_size=64))
    return json.dumps(draw(mutated(good)), allow_nan=True).encode()


def serve_addresses():
    return st.one_of(st.sampled_from(["127.0.0.1", "127.0.0.1:1", "::1:18787", "[::1]:18787", "[::1", "::",
                                      "0.0.0.0:1", "host:0", "host:99999", "[::1]:x", "fe80::1%eth0", "", "x"]),
                     st.text(max_size=16))


def pid_file_contents():
    """Pid files: tierbench's (with the marker) of no live process, look-alikes without the marker naming live
    processes, and anything else."""
    marker = st.fixed_dictionaries({"tierbench": st.just("fio-server"), "pid": st.integers(2 ** 22, 2 ** 22 + 10),
                                    "start_time": st.floats(0, 1e9), "address": st.just("127.0.0.1"),
                                    "port": st.integers(1, 65535)})
    lookalike = st.fixed_dictionaries({"pid": st.just(1), "start_time": st.floats(0, 1e9)})
    deep = st.integers(60, 3000).map(lambda n: "[" * n + "]" * n)
    return st.one_of(marker.map(json.dumps), lookalike.map(json.dumps), st.text(max_size=40), deep,
                     json_values().map(lambda v: json.dumps(v, allow_nan=True))).map(str.encode)


def spark_master_urls():
    host = st.one_of(st.sampled_from(["127.0.0.1", "nohost.invalid", "", "::1", "[::1]", "a b", "localhost"]),
                     st.text(max_size=8))
    port = st.one_of(st.integers(-1, 70000).map(str), st.sampled_from(["", "x", "00001", "1" * 30]))
    scheme = st.sampled_from(["spark://", "spark://", "http://", "", "spark:/", "SPARK://"])
    return st.one_of(st.tuples(scheme, host, port).map(lambda t: f"{t[0]}{t[1]}:{t[2]}"), st.text(max_size=20))
