"""The one check of what the store reads: docs/run-document.schema.json (JSON Schema draft 2020-12), applied
with jsonschema to every stored run document and to every case recovered from raw/, and a JSON reader that
refuses what JSON has no room for (NaN, Infinity, numbers beyond a float's range, nesting deeper than any
document of ours).

Why the schema and not checks by hand: the schema is the published contract (docs/run-document.md); a reader
that checked its own list of fields drifted from it (a recovered case with `"iops": "slow"` passed one and not
the other). Problems are told in one line: the field's path and what is wrong with it.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from bench.core.userfile import json_depth

__all__ = ["SCHEMA_PATH", "loads", "document_problem", "case_problem", "JsonProblem"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "run-document.schema.json"
MAX_DEPTH = 64      # our documents nest about 8 deep; a deeper one is damaged (and would exhaust the stack)


class JsonProblem(ValueError):
    """Text that is not a JSON document the store can hold (one-line message)."""


def _refuse_constant(name: str):
    raise JsonProblem(f"holds {name}, which is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonProblem(f"holds the number {text[:40]}, outside the range of a float")
    return value


def loads(text):
    """JSON text (str or bytes) as Python values; JsonProblem (one line) for bad JSON, NaN/Infinity, numbers
    beyond a float's range, or nesting deeper than MAX_DEPTH (checked before parsing: no RecursionError)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonProblem(f"not UTF-8 ({e.reason} at byte {e.start})") from None
    _check_depth(text)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as e:
        raise JsonProblem(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, counted over brackets outside strings (bench.core.userfile)."""
    if json_depth(text, MAX_DEPTH) > MAX_DEPTH:
        raise JsonProblem(f"nested more than {MAX_DEPTH} deep")


@functools.lru_cache(maxsize=None)
def _validator(ref: str):
    import jsonschema

    try:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except OSError as e:
        raise RuntimeError(f"the run document schema {SCHEMA_PATH} is missing ({e.strerror}): "
                           f"reinstall tierbench") from None
    if ref:      # a part of the schema (a case), its $defs still reachable
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": ref}
    return jsonschema.validators.validator_for(schema)(schema)


def _problem(value, ref: str) -> str:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(ref).iter_errors(value))
    if error is None:
        return ""
    where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path)
    where = where.replace(".[", "[") or "the document"
    message = " ".join(error.message.split())
    return f"{where}: {message[:200]}"


def document_problem(doc) -> str:
    """What makes `doc` break docs/run-document.schema.json ('' when nothing), as 'path: what is wrong'."""
    return _problem(doc, "")


def case_problem(case) -> str:
    """What makes `case` break the schema's case definition ('' when nothing), as 'path: what is wrong'."""
    return _problem(case, "#/$defs/case")
