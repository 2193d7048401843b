"""The README is a front door and docs/ holds the evidence: every relative link in them resolves inside the
repository, every file and module they name in code (`bench/analysis/stats.py`, `bench.core.case.case_key`)
exists, the README stays short, and no document names a path of the machine it was written on.

Links are Markdown inline links `[text](target)` and reference definitions `[label]: target`; a target with a
scheme (https:, mailto:) is external and not checked here, an anchor (`file.md#part`) is checked for its file
part only, and a target inside a code span or fenced block is not a link.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README] + DOCS
README_MAX_LINES = 170          # "about 150 lines" (issue 13), with a little room

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Paths of the machine the docs were written on: a reader's machine has none of them.
_MACHINE_PATH = re.compile(r"(?<![\w./-])/(?:work|tmp|root|var/tmp)(?=/|\b)")


def _prose(text: str) -> str:
    """The text with fenced code blocks and code spans removed (what Markdown renders as links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list:
    """Every link target in Markdown `text`, in order."""
    prose = _prose(text)
    return [m.group(1) for m in _INLINE.finditer(prose)] + [m.group(1) for m in _REFERENCE.finditer(prose)]


def relative_links(text: str) -> list:
    return [t for t in links(text) if not _SCHEME.match(t) and not t.startswith("#")]


def test_link_finder_on_worked_examples():
    text = ("See [the schema](run-document.schema.json), [a part](findings.md#verdicts), [site](https://x.org),\n"
            "[top](#usage), ![image](img/a.png \"title\"), `[not](a-link.md)` and\n"
            "```\n[not either](fenced.md)\n```\n[ref]: ../README.md\n")
    assert relative_links(text) == ["run-document.schema.json", "findings.md#verdicts", "img/a.png", "../README.md"]


def test_docs_exist():
    names = {p.name for p in DOCS}
    for required in ("findings.md", "run-document.md", "engine-agreement.md", "scenario.md", "case.md",
                     "verdicts.md", "architecture.md"):
        assert required in names, f"docs/{required} is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page):
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (page.parent / path).resolve()
        if ROOT not in (resolved, *resolved.parents):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {', '.join(broken)}"


def test_readme_links_into_docs():
    targets = {t.split("#", 1)[0] for t in relative_links(README.read_text(encoding="utf-8"))}
    missing = [f"docs/{p.name}" for p in DOCS if f"docs/{p.name}" not in targets]
    assert not missing, f"README.md does not link {', '.join(missing)}"


def test_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_machine_path_finder_on_worked_examples():
    assert _MACHINE_PATH.search("state in /var/tmp/tierbench-emulated/state.json")
    assert _MACHINE_PATH.search("run from /work/main")
    assert _MACHINE_PATH.search("`--results /tmp/tb/res`")
    assert _MACHINE_PATH.search("/root")
    assert not _MACHINE_PATH.search("results/<run-id>/run.json, /dev/shm, /mnt/nvme0, /var/lib, bench/tmp/x")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_paths(page):
    found = [f"line {n}: {m.group(0)}" for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
             for m in _MACHINE_PATH.finditer(line)]
    assert not found, f"{page.relative_to(ROOT)} names paths of this machine: {'; '.join(found)}"


# ---- files and modules named in code spans --------------------------------------------------------------

_SPAN_TEXT = re.compile(r"(`+)(?!`)(.*?)(?<!`)\1(?!`)", re.DOTALL)
_REPO_PATH = re.compile(r"^(?:bench|kernels|workloads|tests|docs)/[\w./-]*$")
# inside a room's description a path may start at the room: `reporting/table.py` is bench/reporting/table.py
_ROOM_PATH = re.compile(r"^(?:" + "|".join(p.name for p in sorted((ROOT / "bench").iterdir())
                                           if (p / "__init__.py").is_file()) + r")/[\w./-]*\.py$")
_DOTTED = re.compile(r"^((?:bench|kernels|workloads)(?:\.\w+)+)")


def named_paths(text: str) -> list:
    """Repository paths named as whole code spans outside fenced blocks (`bench/core/pattern.py`, `tests/data/`);
    templates such as `kernels/<name>.pyx` are not paths."""
    spans = [m.group(2) for m in _SPAN_TEXT.finditer(_FENCE.sub("", text))]
    return [s for s in spans if _REPO_PATH.match(s)] + [f"bench/{s}" for s in spans if _ROOM_PATH.match(s)]


def named_modules(text: str) -> list:
    """Dotted names of ours at the start of a code span (`bench.core.case.case_key`, `kernels.ioloop.run_phase`)."""
    spans = (m.group(2) for m in _SPAN_TEXT.finditer(_FENCE.sub("", text)))
    return [m.group(1) for span in spans for m in [_DOTTED.match(span)] if m]


def _defines(source: Path, name: str) -> bool:
    """`name` is defined (def, class, cdef/cpdef), assigned or imported at the start of a line of `source`."""
    if not source.is_file():
        return False
    n = re.escape(name)
    definition = re.compile(rf"^\s*(?:(?:async\s+)?def|class|c?p?def(?:\s+[\w.*\[\]]+)*)\s+{n}\b"
                            rf"|^\s*{n}\s*(?::[^=\n]+)?=(?!=)"
                            rf"|^\s*(?:from\s+\S+\s+)?import\s+[^\n#]*\b{n}\b", re.MULTILINE)
    return definition.search(source.read_text(encoding="utf-8")) is not None


def resolve_dotted(name: str) -> bool:
    """True when `name` is a package, a module (.py or .pyx), or a name defined in one: packages and modules are
    followed as far as they go, and the first part that is neither must be defined, assigned or imported in the
    last one (its __init__.py for a package)."""
    parts = name.split(".")
    path, source = ROOT / parts[0], ROOT / parts[0] / "__init__.py"
    for i, part in enumerate(parts[1:], 1):
        if (path / part).is_dir():
            path, source = path / part, path / part / "__init__.py"
            continue
        module = next((path / f"{part}{ext}" for ext in (".py", ".pyx") if (path / f"{part}{ext}").is_file()), None)
        if module is not None:
            if i == len(parts) - 1:
                return True
            return _defines(module, parts[i + 1])
        return _defines(source, part)
    return path.is_dir()


def test_named_path_finders_on_worked_examples():
    text = "See `bench/core/pattern.py`, `kernels/<name>.pyx`, `results/` and `bench.core.case.case_key(x)`; " \
           "`reporting/table.py` draws."
    assert named_paths(text) == ["bench/core/pattern.py", "bench/reporting/table.py"]
    assert named_modules(text) == ["bench.core.case.case_key"]
    assert resolve_dotted("bench.core.case.case_key") and resolve_dotted("workloads.PARAM_RANGES")
    assert resolve_dotted("kernels.ioloop.run_phase")
    assert not resolve_dotted("bench.findings.findings") and not resolve_dotted("bench.core.case.no_such_name")
    assert not resolve_dotted("bench.model.case_key")      # "model" is a word in bench/__init__.py, not a name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_files_and_modules_exist(page):
    text = page.read_text(encoding="utf-8")
    missing = [p for p in named_paths(text) if not (ROOT / p).exists()]
    missing += [m for m in named_modules(text) if not resolve_dotted(m)]
    assert not missing, f"{page.relative_to(ROOT)} names what the repository does not have: {', '.join(missing)}"
