"""Web origins and host names as the daemon compares them: parsed, normalised, never raising.

`Origin` and `Host` headers are client input, and so are the settings that list origins and
hosts; every function here answers None (or a `ValueError` for settings) for text it does not
accept, whatever the text.
"""

from __future__ import annotations

import ipaddress
import re

from yarl import URL

# (scheme, host, port): an origin as RFC 6454 compares them.
OriginKey = tuple[str, str, int | None]
# Opaque origins (sandboxed frames, file:// pages, some redirects) serialise as "null".
NULL_ORIGIN: OriginKey = ("null", "", None)
# A Host header value: an ASCII name or IPv4 address (browsers send IDNA names in their
# ASCII form) or an IPv6 address in brackets, then an optional port.
_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")


def origin_key(text: str) -> OriginKey | None:
    """Return the (scheme, host, port) of a serialised origin, or None if it is not one."""
    if text == "null":
        return NULL_ORIGIN
    try:
        url = URL(text)
        host, port = url.host, url.port
    # yarl raises ValueError (UnicodeError included) for an invalid port, host or IDNA name,
    # and IndexError for some malformed authorities such as "http://[]@".
    except (ValueError, IndexError):
        return None
    if not url.scheme or not host or url.raw_user is not None or url.raw_password is not None:
        return None
    if url.raw_path not in ("", "/") or url.raw_query_string or url.raw_fragment:
        return None
    return url.scheme.lower(), host.lower(), port


def host_key(text: str) -> tuple[str, int | None] | None:
    """Return the (host, port) of a `Host` header value, or None if it is not `host[:port]`."""
    match = _HOST.fullmatch(text)
    if match is None:
        return None
    host, digits = match["host"], match["port"]
    if host.startswith("["):
        try:
            host = str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return None
    port = int(digits) if digits else None
    if port is not None and port > 65535:
        return None
    return host.lower(), port


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address (IPv6 without brackets) always means this machine."""
    host = host.lower()
    # RFC 6761: browsers resolve localhost and *.localhost to loopback, never through DNS.
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_origins(text: str) -> frozenset[OriginKey]:
    """Parse a comma-separated list of origins; raise `ValueError` naming a bad one."""
    keys = set()
    for part in _parts(text):
        key = origin_key(part)
        if key is None or (part != "null" and key[0] not in ("http", "https")):
            raise ValueError(
                f"{part!r} is not an origin: write scheme://host[:port] (http or https, "
                "no path), or null; every origin is listed, there is no wildcard"
            )
        keys.add(key)
    return frozenset(keys)


def parse_hosts(text: str) -> frozenset[str]:
    """Parse a comma-separated list of host names or addresses; raise `ValueError` naming one."""
    hosts = set()
    for part in _parts(text):
        key = host_key(part)
        if key is None or key[1] is not None:
            raise ValueError(
                f"{part!r} is not a host: write a name or an address without port "
                "(IPv6 in brackets); every port matches, there is no wildcard"
            )
        hosts.add(key[0])
    return frozenset(hosts)


def _parts(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]
