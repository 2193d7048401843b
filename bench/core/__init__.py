"""The shared vocabulary every layer uses: errors, the I/O pattern, Sample and its units, the case identity, output helpers, the page cache. Imports nothing from bench."""
