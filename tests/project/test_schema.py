"""docs/run-document.schema.json: a valid draft 2020-12 schema that real documents (made by the CLI) match,
that fails documents breaking the contract, and that the conftest check applies to every stored run.json."""
import copy
import json
import tempfile
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import SCHEMA_PATH, check_stored_documents, cli_json, schema_errors

DATA = Path(__file__).resolve().parents[1] / "data" / "fio"


@pytest.fixture(scope="module")
def real_doc(tmp_path_factory):
    """A run document of a small real run on a directory tier."""
    if __import__("shutil").which("fio") is None:
        pytest.skip("needs fio on PATH (apt-get install fio)")
    tmp = tmp_path_factory.mktemp("schema")
    (tmp / "tier").mkdir()
    return cli_json("run", "--tier", f"t={tmp / 'tier'}", "--workload", "rand-read-4k", "--param", "iodepth=1",
                    "--param", "size=4m", "--param", "runtime_s=1.2", "--param", "direct=false",
                    "--results", tmp / "results")


def test_the_schema_is_a_valid_draft_2020_12_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_real_run_matches(real_doc):
    assert schema_errors(real_doc) == []
    (case,) = real_doc["cases"]
    assert case["monitor"]["series"]["t_s"], "the run's case carries its monitor series"


def test_imported_fio_outputs_match(store):
    # killed-job.plus.json is imported as a failed case (exit 1); its document must match the schema too
    doc = cli_json("import", *[str(p) for p in sorted(DATA.glob("*.plus.json"))], "--results", store, check=1)
    assert doc["imported"] is True and schema_errors(doc) == []
    assert [c for c in doc["cases"] if c.get("error")], "the killed job is a failed case"


@pytest.mark.parametrize("status", ["running", "interrupted", "failed", "partial", "complete"])
def test_every_status_is_allowed(real_doc, status):
    assert schema_errors(dict(real_doc, status=status)) == []


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d.update(status="done"), "status"),
    (lambda d: d.pop("machine"), "(document)"),
    (lambda d: d["cases"][0]["metrics"].update(iops="fast"), "cases/0/metrics/iops"),
    (lambda d: d["cases"][0].update(bottleneck="disk"), "cases/0/bottleneck"),
    (lambda d: d["cases"][0]["monitor"].pop("interval_s"), "cases/0/monitor"),
    (lambda d: d["cases"][0]["phases"][0].pop("wall_s"), "cases/0/phases/0"),
    (lambda d: d["tiers"][0].update(emulated="yes"), "tiers/0/emulated"),
    (lambda d: d.update(schema_version=2), "schema_version"),
])
def test_a_document_breaking_the_contract_fails(real_doc, break_it, where):
    doc = copy.deepcopy(real_doc)
    break_it(doc)
    errors = schema_errors(doc)
    assert errors and any(e.startswith(where + ":") for e in errors), errors


def test_a_running_document_may_lack_what_the_runner_fills_in_later(real_doc):
    stub = {k: real_doc[k] for k in ("schema_version", "run_id", "started_at")}
    assert schema_errors(dict(stub, status="running", cases=[])) == []
    assert schema_errors(dict(stub, status="complete", cases=[]))   # finished: machine, tiers, harness_version


def test_the_stored_document_check_finds_a_broken_run_json(real_doc):
    # Outside tmp_path, so that this test's own after-test check does not see the broken document.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store" / real_doc["run_id"] / "run.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(real_doc))
        assert check_stored_documents(Path(folder)) == []
        path.write_text(json.dumps(dict(real_doc, status="finished")))
        (failure,) = check_stored_documents(Path(folder))
        assert str(path) in failure and "status" in failure
