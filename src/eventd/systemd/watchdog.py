"""The watchdog task: `WATCHDOG=1` only while the event loop and the store worker answer.

Each ping is earned: a `Ping` command goes through the store worker's queue (the worker's
loop takes it and the engine answers it) within one interval. A task on the event loop
sends it, so a blocked loop sends nothing either. When the check fails, no `WATCHDOG=1`
goes out and the log says why; systemd restarts the service once `WatchdogSec` passes
without one.
"""

from __future__ import annotations

import asyncio
import logging

from eventd.errors import Unavailable
from eventd.store.base import StorageError
from eventd.store.commands import Ping
from eventd.store.worker import StoreWorker
from eventd.systemd.notify import Notifier, status

log = logging.getLogger(__name__)


async def check(worker: StoreWorker, within: float) -> str | None:
    """Return why the store worker did not answer a ping `within` seconds, None if it did."""
    try:
        async with asyncio.timeout(within):
            await worker.call(Ping())
    except TimeoutError:
        return f"the store worker did not answer a ping within {within:g} s"
    except (StorageError, Unavailable) as exc:
        return f"the store did not answer a ping: {exc}"
    return None


async def watch(worker: StoreWorker, notifier: Notifier, interval: float) -> None:
    """Send `WATCHDOG=1` every `interval` seconds for as long as `check` passes."""
    loop = asyncio.get_running_loop()
    failing = False
    while True:
        started = loop.time()
        problem = await check(worker, interval)
        if problem is None:
            notifier.notify("WATCHDOG=1")
            if failing:
                log.info("watchdog: the store worker answers again; WATCHDOG=1 sent")
                notifier.notify(status(f"serving, engine {worker.engine.name}"))
                failing = False
        else:
            # Every miss is logged: with WatchdogSec=30s that is at most two lines before
            # systemd restarts the service, each saying why.
            log.warning("watchdog: WATCHDOG=1 not sent: %s", problem)
            if not failing:
                notifier.notify(status(f"store worker not answering: {problem}"))
            failing = True
        await asyncio.sleep(max(0.0, started + interval - loop.time()))
