"""Sign up, sign in, sign out and claim over plain HTTP: cookies, CSRF, status codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from agentlytics.web.auth import safe_next
from agentlytics.web.pages import AUTH_ATTEMPTS_PER_MINUTE as AUTH_ATTEMPTS
from tests.conftest import RunningServer
from tests.convalytics.conftest import cnv_event, csrf_of, provision


@pytest.fixture
def browser(open_server: RunningServer) -> Iterator[httpx.Client]:
    """A cookie-keeping client that does not follow redirects."""
    with httpx.Client(base_url=open_server.url, timeout=30) as c:
        yield c


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def sign_up(client: httpx.Client, address: str, password: str = "correct horse") -> httpx.Response:
    token = csrf_of(client.get("/signup").text)
    return client.post(
        "/signup", data={"csrf_token": token, "email": address, "password": password, "next": "/"}
    )


def cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_forms_carry_a_csrf_token_in_an_httponly_cookie(browser: httpx.Client) -> None:
    r = browser.get("/signup")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    header = cookie_header(r, "agentlytics_csrf").lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header
    assert csrf_of(r.text) == browser.cookies["agentlytics_csrf"]


def test_posts_without_the_right_csrf_token_are_refused(browser: httpx.Client) -> None:
    browser.get("/signup")
    for data in ({}, {"csrf_token": "x" * 43}):
        r = browser.post("/signup", data={**data, "email": email(), "password": "long enough"})
        assert r.status_code == 403
    with httpx.Client(base_url=str(browser.base_url)) as stranger:  # no cookie at all
        token = csrf_of(browser.get("/signup").text)
        r = stranger.post(
            "/signup", data={"csrf_token": token, "email": email(), "password": "x" * 9}
        )
        assert r.status_code == 403


def test_sign_up_stores_an_argon2_hash_and_starts_a_session(
    browser: httpx.Client, open_server: RunningServer
) -> None:
    address = email()
    r = sign_up(browser, address)
    assert (r.status_code, r.headers["location"]) == (303, "/")
    header = cookie_header(r, "agentlytics_session").lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    account = open_server.services.meta.get_account_by_email(address)
    assert account is not None and account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$")
    assert "correct horse" not in account.password_hash
    home = browser.get("/")
    assert home.status_code == 200 and address in home.text


def test_sign_up_errors_are_shown_on_the_form(browser: httpx.Client) -> None:
    address = email()
    assert sign_up(browser, "not-an-email").status_code == 400
    assert sign_up(browser, address, "short").status_code == 400
    assert sign_up(browser, address).status_code == 303
    with httpx.Client(base_url=str(browser.base_url)) as other:
        r = sign_up(other, address.upper())
        assert r.status_code == 409
        assert "exists" in r.text


def test_sign_in_and_sign_out(browser: httpx.Client, open_server: RunningServer) -> None:
    address = email()
    sign_up(browser, address)
    with httpx.Client(base_url=str(browser.base_url)) as client:
        assert client.get("/").status_code == 303
        token = csrf_of(client.get("/signin?next=/signout").text)
        bad = client.post(
            "/signin", data={"csrf_token": token, "email": address, "password": "nope"}
        )
        assert bad.status_code == 400 and "do not match" in bad.text
        r = client.post(
            "/signin",
            data={
                "csrf_token": token,
                "email": address,
                "password": "correct horse",
                "next": "https://evil.example/",
            },
        )
        assert (r.status_code, r.headers["location"]) == (303, "/")
        assert client.get("/").status_code == 200
        session_token = csrf_of(client.get("/signout").text)
        assert session_token != token, "a session has its own CSRF token"
        r = client.post("/signout", data={"csrf_token": session_token})
        assert (r.status_code, r.headers["location"]) == (303, "/signin")
        assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/x", ""],
)
def test_sign_in_only_returns_to_local_pages(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/claim/abc?x=1") == "/claim/abc?x=1"


def test_sign_up_and_sign_in_attempts_are_limited(
    make_server: Callable[..., RunningServer],
) -> None:
    srv = make_server()
    with httpx.Client(base_url=srv.url) as client:
        token = csrf_of(client.get("/signin").text)
        data = {"csrf_token": token, "email": "nobody@example.com", "password": "wrong one"}

        def exhaust() -> None:
            # fixed one-minute windows: within 2 * limit + 1 tries one window must overflow
            codes = [client.post("/signin", data=data).status_code]
            while codes[-1] != 429 and len(codes) <= 2 * AUTH_ATTEMPTS:
                codes.append(client.post("/signin", data=data).status_code)
            assert codes[-1] == 429
            assert set(codes[:-1]) <= {400}

        exhaust()
        signup = {**data, "email": "new@example.com"}
        r = client.post("/signup", data=signup)
        if r.status_code != 429:  # a new window began just now
            exhaust()
            r = client.post("/signup", data=signup)
        assert r.status_code == 429 and "Too many attempts" in r.text


def test_secure_cookies_can_be_forced(make_server: Callable[..., RunningServer]) -> None:
    srv = make_server(secure_cookies="always")
    with httpx.Client(base_url=srv.url) as client:
        r = client.get("/signup")
        assert "secure" in cookie_header(r, "agentlytics_csrf").lower()


def test_pages_redirect_to_sign_in_with_the_page_to_come_back_to(browser: httpx.Client) -> None:
    r = browser.get("/")
    assert (r.status_code, r.headers["location"]) == (303, "/signin?next=%2F")


def test_claim_by_signing_up_joins_the_project_to_the_account(
    browser: httpx.Client, open_server: RunningServer
) -> None:
    made = provision(open_server.url, {"name": "Claim Me"})
    key, token = made["writeKey"], made["claimToken"]
    assert httpx.post(open_server.url + "/ingest", json=cnv_event(writeKey=key)).status_code == 200
    page = browser.get(f"/claim/{token}")
    assert page.status_code == 200
    assert "claim-me" in page.text and "1 event" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    address = email()
    r = browser.post(
        f"/claim/{token}",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "signup",
            "email": address,
            "password": "correct horse",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, "/?claimed=claim-me")
    account = open_server.services.meta.get_account_by_email(address)
    assert account is not None
    assert [p.name for p in open_server.services.meta.list_projects(account.id)] == ["claim-me"]
    home = browser.get("/?claimed=claim-me")
    assert home.status_code == 200 and "claim-me" in home.text
    body = httpx.get(open_server.url + "/verify", params={"writeKey": key}).json()
    assert body["project"]["claimed"] is True
    assert httpx.post(open_server.url + "/ingest", json=cnv_event(writeKey=key)).status_code == 200


def test_claim_by_signing_in_and_while_signed_in(
    browser: httpx.Client, open_server: RunningServer
) -> None:
    address = email()
    sign_up(browser, address)
    first = provision(open_server.url)
    page = browser.get(f"/claim/{first['claimToken']}")
    assert "Claim project" in page.text
    r = browser.post(
        f"/claim/{first['claimToken']}", data={"csrf_token": csrf_of(page.text), "action": "claim"}
    )
    assert r.status_code == 303
    second = provision(open_server.url)
    with httpx.Client(base_url=open_server.url) as other:
        page = other.get(f"/claim/{second['claimToken']}")
        data = {"csrf_token": csrf_of(page.text), "action": "signin", "email": address}
        wrong = other.post(f"/claim/{second['claimToken']}", data={**data, "password": "nope"})
        assert wrong.status_code == 400
        r = other.post(f"/claim/{second['claimToken']}", data={**data, "password": "correct horse"})
        assert r.status_code == 303
    account = open_server.services.meta.get_account_by_email(address)
    assert account is not None
    assert len(open_server.services.meta.list_projects(account.id)) == 2


def test_used_and_unknown_claim_links_show_clear_pages(
    browser: httpx.Client, open_server: RunningServer
) -> None:
    made = provision(open_server.url)
    sign_up(browser, email())
    page = browser.get(f"/claim/{made['claimToken']}")
    browser.post(
        f"/claim/{made['claimToken']}", data={"csrf_token": csrf_of(page.text), "action": "claim"}
    )
    mine = browser.get(f"/claim/{made['claimToken']}")
    assert (mine.status_code, mine.headers["location"]) == (303, mine.headers["location"])
    assert mine.headers["location"].startswith("/?claimed=")
    with httpx.Client(base_url=open_server.url) as other:
        used = other.get(f"/claim/{made['claimToken']}")
        assert used.status_code == 410 and "has been claimed" in used.text
        page = other.get("/signup")
        unknown = other.get("/claim/not-a-real-token")
        assert unknown.status_code == 404 and "not valid" in unknown.text
        r = other.post(
            f"/claim/{made['claimToken']}",
            data={
                "csrf_token": csrf_of(page.text),
                "action": "signup",
                "email": email(),
                "password": "correct horse",
            },
        )
        assert r.status_code == 410


def test_a_claimed_name_that_the_account_uses_gets_a_suffix(
    browser: httpx.Client, open_server: RunningServer
) -> None:
    made = provision(open_server.url, {"name": f"dup-{uuid.uuid4().hex[:6]}"})
    name = open_server.services.meta.get_project_by_write_key(made["writeKey"]).name  # type: ignore[union-attr]
    address = email()
    sign_up(browser, address)
    account = open_server.services.meta.get_account_by_email(address)
    assert account is not None
    open_server.services.projects.create_project(account, name)
    page = browser.get(f"/claim/{made['claimToken']}")
    r = browser.post(
        f"/claim/{made['claimToken']}", data={"csrf_token": csrf_of(page.text), "action": "claim"}
    )
    assert r.headers["location"] == f"/?claimed={name}-2"
    names = sorted(p.name for p in open_server.services.meta.list_projects(account.id))
    assert names == sorted([name, f"{name}-2"])
