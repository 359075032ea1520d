"""The dashboard: a page served by the daemon that watches the change feed live.

Static files shipped in the package (`static/`), plain ES modules with no build step.
"""

from __future__ import annotations

from aiohttp import web

from eventd.dashboard import routes


def setup(app: web.Application) -> None:
    """Serve the page at `/` and its assets under `/dashboard/`."""
    assets = routes.Assets.load()
    app.router.add_get("/", assets.index)
    app.router.add_get("/dashboard/{asset:.+}", assets.asset)
