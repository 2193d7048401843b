"""Storage tiers: detection, the guard (what may be written), emulation and cgroup containers. May import bench.store.runs, bench.core and workloads."""
