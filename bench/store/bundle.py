"""A run as one file, to carry it from one machine's store to another's (`tierbench export RUN --bundle FILE`,
`tierbench import --bundle FILE`).

The bundle is a gzip'd tar holding `<run-id>/` (run.json, samples.parquet, raw/...) as the run folder holds them,
and `MANIFEST.json` first: {"format": "tierbench-bundle", "version": 1, "run_id", "files": {path: {"sha256",
"bytes"}}}. Reading it trusts nothing: at most MAX_MEMBERS members and MAX_TOTAL_BYTES of content; only regular
files and folders; every name inside `<run-id>/` with no absolute path, `..` or odd characters; every file listed
in the manifest with its checksum and size, and nothing unlisted; the run document checked like any stored one.
The run appears in the store in one rename, under its own id, never over an existing run.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from bench.core.errors import UserError
from bench.core.outpath import checked_output_path
from bench.store.runs import Store, check_schema

__all__ = ["export_bundle", "import_bundle", "FORMAT", "VERSION"]

FORMAT, VERSION = "tierbench-bundle", 1
MANIFEST = "MANIFEST.json"
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 4 << 30          # 4 GiB of run content: raw fio outputs and monitor series, never data files
MAX_MANIFEST_BYTES = 16 << 20
# A path part: any printable text but a separator, at most 255 characters ("." and ".." refused separately).
_SAFE_PART = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def export_bundle(store: Store, ref: str, out: str) -> dict:
    """Write the run `ref` of `store` to the file `out` (a new file, or a regular file replaced whole).
    Returns {"run_id", "bundle", "files", "bytes"}. UserError when the run is unknown or `out` cannot be written."""
    folder = store.resolve(ref)
    doc = store.load(ref)
    rid = doc["run_id"]
    target = checked_output_path(out, what="--bundle")    # a regular file or a new name; never a link or device
    files = {}
    for path in sorted(p for p in folder.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise UserError(f"run {rid}: {path.relative_to(folder)} is not a regular file; a bundle holds only files")
        if path.is_file() and not path.name.startswith("."):
            name = _safe_name(f"{rid}/{path.relative_to(folder).as_posix()}", rid, f"run {rid}")
            files[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "run_id": rid, "files": files},
                          indent=1, sort_keys=True).encode()
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(manifest), 0o644
            tar.addfile(info, io.BytesIO(manifest))
            for name in files:
                tar.add(folder / name.split("/", 1)[1], arcname=name, recursive=False)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"--bundle {out}: cannot write it ({e.strerror})") from None
    return {"run_id": rid, "bundle": str(target), "files": len(files), "bytes": sum(f["bytes"] for f in files.values())}


def _safe_name(name: str, rid: str, where: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or any(part in ("", ".", "..") or not _SAFE_PART.match(part) for part in p.parts) \
            or p.parts[0] != rid:
        raise UserError(f"{where}: member {name!r} is outside the run folder {rid}/ or has an unsafe name")
    return name


def _read_manifest(tar: tarfile.TarFile, where: str) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isreg() or first.size > MAX_MANIFEST_BYTES:
        raise UserError(f"{where}: not a tierbench bundle (its first member is not {MANIFEST})")
    try:
        data = json.loads(tar.extractfile(first).read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{where}: unreadable {MANIFEST} ({' '.join(str(e).split())})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{where}: not a tierbench bundle ({MANIFEST} has no format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise UserError(f"{where}: bundle version {data.get('version')!r}; this tierbench reads version {VERSION} "
                        "(export it again with this version, or upgrade tierbench)")
    rid, files = data.get("run_id"), data.get("files")
    if not isinstance(rid, str) or not _SAFE_PART.match(rid) or rid.startswith(".") or not isinstance(files, dict):
        raise UserError(f"{where}: {MANIFEST} has no valid run_id and files")
    for name, meta in files.items():
        _safe_name(name, rid, where)
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) \
                or not isinstance(meta.get("bytes"), int) or meta["bytes"] < 0:
            raise UserError(f"{where}: {MANIFEST} entry {name!r} has no sha256 and bytes")
    if f"{rid}/run.json" not in files:
        raise UserError(f"{where}: the bundle holds no {rid}/run.json")
    if sum(m["bytes"] for m in files.values()) > MAX_TOTAL_BYTES:
        raise UserError(f"{where}: the bundle declares more than {MAX_TOTAL_BYTES} bytes")
    data["_member"] = first
    return data


def _extract(tar: tarfile.TarFile, manifest: dict, tmp: Path, where: str) -> None:
    rid, files = manifest["run_id"], manifest["files"]
    seen, total, count = set(), 0, 1
    for member in tar:
        if member is manifest["_member"]:
            continue
        count += 1
        if count > MAX_MEMBERS:
            raise UserError(f"{where}: more than {MAX_MEMBERS} members")
        name = member.name.rstrip("/")
        if member.isdir():
            _safe_name(name, rid, where)
            continue
        if not member.isreg():
            raise UserError(f"{where}: member {member.name!r} is not a regular file (links and devices refused)")
        _safe_name(name, rid, where)
        meta = files.get(name)
        if meta is None:
            raise UserError(f"{where}: member {name!r} is not in {MANIFEST}")
        if name in seen:
            raise UserError(f"{where}: member {name!r} appears twice")
        total += member.size
        if member.size != meta["bytes"] or total > MAX_TOTAL_BYTES:
            raise UserError(f"{where}: member {name!r} is {member.size} bytes, {MANIFEST} says {meta['bytes']}")
        dest = tmp.joinpath(*PurePosixPath(name).parts[1:])
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        src = tar.extractfile(member)
        with open(dest, "xb") as f:
            for block in iter(lambda: src.read(_CHUNK), b""):
                h.update(block)
                f.write(block)
        if h.hexdigest() != meta["sha256"]:
            raise UserError(f"{where}: checksum mismatch for {name} (the bundle is damaged or was altered)")
        seen.add(name)
    missing = sorted(set(files) - seen)
    if missing:
        raise UserError(f"{where}: {len(missing)} file(s) listed in {MANIFEST} are missing, e.g. {missing[0]}")


def import_bundle(store: Store, path: str) -> dict:
    """Read the bundle `path` into `store` as its run (same run id). Returns the run document.
    UserError (one line) for anything the module docstring refuses; the store is left as it was then."""
    where = f"--bundle {path}"
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{where}: not a regular file")
    try:
        tar = tarfile.open(p, "r:*")
    except (OSError, tarfile.TarError) as e:
        raise UserError(f"{where}: not a readable tar file ({' '.join(str(e).split())})") from None
    try:
        store.root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"results store {store.root}: cannot create it ({e.strerror})") from None
    tmp = None
    try:
        with tar:
            manifest = _read_manifest(tar, where)
            rid = manifest["run_id"]
            if (store.root / rid).exists():
                raise UserError(f"{where}: run {rid} is already in {store.root}")
            tmp = store.root / f".{rid}.{secrets.token_hex(4)}.importing"
            tmp.mkdir()
            _extract(tar, manifest, tmp, where)
        try:
            doc = json.loads((tmp / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UserError(f"{where}: unreadable run.json ({' '.join(str(e).split())})") from None
        check_schema(doc, f"{where} run.json")
        if doc.get("run_id") != rid:
            raise UserError(f"{where}: run.json names run {doc.get('run_id')!r}, the manifest {rid!r}")
        (tmp / "raw").mkdir(exist_ok=True)
        try:
            os.rename(tmp, store.root / rid)
        except OSError as e:
            raise UserError(f"{where}: cannot add run {rid} to {store.root} ({e.strerror})") from None
        tmp = None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise UserError(f"{where}: damaged bundle ({' '.join(str(e).split())})") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return store.load(rid)
