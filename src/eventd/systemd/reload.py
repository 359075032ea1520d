"""Apply a configuration read again on SIGHUP through the registered reloaders."""

from __future__ import annotations

import functools
import inspect
import logging

from aiohttp import web

from eventd.config import Config, settings
from eventd.reloading import RELOADERS, Reloader

log = logging.getLogger(__name__)


def changed(old: Config, new: Config) -> list[str]:
    """Return the dotted names of the settings whose values differ, in declaration order."""
    return [s.name for s in settings() if _value(old, s.name) != _value(new, s.name)]


def _value(config: Config, name: str) -> object:
    return functools.reduce(getattr, name.split("."), config)


def _live(reloaders: list[Reloader], key: str) -> bool:
    return any(reloader.covers(key) for reloader in reloaders)


async def apply(app: web.Application, initial: Config, current: Config, new: Config) -> bool:
    """Apply `new` live where a reloader can; log what needs a restart; return whether every
    reloader succeeded.

    `initial` is the configuration the daemon started with (what a restart-only setting is
    still at), `current` the one applied last.
    """
    reloaders = app.get(RELOADERS, [])
    for key in changed(initial, new):
        if not _live(reloaders, key):
            log.warning("reload: %s changed; it takes effect at the next restart", key)
    ok = True
    for reloader in reloaders:
        try:
            result = reloader.apply(new)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("reload: applying %s failed", reloader.name)
            ok = False
    # Names only: values can be secrets (or their hashes).
    live = [key for key in changed(current, new) if _live(reloaders, key)]
    log.info("configuration reloaded; applied: %s", ", ".join(live) or "no live setting changed")
    return ok
