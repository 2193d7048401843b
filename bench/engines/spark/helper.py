"""What the Spark engine needs from the machine, checked before a run (UserError: one line, exit 2): pyspark,
Java 17 and javac; and the JVM helper jar (RawRecords.java, compiled with javac against the pyspark jars once per
source and pyspark version, kept in the user's cache folder)."""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench.core.errors import UserError

SOURCE = Path(__file__).with_name("RawRecords.java")
HELPER_CLASS = "tierbench.RawRecords"
JAVA_MIN = 17
INSTALL_HINT = "run 'make java' (as root: apt-get install openjdk-17-jdk-headless)"


def spark_home() -> Path:
    """The pyspark package folder (its bin/spark-class and jars/); UserError when pyspark is not installed."""
    try:
        import pyspark
    except ImportError:
        raise UserError("--engine spark needs pyspark: run 'make install' (it installs the 'spark' extra) or "
                        "'pip install pyspark'") from None
    return Path(pyspark.__file__).resolve().parent


def java_version(java: str = "java") -> int:
    """The major version of `java` on PATH; UserError when there is none."""
    path = shutil.which(java)
    if path is None:
        raise UserError(f"--engine spark needs Java {JAVA_MIN} ({java} is not on PATH): {INSTALL_HINT}")
    out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=60)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        raise UserError(f"--engine spark: cannot read the version of {path}: {INSTALL_HINT}")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def require() -> Path:
    """Check pyspark, java >= 17 and javac; returns the Spark home. UserError (one line) for what is missing."""
    home = spark_home()
    major = java_version()
    if major < JAVA_MIN:
        raise UserError(f"--engine spark needs Java {JAVA_MIN} or newer (java on PATH is {major}): {INSTALL_HINT}")
    if shutil.which("javac") is None:
        raise UserError(f"--engine spark needs javac (a JDK) to build its helper, RawRecords.java: {INSTALL_HINT}")
    return home


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tierbench" / "spark"


def helper_jar() -> Path:
    """The helper jar for this source and pyspark version, compiled on first use (javac, under a file lock)."""
    home = require()
    import pyspark
    key = hashlib.sha256(SOURCE.read_bytes() + pyspark.__version__.encode()).hexdigest()[:16]
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jar = folder / f"tierbench-rawrecords-{key}.jar"
    if jar.exists():
        return jar
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jar.exists():
            return jar
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            out = subprocess.run(["javac", "--release", str(JAVA_MIN), "-nowarn", "-cp", str(home / "jars" / "*"),
                                  "-d", tmp, str(SOURCE)], capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise UserError(f"javac could not build the Spark helper {SOURCE.name}: "
                                f"{(out.stderr or out.stdout).strip().splitlines()[-1:]}")
            partial = folder / f".{jar.name}.{os.getpid()}"
            with zipfile.ZipFile(partial, "w") as z:
                for cls in sorted(Path(tmp).rglob("*.class")):
                    z.write(cls, cls.relative_to(tmp).as_posix())
            os.replace(partial, jar)
    return jar
