"""Where `eventd tail` takes its token: EVENTD_TOKEN or --token-file, never the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventd.cli import main
from eventd.client import Refused
from eventd.config import load
from eventd.tail.follow import refused
from eventd.tail.options import MAX_TOKEN_CHARS, UsageError, make_options, read_token

SECRET = "kq3V-not-a-real-secret_0123456789"


def test_the_variable_gives_the_token() -> None:
    assert read_token({"EVENTD_TOKEN": f" {SECRET}\n"}, None) == (SECRET, "EVENTD_TOKEN")


@pytest.mark.parametrize("env", [{}, {"EVENTD_TOKEN": ""}, {"EVENTD_TOKEN": "  "}])
def test_no_variable_or_an_empty_one_is_no_token(env: dict[str, str]) -> None:
    assert read_token(env, None) is None


def test_the_file_gives_its_first_line_and_wins_over_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {SECRET}  \nthe second line is not read\n")
    found = read_token({"EVENTD_TOKEN": "from-the-environment"}, path)
    assert found == (SECRET, f"--token-file {path}")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        (b"", "is empty"),
        (b"\nsecret on the second line\n", "is empty"),
        (b"\xff\xfe" + SECRET.encode(), "is not UTF-8 text"),
    ],
)
def test_a_file_without_a_token_is_a_usage_error(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError) as raised:
        read_token({}, path)
    assert raised.value.option == "--token-file"
    assert words in str(raised.value) and str(path) in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize("secret", [f"{SECRET} x", f"{SECRET}\x1b", f"{SECRET}é"])
def test_a_token_no_header_can_carry_is_refused_without_being_shown(secret: str) -> None:
    with pytest.raises(UsageError) as raised:
        read_token({"EVENTD_TOKEN": secret}, None)
    assert raised.value.option == "EVENTD_TOKEN"
    assert SECRET not in str(raised.value)


def test_the_options_never_show_the_secret() -> None:
    options = make_options("http://127.0.0.1:8080", token=(SECRET, "EVENTD_TOKEN"))
    assert options.token == SECRET
    assert SECRET not in repr(options) and SECRET not in str(options)


def test_the_configuration_leaves_the_variable_to_the_clients() -> None:
    # EVENTD_* are settings, and an unknown one is an error: this one is the tail's.
    config = load(env={"EVENTD_TOKEN": SECRET, "EVENTD_SERVER_PORT": "9001"})
    assert config.server.port == 9001


@pytest.mark.parametrize("args", [["--token", SECRET], [f"--token={SECRET}"], ["--token"]])
def test_a_token_on_the_command_line_is_refused(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tail", "--url", "http://127.0.0.1:1", *args])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "visible to every local user (ps)" in err and "EVENTD_TOKEN" in err
    assert SECRET not in err


def test_a_bad_token_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing"
    assert main(["tail", "--url", "http://127.0.0.1:1", "--token-file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"eventd tail: --token-file: cannot read {path}: No such file or directory\n"


def test_the_help_says_where_the_token_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tail", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--token-file PATH" in help_text and "EVENTD_TOKEN" in help_text
    assert "There is no --token option: a command line is visible to every local user" in (
        help_text.replace("--token- file", "--token-file")
    )
    assert "--token " not in help_text.replace("--token option", "")


@pytest.mark.parametrize("length", [MAX_TOKEN_CHARS + 1, 1 << 20])
def test_a_token_file_line_over_the_limit_is_refused(tmp_path: Path, length: int) -> None:
    path = tmp_path / "token"
    path.write_text("a" * length)  # no line break: a reader without a bound reads it all
    path.chmod(0o600)
    with pytest.raises(UsageError, match=f"is over {MAX_TOKEN_CHARS} characters"):
        read_token({}, path)


def test_a_token_at_the_limit_is_taken_and_a_longer_variable_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("a" * MAX_TOKEN_CHARS + "\n")
    path.chmod(0o600)
    assert read_token({}, path) == ("a" * MAX_TOKEN_CHARS, f"--token-file {path}")
    with pytest.raises(UsageError, match=f"at most {MAX_TOKEN_CHARS} characters"):
        read_token({"EVENTD_TOKEN": "a" * (MAX_TOKEN_CHARS + 1)}, None)


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True)])
def test_a_token_file_others_may_open_is_taken_with_a_warning(
    tmp_path: Path, mode: int, warned: bool
) -> None:
    path = tmp_path / "token"
    path.write_text(f"{SECRET}\n")
    path.chmod(mode)
    said: list[str] = []
    assert read_token({}, path, said.append) == (SECRET, f"--token-file {path}")
    expected = (
        f"eventd tail: warning: other users may open {path} (mode {mode:03o}); chmod 600 {path}"
    )
    assert said == ([expected] if warned else [])


def test_the_warning_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "token"
    path.write_text(f"{SECRET}\n")
    path.chmod(0o644)
    read_token({}, path)
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "chmod 600" in err and SECRET not in err


def test_a_refused_request_is_said_with_what_to_check() -> None:
    line = refused(Refused(403), None)
    assert line == (
        "the server answered the upgrade with 403 (Forbidden); trying again would not help: "
        "is the URL's host one the daemon serves (http.allowed_hosts)?"
    )
    assert refused(Refused(400), "EVENTD_TOKEN").endswith("is the token of EVENTD_TOKEN a token?")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([f"--tok={SECRET}"], "--tok=..."),
        (["--tok", SECRET], "--tok and 1 value, not shown"),
        ([SECRET, SECRET], "2 values, not shown"),
        (["--token-fil", "/etc/eventd/token"], "--token-fil and 1 value, not shown"),
    ],
)
def test_an_unknown_argument_is_refused_without_being_repeated(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # No abbreviation is taken either: `--token-fil` is not --token-file.
    with pytest.raises(SystemExit) as exited:
        main(["tail", "--url", "http://127.0.0.1:1", *args])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"eventd: unrecognized arguments: {said}\n")
