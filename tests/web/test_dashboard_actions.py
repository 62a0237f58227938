"""The dashboard in real Chromium against the real server, on traffic sent through ingest:
funnels, live events, API keys, settings, isolation between accounts, escaping, a phone in
dark mode, an empty project, charts without uPlot.

One browser per module; the owner signs up on a claim link once (``owner`` in conftest) and
each test opens its own context with that session. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.conftest import RunningServer
from tests.web.conftest import (
    XSS_PATH,
    Owner,
    needs_chromium,
    new_context,
    settle,
    shoot,
)

pytestmark = [pytest.mark.browser, needs_chromium]


def test_build_and_save_a_funnel(page: Page, owner: Owner, dash_server: RunningServer) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}/funnels")
    settle(page)
    steps = page.locator("#funnel-steps .step")
    steps.nth(0).locator("select").select_option("pageview")
    steps.nth(0).locator("input").fill("/pricing")
    steps.nth(1).locator("select").select_option("event")
    steps.nth(1).locator("input").fill("signup")
    page.get_by_role("button", name="Add a step").click()
    steps.nth(2).locator("input").fill("purchase")
    page.get_by_role("button", name="Show conversion").click()
    settle(page)
    bars = page.locator("ol.funnel .funnel-step")
    expect(bars).to_have_count(3)
    with owner.api(dash_server) as api:
        body = {
            "project": owner.project,
            "steps": [
                {"kind": "pageview", "match": "/pricing"},
                {"kind": "event", "match": "signup"},
                {"kind": "event", "match": "purchase"},
            ],
            "conversion_window_ms": 604800000,
            "since": "7d",
        }
        want = api.post("/funnel", json=body).json()
    overall = page.locator("#funnel-overall").inner_text()
    assert float(overall.rstrip("%")) == pytest.approx(
        want["overall_conversion_rate"] * 100, abs=0.051
    )
    assert [b.locator(".funnel-label .muted").inner_text() for b in bars.all()] == [
        f" {s['users']} people" for s in want["steps"]
    ]
    shoot(page, "funnel-built")
    page.locator("#funnel-name").fill("Pricing to purchase")
    page.get_by_role("button", name="Save funnel").click()
    expect(page.locator("#funnel-status")).to_have_text('Saved "Pricing to purchase".')
    expect(page.locator("[data-body=saved] li[data-funnel='Pricing to purchase']")).to_have_count(1)
    with owner.api(dash_server) as api:
        saved = api.get("/funnels", params={"project": owner.project}).json()["funnels"]
    assert [(f["name"], [s["match"] for s in f["steps"]]) for f in saved] == [
        ("Pricing to purchase", ["/pricing", "signup", "purchase"])
    ]
    # a reload lists it; opening it runs it again
    page.reload()
    settle(page)
    page.locator("[data-body=saved] button", has_text="Pricing to purchase").click()
    settle(page)
    expect(page.locator("ol.funnel .funnel-step")).to_have_count(3)


def test_a_live_event_appears_while_the_page_is_open(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}/live")
    settle(page)
    expect(page.locator("#live-status")).to_have_text(re.compile("^Live"))
    name = f"live_probe_{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        dash_server.url + "/track",
        json={
            "token": owner.write_key,
            "event": name,
            "user_id": "v01",
            "properties": {"path": "/live-test"},
        },
    )
    assert r.status_code == 202
    row = page.locator(f"#live-feed li[data-event='{name}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("/live-test")
    shoot(page, "live-event")


def test_create_an_api_key_shown_once_then_revoke_it(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}/settings")
    settle(page)
    page.locator("#key-name").fill("browser made")
    page.locator("#key-scope").select_option("read")
    page.get_by_role("button", name="Create key").click()
    shown = page.locator("#new-key-value")
    expect(shown).to_have_text(re.compile(r"^aak_"))
    raw = shown.inner_text()
    with dash_server.client(raw) as api:
        assert api.get("/stats", params={"project": owner.project}).status_code == 200
    settle(page)
    row = page.locator("[data-body=keys] tr", has=page.locator("[data-revoke='browser made']"))
    expect(row).to_have_count(1)
    shoot(page, "settings-key-created")
    page.reload()
    settle(page)
    assert raw not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-revoke='browser made']").click()
    expect(page.locator("[data-revoke='browser made']")).to_have_count(0)
    with dash_server.client(raw) as api:
        assert api.get("/stats", params={"project": owner.project}).status_code == 401


def test_settings_change_time_zone_and_origins(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}/settings")
    settle(page)
    assert owner.write_key in page.locator("#snippet").inner_text()
    page.locator("#timezone").fill("Not/AZone")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#project-status")).to_contain_text("unknown time zone")
    page.locator("#timezone").fill("Europe/Paris")
    page.locator("#allowed-origins").fill("https://shop.example")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#project-status")).to_have_text("Saved.")
    project = dash_server.services.meta.get_project(owner.project_id)
    assert project is not None
    assert (project.timezone, project.allowed_origins) == ("Europe/Paris", "https://shop.example")
    dash_server.services.projects.update_project(
        dash_server.services.meta.get_account(project.account_id or ""),  # type: ignore[arg-type]
        project.id,
        {"timezone": "UTC", "allowed_origins": "*"},
    )


def test_another_account_cannot_open_the_project(
    chromium: Browser, owner: Owner, dash_server: RunningServer
) -> None:
    context = new_context(chromium)
    try:
        page = context.new_page()
        page.goto(dash_server.url + "/signup")
        page.get_by_label("E-mail").fill("mallory@dash.example")
        page.get_by_label("Password").fill("another long one")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(dash_server.url + "/")
        assert page.locator(f"li[data-project='{owner.project}']").count() == 0
        for ref in (owner.project, owner.project_id):
            for suffix in ("", "/settings", "/users"):
                response = page.goto(f"{dash_server.url}/p/{ref}{suffix}")
                assert response is not None and response.status == 404
                assert page.locator("h1").inner_text() == "Page not found"
                assert owner.write_key not in page.content()
        shoot(page, "not-found")
        # the API the pages use answers the same with this session
        answer = page.evaluate(
            "async (p) => { const r = await fetch('/stats?project=' + p); return [r.status, await r.json()]; }",
            owner.project,
        )
        assert answer[0] == 404 and answer[1]["error"] == "NOT_FOUND"
    finally:
        context.close()


def test_data_is_shown_as_text_never_as_markup(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}?period=24h")
    settle(page)
    expect(page.locator("[data-body=pages] .bar-row", has_text=XSS_PATH)).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    assert page.locator("[data-body=pages] img").count() == 0


def test_phone_dark_mode_and_empty_project(
    chromium: Browser, owner: Owner, dash_server: RunningServer
) -> None:
    context = new_context(
        chromium,
        owner.storage,
        viewport={"width": 390, "height": 844},
        color_scheme="dark",
        is_mobile=True,
    )
    try:
        page = context.new_page()
        page.goto(f"{dash_server.url}/p/{owner.project}")
        settle(page)
        assert page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]") == [
            390,
            390,
        ]
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 18, 20)"
        shoot(page, "overview-phone-dark")
        # a new, empty project: the overview says what to do next
        made = page.evaluate(
            """async () => {
                const csrf = document.querySelector('#dash').dataset.csrf;
                const r = await fetch('/projects', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({name: 'empty-one'})});
                return [r.status, await r.json()];
            }"""
        )
        assert made[0] == 201
        page.goto(f"{dash_server.url}/p/empty-one")
        settle(page)
        started = page.locator("#getting-started")
        expect(started).to_be_visible()
        expect(started).to_contain_text(f"agentlytics init {made[1]['project_token']}")
        shoot(page, "empty-project-phone-dark")
    finally:
        context.close()


def test_without_uplot_the_charts_become_tables(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.route("**/static/vendor/**", lambda route: route.fulfill(status=404, body="not installed"))
    page.goto(f"{dash_server.url}/p/{owner.project}")
    settle(page)
    assert page.evaluate("typeof window.uPlot") == "undefined"
    chart = page.locator("[data-body=chart]")
    expect(chart.locator("table")).to_have_count(1)
    assert chart.locator(".uplot").count() == 0
    cells = chart.locator("tbody tr").evaluate_all(
        "rows => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))"
    )
    with owner.api(dash_server) as api:  # what the chart asks for (the default range: 7d)
        spec = {"metrics": ["unique_users", "pageviews"], "group_by": ["date"], "limit": 1000}
        answer = api.post(
            "/query", json={"project": owner.project, "date_from": "7d", **spec}
        ).json()
    # one row per day of the range, zero-filled, the API's numbers on the days with traffic
    first, last = (date.fromisoformat(answer["period"][k][:10]) for k in ("from", "to"))
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    by_day = {r["date"]: r for r in answer["rows"]}
    assert len(days) >= 7 and set(by_day) <= set(days)
    assert [row[:3] for row in cells] == [
        [
            day,
            f"{by_day.get(day, {}).get('unique_users', 0):,}",
            f"{by_day.get(day, {}).get('pageviews', 0):,}",
        ]
        for day in days
    ]


def test_experiment_variants_probability_and_recommendation(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}/experiments")
    settle(page)
    expect(page.locator("[data-body=experiments]")).to_contain_text("No experiments yet")
    made = page.evaluate(
        """async (project) => {
            const csrf = document.querySelector('#dash').dataset.csrf;
            const r = await fetch('/experiments', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                body: JSON.stringify({project, name: 'hero_text', variants: ['control', 'b'], goal_event: 'signup'})});
            return [r.status, await r.json()];
        }""",
        owner.project,
    )
    assert made[0] == 201, made
    events = []
    for i in range(30):
        variant = "b" if i % 2 else "control"
        user = f"exp-{i}"
        events.append(
            {
                "event": "$experiment_exposure",
                "user_id": user,
                "properties": {"experiment": "hero_text", "variant": variant},
            }
        )
        if i % 3 == 0 or (variant == "b" and i % 5 == 0):
            events.append({"event": "signup", "user_id": user, "properties": {"plan": "free"}})
    r = httpx.post(
        dash_server.url + "/track/batch", json={"token": owner.write_key, "events": events}
    )
    assert r.status_code == 202, r.text
    page.reload()
    settle(page)
    card = page.locator("[data-experiment=hero_text]")
    with owner.api(dash_server) as api:
        report = api.get(f"/experiments/{made[1]['id']}").json()
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(2)
    for row, variant in zip(rows.all(), report["results"]["variants"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[:3] == [
            variant["key"],
            str(variant["unique_users"]),
            str(variant["conversions"]),
        ]
        best = report["results"]["probability_best"][variant["key"]]
        assert float(cells[5].rstrip("%")) == pytest.approx(best * 100, abs=0.051)
    expect(card.locator(".recommendation")).to_contain_text(report["results"]["recommendation"])
    shoot(page, "experiments-results")


def test_slow_queries_show_a_loading_state(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    held: list[Route] = []
    released = False

    def hold(route: Route) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route("**/query", hold)
    # the page's timers run only when told: the note's 2.5 s pass at once
    start = datetime.now(UTC)
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))
    page.goto(f"{dash_server.url}/p/{owner.project}")
    panel = page.locator("[data-body=referrer]")
    expect(panel).to_have_attribute("aria-busy", "true")
    note = panel.locator(".loading-note")
    page.clock.run_for(2_400)
    expect(note).to_have_text("Loading…")
    page.clock.run_for(200)
    expect(note).to_contain_text("Still working")
    shoot(page, "overview-loading")
    page.clock.resume()
    released = True
    for route in held:
        route.continue_()
    settle(page)
    expect(panel.locator(".bar-row").first).to_be_visible()
