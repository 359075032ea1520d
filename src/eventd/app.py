"""Build the aiohttp application: state, routes, and the setup/teardown chain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from eventd import auth, dashboard, events, limits, metrics, reminders, stats, timelines
from eventd.config import Config
from eventd.counters import Counters
from eventd.feed.hub import Hub
from eventd.http import origin
from eventd.http.middlewares import errors
from eventd.http.routes import setup_routes
from eventd.http.timeouts import body_timeout, handler_args
from eventd.jobs import scheduler as jobs
from eventd.keys import CLOCK, CONFIG, COUNTERS, HUB, LOOP_LAG, NAIVE_TZ, SOCKETS, WORKER
from eventd.looplag import LoopLag
from eventd.reloading import RELOADERS, add_reloader
from eventd.store import make_engine
from eventd.store.base import Engine
from eventd.store.commands import Clear
from eventd.store.worker import StoreWorker
from eventd.times import Clock, resolve_timezone, wall_clock_us
from eventd.ws.protocol import CLOSE_GOING_AWAY

log = logging.getLogger(__name__)
# Each feature plugs itself in with `setup(app)`: its state, routes, channels and jobs.
FEATURES = (auth, limits, events, stats, reminders, timelines, dashboard, metrics)


def create_app(
    config: Config,
    *,
    clock: Clock = wall_clock_us,
    engine: Engine | None = None,
    clear: bool = False,
) -> web.Application:
    """Return the daemon's application; the store opens when the app starts."""
    origins = origin.OriginPolicy(config)
    app = web.Application(
        client_max_size=config.limits.max_body_bytes,
        # `errors` outermost: no failure, not even in the origin check, answers a bare 500.
        # Credentials after the origin check, so that 401s carry CORS headers and
        # preflights (which carry no credentials) are answered first. `limits` goes in
        # between, after the origin check, when a rate is set.
        middlewares=[errors, origin.middleware(origins), auth.check_scope, body_timeout],
        # Bodies are inflated by http/decoding.py, in steps and up to the size limit.
        handler_args=handler_args(config.server) | {"auto_decompress": False},
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    app[NAIVE_TZ] = resolve_timezone(config.time.naive_timezone)
    app[SOCKETS] = set()
    app[COUNTERS] = Counters()
    app[RELOADERS] = []
    add_reloader(app, ("http.cors_origins", "http.allowed_hosts"), origins.configure)
    app[LOOP_LAG] = lag = LoopLag(config.log.slow_callback)
    add_reloader(app, ("log.slow_callback",), lambda new: lag.configure(new.log.slow_callback))
    # First, so that it also watches the start-up (the rebuilds) and the shutdown.
    app.cleanup_ctx.append(_loop_lag)
    app.cleanup_ctx.append(_store(engine or make_engine(config), clear=clear))
    app.cleanup_ctx.append(_feed)
    app.on_shutdown.append(_close_sockets)
    setup_routes(app)
    jobs.setup(app)
    for feature in FEATURES:
        feature.setup(app)
    app.cleanup_ctx.append(jobs.start_jobs)  # after the features: jobs stop before them
    return app


def _store(engine: Engine, *, clear: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        worker = StoreWorker(
            engine,
            queue_size=config.store.queue_size,
            batch_limit=config.store.batch_limit,
            enqueue_timeout=config.store.enqueue_timeout,
            retry_after=config.store.retry_after,
        )
        await worker.start()
        log.info("store open: engine %s", engine.name)
        if clear:
            deleted = await worker.call(Clear())
            log.info("cleared the store: %d events deleted", deleted)
        app[WORKER] = worker
        yield
        await worker.stop(drain_timeout=config.server.shutdown_timeout)
        log.info("store closed")

    return store_ctx


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.current_task()
    if task is not None and task.get_name().startswith("Task-"):
        # aiohttp starts and stops the app in a task of its own, unnamed: the rebuilds at
        # start-up run in it, and the loop-lag warnings name it.
        task.set_name("app-lifecycle")
    app[LOOP_LAG].start()
    yield
    app[LOOP_LAG].stop()


async def _feed(app: web.Application) -> AsyncIterator[None]:
    hub = Hub(app[WORKER].engine)
    await hub.start()
    app[HUB] = hub
    yield
    await hub.stop()


async def _close_sockets(app: web.Application) -> None:
    """Close every WebSocket with 1001 (going away) when the daemon stops."""
    sockets = app[SOCKETS].copy()
    await asyncio.gather(
        *(ws.close(code=CLOSE_GOING_AWAY, message=b"server shutdown") for ws in sockets),
        return_exceptions=True,
    )
