"""Serve the dashboard's page and assets from the files shipped in the package."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from aiohttp import web

# Assets are fetched again at most this often; the page itself is revalidated every time,
# so that a new daemon's page is seen at once.
ASSET_CACHE = "public, max-age=300"
INDEX_CACHE = "no-cache"
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
# The page runs only its own files: no inline script or style (uPlot styles its elements
# through the DOM, which a policy does not govern), no plugins, and no framing by another
# site. connect-src 'self' covers the same origin's WebSocket too.
INDEX_HEADERS = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Assets:
    """The shipped files, read once: only their names are ever served, so no path escapes."""

    files: dict[str, Asset]

    @classmethod
    def load(cls) -> Assets:
        """Read every file of `static/` and its folders whose type the dashboard serves."""
        files: dict[str, Asset] = {}
        folders = [("", resources.files("eventd.dashboard").joinpath("static"))]
        while folders:
            prefix, folder = folders.pop()
            for entry in folder.iterdir():
                suffix = "." + entry.name.rpartition(".")[2]
                if entry.is_dir():
                    folders.append((f"{prefix}{entry.name}/", entry))
                elif suffix in CONTENT_TYPES:
                    files[prefix + entry.name] = Asset(entry.read_bytes(), CONTENT_TYPES[suffix])
        return cls(files)

    async def index(self, request: web.Request) -> web.Response:
        """Serve the dashboard's page."""
        return _response(self.files["index.html"], INDEX_CACHE, INDEX_HEADERS)

    async def asset(self, request: web.Request) -> web.Response:
        """Serve one asset by its path under `static/`; anything else is a 404."""
        found = self.files.get(request.match_info["asset"])
        if found is None:
            raise web.HTTPNotFound()
        return _response(found, ASSET_CACHE)


def _response(asset: Asset, cache: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8" if asset.content_type.startswith("text/") else None,
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff", **(headers or {})},
    )
