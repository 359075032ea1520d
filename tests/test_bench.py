"""The benchmark suite: its quick run, so that its code cannot rot, and its readiness waits.

No timing is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pytest
from bench.ingest import free_port
from bench.ready import NotReady, answers_http, wait_for, wait_ready

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]


def test_quick_run_fills_every_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads((tmp_path / "benchmarks.json").read_text())
    scenarios = {figure["scenario"].split(".")[0] for figure in figures}
    assert scenarios == {"1", "2", "3 and 4", "5", "6", "7", "8", "9", "10", "11", "12"}
    assert all(figure["value"] >= 0 for figure in figures)
    assert all(figure["met"] is None for figure in figures)  # quick figures judge nothing
    report = (tmp_path / "benchmarks.md").read_text()
    assert "## Machine" in report and "| 6 |" in report


@pytest.mark.parametrize("path", ["import", "single"])
async def test_the_counted_paths_store_and_window_every_event(path: str) -> None:
    # bench.instructions counts these paths under valgrind; here they run bare, small.
    from bench.instructions import events, run_path

    stored, windowed = await run_path(path, events(path, 300))
    assert (stored, windowed) == (300, 300)


# --- readiness: benchmarks wait until the servers they start answer ----------------------------

# The ceiling server, started only when the test says so: a server that is slow to start,
# as on a loaded machine, without guessing how slow.
HELD_CEILING = """
import sys
sys.stdin.readline()
sys.argv = ["bench.ceiling", sys.argv[1]]
from bench.ceiling import main
main()
"""


def wrk_status(url: str) -> int:
    command = ["wrk", "-t1", "-c2", "-d1s", "-s", str(ROOT / "bench/lua/post_event.lua"), url]
    return subprocess.run(command, capture_output=True, check=False).returncode


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed")
def test_wait_for_a_slow_starting_ceiling_server() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    ceiling = subprocess.Popen(
        [sys.executable, "-c", HELD_CEILING, str(port)], cwd=ROOT, stdin=subprocess.PIPE
    )
    assert ceiling.stdin is not None
    try:
        # What the old fixed sleep ran into when the server was not up yet: wrk exits 1.
        assert not answers_http(url)()
        assert wrk_status(url) == 1
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(wait_for, answers_http(url), "the ceiling", process=ceiling)
            ceiling.stdin.write(b"start\n")
            ceiling.stdin.flush()
            waiting.result()
        assert wrk_status(url) == 0
    finally:
        ceiling.stdin.close()
        ceiling.terminate()
        ceiling.wait(timeout=30)


def test_wait_for_fails_at_once_when_the_server_exits() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(NotReady, match="exited with status 3"):
        wait_for(lambda: False, "the server", process=process)


def test_wait_for_gives_up_after_its_deadline() -> None:
    with pytest.raises(NotReady, match="did not answer within"):
        wait_for(lambda: False, "the server", timeout=0)


async def test_wait_ready_fails_at_once_when_eventd_exits() -> None:
    env = os.environ | {"EVENTD_SERVER_PORT": "-1"}  # invalid: the daemon exits with 2
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen does not wait
        [sys.executable, "-m", "eventd", "serve"], env=env
    )
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(NotReady, match="exited with status 2"):
                await wait_ready(session, f"http://127.0.0.1:{free_port()}", process=process)
    finally:
        process.wait(timeout=30)
