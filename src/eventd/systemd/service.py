"""The daemon's life under a service manager: ready, watchdog, reload on SIGHUP, stop.

`eventd serve` makes one `Service` around its app: it sends `READY=1` once the sockets
accept (the store opened before them), runs the watchdog task when systemd asks for one,
reads the configuration again on SIGHUP (`RELOADING=1` ... `READY=1`), and sends
`STOPPING=1` as soon as SIGTERM or SIGINT arrives, before the graceful stop begins.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from eventd.access import protected_mode_refusal
from eventd.config import Config, ConfigError
from eventd.keys import WORKER
from eventd.systemd.notify import Notifier, monotonic_usec, status
from eventd.systemd.reload import apply
from eventd.systemd.watchdog import watch

log = logging.getLogger("eventd")


class Service:
    """Connects an app to the service manager and to the signals that steer it."""

    def __init__(
        self,
        app: web.Application,
        config: Config,
        reread: Callable[[], Config],
        *,
        notifier: Notifier,
        watchdog: float | None,
        where: str,
    ) -> None:
        self.app = app
        self.initial = self.current = config
        self._reread = reread
        self.notifier = notifier
        self._interval = watchdog
        self._where = where
        self._running = False
        self._watchdog: asyncio.Task[None] | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False
        app.cleanup_ctx.append(self._lifetime)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle SIGTERM and SIGINT (stop) and SIGHUP (reload) on `loop`."""
        loop.add_signal_handler(signal.SIGTERM, self._stop)
        loop.add_signal_handler(signal.SIGINT, self._stop)
        loop.add_signal_handler(signal.SIGHUP, self._hangup)

    def running(self, text: str) -> None:
        """Log `text` and tell the manager the daemon is ready: the sockets accept now."""
        log.info("%s", text.strip())
        self._running = True
        engine = self.app[WORKER].engine.name
        self.notifier.notify("READY=1", status(f"serving on {self._where}, engine {engine}"))
        if self._interval is not None:
            log.info(
                "watchdog: WATCHDOG=1 every %g s while the store worker answers", self._interval
            )
            watching = watch(self.app[WORKER], self.notifier, self._interval)
            self._watchdog = asyncio.create_task(watching, name="watchdog")
        if self._reload_again:  # a SIGHUP came during start-up
            self._hangup()

    def _stop(self) -> None:
        self.notifier.notify("STOPPING=1", status("stopping"))
        if self._watchdog is not None:
            self._watchdog.cancel()
        # What aiohttp's own handler does: the runner then stops gracefully.
        raise web.GracefulExit()

    def _hangup(self) -> None:
        if not self._running or (self._reload is not None and not self._reload.done()):
            log.info("SIGHUP: the configuration is read again once %s", self._busy())
            self._reload_again = True
            return
        self._reload = asyncio.create_task(self._reloads(), name="reload")

    def _busy(self) -> str:
        return "start-up is over" if not self._running else "the reload under way is done"

    async def _reloads(self) -> None:
        self._reload_again = True
        while self._reload_again:  # SIGHUPs during a reload fold into one more
            self._reload_again = False
            await self._reload_once()

    async def _reload_once(self) -> None:
        log.info("SIGHUP: reading the configuration again")
        self.notifier.notify("RELOADING=1", monotonic_usec(), status("reloading"))
        outcome = "serving, configuration reloaded"
        try:
            new = await asyncio.to_thread(self._reread)
            # Judged on the address bound: a new server.host only applies at a restart.
            refusal = protected_mode_refusal(dataclasses.replace(new, server=self.initial.server))
            if refusal is not None:
                raise ConfigError(refusal)
        except ConfigError as exc:
            log.error("reload failed, the configuration in use stays: %s", exc)
            outcome = f"serving, reload failed: {exc}"
        except Exception:  # a fault of eventd: logged with its traceback, and serving goes on
            log.exception("reload failed, the configuration in use stays")
            outcome = "serving, reload failed (see the log)"
        else:
            if not await apply(self.app, self.initial, self.current, new):
                outcome = "serving, configuration reloaded in part (see the log)"
            self.current = new
        finally:
            self.notifier.notify("READY=1", status(outcome))

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        # Added after every other context: cleaned up first, before the store worker stops.
        yield
        tasks = [task for task in (self._watchdog, self._reload) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.notifier.close()
