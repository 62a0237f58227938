"""The browser tracker in real Chromium: what the server stores for each thing a visitor does.

Every test loads a fixture page from a second loopback origin (tests/tracker/pages/), with the
tracker served by the real server, and asserts on what GET /events (or POST /query) returns.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request

from tests.conftest import RunningServer
from tests.tracker.conftest import Site, Stored, tracker_tag

pytestmark = pytest.mark.browser


@pytest.fixture
def client(server: RunningServer) -> Any:
    with server.client() as c:
        yield c


def open_page(
    server: RunningServer,
    client: httpx.Client,
    site: Site,
    context: BrowserContext,
    *flags: str,
    page: str = "app.html",
    path: str = "/",
    project: dict[str, Any] | None = None,
    init_script: str | None = None,
) -> tuple[Page, Stored, list[Request]]:
    """A new project, the fixture page with the tracker tag, and a log of tracker requests."""
    project = project or server.new_project()
    origin = site.show(
        page, tracker_tag(f"{server.url}/tracker.js", project["project_token"], *flags)
    )
    if init_script:
        context.add_init_script(init_script)
    sent: list[Request] = []
    beacons = {server.url + p for p in ("/track", "/track/batch", "/identify")}
    context.on("request", lambda r: sent.append(r) if r.url in beacons else None)
    tab = context.new_page()
    tab.goto(origin + path)
    tab.wait_for_function("window.aa && window.convalytics")
    return tab, Stored(client, project["name"]), sent


def settle(tab: Page, stored: Stored, count: int) -> list[dict[str, Any]]:
    """A marker event sent last: once it is stored, everything sent before it has been too.
    Returns the events before the marker, and checks there are exactly `count` of them."""
    tab.evaluate("window.aa.track('test_done')")
    stored.wait(1, "test_done")
    found = [e for e in stored.events() if e["event"] != "test_done"]
    assert len(found) == count, found
    return found


def test_page_views_on_load_and_every_spa_navigation(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, _ = open_page(server, client, site, context, path="/app")
    [load] = stored.wait(1, "page_view")
    assert load["path"] == "/app"
    props = load["properties"]
    assert props["url"].endswith("/app") and props["title"] == "Fixture app"
    assert props["screen"] == "1280x800" and props["language"] and props["timezone"]
    assert load["session_id"] and load["user_id"] == tab.evaluate("localStorage.getItem('aa_uid')")

    steps = [
        ("history.pushState({}, '', '/app/pricing')", "/app/pricing"),
        ("history.replaceState({}, '', '/app/checkout?step=2')", "/app/checkout"),
        ("history.back()", "/app"),  # popstate: the replaced entry sits on top of /app
        ("location.hash = 'faq'", "/app"),  # hashchange (Chromium also fires popstate)
    ]
    for n, (script, path) in enumerate(steps, start=2):
        tab.evaluate(script)
        views = stored.wait(n, "page_view")
        assert views[-1]["path"] == path, (script, views[-1])

    views = settle(tab, stored, 5)
    assert [v["path"] for v in views] == ["/app", "/app/pricing", "/app/checkout", "/app", "/app"]
    assert views[2]["properties"]["url"].endswith("/app/checkout?step=2")
    assert views[4]["properties"]["url"].endswith("/app#faq")
    # one visitor, one session across all of them
    assert len({v["session_id"] for v in views}) == 1
    assert len({v["user_id"] for v in views}) == 1
    # a replaceState to the same URL is not a new page view
    tab.evaluate("history.replaceState({scroll: 1}, '', location.href)")
    tab.evaluate("window.aa.track('test_done_2')")
    stored.wait(1, "test_done_2")
    assert len(stored.events("page_view")) == 5


def test_page_views_are_enriched_with_browser_os_and_device(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    _tab, stored, _ = open_page(server, client, site, context)
    [view] = stored.wait(1, "page_view")
    assert view["source"] == "browser"
    r = client.post(
        "/query",
        json={
            "project": stored.project,
            "metrics": ["event_count"],
            "group_by": ["browser", "os", "device"],
            "filters": [{"field": "event", "op": "eq", "value": "page_view"}],
        },
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["browser"], row["os"], row["device"], row["event_count"]) == (
        "Chrome",
        "Windows",
        "desktop",
        1,
    ), row


def test_identify_survives_reload_and_reset_makes_the_visitor_anonymous(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, _ = open_page(server, client, site, context)
    [first] = stored.wait(1, "page_view")
    visitor = tab.evaluate("localStorage.getItem('aa_uid')")
    assert first["user_id"] == visitor

    tab.evaluate("window.aa.identify('user-42'); window.aa.track('identified')")
    [ev] = stored.wait(1, "identified")
    assert ev["user_id"] == "user-42"

    tab.reload()
    tab.wait_for_function("window.aa")
    views = stored.wait(2, "page_view")
    assert views[-1]["user_id"] == "user-42", "the identity did not survive the reload"
    assert tab.evaluate("localStorage.getItem('aa_uid')") == visitor

    # Convalytics' identify adds traits, sent on every later event
    tab.evaluate(
        "window.convalytics.identify('user-42', {email: 'ada@example.com', name: 'Ada'});"
        "window.convalytics.track('upgraded', {plan: 'pro'})"
    )
    [up] = stored.wait(1, "upgraded")
    assert (up["user_id"], up["user_email"], up["user_name"]) == (
        "user-42",
        "ada@example.com",
        "Ada",
    )
    assert up["properties"]["plan"] == "pro"

    tab.evaluate("window.convalytics.reset(); window.aa.track('after_reset')")
    [after] = stored.wait(1, "after_reset")
    assert after["user_id"] == visitor
    assert after["user_email"] is None and after["user_name"] is None
    # the /identify call linked the anonymous history to the user
    [first] = [e for e in stored.events("page_view") if e["id"] == first["id"]]
    assert first["resolved_user_id"] == "user-42"
    tab.reload()
    tab.wait_for_function("window.aa")
    views = stored.wait(3, "page_view")
    assert views[-1]["user_id"] == visitor, "reset did not persist across the reload"


def test_utm_from_the_landing_url_persists_for_the_session(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, _ = open_page(
        server,
        client,
        site,
        context,
        path="/?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
    )
    [landing] = stored.wait(1, "page_view")
    tab.evaluate("history.pushState({}, '', '/pricing')")
    views = stored.wait(2, "page_view")
    later = views[-1]
    assert later["path"] == "/pricing"
    assert "utm_source" not in later["properties"]["url"]
    for view in (landing, later):
        p = view["properties"]
        assert (p["utm_source"], p["utm_medium"], p["utm_campaign"]) == (
            "newsletter",
            "email",
            "launch",
        ), p
        assert p["first_utm_source"] == "newsletter"
    assert tab.evaluate("JSON.parse(sessionStorage.getItem('aa_utm')).utm_source") == "newsletter"


def test_require_consent_buffers_until_granted_then_flushes_in_a_batch(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, sent = open_page(server, client, site, context, "require-consent")
    tab.wait_for_load_state("load")
    tab.evaluate("window.aa.track('clicked_before_consent', {n: 1})")
    assert sent == [], [r.url for r in sent]
    assert tab.evaluate("Object.keys(localStorage).filter(k => k.startsWith('aa_'))") == []
    assert stored.events() == []

    # (a beacon's Blob body is not visible to Playwright: the server's store is the witness)
    with tab.expect_request(lambda r: r.url == server.url + "/track/batch"):
        tab.evaluate("window.aa.grantConsent()")
    found = stored.wait(2)
    assert sorted(e["event"] for e in found) == ["clicked_before_consent", "page_view"]
    assert [r.url for r in sent] == [server.url + "/track/batch"]
    assert tab.evaluate("localStorage.getItem('aa_consent')") == "granted"
    # after consent, events go out one by one
    tab.evaluate("window.aa.track('after_consent')")
    stored.wait(1, "after_consent")
    assert [r.url for r in sent].count(server.url + "/track/batch") == 1


def test_do_not_track_sends_and_stores_nothing(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, sent = open_page(
        server,
        client,
        site,
        context,
        "do-not-track",
        init_script="Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
    )
    assert tab.evaluate("navigator.doNotTrack") == "1"
    tab.wait_for_load_state("load")
    tab.evaluate(
        "window.aa.track('ignored'); window.aa.identify('u-dnt');"
        "history.pushState({}, '', '/elsewhere')"
    )
    # a marker sent by the server side: once it is stored, so would a beacon sent before it
    r = client.post(
        "/track",
        json={"token": _token(server, stored.project), "event": "marker", "user_id": "srv"},
    )
    assert r.status_code == 202, r.text
    stored.wait(1, "marker")
    assert [e["event"] for e in stored.events()] == ["marker"]
    assert sent == [], [r.url for r in sent]
    assert tab.evaluate("Object.keys(localStorage).filter(k => k.startsWith('aa_'))") == []


def _token(server: RunningServer, name: str) -> str:
    with server.client() as c:
        r = c.get(f"/projects/{name}")
        assert r.status_code == 200, r.text
        return str(r.json()["project_token"])


def test_outbound_link_and_download_clicks(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, _ = open_page(
        server, client, site, context, "track-outgoing", "track-downloads", page="links.html"
    )
    stored.wait(1, "page_view")
    for link in ("#outgoing", "#internal", "#pdf", "#export"):
        tab.click(link)
    found = settle(tab, stored, 4)
    [out] = [e for e in found if e["event"] == "outgoing_link"]
    assert out["properties"]["href"] == "https://docs.example.com/guide?from=fixture"
    assert out["properties"]["host"] == "docs.example.com"
    assert out["properties"]["text"] == "Read the guide"
    downloads = {
        e["properties"]["filename"]: e["properties"] for e in found if e["event"] == "$download"
    }
    assert set(downloads) == {"report.pdf", "q3.csv"}
    assert downloads["report.pdf"]["extension"] == "pdf"
    assert downloads["report.pdf"]["href"] == site.origin + "/files/report.pdf"
    assert downloads["q3.csv"]["href"] == site.origin + "/exports/q3"
    # the internal link was neither outgoing nor a download
    assert [e["event"] for e in found].count("page_view") == 1


def test_a_disallowed_origin_is_rejected_and_nothing_is_stored(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    project = server.new_project(allowed_origins=["https://shop.example.com"])
    with context.expect_event(
        "requestfinished", lambda r: r.url == server.url + "/track"
    ) as finished:
        tab, stored, _ = open_page(server, client, site, context, project=project)
    response = finished.value.response()
    assert response is not None and response.status == 403
    # the same request from the page, where the answer is readable
    status = tab.evaluate(
        """([url, token]) => fetch(url + '/track', {method: 'POST', body: JSON.stringify(
             {token, event: 'probe', user_id: 'x'}), headers: {'Content-Type': 'text/plain'}})
           .then(r => r.status)""",
        [server.url, project["project_token"]],
    )
    assert status == 403
    assert stored.events() == []

    # the same page on a project that allows this origin is stored
    allowed = server.new_project(allowed_origins=["https://shop.example.com", site.origin])
    _tab2, stored2, _ = open_page(server, client, site, context, project=allowed)
    stored2.wait(1, "page_view")
    assert stored.events() == []


def test_convalytics_script_with_write_key_in_the_url(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    project = server.new_project()
    tag = tracker_tag(f"{server.url}/script.js?key={project['project_token']}")
    tab = context.new_page()
    tab.goto(site.show("app.html", tag) + "/welcome")
    tab.wait_for_function("window.convalytics")
    tab.evaluate("window.convalytics.track('signup', {plan: 'pro', seats: 3})")
    stored = Stored(client, project["name"])
    [signup] = stored.wait(1, "signup")
    assert signup["properties"]["plan"] == "pro" and signup["properties"]["seats"] == 3
    assert signup["path"] == "/welcome"
    [view] = stored.wait(1, "page_view")
    assert view["path"] == "/welcome"


def test_a_forced_experiment_variant_is_returned_and_its_exposure_stored(
    server: RunningServer, client: httpx.Client, site: Site, context: BrowserContext
) -> None:
    tab, stored, _ = open_page(server, client, site, context, path="/?aa_variant_hero=b")
    assert tab.evaluate("window.aa.experiment('hero', ['a', 'b'])") == "b"
    assert tab.evaluate("window.aa.experiment('hero', ['a', 'b'])") == "b"
    [exposure] = stored.wait(1, "$experiment_exposure")
    assert exposure["properties"]["experiment"] == "hero"
    assert exposure["properties"]["variant"] == "b"
    assert exposure["properties"]["forced"] is True
    # once per page load
    found = settle(tab, stored, 2)
    assert sorted(e["event"] for e in found) == ["$experiment_exposure", "page_view"]
    # a variant that is not one of the experiment's is not forced: the hash decides
    tab.goto(tab.url.split("?")[0] + "?aa_variant_hero=z")
    tab.wait_for_function("window.aa")
    assert tab.evaluate("window.aa.experiment('hero', ['a', 'b'])") in ("a", "b")
    exposures = stored.wait(2, "$experiment_exposure")
    assert exposures[-1]["properties"]["variant"] in ("a", "b")
    assert "forced" not in exposures[-1]["properties"]
