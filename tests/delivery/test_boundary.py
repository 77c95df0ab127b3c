"""The dispatcher is core code: it reaches the database and the platforms only through ports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.unit.test_core_boundary import FORBIDDEN, PROBE


def test_the_delivery_package_imports_no_transport_and_no_database() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "bot.delivery"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout)
    assert "bot.delivery.dispatcher" in loaded
    forbidden = [*FORBIDDEN, "bot.channels", "bot.app"]
    offenders = [
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []
