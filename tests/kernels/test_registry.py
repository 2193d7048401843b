"""Every compiled kernel has a reference, a test module and an import path; no silent fallback."""
import importlib
from pathlib import Path

import pytest

import kernels

ROOT = Path(__file__).resolve().parent.parent.parent
KERNEL_NAMES = sorted(p.stem for p in (ROOT / "kernels").glob("*.pyx"))


def test_some_kernels_exist():
    assert {"crc32c", "teragen", "sort"} <= set(KERNEL_NAMES)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_has_reference(name):
    assert (ROOT / "kernels" / f"{name}_ref.py").is_file(), f"kernels/{name}.pyx has no kernels/{name}_ref.py"


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_has_tests(name):
    assert (ROOT / "tests" / "kernels" / f"test_{name}.py").is_file(), \
        f"kernels/{name}.pyx has no tests/kernels/test_{name}.py"


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_is_compiled_not_python(name):
    module = importlib.import_module(f"kernels.{name}")
    assert not module.__file__.endswith(".py"), f"kernels.{name} was imported from Python source"


def test_require_all_checks_every_kernel_on_disk():
    assert set(kernels.require_all()) == set(KERNEL_NAMES)
    assert "ioloop" in kernels._KNOWN_KERNELS


def test_require_all_fails_loudly_on_missing_kernel(monkeypatch):
    monkeypatch.setattr(kernels, "kernel_names", lambda: ["no_such_kernel"])
    with pytest.raises(ImportError, match=r"no_such_kernel.*make install.*Cython build"):
        kernels.require_all()


def test_public_api_and_implementation_names():
    for name in ("crc32c", "crc32c_chunks", "teragen", "record_checksum", "sort_records",
                 "sort_permutation", "sample_partition_bounds", "partition_ids", "merge_runs", "merge_stream"):
        assert name in kernels.__all__ and callable(getattr(kernels, name))
        assert kernels.IMPLEMENTATION[name].startswith("cython:")
    crc_module = importlib.import_module("kernels.crc32c")
    assert kernels.IMPLEMENTATION["crc32c"] == f"cython:crc32c/{crc_module.path_label(crc_module.PATH)}"
    assert kernels.IMPLEMENTATION["crc32c_chunks"] == f"cython:crc32c/{crc_module.path_label(crc_module.CHUNKS_PATH)}"
    assert crc_module.PATH in crc_module.SUPPORTED and crc_module.CHUNKS_PATH in crc_module.SUPPORTED
