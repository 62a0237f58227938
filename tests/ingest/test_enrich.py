from __future__ import annotations

import pytest

from agentlytics.ingest.enrich import (
    Client,
    classify_environment,
    parse_user_agent,
    referrer_host,
    split_url,
)

# (user agent, browser, version, os, device): real-world UA strings.
USER_AGENTS = {
    "chrome-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        ("Chrome", "124.0", "Windows", "desktop"),
    ),
    "chrome-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        ("Chrome", "124.0", "macOS", "desktop"),
    ),
    "firefox-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        ("Firefox", "125.0", "Windows", "desktop"),
    ),
    "firefox-ubuntu": (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        ("Firefox", "125.0", "Ubuntu", "desktop"),
    ),
    "safari-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
        ("Safari", "17.4", "macOS", "desktop"),
    ),
    "edge-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
        ("Edge", "124.0", "Windows", "desktop"),
    ),
    "opera-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
        ("Opera", "109.0", "Windows", "desktop"),
    ),
    "ie11-windows7": (
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        ("IE", "11.0", "Windows", "desktop"),
    ),
    "chrome-chromeos": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        ("Chrome", "124.0", "Chrome OS", "desktop"),
    ),
    "safari-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        ("Safari", "17.4", "iOS", "mobile"),
    ),
    "chrome-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        ("Chrome", "124.0", "iOS", "mobile"),
    ),
    "chrome-android": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        ("Chrome", "124.0", "Android", "mobile"),
    ),
    "samsung-internet": (
        "Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        ("Samsung Internet", "24.0", "Android", "mobile"),
    ),
    "firefox-android": (
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        ("Firefox", "125.0", "Android", "mobile"),
    ),
    "facebook-in-app-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/454.0.0.38.106;FBBV/577054632;"
        "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.3.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        ("Facebook", "454.0", "iOS", "mobile"),
    ),
    "wkwebview-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        ("Safari", "", "iOS", "mobile"),
    ),
    "safari-ipad": (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1",
        ("Safari", "16.6", "iOS", "tablet"),
    ),
    "chrome-android-tablet": (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        ("Chrome", "124.0", "Android", "tablet"),
    ),
    "firefox-android-tablet": (
        "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
        ("Firefox", "125.0", "Android", "tablet"),
    ),
    "kindle-silk": (
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/124.2.2 like Chrome/124.0.6367.118 Safari/537.36",
        ("Amazon Silk", "124.2", "Android", "tablet"),
    ),
    "samsung-smart-tv": (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
        ("Samsung Internet", "4.0", "Tizen", "other"),
    ),
    "googlebot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ("Googlebot", "2.1", "Other", "bot"),
    ),
    "gptbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot",
        ("GPTBot", "1.2", "Other", "bot"),
    ),
    "facebookexternalhit": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        ("FacebookBot", "1.1", "Other", "bot"),
    ),
    "headless-chrome": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.6367.60 Safari/537.36",
        ("HeadlessChrome", "124.0", "Linux", "desktop"),
    ),
    "curl": ("curl/8.5.0", ("curl", "8.5", "Other", "other")),
    "python-requests": ("python-requests/2.31.0", ("Python Requests", "2.31", "Other", "other")),
}


