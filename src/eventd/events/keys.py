"""Typed application state of the events feature."""

from __future__ import annotations

from aiohttp import web

from eventd.events.service import EventService

EVENTS = web.AppKey("events", EventService)
