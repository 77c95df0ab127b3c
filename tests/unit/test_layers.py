"""The layers in pyproject.toml hold, and a wrong-way import breaks them.

import-linter reads the contracts from pyproject.toml; these tests run it as CI does, on the
real tree and on a copy with one import added in the wrong direction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `bot` package found under `root`, without its cache."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        # The copy under test comes before the editable install of the real tree.
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )


def test_the_layers_contract_lists_every_layer_from_the_cli_down_to_the_domain() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts = settings["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")
    assert layers["containers"] == ["bot"]
    assert layers["exhaustive"] is True
    assert "ignore_imports" not in layers
    order = [
        name.strip() for layer in layers["layers"] for name in layer.split("|") if name.strip()
    ]
    expected_order = ["cli", "app", "store", "services", "calendar", "domain"]
    assert [name for name in order if name in expected_order] == expected_order
    assert order.index("channels") < order.index("delivery") < order.index("faq")


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers: each layer imports only the ones below it KEPT" in result.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "source", "complaint"),
    [
        # The mistake this contract was written for: the domain reaching up into a reader.
        (
            "bot/domain/wrong_way.py",
            "from bot.calendar import schedule_file\n",
            "bot.domain is not allowed to import bot.calendar",
        ),
        (
            "bot/services/wrong_way.py",
            "from bot.store import database\n",
            "bot.services is not allowed to import bot.store",
        ),
        (
            "bot/commands/wrong_way.py",
            "from bot import cli\n",
            "bot.commands is not allowed to import bot.cli",
        ),
        # Siblings in one layer stay independent.
        (
            "bot/calendar/wrong_way.py",
            "from bot.faq import knowledge\n",
            "bot.calendar is not allowed to import bot.faq",
        ),
        # A new top-level module has to be given a layer.
        ("bot/helpers.py", "VALUE = 1\n", "bot.helpers"),
    ],
)
def test_a_wrong_way_import_breaks_the_layers(
    copy: Path, path: str, source: str, complaint: str
) -> None:
    (copy / path).write_text(f'"""Added by a test."""\n\n{source}', encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout
    assert "Layers: each layer imports only the ones below it BROKEN" in result.stdout
    assert complaint in result.stdout