@pytest.mark.parametrize(("ua", "expected"), USER_AGENTS.values(), ids=USER_AGENTS.keys())
def test_parse_user_agent_names_browser_version_os_and_device(
    ua: str, expected: tuple[str, str, str, str]
) -> None:
    assert parse_user_agent(ua) == Client(*expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_a_missing_user_agent_is_unknown(ua: str | None) -> None:
    assert parse_user_agent(ua) == Client("Unknown", "", "Unknown", "other")


def test_an_unrecognised_user_agent_is_other() -> None:
    assert parse_user_agent("agentlytics-sdk/0.1.0") == Client("Other", "", "Other", "other")


def test_parse_user_agent_returns_the_cached_result_for_a_repeated_user_agent() -> None:
    ua = USER_AGENTS["chrome-mac"][0]
    assert parse_user_agent(ua) is parse_user_agent(ua)
    assert parse_user_agent(f"  {ua} ") is parse_user_agent(ua)


def test_a_huge_user_agent_is_cut_before_parsing() -> None:
    client = parse_user_agent(USER_AGENTS["chrome-windows"][0] + " x" * 50_000)
    assert client.browser == "Chrome"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://WWW.Example.com:8443/Pricing/?utm_source=news&utm_medium=email"
            "&utm_campaign=spring%20sale&utm_term=&ref=x#plans",
            (
                "www.example.com",
                "/Pricing/",
                {"utm_source": "news", "utm_medium": "email", "utm_campaign": "spring sale"},
            ),
        ),
        ("https://example.com", ("example.com", "/", {})),
        (
            "https://example.com.?utm_content=a&utm_content=b",
            ("example.com", "/", {"utm_content": "a"}),
        ),
        ("http://[::1]:3000/app", ("::1", "/app", {})),
        ("/docs/start?UTM_SOURCE=x", (None, "/docs/start", {"utm_source": "x"})),
        ("http://[::1/broken", (None, None, {})),
        ("http://exa mple.com/x", (None, "/x", {})),
        ("", (None, None, {})),
        (None, (None, None, {})),
    ],
)
def test_split_url_gives_host_path_and_utm(
    url: str | None, expected: tuple[str | None, str | None, dict[str, str]]
) -> None:
    assert split_url(url) == expected


def test_split_url_cuts_the_path_to_500_and_utm_values_to_100_chars() -> None:
    host, path, utm = split_url("https://a.io/" + "p" * 900 + "?utm_term=" + "t" * 300)
    assert host == "a.io"
    assert path is not None and len(path) == 500
    assert utm == {"utm_term": "t" * 100}


@pytest.mark.parametrize(
    ("referrer", "own_host", "expected"),
    [
        ("https://www.Google.com/search?q=agentlytics", "example.com", "google.com"),
        ("https://news.ycombinator.com/item?id=1", None, "news.ycombinator.com"),
        ("https://www.example.com/blog", "example.com", None),
        ("https://example.com/blog", "www.example.com", None),
        ("https://example.com:8443/", "EXAMPLE.com", None),
        ("https://blog.example.com/post", "example.com", "blog.example.com"),
        ("google.com/search", "example.com", "google.com"),
        ("android-app://com.google.android.gm/", "example.com", "com.google.android.gm"),
        ("/relative/path", "example.com", None),
        ("not a url", "example.com", None),
        ("", "example.com", None),
        (None, "example.com", None),
    ],
)
def test_referrer_host_strips_www_and_drops_self_referrals(
    referrer: str | None, own_host: str | None, expected: str | None
) -> None:
    assert referrer_host(referrer, own_host) == expected


@pytest.mark.parametrize(
    ("deployment_name", "page_origin", "origin_header", "expected"),
    [
        ("happy-otter-123", None, None, "development"),
        ("prod", None, None, "production"),
        ("my-app-production", "http://localhost:3000", None, "production"),
        ("reproduce-42", None, None, "development"),
        ("dev", "https://example.com", None, "development"),
        (None, "http://localhost:5173", None, "development"),
        (None, "http://127.0.0.1:8000", None, "development"),
        (None, "http://127.0.1.1", None, "development"),
        (None, "http://0.0.0.0:3000", None, "development"),
        (None, "http://[::1]:3000", None, "development"),
        (None, "http://app.localhost:3000", None, "development"),
        (None, "https://example.com", "http://localhost:3000", "production"),
        (None, None, "http://localhost:3000", "development"),
        (None, "", "https://example.com", "production"),
        (None, "null", None, "production"),
        (None, None, None, "production"),
        ("", None, None, "production"),
    ],
)
def test_classify_environment_follows_convalytics_rules(
    deployment_name: str | None, page_origin: str | None, origin_header: str | None, expected: str
) -> None:
    assert classify_environment(deployment_name, page_origin, origin_header) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("dev", "development"),
        ("prod", "production"),
        ("preview", "preview"),
        ("custom", "production"),
    ],
)
def test_a_known_deployment_is_classified_by_its_type(kind: str, expected: str) -> None:
    types = {"happy-otter-123": kind}
    assert classify_environment("happy-otter-123", None, None, deployment_types=types) == expected


def test_a_deployment_missing_from_the_table_falls_back_to_its_name() -> None:
    types = {"happy-otter-123": "prod"}
    assert classify_environment("other-456", None, None, deployment_types=types) == "development"
