"""The shipped unit: notify, watchdog, reload, descriptors, ordering, and its exposure score."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import eventd.systemd
from eventd.systemd.unit import DOCUMENTED, installed_root, unit_text

# Shipped in the package: `eventd systemd-unit` prints it.
UNIT = Path(eventd.systemd.__file__).with_name("eventd.service")
MAX_EXPOSURE = 2.0


def directives() -> dict[str, list[str]]:
    """Return every value of every directive (a directive may be repeated)."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


def test_the_unit_waits_for_ready_watches_reloads_and_raises_the_descriptor_limit() -> None:
    unit = directives()
    assert unit["Type"] == ["notify"]
    assert unit["NotifyAccess"] == ["main"]
    assert unit["WatchdogSec"] == ["30s"]
    assert unit["ExecReload"] == ["kill -HUP $MAINPID"]
    assert unit["LimitNOFILE"] == ["65536"]
    assert "redis-server.service" in " ".join(unit["After"])
    # Ordering only: the daemon runs without a local Redis.
    for dependency in ("Requires", "Wants", "BindsTo", "Requisite"):
        assert "redis-server.service" not in " ".join(unit.get(dependency, []))


def exposure(output: str) -> float:
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match is not None, output
    return float(match.group(1))


def test_exposure_is_read_from_the_summary_line() -> None:
    assert exposure("→ Overall exposure level for eventd.service: 1.2 OK 🙂\n") == 1.2


def test_systemd_analyze_security_rates_the_unit_at_most_2() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if "Overall exposure level" not in result.stdout:
        # --offline needs systemd 250 or later; older ones ask the running manager.
        pytest.skip(f"systemd-analyze security --offline=yes cannot run here: {result.stderr}")
    assert exposure(result.stdout) <= MAX_EXPOSURE, result.stdout


def test_the_unit_names_the_installation_it_is_printed_for(tmp_path: Path) -> None:
    assert unit_text() == UNIT.read_text()  # the documented place: as shipped
    venv = tmp_path / "srv" / "eventd-1.2"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "eventd").write_text("#!/bin/sh\n")
    root = installed_root(str(venv / "bin" / "python"))
    assert root == str(venv)
    unit = unit_text(root)
    assert f"ExecStart={venv}/bin/eventd serve --config /etc/eventd/config.toml\n" in unit
    assert "/opt/eventd" not in unit


def test_an_installation_a_unit_cannot_name_gets_the_documented_place(tmp_path: Path) -> None:
    spaced = tmp_path / "my venv"
    (spaced / "bin").mkdir(parents=True)
    (spaced / "bin" / "eventd").write_text("#!/bin/sh\n")
    assert installed_root(str(spaced / "bin" / "python")) == DOCUMENTED
    # No eventd script beside the interpreter (a system Python running -m eventd).
    assert installed_root(str(tmp_path / "bin" / "python3")) == DOCUMENTED
