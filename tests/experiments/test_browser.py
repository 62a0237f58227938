"""End to end in real Chromium: the tracker is assigned, exposes, converts; the results count it."""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from agentlytics.experiments import assign
from tests.conftest import RunningServer
from tests.factories import CHROME_UA

pytestmark = pytest.mark.browser

TRACKER = (
    Path(__file__).resolve().parents[2] / "src" / "agentlytics" / "web" / "static" / "tracker.js"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def site() -> Iterator[Callable[[str], str]]:
    """A page server on another loopback port (another origin, as a real site would be)."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def publish(page: str) -> str:
        pages["/landing"] = page.encode()
        return f"http://127.0.0.1:{httpd.server_address[1]}/landing"

    yield publish
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def tracker_tag(server: RunningServer, token: str) -> str:
    attrs = f'data-token="{token}" data-api="{server.url}" data-allow-localhost'
    served = httpx.get(server.url + "/tracker.js")
    if served.status_code == 200 and "javascript" in served.headers.get("content-type", ""):
        return f'<script defer src="{server.url}/tracker.js" {attrs}></script>'
    # the server does not serve the tracker (yet): inline the built file
    return f"<script {attrs}>{TRACKER.read_text()}</script>"


def landing_page(server: RunningServer, token: str) -> str:
    return f"""<!doctype html>
<html class="aa-loading"><head><meta charset="utf-8"><title>Landing</title>
{tracker_tag(server, token)}</head>
<body>
<h1 id="hero" data-aa-experiment="hero" data-aa-variant-b="{html.escape("Ship twice as fast")}">Ship faster</h1>
<button id="signup" onclick="window.aa.track('signup', {{plan: 'pro'}})">Sign up</button>
</body></html>"""


def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    """Poll a condition until it holds (events travel by beacon, asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_tracker_assigns_exposes_and_converts_and_results_count_it(
    server: RunningServer, client: httpx.Client, browser: Browser, site: Callable[[str], str]
) -> None:
    project = server.new_project()
    r = client.post(
        "/experiments",
        json={
            "project": project["name"],
            "name": "hero",
            "variants": ["control", "b"],
            "goal_event": "signup",
        },
    )
    assert r.status_code == 201, r.text
    exp_url = f"/experiments/{r.json()['id']}"
    url = site(landing_page(server, project["project_token"]))

    # a visitor forced into b sees b's text, is exposed and signs up
    forced = browser.new_context(user_agent=CHROME_UA)
    try:
        page = forced.new_page()
        page.goto(url + "?aa_variant_hero=b")
        page.wait_for_function(
            "document.getElementById('hero').textContent === 'Ship twice as fast'"
        )
        assert page.evaluate("window.aa.experiment('hero')") == "b"
        assert page.evaluate("document.documentElement.classList.contains('aa-loading')") is False
        page.click("#signup")

        def b_converted() -> dict[str, Any] | None:
            variants = client.get(exp_url).json()["results"]["variants"]
            return variants[1] if variants[1]["conversions"] == 1 else None

        b = eventually(b_converted)
        assert b == {
            "key": "b",
            "exposures": 1,
            "unique_users": 1,
            "conversions": 1,
            "conversion_rate": 1.0,
        }
    finally:
        forced.close()

    # another visitor gets the hash's variant: the same one the server computes for them
    natural = browser.new_context(user_agent=CHROME_UA)
    try:
        page = natural.new_page()
        page.goto(url)
        page.wait_for_function("!document.documentElement.classList.contains('aa-loading')")
        uid = page.evaluate("localStorage.getItem('aa_uid')")
        shown = page.evaluate("window.aa.experiment('hero')")
        assert shown == assign.variant("hero", uid, ["control", "b"], [50, 50])
        text = page.evaluate("document.getElementById('hero').textContent")
        assert text == ("Ship twice as fast" if shown == "b" else "Ship faster")

        def both_exposed() -> dict[str, Any] | None:
            results = client.get(exp_url).json()["results"]
            users = sum(v["unique_users"] for v in results["variants"])
            return results if users == 2 else None

        results = eventually(both_exposed)
        assert results, "the second visitor's exposure never arrived"
    finally:
        natural.close()
    by_key = {v["key"]: v for v in results["variants"]}
    assert by_key[shown]["unique_users"] == (2 if shown == "b" else 1)
    assert by_key["b"]["conversions"] == 1
    assert sum(v["conversions"] for v in results["variants"]) == 1
    exposures = client.get(
        "/events", params={"project": project["name"], "event": "$experiment_exposure"}
    ).json()["events"]
    forced_flags = sorted(bool(e["properties"].get("forced")) for e in exposures)
    assert forced_flags == [False, True]
