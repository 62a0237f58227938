"""Country of a request: CDN headers first, then a MaxMind file if configured, then geoip2fast.

Sources, in order (the first answer wins):

1. CDN headers (``cf-ipcountry``, ``x-vercel-ip-country``, ``cloudfront-viewer-country``,
   ``x-country-code``). "XX"/"ZZ" (unknown) fall through to the IP lookup; "T1" (Tor) stops
   with None, since the exit node's country says nothing about the visitor.
2. A MaxMind GeoLite2/GeoIP2 ``.mmdb`` file, when ``db_path`` is given. It is read with the
   optional ``maxminddb`` package; a path without the package is a startup error.
3. geoip2fast's bundled offline database (IPv4 + IPv6, ~0.2 s and ~20 MB to load), loaded
   once per process on first use or by ``warm()``.

Private, loopback, link-local and other non-global addresses give None without a lookup.
The IP is only read here, never kept.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from agentlytics.errors import ConfigError

__all__ = ["COUNTRY_HEADERS", "GeoResolver"]

COUNTRY_HEADERS = (
    "cf-ipcountry",
    "x-vercel-ip-country",
    "cloudfront-viewer-country",
    "x-country-code",
)
_UNKNOWN = frozenset({"XX", "ZZ"})
_TOR = "T1"
_BUILTIN_FILE = "geoip2fast-ipv6.dat.gz"


class _Lookup(Protocol):
    def lookup(self, ipaddr: str) -> Any: ...


_builtin: _Lookup | None = None
_builtin_lock = threading.Lock()


def _load_builtin() -> _Lookup:
    global _builtin
    with _builtin_lock:
        if _builtin is None:
            # Importing geoip2fast sets PYTHONWARNINGS=ignore and PYTHONIOENCODING in
            # os.environ, which every child process would inherit; put them back.
            saved = {k: os.environ.get(k) for k in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
            try:
                import geoip2fast
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            # An absolute path: given a bare file name, geoip2fast would first look for it
            # (and unpickle it) in the current directory. It keeps its tables in module
            # globals, so there is one database per process.
            path = os.path.join(os.path.dirname(geoip2fast.__file__), _BUILTIN_FILE)
            _builtin = geoip2fast.GeoIP2Fast(geoip2fast_data_file=path)
        return _builtin


def _country_code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def _mmdb_country(record: object) -> str | None:
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        section = record.get(key)
        if isinstance(section, dict) and (code := _country_code(section.get("iso_code"))):
            return code
    return None


def _global_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr) if addr.is_global else None


class GeoResolver:
    """Resolves a request to a two-letter ISO country code, or None.

    Raises:
        ConfigError: ``db_path`` is given but ``maxminddb`` is not installed, or the file
            cannot be opened.
    """

    def __init__(
        self, db_path: str | None = None, use_builtin: bool = True, *, trust_headers: bool = True
    ) -> None:
        self._use_builtin = use_builtin
        # Country headers can be forged by a client that reaches us without the CDN;
        # turn them off when not behind one.
        self._trust_headers = trust_headers
        self._reader: Any = None
        if db_path:
            try:
                import maxminddb
            except ImportError as exc:
                raise ConfigError(
                    f"geoip_db is set to {db_path!r} but the 'maxminddb' package is not "
                    "installed (pip install maxminddb)"
                ) from exc
            try:
                self._reader = maxminddb.open_database(db_path)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot open GeoIP database {db_path!r}: {exc}") from exc

    def warm(self) -> None:
        """Load the bundled database now rather than on the first lookup."""
        if self._use_builtin:
            _load_builtin()

    def close(self) -> None:
        """Close the MaxMind file, if one is open."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def country(self, headers: Mapping[str, str], ip: str | None) -> str | None:
        """Country of the request from its (lowercase-keyed) headers and client IP."""
        if self._trust_headers:
            for name in COUNTRY_HEADERS:
                raw = headers.get(name)
                if raw is None:
                    continue
                if raw.strip().upper() == _TOR:
                    return None
                code = _country_code(raw)
                if code is not None and code not in _UNKNOWN:
                    return code
        return self.country_of_ip(ip)

    def country_of_ip(self, ip: str | None) -> str | None:
        """Country of an IP address from the configured databases, or None."""
        addr = _global_ip(ip)
        if addr is None:
            return None
        if self._reader is not None and (code := _mmdb_country(self._reader.get(addr))):
            return code
        if self._use_builtin:
            code = _country_code(_load_builtin().lookup(addr).country_code)
            if code is not None and code not in _UNKNOWN:
                return code
        return None
