"""Build tierbench: every kernels/*.pyx is cythonized; adding a kernel needs no edit here."""
import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def kernel_extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join(HERE, "kernels", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            f"kernels.{name}",
            [os.path.relpath(pyx, HERE)],
            extra_compile_args=["-O3"],
        ))
    return exts


setup(
    name="tierbench",
    version="0.1.0",
    description="Storage-tier and big-data I/O benchmark harness (fio, Cython engine, PyArrow/Polars jobs)",
    packages=find_packages(include=["bench", "bench.*", "kernels", "workloads"]),
    package_data={"bench.engines.fio": ["barrier.sh"], "bench.analysis": ["catalog/*.toml"]},
    ext_modules=cythonize(kernel_extensions(), language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False}),
    python_requires=">=3.11",
    install_requires=[
        "pyarrow>=14",
        "polars>=1.0",
        "numpy>=1.24",
        "scipy>=1.10",
        "psutil>=5.9",
        "rich>=13",
        "matplotlib>=3.7",
        "jsonschema>=4",      # the store checks every run document against docs/run-document.schema.json
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-benchmark>=4", "crc32c>=2.3", "duckdb>=1.0", "hypothesis>=6", "jsonschema>=4", "pyyaml>=6",
                 "ruff>=0.4"],
        # --engine spark: TeraSort and aggregate on an Apache Spark standalone cluster (needs Java 17)
        "spark": ["pyspark>=3.5"],
    },
    entry_points={"console_scripts": ["tierbench = bench.cli:main"]},
    zip_safe=False,
)
