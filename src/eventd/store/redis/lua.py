"""Load the engine's Lua scripts, shipped as package data in `scripts/`."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

SCRIPTS = files(__package__) / "scripts"


def read(name: str) -> str:
    """Return the text of `scripts/<name>.lua`."""
    return (SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")


def source(name: str, *, uses: Sequence[str] = (), **constants: int) -> str:
    """Return the script `name` ready to run: `constants` declared as locals, then the
    scripts it `uses` (functions it calls), then its own text."""
    parts = [f"local {key} = {value}" for key, value in constants.items()]
    parts += [read(used) for used in uses]
    parts.append(read(name))
    return "\n".join(parts)
