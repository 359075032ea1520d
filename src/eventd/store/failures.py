"""Log a run of store failures as one line, a summary per interval, and the recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class FailureLog:
    """Summarise failures: an outage hit by many requests writes a few lines, not one each.

    `what` names one attempt ("store request"). The first failure of a run is logged at
    once; later ones are counted and logged at most once per `interval` as "N more
    <what>s failed: <reason>"; the first success after a run says how long it lasted and
    how many failed.
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._interval = interval
        self._clock = clock
        self._since: float | None = None  # when the current run of failures began
        self._total = 0
        self._unreported = 0
        self._reported_at = 0.0

    @property
    def failing(self) -> bool:
        """Return whether the last outcome was a failure."""
        return self._since is not None

    def failed(self, reason: str) -> None:
        """Count one failure; log it if it starts a run or an interval has passed."""
        now = self._clock()
        self._total += 1
        if self._since is None:
            self._since = self._reported_at = now
            self._log.warning("%s failed: %s", self._what, reason)
            return
        self._unreported += 1
        if now - self._reported_at >= self._interval:
            self._log.warning("%d more %ss failed: %s", self._unreported, self._what, reason)
            self._unreported = 0
            self._reported_at = now

    def succeeded(self) -> None:
        """End a run of failures, logging how long it lasted."""
        if self._since is None:
            return
        self._log.info(
            "%ss succeed again after %d failed in %.1f s",
            self._what,
            self._total,
            self._clock() - self._since,
        )
        self._since = None
        self._total = self._unreported = 0
