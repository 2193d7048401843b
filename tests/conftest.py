"""Shared fixtures. Tests that need root, loop devices or cgroups (v1 blkio or v2 io) skip with the reason when those are
missing; in CI (root) they run. Emulated tiers are built once per session in a private folder and always
torn down."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def emulation_missing() -> str:
    """Why emulated tiers cannot be built here ('' when they can)."""
    if os.geteuid() != 0:
        return "needs root for loop devices, mounts and blkio cgroups"
    from bench.tiers.cgroups import detect
    found = detect()
    if found["version"] == "none":
        return "needs cgroup v1 blkio or cgroup v2 with the io controller: " + "; ".join(found["missing"])
    if shutil.which("losetup") is None or shutil.which("mkfs.ext4") is None:
        return "needs losetup and mkfs.ext4"
    if not any(Path("/dev").glob("loop*")) and not Path("/dev/loop-control").exists():
        return "needs loop devices"
    return ""


needs_emulation = pytest.mark.skipif(bool(emulation_missing()), reason=emulation_missing() or "ok")
needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")


@contextlib.contextmanager
def small_ext4(folder: Path, size_bytes: int):
    """A real ext4 file system of `size_bytes` on a loop device, mounted at folder/mnt (lost+found in it);
    unmounted, its loop device detached and its image removed afterwards. Skips (saying why) without root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to loop-mount a small ext4 file system")
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("needs mkfs.ext4")
    image, mount = folder / "small.img", folder / "mnt"
    with open(image, "wb") as f:
        f.truncate(size_bytes)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True, capture_output=True)
    mount.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)   # the loop device goes with it (autoclear)
        image.unlink()


def cli(*args, env=None, check=None, timeout=600):
    """Run the real CLI in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "bench", *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def cli_json(*args, env=None, check=0, timeout=600):
    proc = cli(*args, "--json", env=env, check=check, timeout=timeout)
    return json.loads(proc.stdout)


def refused(proc) -> str:
    """Exit 2 with one line on stderr, no traceback; returns the line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def leftovers(*dirs) -> list:
    """What tierbench left in tier folders: entries named tierbench-* (case directories, datasets)."""
    return [p for d in dirs for p in Path(d).iterdir() if p.name.startswith("tierbench-")]


def nothing_stored(store: Path) -> bool:
    """Whether the store holds no run (its hidden files, such as a lock, aside)."""
    return not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]


@pytest.fixture
def store(tmp_path):
    """A private results store; returns its path and sets TIERBENCH_RESULTS for CLI calls through env."""
    path = tmp_path / "results"
    return path


@pytest.fixture(scope="session")
def emulated():
    """Emulated hdd/nvme/optane tiers (512 MiB each, the hdd tier by the throttle method: the tests of the seek
    model build their own, tests/tiers/test_hdd_model.py) for the whole session; yields the env that points the CLI
    at them."""
    reason = emulation_missing()
    if reason:
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="tierbench-test-emul-", dir="/var/tmp")
    env = {"TIERBENCH_EMULATE_DIR": base}
    proc = cli("tiers", "emulate", "--size", "512m", "--hdd-model", "throttle", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    try:
        yield {"env": env, "doc": json.loads(proc.stdout), "dir": base}
    finally:
        down = cli("tiers", "teardown", env=env)
        shutil.rmtree(base, ignore_errors=True)
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory):
    """One real quick `scenario hadoop-tempdata --emulate` run (root), in a private store and emulation folder,
    for the whole session: {"doc": run document, "store": results folder, "run_id"}. Skips (with the reason)
    where emulated tiers cannot be built."""
    reason = emulation_missing()
    if reason:
        pytest.skip(reason)
    results = tmp_path_factory.mktemp("scenario") / "results"
    base = tempfile.mkdtemp(prefix="tierbench-test-scenario-", dir="/var/tmp")
    try:
        proc = cli("scenario", "hadoop-tempdata", "--emulate", "--hdd-model", "throttle", "--quick", "--records", "200000", "--json",
                   "--results", results, env={"TIERBENCH_EMULATE_DIR": base}, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = json.loads(proc.stdout)
        yield {"doc": doc, "store": results, "run_id": doc["run_id"]}
    finally:
        cli("tiers", "teardown", env={"TIERBENCH_EMULATE_DIR": base})
        shutil.rmtree(base, ignore_errors=True)


# -- every run document a test stores is checked against docs/run-document.schema.json -------------------------

SCHEMA_PATH = ROOT / "docs" / "run-document.schema.json"
_validated: dict = {}   # run.json path -> hash of the text that was checked


def run_document_validator():
    """A jsonschema validator of docs/run-document.schema.json (draft 2020-12), the schema itself checked."""
    if "validator" not in _validated:
        import jsonschema

        schema = json.loads(SCHEMA_PATH.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _validated["validator"] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return _validated["validator"]


def schema_errors(doc) -> list:
    """Where a run document breaks the schema: 'path/to/field: message' lines (empty when it matches)."""
    errors = sorted(run_document_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message[:300]}" for e in errors]


def check_stored_documents(folder: Path) -> list:
    """Validate every run.json under `folder` not yet checked in its current version; returns the failures."""
    failures = []
    for path in sorted(Path(folder).rglob("run.json")) if Path(folder).is_dir() else []:
        if any(off in path.parents for off in _OFF_SCHEMA_FOLDERS):
            continue
        try:
            text = path.read_bytes()
            stamp = hash(text)
            if _validated.get(path) == stamp:
                continue
            doc = json.loads(text)
        except (OSError, ValueError) as e:   # run.json is replaced atomically: a torn or non-JSON one is a bug
            failures.append(f"{path}: unreadable ({e})")
            continue
        _validated[path] = stamp
        failures += [f"{path}: {line}" for line in schema_errors(doc)[:10]]
    return failures


_OFF_SCHEMA_FOLDERS: set = set()   # tmp_paths of tests marked off_schema: left out of the session-end check


def pytest_configure(config):
    config.addinivalue_line("markers", "off_schema(reason): the test stores run documents that break "
                                       "docs/run-document.schema.json on purpose (to test their refusal)")


def pytest_collection_modifyitems(session, config, items):
    """Tests named test_zz_* run last in the session, whatever their file: they check what every test before
    them left behind (tests/engines/fio/test_fleet.py's: no fio server of this session is still running, the
    fleet's and the fault tests' alike), so they must not depend on the order in which pytest meets the files."""
    items[:] = sorted(items, key=lambda item: getattr(item, "originalname", item.name).startswith("test_zz_"))


@pytest.fixture(autouse=True)
def _stored_run_documents_match_the_schema(request):
    """After each test that used tmp_path (the stores tests write to), every run.json it left there matches
    docs/run-document.schema.json; a test marked off_schema(reason) is left out."""
    # Asked for here (not after the test) so that tmp_path is torn down after this check.
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    if folder is not None and request.node.get_closest_marker("off_schema"):
        _OFF_SCHEMA_FOLDERS.add(Path(folder))
        folder = None
    yield
    if folder is not None:
        failures = check_stored_documents(folder)
        assert not failures, "stored run document breaks docs/run-document.schema.json:\n" + "\n".join(failures)


@pytest.fixture(scope="session", autouse=True)
def _all_stored_run_documents_match_the_schema(tmp_path_factory):
    """At the end of the session, the same for every run.json under pytest's temporary folders (stores made by
    module- and session-scoped fixtures through tmp_path_factory too)."""
    yield
    failures = check_stored_documents(tmp_path_factory.getbasetemp())
    assert not failures, "stored run document breaks docs/run-document.schema.json:\n" + "\n".join(failures)
