"""Typed application state of the reminders feature."""

from __future__ import annotations

from aiohttp import web

from eventd.reminders.service import ReminderService

REMINDERS = web.AppKey("reminders", ReminderService)
