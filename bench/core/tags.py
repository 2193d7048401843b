"""Run tags: `--tag KEY=VALUE` as given, and selection of runs by tag (`history --tag`, `compare tag:K=V`).
Where tags come from (the user, the revision under test) is bench.execution.provenance."""
from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional

from bench.core.errors import UserError

__all__ = ["parse_tags", "tags_match"]

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_MAX_VALUE = 256


def parse_tags(values: Optional[Iterable[str]], flag: str = "--tag") -> dict:
    """KEY=VALUE strings -> {key: value}; UserError (one line) on a bad key, an empty or long value, or a key
    given twice."""
    out: dict = {}
    for item in values or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE with KEY a letter then letters, digits, _ . -"
                            " (at most 64)")
        if not value or len(value) > _MAX_VALUE or any(ord(c) < 32 for c in value):
            raise UserError(f"{flag} {item!r}: the value must be 1 to {_MAX_VALUE} printable characters")
        if key in out:
            raise UserError(f"{flag} {key}: given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def tags_match(doc: dict, wanted: Mapping[str, str]) -> bool:
    """Whether a run document carries every wanted tag. A commit matches by prefix (7 or more hex digits), as
    git abbreviates it."""
    tags = doc.get("tags") or {}
    for key, value in wanted.items():
        have = tags.get(key)
        if not isinstance(have, str):
            return False
        if key == "commit" and len(value) >= 7 and have.startswith(value):
            continue
        if have != value:
            return False
    return True
