"""Keep the daemon serving when file descriptors run short: a higher limit, a quiet log."""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("eventd")

# The message asyncio's selector loop passes with each accept() that fails for want of a
# resource; it then stops accepting for a second and tries again.
ACCEPT_FAILED = "socket.accept() out of system resource"
REPORT_INTERVAL = 10.0


def open_file_limit() -> int:
    """Return the soft limit on open file descriptors."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_file_limit() -> int:
    """Raise the soft limit on open file descriptors to the hard one; return the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            # An unlimited hard limit can exceed what the kernel allows (fs.nr_open).
            log.warning("cannot raise the open file limit from %d: %s", soft, exc)
    return open_file_limit()


class AcceptFailureReporter:
    """A loop exception handler that reports failed accepts at most once per interval."""

    def __init__(
        self,
        interval: float = REPORT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        limit: Callable[[], int] = open_file_limit,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.limit = limit
        self.suppressed = 0
        self.last: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Report a failed accept briefly; hand every other context to the default handler."""
        exc = context.get("exception")
        if context.get("message") != ACCEPT_FAILED or not isinstance(exc, OSError):
            loop.default_exception_handler(context)
            return
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.suppressed += 1
            return
        log.warning("cannot accept connections: %s%s", self.reason(exc), self.repeats())
        self.last = now
        self.suppressed = 0

    def reason(self, exc: OSError) -> str:
        """Say why accept() failed, with the limit when descriptors ran out."""
        if exc.errno == errno.EMFILE:
            return f"too many open files (limit {self.limit()})"
        return exc.strerror or str(exc)

    def repeats(self) -> str:
        """Count the failures not reported since the previous line."""
        if not self.suppressed:
            return ""
        return f" ({self.suppressed} more since the previous report)"


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Raise the open file limit and quieten failed-accept reports on `loop`."""
    log.info("open file limit: %d", raise_open_file_limit())
    loop.set_exception_handler(AcceptFailureReporter())
