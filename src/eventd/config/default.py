"""The documented default configuration: `default.toml`, shipped in the package."""

from __future__ import annotations

from importlib.resources import files


def default_toml() -> str:
    """Return the text of the documented default configuration file, every key commented."""
    return files("eventd.config").joinpath("default.toml").read_text(encoding="utf-8")
