"""Random 4 KiB reads (QD1 and QD32): the IOPS a tier supplies."""
from workloads._baseline import baseline

WORKLOAD = baseline("rand-read-4k", "randread", 4096, "Random 4 KiB reads (QD1 and QD32): the IOPS a tier supplies", default_sweep={"iodepth": (1, 32)})
