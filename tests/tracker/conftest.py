"""Real Chromium against fixture pages on a second loopback origin, tracking into the real server."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.factories import CHROME_UA

PAGES = Path(__file__).resolve().parent / "pages"
CHROMIUM = "/usr/bin/chromium"
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
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh visitor: empty storage, a desktop Chrome user agent (HeadlessChrome is a bot)."""
    ctx = browser.new_context(user_agent=CHROME_UA, viewport={"width": 1280, "height": 800})
    try:
        yield ctx
    finally:
        ctx.close()


@dataclass
class Site:
    """Serves one fixture page, with the tracker tag templated in, at every path."""

    origin: str
    current: dict[str, bytes] = field(default_factory=dict)

    def show(self, page: str, tracker_tag: str) -> str:
        html = (PAGES / page).read_text().replace("{{TRACKER}}", tracker_tag)
        self.current["page"] = html.encode()
        return self.origin


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    current: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"" if self.path.startswith("/favicon") else current.get("page", b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{httpd.server_address[1]}", current)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def tracker_tag(src: str, token: str | None = None, *flags: str, **attrs: str) -> str:
    """`<script defer src=… data-token=… data-allow-localhost data-…>`: the page is on 127.0.0.1,
    where the tracker only logs unless told to send."""
    parts = [f'src="{src}"']
    if token:
        parts.append(f'data-token="{token}"')
    parts += ["data-allow-localhost", *(f"data-{f}" for f in flags)]
    parts += [f'data-{k.replace("_", "-")}="{v}"' for k, v in attrs.items()]
    return f"<script defer {' '.join(parts)}></script>"


class Stored:
    """What the server stored for one project, read through GET /events with the owner key."""

    def __init__(self, client: httpx.Client, project: str) -> None:
        self.client, self.project = client, project

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"project": self.project, "limit": 1000}
        if event:
            params["event"] = event
        r = self.client.get("/events", params=params)
        assert r.status_code == 200, r.text
        return sorted(r.json()["events"], key=lambda e: e["timestamp"])

    def wait(
        self, count: int, event: str | None = None, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """Poll (bounded) until at least `count` events are stored; beacons are asynchronous."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(event)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {event or 'events'}, the server stored {len(found)}: {found}"
                )
            time.sleep(0.05)


def wait_until(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.05)
    return value
