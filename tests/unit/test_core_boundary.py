"""The core (domain, services, texts) never pulls in a transport, the database or the scheduler."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = ["bot.domain", "bot.services", "bot.texts", "bot.calendar", "bot.faq", "bot.delivery"]
FORBIDDEN = ["telegram", "linebot", "sqlalchemy", "alembic", "apscheduler", "bot.store"]

PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(getattr(package, "__path__", []), package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("package", CORE)
def test_importing_the_core_loads_no_transport(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, package],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout)
    assert any(name.startswith(package) for name in loaded)
    offenders = [
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


def test_the_probe_would_notice_a_forbidden_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "bot.store.database"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "sqlalchemy" in json.loads(result.stdout)
