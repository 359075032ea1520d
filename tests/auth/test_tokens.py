"""Tokens as settings: [[auth.tokens]], auth.anonymous, auth.tokens_file, `eventd token new`,
and protected mode."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventd.access import anonymous_scopes, protected_mode_refusal
from eventd.cli import main
from eventd.config import SCOPES, ConfigError, digest, load
from tests.auth.tokens import bearer
from tests.conftest import MakeClient, make_config
from tests.daemon import REPO, Daemon
from tests.redis_server import free_port

SHA = digest("s3cret")


def write(tmp_path: Path, text: str, name: str = "eventd.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tokens_are_read_from_the_file(tmp_path: Path) -> None:
    text = (
        '[auth]\nanonymous = ["read"]\n'
        f'[[auth.tokens]]\nname = "ci"\nsha256 = "{SHA.upper()}"\nscopes = ["write", "read"]\n'
    )
    auth = load(write(tmp_path, text)).auth
    assert [(t.name, t.sha256, t.scopes) for t in auth.tokens] == [
        ("ci", SHA, frozenset({"read", "write"}))
    ]
    assert auth.anonymous == "read"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('name = "a"\nsha256 = "00"\nscopes = ["read"]', ["token 1 ('a')", "sha256"]),
        (f'name = "a"\nsha256 = "{SHA}"\nscopes = ["reed"]', ["token 1 ('a')", "'reed'"]),
        (f'name = "a"\nsha256 = "{SHA}"\nscopes = []', ["at least one"]),
        (f'name = "a"\nsha256 = "{SHA}"\nscopes = "read"', ["list of strings"]),
        (f'name = "a b"\nsha256 = "{SHA}"\nscopes = ["read"]', ["name must be"]),
        (f'sha256 = "{SHA}"\nscopes = ["read"]', ["missing key 'name'"]),
        (f'name = "a"\nsha256 = "{SHA}"\nscopes = ["read"]\nsecret = "x"', ["'secret'"]),
    ],
)
def test_a_bad_token_table_is_a_config_error_naming_it(
    tmp_path: Path, table: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(write(tmp_path, f"[[auth.tokens]]\n{table}\n"))
    text = str(exc_info.value)
    assert text.startswith("auth.tokens: ") and "\n" not in text, text
    for word in words:
        assert word in text, text


def test_tokens_must_be_tables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^auth\.tokens: expected \[\[auth\.tokens\]\]"):
        load(write(tmp_path, '[auth]\ntokens = "x"\n'))


def test_a_bad_anonymous_scope_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^auth\.anonymous: 'everything' is not a scope"):
        load(write(tmp_path, '[auth]\nanonymous = ["read", "everything"]\n'))


def test_two_tokens_with_one_name_or_secret(tmp_path: Path) -> None:
    one = f'[[auth.tokens]]\nname = "a"\nsha256 = "{SHA}"\nscopes = ["read"]\n'
    other = f'[[auth.tokens]]\nname = "a"\nsha256 = "{digest("x")}"\nscopes = ["read"]\n'
    with pytest.raises(ConfigError, match="two tokens are named 'a'"):
        load(write(tmp_path, one + other))
    with pytest.raises(ConfigError, match="sha256 of another token"):
        load(write(tmp_path, one + one.replace('"a"', '"b"')))


def test_tokens_file(tmp_path: Path) -> None:
    tokens = write(
        tmp_path, f'[[auth.tokens]]\nname = "f"\nsha256 = "{SHA}"\nscopes = ["admin"]\n', "t.toml"
    )
    config = load(env={"EVENTD_AUTH_TOKENS_FILE": str(tokens)})
    assert config.auth.tokens_file == str(tokens)
    assert anonymous_scopes(config) == frozenset()  # a token exists: nothing without one


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[auth.tokens]]\nname = 1\n", ["t.toml: token 1", "missing key"]),
        ("[server]\nport = 1\n", ["t.toml: must hold only [[auth.tokens]] tables"]),
        ("[[auth.tokens]\n", ["t.toml: not a valid TOML file"]),
    ],
)
def test_a_bad_tokens_file_is_a_config_error(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text, "t.toml")
    with pytest.raises(ConfigError) as exc_info:
        load(write(tmp_path, f'[auth]\ntokens_file = "{path}"\n'))
    assert str(exc_info.value).startswith("auth.tokens_file: "), exc_info.value
    for word in words:
        assert word in str(exc_info.value)


def test_a_missing_tokens_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^auth\.tokens_file: .*nosuch.toml: cannot read"):
        load(env={"EVENTD_AUTH_TOKENS_FILE": str(tmp_path / "nosuch.toml")})


def test_a_token_in_the_file_and_in_the_config_must_differ(tmp_path: Path) -> None:
    table = f'[[auth.tokens]]\nname = "a"\nsha256 = "{SHA}"\nscopes = ["read"]\n'
    path = write(tmp_path, table, "t.toml")
    with pytest.raises(ConfigError, match=r"^auth\.tokens_file: two tokens are named 'a'"):
        load(write(tmp_path, f'[auth]\ntokens_file = "{path}"\n{table}'))


# --- eventd token new ------------------------------------------------------------------------


def new_token(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    assert main(["token", "new", *args]) == 0
    out = capsys.readouterr().out
    secret = out.splitlines()[1]
    return secret, out[out.index("[[auth.tokens]]") :]


async def test_token_new_pasted_into_a_config_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_client: MakeClient
) -> None:
    secret, table = new_token(capsys, "ci", "--scopes", "write,read")
    assert len(secret) >= 40 and secret not in table
    config = load(write(tmp_path, "[auth]\nanonymous = []\n" + table))
    assert [(t.name, t.scopes) for t in config.auth.tokens] == [("ci", {"read", "write"})]
    config = dataclasses.replace(config, time=make_config().time)
    client = await make_client(config)
    assert (await client.post("/events", json={"id": "x"})).status == 401
    response = await client.post("/events", json={"id": "x"}, headers=bearer(secret))
    assert response.status == 201
    response = await client.delete("/events?confirm=true", headers=bearer(secret))
    assert response.status == 403


def test_token_new_makes_a_new_secret_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = new_token(capsys, "a", "--scopes", "read")
    second, _ = new_token(capsys, "a", "--scopes", "read")
    assert first != second


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["a", "--scopes", "read,root"], ["--scopes", "'root' is not a scope"]),
        (["a", "--scopes", ","], ["names no scope"]),
        (["a b", "--scopes", "read"], ["NAME must be"]),
    ],
)
def test_token_new_refuses_bad_input(
    capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    assert main(["token", "new", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    for word in words:
        assert word in err


# --- protected mode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "auth", "expected"),
    [
        ("127.0.0.1", {}, set(SCOPES)),
        ("::1", {}, set(SCOPES)),
        ("localhost", {}, set(SCOPES)),
        ("0.0.0.0", {}, None),
        ("192.0.2.1", {}, None),
        ("0.0.0.0", {"anonymous": ["read"]}, {"read"}),
        ("127.0.0.1", {"anonymous": ["read"]}, {"read"}),
        ("0.0.0.0", {"tokens": [{"name": "a", "sha256": SHA, "scopes": ["read"]}]}, set()),
        (
            "0.0.0.0",
            {"tokens": [{"name": "a", "sha256": SHA, "scopes": ["read"]}], "anonymous": "read"},
            {"read"},
        ),
    ],
)
def test_protected_mode(host: str, auth: dict[str, Any], expected: set[str] | None) -> None:
    config = make_config(server={"host": host}, auth=auth)
    assert anonymous_scopes(config) == expected
    assert (protected_mode_refusal(config) is None) == (expected is not None)


def run_serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventd", "serve", "--port", str(free_port()), *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"} | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.slow
def test_a_public_bind_without_a_token_exits_2_with_one_line() -> None:
    result = run_serve("--host", "0.0.0.0")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("eventd: refusing to listen on 0.0.0.0 without a token")
    assert "auth.anonymous" in lines[0] and "auth.tokens" in lines[0]


@pytest.mark.slow
async def test_a_public_bind_starts_when_anonymous_scopes_are_granted(tmp_path: Path) -> None:
    async with Daemon(tmp_path, "--host", "0.0.0.0", EVENTD_AUTH_ANONYMOUS="read") as daemon:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{daemon.base}/events") as response:
                assert response.status == 200
            async with session.post(f"{daemon.base}/events", json={}) as response:
                assert response.status == 401
        assert await daemon.stop() == 0
