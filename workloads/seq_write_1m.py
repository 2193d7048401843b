"""Sequential 1 MiB writes."""
from workloads._baseline import baseline

WORKLOAD = baseline("seq-write-1m", "write", 1048576, "Sequential 1 MiB writes", default_sweep=None)
