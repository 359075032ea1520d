"""Instructions a real `eventd serve` executes per single POST, by setting, under callgrind.

    .venv/bin/python -m bench.request_instructions [--settings none,both,limit] [--requests 400]

Scenarios 10 and 11 compare requests/s with a setting on and off, but on a shared machine
their rounds spread by tens of percent, more than the settings cost. A count of executed
instructions does not drift: the daemon runs under valgrind's callgrind, answers warm-up
requests, its counters are zeroed, then it answers `--requests` POSTs one at a time (one
connection, so that the store worker's batching cannot differ between settings) and its
counters are dumped. Daemons of the same code and settings still differ by about 1 % (what
the process did before the count started). Needs valgrind (Debian's `valgrind` package);
each setting takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench.ingest import free_port
from bench.ready import NotReady, wait_ready
from eventd.config.tokens import new_token

WARM_UP = 300
START_DEADLINES = 5
# A limit no request reaches: every request takes a token, none is refused (as scenario 11).
LIMIT = {"EVENTD_LIMITS_RATE": "1000000000/s", "EVENTD_LIMITS_BURST": "1000000000"}


def settings(tokens: Path) -> dict[str, dict[str, str]]:
    """Return each setting's environment: as scenarios 10 and 11 set them."""
    return {
        "none": {"EVENTD_METRICS_ENABLED": "false"},
        "auth": {"EVENTD_METRICS_ENABLED": "false", "EVENTD_AUTH_TOKENS_FILE": str(tokens)},
        "metrics": {"EVENTD_METRICS_ENABLED": "true"},
        "both": {"EVENTD_METRICS_ENABLED": "true", "EVENTD_AUTH_TOKENS_FILE": str(tokens)},
        "limit": {"EVENTD_METRICS_ENABLED": "false"} | LIMIT,
    }


async def post(base: str, count: int, token: str) -> None:
    """POST `count` single events one after the other, as bench/lua/post_event.lua makes them."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            body = f'{{"type":"bench","value":{n % 100},"data":{{"n":{n}}}}}'
            async with session.post(f"{base}/events", data=body, headers=headers) as response:
                assert response.status == 201, await response.text()


async def ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait for the daemon: under valgrind its start takes several of wait_ready's deadlines."""
    async with aiohttp.ClientSession() as session:
        for _ in range(START_DEADLINES - 1):
            try:
                await wait_ready(session, base, process=proc)
                return
            except NotReady:
                if proc.poll() is not None:
                    raise
        await wait_ready(session, base, process=proc)


def count(env: dict[str, str], token: str, requests: int) -> float:
    """Return the instructions the daemon executed per request."""
    folder = Path(tempfile.mkdtemp())
    port = free_port()
    env = {"EVENTD_SERVER_PORT": str(port), "EVENTD_LOG_LEVEL": "warning"} | env
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out.%p"]
    proc = subprocess.Popen(
        [*command, sys.executable, "-m", "eventd", "serve"],
        env=os.environ | {"EVENTD_ENGINE": "memory"} | env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(ready(base, proc))
        asyncio.run(post(base, WARM_UP, token))
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        asyncio.run(post(base, requests, token))
        dump = ["callgrind_control", "-d", "measured", str(proc.pid)]
        subprocess.run(dump, check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    for path in folder.iterdir():
        text = path.read_text(errors="replace")
        if "measured" in text[:4000]:
            return int(re.search(r"^summary:\s+(\d+)", text, re.M)[1]) / requests  # type: ignore[index]
    raise RuntimeError(f"no dump of the measured requests in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="none,both,limit")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    secret, table = new_token("bench", frozenset({"write"}))
    with tempfile.TemporaryDirectory() as folder:
        tokens = Path(folder) / "tokens.toml"
        tokens.write_text(table)
        envs = settings(tokens)
        for name in args.settings.split(","):
            token = secret if "EVENTD_AUTH_TOKENS_FILE" in envs[name] else ""
            print(f"{name}: {count(envs[name], token, args.requests):,.0f} instructions/request")


if __name__ == "__main__":
    main()
