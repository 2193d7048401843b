"""How many threads a record kernel uses: the caller's choice or the CPUs this process may run on, but never
so many that a thread gets fewer than MIN_RECORDS_PER_THREAD records (starting a thread costs more)."""
import os

MIN_RECORDS_PER_THREAD = 1 << 16


def thread_count(threads, count: int) -> int:
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return max(1, min(threads, count // MIN_RECORDS_PER_THREAD))
