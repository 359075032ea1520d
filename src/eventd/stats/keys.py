"""Typed application state of the statistics feature."""

from __future__ import annotations

from aiohttp import web

from eventd.stats.service import StatsService

STATS = web.AppKey("stats", StatsService)
