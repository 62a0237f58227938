"""Pure enrichment helpers: user agent → client, URL → host/path/UTM, referrer host, environment.

Nothing here does I/O; the only state is an LRU cache of parsed user agents (the same
few hundred UA strings make up almost all traffic) and the ua-parser matchers, compiled
once on first use by the Rust resolver (``ua-parser-rs``).

Rules:

- ``parse_user_agent``: browser and OS names are ua-parser's families with mobile variants
  folded into the desktop name ("Mobile Safari" → "Safari", "Chrome Mobile iOS" →
  "Chrome", "Mac OS X" → "macOS"), so a dashboard shows one row per browser and the
  ``device`` column carries the form factor. A missing UA gives "Unknown"; a UA that
  ua-parser does not recognise gives "Other" (as Convalytics' ``convex/ua.ts``). Device is
  "bot" only when ua-parser's device is "Spider"; ``ingest.bots`` decides what to drop.
  iPadOS Safari sends a Mac UA, so it counts as desktop: no UA rule can tell them apart.
- ``split_url``: the page host is lowercased and keeps ``www.`` (it names the site as the
  site calls itself); ports and userinfo are dropped.
- ``referrer_host``: lowercased, without ``www.``; None when empty, unparseable or the
  same site as the page (self-referral), compared with ``www.`` stripped on both sides.
- ``classify_environment``: Convalytics' ``/ingest`` rules, see its docstring.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlsplit

from ua_parser import Domain, Parser, load_lazy_builtins
from ua_parser.regex import Resolver as RustResolver

__all__ = [
    "UTM_KEYS",
    "Client",
    "Device",
    "classify_environment",
    "parse_user_agent",
    "referrer_host",
    "split_url",
]

Device = Literal["desktop", "mobile", "tablet", "bot", "other"]

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_PATH = 500
MAX_UTM = 100
# Longer strings are cut before parsing and caching, so a hostile UA cannot bloat the cache.
MAX_UA = 1024
_MAX_HOST = 253

_BROWSER_ALIASES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
_OS_ALIASES = {"Mac OS X": "macOS"}
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "macOS",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "Fedora",
        "Debian",
        "Red Hat",
        "SUSE",
        "openSUSE",
        "CentOS",
        "Linux Mint",
        "Mint",
        "Arch Linux",
        "Gentoo",
        "Kubuntu",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS"})
_TABLET_DEVICES = frozenset({"iPad", "Kindle", "Generic Tablet"})
_MOBILE_DEVICES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})
_MOBILE_TOKEN = re.compile(r"\bMobile\b")
_HOST_CHARS = re.compile(r"[\w.\-:]+")


@dataclass(frozen=True, slots=True)
class Client:
    """What a user agent says about the client: browser, its major.minor version, OS, device."""

    browser: str
    browser_version: str
    os: str
    device: Device


UNKNOWN_CLIENT = Client(browser="Unknown", browser_version="", os="Unknown", device="other")

_parser: Parser | None = None
_parser_lock = threading.Lock()


def _get_parser() -> Parser:
    global _parser
    with _parser_lock:
        if _parser is None:
            # The Rust resolver compiles lazily per regex; our own LRU sits in front, so
            # ua-parser's CachingResolver would only cache twice.
            _parser = Parser(RustResolver(load_lazy_builtins()))
        return _parser


def parse_user_agent(ua: str | None) -> Client:
    """Parse a User-Agent header into a ``Client`` (LRU-cached, 4096 entries)."""
    if not ua or not (ua := ua.strip()):
        return UNKNOWN_CLIENT
    return _parse_cached(ua[:MAX_UA])


@functools.lru_cache(maxsize=4096)
def _parse_cached(ua: str) -> Client:
    result = _get_parser()(ua, Domain.ALL)
    browser, version = "Other", ""
    if result.user_agent is not None:
        family = result.user_agent.family
        browser = _BROWSER_ALIASES.get(family, family)
        if major := result.user_agent.major:
            minor = result.user_agent.minor
            version = f"{major}.{minor}" if minor else major
    os_name = "Other"
    if result.os is not None:
        os_name = _OS_ALIASES.get(result.os.family, result.os.family)
    device_family = result.device.family if result.device is not None else ""
    device_brand = (result.device.brand or "") if result.device is not None else ""
    return Client(browser, version, os_name, _device(ua, os_name, device_family, device_brand))


def _device(ua: str, os_name: str, family: str, brand: str) -> Device:
    if family == "Spider":
        return "bot"
    if (
        family in _TABLET_DEVICES
        or brand == "Generic_Android_Tablet"
        # Android phones say "Mobile"; Android tablets leave it out (Google's UA guidance).
        or (os_name == "Android" and not _MOBILE_TOKEN.search(ua))
    ):
        return "tablet"
    if family in _MOBILE_DEVICES or os_name in _MOBILE_OS or _MOBILE_TOKEN.search(ua):
        return "mobile"
    if family == "Mac" or os_name in _DESKTOP_OS or os_name.startswith("Windows"):
        return "desktop"
    return "other"


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
        parts.hostname  # noqa: B018 - raises ValueError on a malformed IPv6 literal
    except ValueError:
        return None
    return parts


def _clean_host(host: str | None) -> str | None:
    if not host:
        return None
    host = host.rstrip(".")
    if not host or len(host) > _MAX_HOST or not _HOST_CHARS.fullmatch(host):
        return None
    return host


def split_url(url: str | None) -> tuple[str | None, str | None, dict[str, str]]:
    """Split a page URL into (lowercase host, path without query or fragment, UTM params).

    A bare path ("/pricing?utm_source=x") gives no host. The path is cut to 500 chars and
    each UTM value to 100; empty UTM values are left out.
    """
    if not url:
        return None, None, {}
    parts = _split(url)
    if parts is None:
        return None, None, {}
    host = _clean_host(parts.hostname)
    path = parts.path
    if not path and host is not None:
        path = "/"
    utm: dict[str, str] = {}
    if "utm_" in parts.query.lower():
        for key, value in parse_qsl(parts.query):
            key = key.lower()
            if key in UTM_KEYS and key not in utm and (value := value.strip()):
                utm[key] = value[:MAX_UTM]
    return host, (path[:MAX_PATH] or None), utm


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def referrer_host(referrer: str | None, own_host: str | None) -> str | None:
    """The referrer's lowercase host without ``www.``; None if empty or a self-referral."""
    if not referrer or not (referrer := referrer.strip()):
        return None
    if "://" not in referrer and not referrer.startswith("//"):
        # Some clients send "google.com/search" without a scheme.
        referrer = "//" + referrer
    parts = _split(referrer)
    host = _clean_host(parts.hostname if parts is not None else None)
    if host is None:
        return None
    host = _strip_www(host)
    if own_host and host == _strip_www(own_host.strip().lower().rstrip(".")):
        return None
    return host


