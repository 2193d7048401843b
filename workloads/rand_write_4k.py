"""Random 4 KiB writes (QD1 and QD32)."""
from workloads._baseline import baseline

WORKLOAD = baseline("rand-write-4k", "randwrite", 4096, "Random 4 KiB writes (QD1 and QD32)", default_sweep={"iodepth": (1, 32)})
