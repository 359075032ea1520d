"""What a wheel holds and says: shipped files, license, classifiers, and motor as an extra."""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import trove_classifiers

import eventd
from eventd.cli import main

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "eventd"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SHIPPED = {
    "config": PACKAGE / "config" / "default.toml",
    "systemd-unit": PACKAGE / "systemd" / "eventd.service",
}


# --- the commands that print a shipped file --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "command"),
    [(["config", "--default"], "config"), (["systemd-unit"], "systemd-unit")],
    ids=["config", "systemd-unit"],
)
def test_command_prints_the_shipped_file(
    args: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 0
    out, err = capsys.readouterr()
    shipped = SHIPPED[command].read_text()
    if command == "systemd-unit":  # for this installation, wherever the tests run from
        shipped = shipped.replace("/opt/eventd/.venv", sys.prefix)
    assert out == shipped
    assert err == ""


def shipped_file_command(args: list[str], **popen: Any) -> subprocess.CompletedProcess[str]:
    """Run `eventd ARGS` as a process, its stdout as `popen` says; return how it ended."""
    return subprocess.run(
        [sys.executable, "-m", "eventd", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        **popen,
    )


@pytest.mark.parametrize(
    "args", [["config", "--default"], ["systemd-unit"]], ids=["config", "unit"]
)
def test_a_reader_gone_is_a_quiet_success(args: list[str]) -> None:
    # `eventd config --default | head -1`: the reader closed the pipe before the write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        ended = shipped_file_command(args, stdout=write_end)
    finally:
        os.close(write_end)
    assert (ended.returncode, ended.stderr) == (0, "")


@pytest.mark.parametrize(
    "args", [["config", "--default"], ["systemd-unit"]], ids=["config", "unit"]
)
def test_an_unwritable_or_closed_stdout_is_one_line_and_status_1(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        ended = shipped_file_command(args, stdout=full)
    assert ended.returncode == 1
    assert ended.stderr == "eventd: cannot write to standard output: No space left on device\n"
    # `eventd config --default >&-`: no descriptor 1 at all.
    ended = shipped_file_command(args, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert (ended.returncode, ended.stderr) == (1, "eventd: no standard output to write to\n")


def test_config_without_default_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["config"])
    assert exc_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "--default" in lines[0], lines


def test_no_configuration_or_unit_is_left_at_the_repository_root() -> None:
    # One source of truth: the files in the package, which the README and tests point at.
    assert not (ROOT / "config.toml").exists()
    assert not (ROOT / "systemd").exists()


# --- project metadata ------------------------------------------------------------------------


def test_classifiers_exist_and_name_only_the_python_the_suite_runs_on() -> None:
    classifiers = PYPROJECT["project"]["classifiers"]
    assert set(classifiers) <= trove_classifiers.classifiers, classifiers
    python = "Programming Language :: Python :: "
    versions = {c.removeprefix(python) for c in classifiers if re.match(rf"{python}3\.", c)}
    assert versions == {f"{sys.version_info.major}.{sys.version_info.minor}"}
    # The SPDX expression in `license` says it; a License :: classifier would say it twice.
    assert not any(c.startswith("License ::") for c in classifiers)


def test_motor_is_an_extra_that_the_test_extra_pulls_in() -> None:
    project = PYPROJECT["project"]
    assert not any(dep.startswith(("motor", "pymongo")) for dep in project["dependencies"])
    assert any(dep.startswith("motor") for dep in project["optional-dependencies"]["mongo"])
    assert "eventd[mongo]" in project["optional-dependencies"]["test"]


# --- the wheel -------------------------------------------------------------------------------


def build_wheel(tmp_path: Path) -> Path:
    """Build a wheel of the working tree offline, from a copy (the checkout stays untouched)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    out = tmp_path / "wheel"
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    command = [sys.executable, "-m", "pip", "wheel", *offline, "--quiet", "--wheel-dir"]
    result = subprocess.run(
        [*command, str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("eventd-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_holds_the_shipped_files_and_licenses_and_says_what_it_needs(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for path in SHIPPED.values():
            name = path.relative_to(PACKAGE.parent).as_posix()
            assert archive.read(name) == path.read_bytes(), name
        info = f"eventd-{eventd.__version__}.dist-info"
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    # Every file that package-data names is in the wheel, not only the two shipped here.
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["eventd"]
    for pattern in patterns:
        assert any(Path(name).match(f"eventd/{pattern}") for name in names), pattern
    assert f"{info}/licenses/LICENSE" in names
    assert any(
        name.endswith("licenses/src/eventd/dashboard/static/vendor/uPlot.LICENSE.txt")
        for name in names
    )
    assert metadata["License-Expression"] == "MIT"
    assert set(metadata.get_all("Classifier")) == set(PYPROJECT["project"]["classifiers"])
    requires = metadata.get_all("Requires-Dist")
    assert [r for r in requires if r.startswith("motor")] == ['motor<4,>=3.3; extra == "mongo"']
    assert "mongo" in metadata.get_all("Provides-Extra")
    assert metadata.get_all("Project-URL") is None  # the project has no public home yet
    # No checkout-only files: the tests, the benchmarks, a virtual environment.
    assert not [name for name in names if name.startswith(("tests/", "bench/", ".venv/"))]


# --- motor stays out of the memory and Redis daemons -----------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize("engine", ["memory", "redis"])
def test_a_memory_or_redis_app_imports_no_mongodb_driver(engine: str) -> None:
    # create_app makes the engine (not opened: no server is needed) and sets up every feature.
    result = run_python(
        f"""
        import sys
        from eventd.app import create_app
        from eventd.cli import main
        from eventd.config import load
        create_app(load(overrides={{"engine.name": {engine!r}}}))
        assert main(["check-config", "/dev/null"]) == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("motor", "pymongo", "bson")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", ["check-config /dev/null", "serve --port 0", "seed --count 1"])
def test_mongo_without_motor_is_one_line_and_status_2(command: str) -> None:
    # sys.modules[name] = None is how Python spells "not installed" to the import system.
    result = run_python(
        f"""
        import os, sys
        sys.modules["motor"] = None
        os.environ["EVENTD_ENGINE"] = "mongo"
        from eventd.cli import main
        sys.exit(main({command.split()!r}))
        """
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "eventd: the mongo engine needs motor, not installed: pip install 'eventd[mongo]'\n"
    )
