"""Typed application state of the core: settings, clock, store worker, feed hub, sockets,
counters, loop lag.

Each feature keeps its own keys in its package (`events.keys`, `stats.keys`, ...).
"""

from __future__ import annotations

from datetime import tzinfo

from aiohttp import web

from eventd.config import Config
from eventd.counters import Counters
from eventd.feed.hub import Hub
from eventd.looplag import LoopLag
from eventd.store.worker import StoreWorker
from eventd.times import Clock

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
NAIVE_TZ: web.AppKey[tzinfo | None] = web.AppKey("naive_tz")
WORKER = web.AppKey("worker", StoreWorker)
HUB = web.AppKey("hub", Hub)
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
COUNTERS = web.AppKey("counters", Counters)
LOOP_LAG = web.AppKey("loop_lag", LoopLag)
