"""The fio engine: job file (job), process (run), output parser (parse), start barrier (barrier.sh)."""
