"""Typed application state shared by the HTTP handlers."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from aiohttp import web

from eventd.config import Config
from eventd.feed import Hub
from eventd.service import EventService
from eventd.stats import StatsService
from eventd.store.worker import StoreWorker
from eventd.times import Clock

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
NAIVE_TZ: web.AppKey[tzinfo | None] = web.AppKey("naive_tz")
WORKER = web.AppKey("worker", StoreWorker)
EVENTS = web.AppKey("events", EventService)
HUB = web.AppKey("hub", Hub)
STATS = web.AppKey("stats", StatsService)
SCHEDULER: web.AppKey[Any] = web.AppKey("scheduler")  # an apscheduler AsyncIOScheduler
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
