"""The dashboard in real Chromium against the real server, on traffic sent through ingest:
claim, the projects list, every page, the overview's numbers, filters in shared links.

One browser per module; the owner signs up on a claim link once (``owner`` in conftest) and
each test opens its own context with that session. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import RunningServer
from tests.web.conftest import Owner, kpis, needs_chromium, new_context, settle, shoot

pytestmark = [pytest.mark.browser, needs_chromium]


def test_claim_lands_on_the_projects_list_with_a_sparkline(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(dash_server.url + "/?claimed=dash-shop")
    settle(page)
    assert page.locator("h1").inner_text() == "Your projects"
    item = page.locator(f"li[data-project='{owner.project}']")
    expect(item.locator("svg.sparkline polyline")).to_have_count(1)
    total = item.locator("[data-total]")
    with owner.api(dash_server) as api:
        r = api.post(
            "/query",
            json={"project": owner.project, "metrics": ["unique_users"], "date_from": "30d"},
        )
    assert total.get_attribute("data-value") == str(r.json()["rows"][0]["unique_users"])
    shoot(page, "projects")
    item.locator("a.project-link").click()
    page.wait_for_url(f"**/p/{owner.project}")


SECTIONS = [
    ("overview", ""),
    ("funnels", "/funnels"),
    ("retention", "/retention"),
    ("paths", "/paths?goal=signup"),
    ("live", "/live"),
    ("users", "/users"),
    ("user", "/user?id=v03"),
    ("mcp", "/mcp"),
    ("experiments", "/experiments"),
    ("bots", "/bots"),
    ("settings", "/settings"),
]


def test_every_page_loads_its_panels_without_errors(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    for name, suffix in SECTIONS:
        response = page.goto(f"{dash_server.url}/p/{owner.project}{suffix}")
        assert response is not None and response.status == 200, name
        settle(page)
        assert page.locator("#dash .error").count() == 0, (
            name,
            page.locator(".error").all_inner_texts(),
        )
        shoot(page, name)
    assert problems == []
    # a few things each page must show, from the generated traffic
    page.goto(f"{dash_server.url}/p/{owner.project}/paths?goal=signup")
    settle(page)
    expect(page.locator(".path.goal").first).to_be_visible()
    page.goto(f"{dash_server.url}/p/{owner.project}/retention")
    settle(page)
    with owner.api(dash_server) as api:  # the form's defaults: weekly, eight cohorts
        params = {"project": owner.project, "period": "week", "cohorts": 8}
        ret = api.get("/retention", params=params).json()
    # 30 visitors and the MCP agent, each in the cohort of their first week
    assert ret["users_analyzed"] == sum(c["users"] for c in ret["cohorts"]) == 31
    heat = sum(len(c["rates"]) for c in ret["cohorts"] if c["users"]) + len(ret["average_rates"])
    assert page.locator("table.retention td.heat").count() == heat > 0
    page.goto(f"{dash_server.url}/p/{owner.project}/mcp")
    settle(page)
    assert kpis(page)["call_count"] == 40
    assert page.locator("[data-body=tools] tbody tr").count() == 2
    page.goto(f"{dash_server.url}/p/{owner.project}/user?id=v03")
    settle(page)
    assert page.locator("#user-title").inner_text() == "v03@shop.example"
    # v03 (group 0, visitor 3) has one session (1 + 3 % 3) 40 hours ago, on journey 3: four
    # pages, a sign-up and a purchase
    names = page.locator("ol.timeline li strong").all_inner_texts()
    assert sorted(names) == sorted(["page_view"] * 4 + ["signup", "purchase"])


def test_overview_numbers_equal_the_api(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}")
    settle(page)
    shown = kpis(page)
    with owner.api(dash_server) as api:
        stats = api.get("/stats", params={"project": owner.project}).json()
        views = api.post("/query", json={"project": owner.project, "metrics": ["pageviews"]}).json()
        top = api.post(
            "/query",
            json={
                "project": owner.project,
                "metrics": ["unique_users"],
                "group_by": ["country"],
                "order_by": "unique_users",
            },
        ).json()
    assert shown["unique_users"] == stats["totals"]["unique_users"] > 0
    assert shown["session_count"] == stats["sessions"]["total_sessions"]
    assert shown["bounce_rate"] == stats["sessions"]["bounce_rate"]
    assert shown["avg_duration"] == stats["sessions"]["avg_duration"]
    assert shown["pageviews"] == views["rows"][0]["pageviews"]
    visitors = page.locator("[data-kpi=unique_users] .kpi-value").inner_text()
    assert visitors == f"{stats['totals']['unique_users']:,}"
    rows = page.locator("[data-body=country] .bar-row")
    listed = {r.get_attribute("data-value"): r.locator(".bar-num").inner_text() for r in rows.all()}
    expected = {row["country"] or "(unknown)": str(row["unique_users"]) for row in top["rows"]}
    assert listed == expected
    # the chart has one point per day of the range, and the interval switch works
    if page.evaluate("typeof window.uPlot") == "function":
        expect(page.locator("[data-body=chart] .uplot")).to_have_count(1)
    page.get_by_role("button", name="Hour").click()
    settle(page)
    assert "interval=hour" in page.url


def test_a_filter_applies_to_every_panel_and_survives_a_shared_link(
    chromium: Browser, page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    page.goto(f"{dash_server.url}/p/{owner.project}")
    settle(page)
    page.locator("[data-body=country] button.bar-name", has_text="DE").click()
    settle(page)
    query = parse_qs(urlsplit(page.url).query)
    assert query["filters"] == ["country:eq:DE"]
    expect(page.locator("#chips .chip")).to_have_count(1)
    filtered = kpis(page)
    de = [{"field": "country", "op": "eq", "value": "DE"}]
    with owner.api(dash_server) as api:
        want = api.post(
            "/query",
            json={
                "project": owner.project,
                "metrics": ["unique_users", "pageviews", "session_count"],
                "filters": de,
            },
        ).json()["rows"][0]
        browsers = api.post(
            "/query",
            json={
                "project": owner.project,
                "metrics": ["unique_users"],
                "group_by": ["browser"],
                "filters": de,
            },
        ).json()["rows"]
    assert filtered["unique_users"] == want["unique_users"] < 27
    assert filtered["pageviews"] == want["pageviews"]
    assert filtered["session_count"] == want["session_count"]
    assert [
        r.get_attribute("data-value") for r in page.locator("[data-body=browser] .bar-row").all()
    ] == [r["browser"] for r in browsers]
    # a second filter, a comparison choice and a range, then the link in a fresh browser
    page.locator("[data-body=pages] button.bar-name", has_text="/pricing").click()
    settle(page)
    page.select_option("select[name=compare]", "none")
    settle(page)
    page.select_option("select[name=period]", "30d")
    settle(page)
    shared = page.url
    assert parse_qs(urlsplit(shared).query)["filters"] == ["country:eq:DE", "path:eq:/pricing"]
    before = kpis(page)
    shoot(page, "overview-filtered")
    other = new_context(chromium, owner.storage)
    try:
        fresh = other.new_page()
        fresh.goto(shared)
        settle(fresh)
        assert fresh.locator("#chips .chip").count() == 2
        assert fresh.locator("select[name=period]").input_value() == "30d"
        assert fresh.locator("select[name=compare]").input_value() == "none"
        assert kpis(fresh) == before
        # removing a chip updates the URL and the numbers
        fresh.get_by_role("button", name="Remove filter Page /pricing").click()
        settle(fresh)
        assert parse_qs(urlsplit(fresh.url).query)["filters"] == ["country:eq:DE"]
        # the filters follow the navigation to other pages
        fresh.get_by_role("link", name="Users").click()
        settle(fresh)
        assert "filters=country%3Aeq%3ADE" in fresh.url
    finally:
        other.close()


def test_a_custom_range_reads_the_same_dates_as_the_api(
    page: Page, owner: Owner, dash_server: RunningServer
) -> None:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))
    page.goto(f"{dash_server.url}/p/{owner.project}?period=custom&from={start}&to={today}")
    settle(page)
    with owner.api(dash_server) as api:
        stats = api.get(
            "/stats", params={"project": owner.project, "since": start, "until": today}
        ).json()
    assert kpis(page)["unique_users"] == stats["totals"]["unique_users"]
    assert page.locator("input[name=from]").input_value() == start
