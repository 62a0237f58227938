"""Dashboard fixtures: a server, generated traffic sent through the ingest path, Chromium
(one browser per module) and an owner who claimed a project by signing up in it."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import RunningServer, start_server
from tests.factories import CHROME_UA

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
XSS_PATH = "/<img src=x onerror=window.__xss=1>"
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="needs /usr/bin/chromium"
)


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A private server (provisioning unlimited) so accounts and data are this module's own."""
    running, stop = start_server(
        tmp_path_factory.mktemp("dash"), provision_rate_global=0, provision_rate_per_ip=0
    )
    yield running
    stop()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_up(url: str, email: str, password: str = "a long password") -> httpx.Client:
    """An httpx client signed in as a new account (the caller closes it)."""
    client = httpx.Client(base_url=url, timeout=30)
    token = csrf_of(client.get("/signup").text)
    r = client.post("/signup", data={"csrf_token": token, "email": email, "password": password})
    assert r.status_code == 303, r.text
    return client


def page_csrf(client: httpx.Client) -> str:
    return csrf_of(client.get("/").text)


def _browser_batch(
    url: str, token: str, events: list[dict[str, Any]], *, ua: str, country: str
) -> None:
    """Events as the tracker sends them: from a page (Origin), with its UA and a CDN country."""
    headers = {"Origin": "https://shop.example", "User-Agent": ua, "CF-IPCountry": country}
    for start in range(0, len(events), 100):
        chunk = events[start : start + 100]
        r = httpx.post(
            url + "/track/batch", json={"token": token, "events": chunk}, headers=headers
        )
        assert r.status_code == 202, r.text
        assert r.json()["count"] == len(chunk), r.text


def seed_traffic(url: str, token: str) -> None:
    """A week of a small shop's traffic (and a little the week before), all through /track/batch.

    30 visitors in three (browser, country) groups; sessions of page views from search, a
    newsletter campaign or direct; sign-ups (with plan and e-mail) and purchases; MCP calls.
    """
    now = int(time.time() * 1000)
    hour = 3_600_000
    groups = [(CHROME_UA, "DE"), (FIREFOX_UA, "US"), (IPHONE_UA, "FR")]
    journeys = [
        ["/", "/pricing", "/signup"],
        ["/", "/docs"],
        ["/pricing"],
        ["/", "/pricing", "/docs", "/signup"],
    ]
    for g, (ua, country) in enumerate(groups):
        events: list[dict[str, Any]] = []
        for v in range(10):
            visitor = f"v{g}{v}"
            for s in range(1 + v % 3):
                ts = now - ((v * 13 + s * 29 + g * 7) % 150 + 1) * hour
                if v == 9 and s == 0:
                    ts = now - (8 * 24 + v) * hour  # the previous week
                journey = journeys[(v + s) % len(journeys)]
                props: dict[str, Any] = {}
                if v % 3 == 0:
                    props = {"referrer": "https://www.google.com/search?q=shop"}
                elif v % 3 == 1:
                    props = {"utm_source": "newsletter", "utm_campaign": "spring-sale"}
                sid = f"{visitor}-s{s}"
                for i, path in enumerate(journey):
                    events.append(
                        {
                            "event": "page_view",
                            "user_id": visitor,
                            "session_id": sid,
                            "timestamp": ts + i * 45_000,
                            "properties": {"path": path, **(props if i == 0 else {})},
                        }
                    )
                if journey[-1] == "/signup":
                    events.append(
                        {
                            "event": "signup",
                            "user_id": visitor,
                            "session_id": sid,
                            "user_email": f"{visitor}@shop.example" if v % 2 else None,
                            "timestamp": ts + len(journey) * 45_000,
                            "properties": {"plan": "pro" if v % 2 else "free"},
                        }
                    )
                if journey == journeys[3]:
                    events.append(
                        {
                            "event": "purchase",
                            "user_id": visitor,
                            "session_id": sid,
                            "timestamp": ts + 10 * 45_000,
                            "properties": {"amount": 49, "currency": "EUR"},
                        }
                    )
        if g == 0:
            events.append(
                {
                    "event": "page_view",
                    "user_id": "v00",
                    "session_id": "v00-xss",
                    "timestamp": now - 2 * hour,
                    "properties": {"path": XSS_PATH},
                }
            )
        _browser_batch(url, token, events, ua=ua, country=country)
    calls = [
        {
            "event": "$mcp_call",
            "user_id": "agent-1",
            "session_id": "mcp-1",
            "mcp_session_id": "mcp-1",
            "primitive_type": "tool",
            "primitive_name": "search" if i % 3 else "fetch",
            "latency_ms": 20 + (i * 17) % 300,
            "success": i % 7 != 0,
            "client": "claude-code" if i % 2 else "cursor",
            "timestamp": now - (i + 1) * 2 * hour,
        }
        for i in range(40)
    ]
    r = httpx.post(url + "/track/batch", json={"token": token, "events": calls})
    assert r.status_code == 202, r.text


# the browser ------------------------------------------------------------------------------

SETTLED = (
    "() => document.querySelector('#dash')?.dataset.ready === '1'"
    " && !document.querySelector('[aria-busy=true]')"
)


@dataclass
class Owner:
    email: str
    project: str
    project_id: str
    write_key: str
    storage: Any
    api_key: str

    def api(self, server: RunningServer) -> httpx.Client:
        return server.client(self.api_key)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, storage: Any = None, **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 900})
    return browser.new_context(user_agent=CHROME_UA, storage_state=storage, **options)


def settle(page: Page) -> None:
    page.wait_for_function(SETTLED)


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def owner(chromium: Browser, dash_server: RunningServer) -> Owner:
    """Provision a project, send it traffic, then claim it by signing up in the browser."""
    r = httpx.post(dash_server.url + "/api/provision", json={"name": "Dash Shop"})
    assert r.status_code == 200, r.text
    made = r.json()
    seed_traffic(dash_server.url, made["writeKey"])
    context = new_context(chromium)
    try:
        page = context.new_page()
        page.goto(made["claimUrl"])
        signup = page.locator("form", has=page.locator("input[name=action][value=signup]"))
        signup.get_by_label("E-mail").fill("owner@dash.example")
        signup.get_by_label("Password").fill("a long password")
        signup.get_by_role("button", name="Create account and claim").click()
        page.wait_for_url("**/?claimed=dash-shop")
        storage = context.storage_state()
    finally:
        context.close()
    meta = dash_server.services.meta
    account = meta.get_account_by_email("owner@dash.example")
    assert account is not None
    project = meta.get_project_by_write_key(made["writeKey"])
    assert project is not None and project.account_id == account.id
    _, raw = dash_server.services.projects.create_api_key(account, "test reader", "read")
    return Owner(account.email, project.name, project.id, project.write_key, storage, raw)


@pytest.fixture
def page(chromium: Browser, owner: Owner) -> Iterator[Page]:
    context = new_context(chromium, owner.storage)
    try:
        yield context.new_page()
    finally:
        context.close()


def kpis(page: Page) -> dict[str, float]:
    values = page.eval_on_selector_all(
        "#kpis [data-kpi]", "els => els.map(e => [e.dataset.kpi, e.dataset.value])"
    )
    return {key: float(value) for key, value in values}
