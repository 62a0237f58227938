"""The claim flow in real Chromium: open the claim link, sign up, see the project listed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, csrf_of, provision

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_sign_up_on_the_claim_page_lists_the_project_in_the_account(
    chromium: Browser, open_server: RunningServer
) -> None:
    made = provision(open_server.url, {"name": "Browser Shop"})
    r = httpx.post(open_server.url + "/ingest", json=cnv_event(writeKey=made["writeKey"]))
    assert r.status_code == 200
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(made["claimUrl"])
        assert page.locator("h1").inner_text() == "Claim browser-shop"
        assert "1 event" in page.locator("main").inner_text()
        signup = page.locator("form", has=page.locator("input[name=action][value=signup]"))
        signup.get_by_label("E-mail").fill("owner@shop.example")
        signup.get_by_label("Password").fill("a long password")
        signup.get_by_role("button", name="Create account and claim").click()
        page.wait_for_url(open_server.url + "/?claimed=browser-shop")
        # the projects page (the dashboard's) lists the project for the signed-in account
        page.get_by_text("browser-shop").first.wait_for()
        assert "owner@shop.example" in page.locator("body").inner_text()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["agentlytics_session"]["httpOnly"] is True
        assert cookies["agentlytics_session"]["sameSite"] == "Lax"
        # the same link again: its owner is taken to their projects, anyone else is told
        page.goto(made["claimUrl"])
        page.wait_for_url("**/?claimed=browser-shop")
    finally:
        context.close()
    stranger = chromium.new_context()
    try:
        page = stranger.new_page()
        response = page.goto(made["claimUrl"])
        assert response is not None and response.status == 410
        assert "has been claimed" in page.locator("h1").inner_text()
    finally:
        stranger.close()
    meta = open_server.services.meta
    account = meta.get_account_by_email("owner@shop.example")
    assert account is not None
    assert [p.name for p in meta.list_projects(account.id)] == ["browser-shop"]
    project = meta.get_project_by_write_key(made["writeKey"])
    assert project is not None and project.account_id == account.id


def test_sign_in_then_claim_in_the_browser(chromium: Browser, open_server: RunningServer) -> None:
    with httpx.Client(base_url=open_server.url) as http:
        token = csrf_of(http.get("/signup").text)
        r = http.post(
            "/signup",
            data={
                "csrf_token": token,
                "email": "second@shop.example",
                "password": "another long one",
            },
        )
        assert r.status_code == 303
    made = provision(open_server.url, {"name": "Second Shop"})
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(made["claimUrl"])
        signin = page.locator("form", has=page.locator("input[name=action][value=signin]"))
        signin.get_by_label("E-mail").fill("second@shop.example")
        signin.get_by_label("Password").fill("another long one")
        signin.get_by_role("button", name="Sign in and claim").click()
        page.wait_for_url("**/?claimed=second-shop")
        page.get_by_text("second-shop").first.wait_for()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signin")
    finally:
        context.close()
