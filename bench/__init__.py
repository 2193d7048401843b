"""tierbench: storage-tier and big-data I/O benchmark harness.

Importing this package is cheap and imports nothing else of ours: workloads and kernels import
the data model (`bench.core.sample`, `bench.core.pattern`) through it.
"""
__version__ = "0.1.0"
__all__ = ["__version__"]
