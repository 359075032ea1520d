"""What SIGHUP applies to a running daemon: the reloaders that the core and the features
register, each naming the settings it applies live.

A feature whose settings may change without a restart registers in its `setup(app)`:

    add_reloader(app, ("limits.rate", "limits.burst"), lambda config: limiter.configure(config))

On SIGHUP the daemon reads the configuration again (file, environment and flags as at
start). If it loads, every reloader is called with it, in the order registered, whether or
not its settings changed (a tokens file can change under the same setting); a reloader may
return an awaitable, which is awaited. A reloader must not replace app state (aiohttp
deprecates that once the app runs): it updates an object it published at setup. One that
raises is logged and the others still run. Each changed setting that no reloader names is
logged as taking effect only at the next restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from eventd.config import Config

Apply = Callable[[Config], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Reloader:
    """Applies `keys` (dotted setting names, or whole sections such as `auth`) live."""

    keys: tuple[str, ...]
    apply: Apply
    name: str

    def covers(self, key: str) -> bool:
        """Tell whether this reloader applies the setting `key`."""
        return any(key == k or key.startswith(k + ".") for k in self.keys)


RELOADERS: web.AppKey[list[Reloader]] = web.AppKey("reloaders")


def add_reloader(
    app: web.Application, keys: tuple[str, ...], apply: Apply, *, name: str = ""
) -> None:
    """Register `apply` to be called with the new configuration on each reload."""
    reloaders = app.get(RELOADERS)
    if reloaders is None:
        reloaders = app[RELOADERS] = []
    reloaders.append(Reloader(keys, apply, name or ", ".join(keys)))
