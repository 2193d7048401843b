"""Compiled (Cython) kernels of tierbench, each with a pure-Python reference in <name>_ref.py.

There is no fallback to the references: a harness that silently timed Python while reporting
Cython would be worse than one that fails. Importing this package imports the built kernels and
raises ImportError (saying how to build them) when one is missing; `require_all()` checks every
kernel, including those not re-exported here (the I/O engine, `kernels.ioloop` and its `kernels.ioloop_*`
modules).

`IMPLEMENTATION` maps each public function to the implementation and CPU path that runs it, so
every Sample can record what produced it (e.g. ``"cython:crc32c/sse42"``; with TIERBENCH_CRC_ISA set, the
limit too: ``"cython:crc32c/fused256,isa=avx2"``).

Note: the function `kernels.crc32c` shadows the submodule of the same name as a package
attribute; reach the module with ``importlib.import_module("kernels.crc32c")``.
"""
import glob
import importlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
# Kernels this package knows of, for an installed copy without its .pyx sources; in a checkout
# every kernels/*.pyx on disk is checked as well, so a new kernel needs no edit here.
_KNOWN_KERNELS = ("crc32c", "ioloop", "ioloop_account", "ioloop_checksum", "ioloop_ops", "ioloop_psync",
                  "ioloop_queue", "sort", "teragen")

__all__ = [
    "IMPLEMENTATION",
    "crc32c",
    "crc32c_chunks",
    "kernel_names",
    "merge_runs",
    "merge_stream",
    "partition_ids",
    "record_checksum",
    "require_all",
    "sample_partition_bounds",
    "sort_permutation",
    "sort_records",
    "teragen",
]


def kernel_names():
    """Names of the compiled kernels: every kernels/*.pyx on disk, or the known list if none."""
    on_disk = sorted(os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(_HERE, "*.pyx")))
    return on_disk or sorted(_KNOWN_KERNELS)


def _import_kernel(name):
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise ImportError(
            f"tierbench kernel {name!r} is not built ({exc}): run `make install` "
            f"(the Cython build) first") from exc


def require_all():
    """Import every compiled kernel; raise ImportError naming the first one that is missing."""
    return {name: _import_kernel(name) for name in kernel_names()}


_crc = _import_kernel("crc32c")
_teragen = _import_kernel("teragen")
_sort = _import_kernel("sort")

crc32c = _crc.crc32c
crc32c_chunks = _crc.crc32c_chunks
teragen = _teragen.teragen
record_checksum = _teragen.record_checksum
sort_records = _sort.sort_records
sort_permutation = _sort.sort_permutation
sample_partition_bounds = _sort.sample_partition_bounds
partition_ids = _sort.partition_ids
merge_runs = _sort.merge_runs
merge_stream = _sort.merge_stream

IMPLEMENTATION = {
    "crc32c": f"cython:crc32c/{_crc.path_label(_crc.PATH)}",
    "crc32c_chunks": f"cython:crc32c/{_crc.path_label(_crc.CHUNKS_PATH)}",   # at 512-byte chunks (HDFS); chunks_path(n) for others
    "teragen": _teragen.IMPLEMENTATION["teragen"],
    "record_checksum": _teragen.IMPLEMENTATION["record_checksum"],
    "sort_records": _sort.IMPLEMENTATION,
    "sort_permutation": _sort.IMPLEMENTATION,
    "sample_partition_bounds": _sort.IMPLEMENTATION,
    "partition_ids": _sort.IMPLEMENTATION,
    "merge_runs": _sort.IMPLEMENTATION,
    "merge_stream": _sort.IMPLEMENTATION,
}
