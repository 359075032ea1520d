"""The README and the systemd unit stay true to the code."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import eventd.systemd
from eventd.config import settings

ROOT = Path(__file__).parents[1]
UNIT = Path(eventd.systemd.__file__).with_name("eventd.service")


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_.]+)` \|", readme, flags=re.M))
    assert documented == {s.name for s in settings()}


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert "eventd serve" in commands[0]
    assert commands[1] == "./scripts/test"
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_unit_runs_eventd_serve_sandboxed() -> None:
    service = unit()["Service"]
    assert "eventd serve --config" in service["ExecStart"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    for hardening in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "DynamicUser"):
        assert hardening in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # Point ExecStart at this environment's eventd so that verify can check it exists.
    eventd = Path(sys.executable).with_name("eventd")
    text = UNIT.read_text()
    path = tmp_path / "eventd.service"
    path.write_text(text.replace("/opt/eventd/.venv/bin/eventd", str(eventd)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "eventd.service" not in result.stderr, result.stderr


def test_websocket_docs_name_every_message_and_close_code() -> None:
    from eventd.ws import protocol

    prose = (ROOT / "docs" / "websocket.md").read_text()
    spec = (ROOT / "docs" / "asyncapi.yaml").read_text()
    types = ["subscribe", "unsubscribe", "ping", "welcome", "subscribed", "change", "reminder"]
    types += ["history_truncated", "unsubscribed", "pong", "error", "stats"]
    for name in types:
        assert f"`{name}`" in prose, name
        assert f"const: {name}" in spec, name
    for code in ("bad_json", "bad_message", "unknown_subscription", "duplicate_subscription"):
        assert code in prose and code in spec
    assert str(protocol.CLOSE_SLOW_CONSUMER) in prose
    assert str(protocol.CLOSE_GOING_AWAY) in prose
