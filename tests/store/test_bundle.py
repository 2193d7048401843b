"""Run bundles (bench.store.bundle) against bundles made to hurt: every refusal leaves the store as it was and
writes nothing outside it. The run inside is a real one (`tierbench import` of captured fio output), exported by
the real CLI; the bad bundles are that bundle taken apart and put back together wrong."""
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import cli, cli_json

REAL_FIO = Path(__file__).resolve().parents[1] / "data" / "fio" / "randread-4k.json"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    doc = cli_json("import", REAL_FIO, "--results", tmp / "src")
    path = tmp / "run.tgz"
    cli("export", doc["run_id"], "--bundle", path, "--results", tmp / "src", check=0)
    return {"path": path, "run_id": doc["run_id"]}


def members(path: Path) -> list:
    """(TarInfo, bytes or None) of every member, in order."""
    with tarfile.open(path, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]


def write(path: Path, items: list) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in items:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def refused(path: Path, store: Path, words: str) -> None:
    proc = cli("import", "--bundle", path, "--results", store)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and words in proc.stderr, proc.stderr
    assert not store.exists() or [p.name for p in store.iterdir()] == []    # no run, no leftover temp folder


def test_a_bundle_round_trips(bundle, tmp_path):
    doc = cli_json("import", "--bundle", bundle["path"], "--results", tmp_path / "s")
    assert doc["run_id"] == bundle["run_id"]
    manifest = json.loads(members(bundle["path"])[0][1])
    assert manifest["format"] == "tierbench-bundle" and f"{bundle['run_id']}/run.json" in manifest["files"]


def test_altered_content_fails_its_checksum(bundle, tmp_path):
    items = members(bundle["path"])
    items = [(m, d.replace(b'"complete"', b'"partial" ') if m.name.endswith("run.json") else d) for m, d in items]
    refused(write(tmp_path / "b.tgz", items), tmp_path / "s", "checksum mismatch")


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt", "{rid}/../../evil.txt", "other-run/run.json"])
def test_paths_outside_the_run_folder_are_refused(bundle, tmp_path, name):
    info = tarfile.TarInfo(name.format(rid=bundle["run_id"]))
    refused(write(tmp_path / "b.tgz", members(bundle["path"]) + [(info, b"x")]), tmp_path / "s", "unsafe name")
    assert not (tmp_path / "evil.txt").exists()


def test_links_are_refused(bundle, tmp_path):
    link = tarfile.TarInfo(f"{bundle['run_id']}/raw/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    refused(write(tmp_path / "b.tgz", members(bundle["path"]) + [(link, None)]), tmp_path / "s", "not a regular file")


def test_unlisted_missing_and_resized_members_are_refused(bundle, tmp_path):
    items = members(bundle["path"])
    extra = tarfile.TarInfo(f"{bundle['run_id']}/raw/extra.txt")
    refused(write(tmp_path / "a.tgz", items + [(extra, b"x")]), tmp_path / "s", "not in MANIFEST")
    refused(write(tmp_path / "b.tgz", [i for i in items if not i[0].name.endswith("samples.parquet")]),
            tmp_path / "s", "missing")


def test_not_a_bundle_and_other_versions(bundle, tmp_path):
    (tmp_path / "junk.tgz").write_bytes(b"not a tar at all")
    refused(tmp_path / "junk.tgz", tmp_path / "s", "not a readable tar")
    items = members(bundle["path"])
    refused(write(tmp_path / "b.tgz", items[1:]), tmp_path / "s", "not a tierbench bundle")
    manifest = json.loads(items[0][1])
    manifest["version"] = 2
    refused(write(tmp_path / "c.tgz", [(items[0][0], json.dumps(manifest).encode())] + items[1:]),
            tmp_path / "s", "upgrade")
    refused(tmp_path / "missing.tgz", tmp_path / "s", "not a regular file")


def test_export_writes_only_the_file_named(bundle, tmp_path):
    src = bundle["path"].parent / "src"
    proc = cli("export", bundle["run_id"], "--bundle", tmp_path, "--results", src)
    assert proc.returncode == 2 and "is a directory" in proc.stderr
    proc = cli("export", bundle["run_id"], "--bundle", tmp_path / "no" / "such" / "b.tgz", "--results", src)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []
