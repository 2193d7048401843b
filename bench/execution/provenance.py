"""What a run measured, by which version: the user's tags and the revision of the thing under test.

A CI gate compares "the build before" with "this build"; the run must say which builds those were.

- `run --tag KEY=VALUE` (repeatable; parsed by bench.core.tags) stores free-form tags: `tags` {key: value} in the run document.
- The revision is read, without network, from the environment CI systems set (GitHub Actions: GITHUB_SHA and
  GITHUB_REF_NAME; GitLab CI: CI_COMMIT_SHA and CI_COMMIT_REF_NAME) or else from the git work tree the command
  runs in (`git rev-parse HEAD`, the branch, and whether tracked files differ from HEAD): `revision` {commit,
  branch, dirty, source}. Outside both it is absent (not measured), never invented.
- `commit` and `branch` also become tags (a tag the user gave wins), so `history --tag commit=...` and
  `compare tag:branch=main latest` select by them like any tag.
"""
from __future__ import annotations

import os
import subprocess
from typing import Mapping, Optional

__all__ = ["revision", "run_tags"]

def _git(args: list, cwd: Optional[str]) -> Optional[str]:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def revision(env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Optional[dict]:
    """{commit, branch, dirty, source} of the thing under test, or None when neither a CI variable nor a git
    work tree says. `dirty` is None where it cannot be known (a CI variable says nothing about the checkout)."""
    env = os.environ if env is None else env
    for sha, ref, source in (("GITHUB_SHA", "GITHUB_REF_NAME", "github"), ("CI_COMMIT_SHA", "CI_COMMIT_REF_NAME",
                                                                            "gitlab")):
        if env.get(sha):
            return {"commit": env[sha], "branch": env.get(ref) or None, "dirty": None, "source": source}
    commit = _git(["rev-parse", "HEAD"], cwd)
    if not commit:
        return None
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "branch": None if branch in (None, "HEAD") else branch,
            "dirty": None if status is None else bool(status), "source": "git"}


def run_tags(user_tags: Optional[dict], rev: Optional[dict]) -> dict:
    """The tags stored with a run: commit and branch from the revision, then the user's (which win)."""
    tags = {}
    if rev:
        tags.update({k: rev[k] for k in ("commit", "branch") if rev.get(k)})
    tags.update(user_tags or {})
    return tags
