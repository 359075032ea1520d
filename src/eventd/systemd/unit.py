"""The systemd unit, `eventd.service`, shipped in the package."""

from __future__ import annotations

from importlib.resources import files


def unit_text() -> str:
    """Return the text of the systemd unit for an install in /opt/eventd/.venv."""
    return files("eventd.systemd").joinpath("eventd.service").read_text(encoding="utf-8")
