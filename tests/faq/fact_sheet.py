"""Where the vetted fact sheet (shared/content/insurance_facts.md) is, for the tests that read it.

It lives beside the repository, not in it (../shared). A clean clone made elsewhere for CI
(`git clone . "$(mktemp -d)"`) finds it beside the repository it was cloned from.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT

RELATIVE = Path("shared") / "content" / "insurance_facts.md"


def _origin() -> Path | None:
    """The local repository this one was cloned from, if it was."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if path.is_absolute() and path.is_dir() else None


def find() -> Path | None:
    for repository in (ROOT, _origin()):
        if repository is not None and (repository.parent / RELATIVE).is_file():
            return repository.parent / RELATIVE
    return None
