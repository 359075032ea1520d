"""The dashboard's page and assets over plain HTTP: types, cache headers, and nothing else."""

from __future__ import annotations

import asyncio
import fnmatch
import tomllib
from pathlib import Path

import pytest

from eventd.dashboard.routes import ASSET_CACHE, INDEX_CACHE
from tests.conftest import MakeClient


async def test_the_page_is_served_at_the_root_and_revalidated(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == INDEX_CACHE == "no-cache"
    page = await response.text()
    assert 'data-testid="connection"' in page
    assert 'src="/dashboard/app.js"' in page


async def test_the_page_runs_only_its_own_files_and_is_never_framed(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    response = await client.get("/")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["script-src" if "script-src" in policy else "default-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript"),
        ("connection.js", "text/javascript"),
        ("style.css", "text/css"),
        ("vendor/uPlot.esm.js", "text/javascript"),
        ("vendor/uPlot.min.css", "text/css"),
        ("vendor/uPlot.LICENSE.txt", "text/plain"),
    ],
)
async def test_an_asset_is_served_with_its_type_and_cached(
    make_client: MakeClient, name: str, content_type: str
) -> None:
    client = await make_client()
    response = await client.get(f"/dashboard/{name}")
    assert response.status == 200
    assert response.content_type == content_type
    assert response.charset == "utf-8"
    assert response.headers["Cache-Control"] == ASSET_CACHE
    assert ASSET_CACHE.startswith("public, max-age=")
    assert len(await response.read()) > 0


async def test_every_module_the_page_imports_is_served(make_client: MakeClient) -> None:
    client = await make_client()
    app = await (await client.get("/dashboard/app.js")).text()
    for name in ("api.js", "connection.js", "feed.js", "state.js"):
        assert f'from "./{name}"' in app
        assert (await client.get(f"/dashboard/{name}")).status == 200


async def test_an_unknown_asset_is_a_json_404(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/dashboard/nothing.js")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "target",
    [
        "/dashboard/../config.toml",
        "/dashboard/../../pyproject.toml",
        "/dashboard/%2e%2e/config.toml",
        "/dashboard/%2e%2e%2fconfig.toml",
        "/dashboard/..%2f..%2fpyproject.toml",
        "/dashboard/%2E%2E%2F%2E%2E%2Fpyproject.toml",
        "/dashboard/..%5c..%5cpyproject.toml",
        "/dashboard/%252e%252e%252fconfig.toml",
        "/dashboard/..",
        "/dashboard/.",
        "/dashboard/__init__.py",
        "/dashboard/routes.py",
        "/dashboard/vendor/../routes.py",
        "/dashboard/vendor/%2e%2e/__init__.py",
        "/dashboard/vendor",
        "/dashboard/vendor/",
    ],
)
async def test_a_path_outside_the_assets_is_refused(make_client: MakeClient, target: str) -> None:
    client = await make_client()
    status, body = await _raw_get(client.host, client.port, target)
    assert 400 <= status < 500, (target, status)
    assert b"[server]" not in body and b"[project]" not in body and b"import" not in body


async def _raw_get(host: str, port: int, target: str) -> tuple[int, bytes]:
    """Send the request target as written: HTTP clients normalise `..` before sending."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_every_static_file_is_packaged() -> None:
    """A file left out of `package-data` would be missing from a wheel, not from a checkout."""
    root = Path(__file__).parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["eventd"]
    package = root / "src" / "eventd"
    static = sorted(
        path for path in (package / "dashboard" / "static").rglob("*") if path.is_file()
    )
    assert static
    for path in static:
        name = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
