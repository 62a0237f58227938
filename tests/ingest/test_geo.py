from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from agentlytics.errors import ConfigError
from agentlytics.ingest.geo import GeoResolver

PUBLIC_IPS = {
    "8.8.8.8": "US",
    "81.2.69.160": "GB",
    "::ffff:8.8.8.8": "US",
    "2001:4860:4860::8888": "US",
    "2a00:1450:4001:800::200e": "DE",
}


@pytest.fixture(scope="module")
def geo() -> GeoResolver:
    resolver = GeoResolver()
    resolver.warm()
    return resolver


@pytest.mark.parametrize(("ip", "country"), PUBLIC_IPS.items())
def test_a_public_ip_resolves_with_the_bundled_database(
    geo: GeoResolver, ip: str, country: str
) -> None:
    assert geo.country({}, ip) == country


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "127.0.0.1",
        "192.168.1.20",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "nope",
        "",
        None,
    ],
)
def test_private_loopback_and_invalid_ips_have_no_country(geo: GeoResolver, ip: str | None) -> None:
    assert geo.country({}, ip) is None


@pytest.mark.parametrize(
    "header",
    ["cf-ipcountry", "x-vercel-ip-country", "cloudfront-viewer-country", "x-country-code"],
)
def test_a_cdn_country_header_wins_over_the_ip(geo: GeoResolver, header: str) -> None:
    assert geo.country({header: " de "}, "8.8.8.8") == "DE"


def test_cloudflare_comes_before_the_other_headers(geo: GeoResolver) -> None:
    assert geo.country({"x-vercel-ip-country": "FR", "cf-ipcountry": "NL"}, None) == "NL"


@pytest.mark.parametrize("unknown", ["XX", "ZZ", "", "USA", "1A"])
def test_an_unknown_or_malformed_header_falls_back_to_the_ip(
    geo: GeoResolver, unknown: str
) -> None:
    assert geo.country({"cf-ipcountry": unknown}, "8.8.8.8") == "US"


def test_tor_traffic_has_no_country(geo: GeoResolver) -> None:
    assert geo.country({"cf-ipcountry": "T1"}, "8.8.8.8") is None


def test_headers_are_ignored_when_not_trusted() -> None:
    assert GeoResolver(trust_headers=False).country({"cf-ipcountry": "DE"}, "8.8.8.8") == "US"


def test_without_the_bundled_database_only_headers_answer() -> None:
    resolver = GeoResolver(use_builtin=False)
    assert resolver.country({}, "8.8.8.8") is None
    assert resolver.country({"cf-ipcountry": "JP"}, "8.8.8.8") == "JP"


@pytest.mark.skipif(
    importlib.util.find_spec("maxminddb") is not None, reason="maxminddb is installed"
)
def test_a_maxmind_path_without_maxminddb_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="maxminddb"):
        GeoResolver(db_path="/data/GeoLite2-Country.mmdb")


def test_loading_the_bundled_database_leaves_the_environment_alone() -> None:
    # geoip2fast sets PYTHONWARNINGS=ignore on import; a fresh process shows whether we undo it.
    code = (
        "import os; from agentlytics.ingest.geo import GeoResolver; GeoResolver().warm(); "
        "print(os.environ.get('PYTHONWARNINGS'), os.environ.get('PYTHONIOENCODING'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "None"]
