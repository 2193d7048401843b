# Every target works from a fresh machine: it installs fio (apt, as root), a .venv, and the Cython build.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tierbench-installed
SOURCES := setup.py pyproject.toml $(wildcard kernels/*.pyx kernels/*.pxd kernels/*.h)

.PHONY: run test lint bench fio strace java chromium install hddmodel clean

# As root, `run` measures emulated hdd/nvme/optane tiers (cgroup v1 or v2); where they cannot be built
# (`tiers emulate --check` says why) it falls back to directory tiers, saying so: a scratch folder here and
# /dev/shm, as for a user who is not root.
RUN_DIR := .tierbench-make-run
run: install fio java
	@if [ "$$(id -u)" != 0 ]; then \
	  $(VENV)/bin/tierbench run --quick || exit $$?; \
	  echo "(not root: the hadoop-tempdata scenario needs emulated tiers; run 'sudo make run' to see it)"; \
	elif $(VENV)/bin/tierbench tiers emulate --check; then \
	  $(VENV)/bin/tierbench run --quick && $(VENV)/bin/tierbench scenario hadoop-tempdata --emulate --quick; \
	else \
	  echo "make run: no emulated tiers on this host (the line above says why): running on directory tiers instead, $(RUN_DIR) (disk) and /dev/shm (memory); the hadoop-tempdata scenario needs emulated tiers and is skipped"; \
	  mkdir -p $(RUN_DIR) && $(VENV)/bin/tierbench run --quick --tier disk=$(CURDIR)/$(RUN_DIR) --tier memory=/dev/shm:memory; \
	  rc=$$?; rmdir $(RUN_DIR); exit $$rc; \
	fi

test: install fio strace java chromium
	$(PY) -m pytest -q --ignore=tests/benchmarks tests

# pyflakes, syntax and import-order rules (pyproject.toml [tool.ruff]); ruff comes with the test extras.
lint: install
	$(VENV)/bin/ruff check .

# tests/benchmarks/test_terasort_scale.py sorts 1 M, 10 M and 100 M records (100 MB to 10 GB; about 25 GB free in
# TIERBENCH_SCALE_DIR at the peak, minutes of work) and runs Spark at 1 M and 10 M: TIERBENCH_SCALE_RECORDS and
# TIERBENCH_SCALE_SPARK_RECORDS choose the sizes (docs/scale.md).
bench: install fio
	mkdir -p bench-results
	$(PY) -m pytest -q tests/benchmarks --benchmark-enable --benchmark-only \
		--benchmark-json=bench-results/benchmarks.json

install: $(STAMP) hddmodel

# The seek-aware emulated hdd's daemon (C, libfuse3 low-level API): drive/tb_hddmodel.c -> drive/tb-hddmodel.
# As root it installs libfuse3-dev, fuse3 and pkg-config (apt); without them `tiers emulate` says how to build it
# (or use --hdd-model throttle). Emulated tiers need root anyway.
HDD_BIN := drive/tb-hddmodel
hddmodel: $(HDD_BIN)

$(HDD_BIN): drive/tb_hddmodel.c
	@pkg-config --exists fuse3 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse3-dev fuse3 pkg-config >/dev/null; \
	  fi; }
	@if pkg-config --exists fuse3 2>/dev/null; then \
	  $(CC) -O2 -Wall -Wextra -o $@ $< $$(pkg-config --cflags --libs fuse3) -lm -lpthread; \
	else \
	  echo "libfuse3-dev is not installed: the seek-aware hdd model (tiers emulate --hdd-model seek) needs it (sudo apt-get install libfuse3-dev fuse3 pkg-config; then make install)"; \
	fi

$(STAMP): $(SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0"
	$(PY) -m pip install -q --no-build-isolation -e ".[test,spark]"
	$(PY) -c "import kernels; kernels.require_all()"
	touch $(STAMP)

fio:
	@command -v fio >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >/dev/null; \
	  else \
	    echo "fio is not installed: install it with 'sudo apt-get install fio' (Debian/Ubuntu) or your distribution's package, then rerun."; exit 2; \
	  fi; }

# `tierbench record` traces a command's file I/O with strace. Without root it is optional (the record tests skip,
# saying so).
strace:
	@command -v strace >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; \
	  else \
	    echo "strace is not installed: 'tierbench record' and its tests need it (sudo apt-get install strace)"; \
	  fi; }

# --engine spark runs Apache Spark (pyspark, the 'spark' extra) on Java 17, and builds its small JVM helper with
# javac: the JDK (headless). Without root it is optional (the Spark tests skip, saying so).
java:
	@command -v javac >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null; \
	  else \
	    echo "Java 17 (with javac) is not installed: --engine spark and its tests need it (sudo apt-get install openjdk-17-jdk-headless)"; \
	  fi; }

# Headless Chromium opens the HTML report in tests; without root it is optional (those tests skip, saying so).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is not installed: the report test will skip (sudo apt-get install chromium)"; \
	  fi; }

clean:
	rm -rf build *.egg-info kernels/*.c kernels/*.so $(HDD_BIN)
