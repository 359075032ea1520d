"""The systemd unit, `eventd.service`, shipped in the package for an install in /opt/eventd/.venv.

`eventd systemd-unit` prints it for the installation it runs from: the README's steps run
/opt/eventd/.venv/bin/eventd, which prints the unit as shipped; an eventd installed
elsewhere names its own place instead, where the unit's `ExecStart` finds it.
"""

from __future__ import annotations

import re
import sys
from importlib.resources import files
from pathlib import Path

DOCUMENTED = "/opt/eventd/.venv"
# What a unit file takes as is: no space, quote, `%` specifier, `$` variable or backslash.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._+-]*")


def unit_text(root: str = DOCUMENTED) -> str:
    """Return the unit, for eventd installed in `root` (a virtual environment or prefix)."""
    text = files("eventd.systemd").joinpath("eventd.service").read_text(encoding="utf-8")
    return text if root == DOCUMENTED else text.replace(DOCUMENTED, root)


def installed_root(executable: str = sys.executable) -> str:
    """Return where the running eventd is installed: the directory whose bin/ holds both the
    interpreter and the `eventd` script, else (no script there, or a path a unit cannot
    hold) the documented /opt/eventd/.venv."""
    # Not resolved: a virtual environment's python is a link to the system's.
    bin_dir = Path(executable).absolute().parent
    root = str(bin_dir.parent)
    if not (bin_dir / "eventd").is_file() or not _PLAIN_PATH.fullmatch(root):
        return DOCUMENTED
    return root
