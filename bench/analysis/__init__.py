"""Figures from measurements: metrics, stats, verdict, scaling, compare, across machines, history. May import bench.store.runs, bench.core and kernels."""
