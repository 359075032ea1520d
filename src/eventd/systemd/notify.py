"""The service manager's notification protocol, as sd_notify(3) describes it.

Reference: https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html
(section "Notes" gives the wire format): the manager passes `$NOTIFY_SOCKET`, the path of an
AF_UNIX datagram socket, or an abstract socket name when it starts with `@`. A notification
is one datagram of newline-separated `VARIABLE=value` assignments (`READY=1`, `WATCHDOG=1`,
`STOPPING=1`, `RELOADING=1`, `MONOTONIC_USEC=...`, `STATUS=...`). The watchdog, see
sd_watchdog_enabled(3), is on when `$WATCHDOG_USEC` holds a positive count of microseconds
and `$WATCHDOG_PID`, if set, is this process's id.

The protocol is small enough that a module of our own costs less than a dependency; without
`$NOTIFY_SOCKET` (not under systemd, or `Type=exec`) every notification is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to the service manager at `address` (None: to nobody)."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._failed = False

    @classmethod
    def from_environ(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        """Return a notifier for `$NOTIFY_SOCKET`, a silent one if it is unset or unusable."""
        value = env.get("NOTIFY_SOCKET", "")
        if not value:
            return cls(None)
        if value[0] not in "/@":
            # systemd 253 added vsock: addresses, for virtual machines; not supported here.
            log.warning("NOTIFY_SOCKET=%r is not a unix socket: no notifications sent", value)
            return cls(None)
        return cls(value)

    @property
    def enabled(self) -> bool:
        """Tell whether notifications go anywhere."""
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `assignments` (`"READY=1"`, ...) in one datagram; return whether it went."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address[0] == "@" else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the event loop: a manager that cannot take the datagram now loses it,
            # as sd_notify's callers would (it sends with MSG_DONTWAIT too).
            self._sock.sendto("\n".join(assignments).encode(), socket.MSG_DONTWAIT, target)
        except OSError as exc:
            if not self._failed:  # once: a missing socket would fail every watchdog ping
                log.warning("cannot notify the service manager at %s: %s", self.address, exc)
            self._failed = True
            return False
        if self._failed:
            log.info("notifying the service manager at %s again", self.address)
            self._failed = False
        return True

    def close(self) -> None:
        """Close the socket (a later notification opens it again)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def status(text: str) -> str:
    """Return the `STATUS=` assignment for `text`, kept on one line."""
    return "STATUS=" + " ".join(text.split())


def monotonic_usec() -> str:
    """Return the `MONOTONIC_USEC=` assignment for now, which `RELOADING=1` needs."""
    return f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def watchdog_interval(env: Mapping[str, str] = os.environ) -> float | None:
    """Return the seconds between watchdog pings (half of `$WATCHDOG_USEC`), None if off."""
    text = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not text:
        return None
    if pid and pid != str(os.getpid()):  # meant for another process (the one that exec'd us)
        return None
    try:
        usec = int(text)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds: no watchdog", text)
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