# Convalytics' deployment types (convex/deploymentTypes.ts) and the environment each means.
DEPLOYMENT_TYPE_TO_ENV: Mapping[str, str] = {
    "dev": "development",
    "prod": "production",
    "preview": "preview",
    "custom": "production",
}
_PROD_TOKENS = frozenset({"prod", "production"})
_LOCAL_HOSTS = frozenset({"localhost", "0.0.0.0", "::1"})


def classify_environment(
    deployment_name: str | None,
    page_origin: str | None,
    origin_header: str | None,
    *,
    deployment_types: Mapping[str, str] | None = None,
) -> str:
    """Classify an event as "development", "production" (or "preview") as Convalytics does.

    1. A ``deploymentName`` (server events) wins. It is looked up in ``deployment_types``
       (name → Convex type: dev, prod, preview, custom) when the caller has that table.
       Otherwise the name itself decides: a "prod"/"production" word in it (``prod``,
       ``my-app-production``) means production; any other name means development, which
       is Convalytics' answer for a deployment it does not know.
    2. Else the host of ``pageOrigin``, or of the ``Origin`` header: a loopback host
       (localhost and ``*.localhost``, 127.0.0.0/8, 0.0.0.0, ::1) means development,
       any other host production.
    3. Nothing usable at all (no name, no origin, ``Origin: null``) means production.
    """
    if deployment_name and (name := deployment_name.strip()):
        if deployment_types is not None and (kind := deployment_types.get(name)) is not None:
            return DEPLOYMENT_TYPE_TO_ENV.get(kind, "development")
        tokens = re.split(r"[^a-z0-9]+", name.lower())
        return "production" if _PROD_TOKENS.intersection(tokens) else "development"
    for origin in (page_origin, origin_header):
        if not origin or not (origin := origin.strip()) or origin == "null":
            continue
        parts = _split(origin)
        host = parts.hostname if parts is not None else None
        if not host:
            continue
        return "development" if _is_local_host(host) else "production"
    return "production"


def _is_local_host(host: str) -> bool:
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
