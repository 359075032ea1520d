"""The `eventd` command run as a real process: check-config, serve, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[1]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0


def command_env(**extra: str) -> dict[str, str]:
    """The test's environment (PYTHONPATH untouched) without stray EVENTD_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTD_")}
    return env | extra


def eventd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventd", *args],
        cwd=REPO,
        env=env or command_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=2) as resp:
        return resp.status, json.loads(resp.read())


def wait_for_health(proc: subprocess.Popen[bytes], base: str, stderr: Path) -> tuple[int, Any]:
    """Poll GET /health until it answers; fail if the daemon exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"eventd exited with {proc.returncode}: {stderr.read_text()}")
        try:
            return request(f"{base}/health")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                pytest.fail(f"eventd did not answer /health in time: {stderr.read_text()}")
            time.sleep(0.05)


def port_is_closed(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# --- check-config ----------------------------------------------------------------------------


@pytest.fixture
def default_config(tmp_path: Path) -> Path:
    """The documented default file, written as an operator would: `eventd config --default`."""
    result = eventd("config", "--default")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "config.toml"
    path.write_text(result.stdout)
    return path


def test_check_config_of_the_default_file(default_config: Path) -> None:
    result = eventd("check-config", str(default_config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{default_config}: ok (engine memory)"
    assert result.stderr == ""


def test_check_config_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 8080\n")
    result = eventd("check-config", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "server.prot" in lines[0]
    assert lines[0].startswith("eventd: configuration error:")


def test_check_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    result = eventd("check-config", str(path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert str(path) in result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"\xff\xfe[server]\n", "not UTF-8"), (b"a=" + b"[" * 100_000, "nested too deeply")],
    ids=["not-utf8", "deep"],
)
def test_check_config_unreadable_content(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    result = eventd("check-config", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"eventd: configuration error: {path}: {reason}")


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": "http://x"}, "engine.redis.url"),
        ({"EVENTD_ENGINE": "mongo", "EVENTD_ENGINE_MONGO_URL": "junk://"}, "engine.mongo.url"),
        ({"EVENTD_STATS_PUSH_INTERVAL": "1e300"}, "stats.push_interval"),
        ({"EVENTD_FEED_HISTORY": "99999999999999999999"}, "feed.history"),
        ({"EVENTD_SERVER_HOST": ""}, "server.host"),
    ],
    ids=["redis-url", "mongo-url", "push-interval", "history", "empty-host"],
)
def test_serve_refuses_bad_settings(env: dict[str, str], key: str) -> None:
    result = eventd("serve", env=command_env(EVENTD_SERVER_PORT=str(free_port()), **env))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"eventd: configuration error: {key}:")


def test_check_config_bad_env(default_config: Path) -> None:
    result = eventd("check-config", str(default_config), env=command_env(EVENTD_SERVER_PORT="abc"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "server.port" in result.stderr


def test_check_config_unknown_env_variable(default_config: Path) -> None:
    result = eventd("check-config", str(default_config), env=command_env(EVENTD_SERVER_PROT="9000"))
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("eventd: configuration error: EVENTD_SERVER_PROT:")


def test_check_config_ignores_test_suite_variables(default_config: Path) -> None:
    env = command_env(EVENTD_TEST_MONGODB_URL="mongodb://127.0.0.1:1", EVENTD_TEST_X="1")
    result = eventd("check-config", str(default_config), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- serve -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_and_stop(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stderr_path = tmp_path / "stderr.log"
    env = command_env(EVENTD_SERVER_PORT=str(port))
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "eventd", "serve"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        status, health = wait_for_health(proc, base, stderr_path)
        assert status == 200
        assert health["status"] == "ok"
        assert health["engine"] == "memory"

        status, event = request(f"{base}/events", {"type": "x"})
        assert status == 201
        assert event["type"] == "x"
        assert event["id"]

        proc.send_signal(sig)
        returncode = proc.wait(timeout=STOP_TIMEOUT)
        log = stderr_path.read_text()
        assert returncode == 0, log
        assert "eventd stopped" in log
        assert "Traceback" not in log
        assert port_is_closed(port)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
