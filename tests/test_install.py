"""The README's install-under-systemd steps, run from a fresh clone under a prefix instead of /.

The steps run as the README writes them, with changes that keep the test offline, quick and
unprivileged: no `sudo`; paths under a temporary prefix; the target venv made without pip
(ensurepip is most of the time) and `pip install` without reaching an index
(`--no-deps --no-build-isolation --no-index`); the target finds pip, setuptools and the
daemon's dependencies, all but the MongoDB driver, in this test's environment, and its
`bin/pip` is the script pip would have put there. `systemctl` is left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import eventd

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "eventd"
MARKER = "quick_start_marker"
# Left out of the installed daemon's dependencies: itself (the test's editable install) and
# the MongoDB driver, which a memory or Redis user does not install.
NOT_DEPENDENCIES = re.compile(r"^(eventd|__editable__|motor|pymongo|bson|gridfs|mongomock)")
OFFLINE = "--no-deps --no-build-isolation --no-index "


def readme_steps() -> list[str]:
    """Return the lines of the last sh block of the README's "Running under systemd"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Running under systemd\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    return blocks[-1].splitlines()


def fresh_clone(tmp_path: Path) -> Path:
    """Return a clone of the working tree (committed or not), with a Quick start `.venv`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    clone = tmp_path / "clone"
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is not listed
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *command], cwd=clone, check=True, capture_output=True)
    # What the Quick start leaves in the checkout: a virtual environment, ignored by git.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", clone / ".venv"], check=True)
    (clone / ".venv" / f"{MARKER}.py").write_text("")
    return clone


def localised(line: str, prefix: Path) -> str:
    """Return a README line run without root, under `prefix`, offline."""
    line = line.replace("sudo ", "")
    line = re.sub(r"(?<![\w.])/(opt|etc)/", rf"{prefix}/\1/", line)
    # The interpreter of this test, so that the dependencies lent below fit the target.
    line = re.sub(
        r"(^|&& )python3 -m venv ",
        rf"\g<1>{os.path.realpath(sys.executable)} -m venv --without-pip ",
        line,
    )
    return line.replace("pip install ", f"pip install {OFFLINE}")


def lend_dependencies(venv: Path, tmp: Path) -> None:
    """Let the target find this environment's packages, eventd and the MongoDB driver aside."""
    lent = tmp / "dependencies"
    lent.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if entry.suffix != ".pth" and not NOT_DEPENDENCIES.match(entry.name):
            (lent / entry.name).symlink_to(entry)
    python = venv / "bin" / "python"
    pip = venv / "bin" / "pip"
    pip.write_text(
        f"#!{python}\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"
    )
    pip.chmod(0o755)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "lent_dependencies.pth").write_text(f"{lent}\n")


def run(line: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTD_", "PIP_", "VIRTUAL"))}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        cwd=cwd,
        env=env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"{line}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run the README's steps; return the prefix standing for / and the clone."""
    tmp = tmp_path_factory.mktemp("install")
    clone = fresh_clone(tmp)
    prefix = tmp / "root"
    (prefix / "etc" / "systemd" / "system").mkdir(parents=True)  # there on a systemd machine
    steps = readme_steps()
    assert steps[-1].startswith("sudo systemctl daemon-reload"), steps[-1]
    for line in steps[:-1]:
        run(localised(line, prefix), clone)
        if " -m venv " in line:
            lend_dependencies(prefix / "opt" / "eventd" / ".venv", tmp)
    return prefix, clone


def target(prefix: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVENTD_")}
    return subprocess.run(
        [prefix / "opt" / "eventd" / ".venv" / "bin" / "eventd", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=clean | env,
    )


def test_the_installed_eventd_runs_from_the_target_venv(installed: tuple[Path, Path]) -> None:
    prefix, _ = installed
    venv = prefix / "opt" / "eventd" / ".venv"
    result = target(prefix, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"eventd {eventd.__version__}"
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import eventd; print(eventd.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the checkout's


def test_the_configuration_and_unit_written_are_the_shipped_ones(
    installed: tuple[Path, Path],
) -> None:
    prefix, _ = installed
    config = prefix / "etc" / "eventd" / "config.toml"
    assert config.read_bytes() == (PACKAGE / "config" / "default.toml").read_bytes()
    unit = prefix / "etc" / "systemd" / "system" / "eventd.service"
    # The unit names the installation that printed it: /opt/eventd/.venv, here under prefix.
    shipped = (PACKAGE / "systemd" / "eventd.service").read_text()
    assert unit.read_text() == shipped.replace("/opt/", f"{prefix}/opt/")
    result = target(prefix, "check-config", str(config))
    assert result.returncode == 0, result.stderr


def test_the_unit_starts_what_the_steps_installed(installed: tuple[Path, Path]) -> None:
    prefix, _ = installed
    unit = (prefix / "etc" / "systemd" / "system" / "eventd.service").read_text()
    (exec_start,) = re.findall(r"^ExecStart=(\S+) serve --config (\S+)$", unit, flags=re.M)
    program, config = exec_start
    assert program == f"{prefix}/opt/eventd/.venv/bin/eventd"
    assert os.access(program, os.X_OK), program
    assert Path(f"{prefix}{config}").is_file(), config
    assert "Documentation=" not in unit  # no page it could point at is installed


def test_nothing_of_the_clone_reaches_the_target_or_changes_in_the_clone(
    installed: tuple[Path, Path],
) -> None:
    prefix, clone = installed
    assert not list(prefix.rglob(f"{MARKER}*"))
    assert not (prefix / "opt" / "eventd" / ".venv" / ".venv").exists()
    # pip built in a directory of its own: no build/ or *.egg-info left in the checkout,
    # only the archive the user made.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout.splitlines() == ["!! .venv/", "!! dist/"]
    assert [path.name for path in (clone / "dist").iterdir()] == ["eventd.tar.gz"]


def test_without_motor_the_mongo_engine_is_refused_in_one_line(
    installed: tuple[Path, Path],
) -> None:
    prefix, _ = installed
    config = prefix / "etc" / "eventd" / "config.toml"
    result = target(prefix, "check-config", str(config), EVENTD_ENGINE="mongo")
    assert result.returncode == 2
    assert result.stderr == (
        "eventd: the mongo engine needs motor, not installed: pip install 'eventd[mongo]'\n"
    )
