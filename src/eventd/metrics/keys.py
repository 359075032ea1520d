"""Typed application state of the metrics feature."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
