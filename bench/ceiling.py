"""The ceiling for scenario 1: a minimal aiohttp handler that parses the same JSON and answers 201.

python -m bench.ceiling PORT
"""

from __future__ import annotations

import sys

import msgspec
from aiohttp import web


async def create(request: web.Request) -> web.Response:
    event = msgspec.json.decode(await request.read())
    return web.Response(
        status=201, body=msgspec.json.encode(event), content_type="application/json"
    )


def main() -> None:
    app = web.Application()
    app.router.add_post("/events", create)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
