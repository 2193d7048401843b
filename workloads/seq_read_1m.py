"""Sequential 1 MiB reads: the bandwidth a tier supplies."""
from workloads._baseline import baseline

WORKLOAD = baseline("seq-read-1m", "read", 1048576, "Sequential 1 MiB reads: the bandwidth a tier supplies", default_sweep=None)
