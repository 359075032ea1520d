"""Typed application state of the timelines feature."""

from __future__ import annotations

from aiohttp import web

from eventd.timelines.service import TransitionsService

TRANSITIONS = web.AppKey("transitions", TransitionsService)
