"""``/track/batch``'s two paths store the same rows and answer the same rejections.

A batch of well-formed events is decoded typed and each event made its row directly
(``ingest/columnar.py``); any other batch goes through drafts and the per-event steps
(``Ingestor.ingest``). One element that is not an object sends a batch down the second path,
so the same events sent both ways must give the same stored columns and the same errors.
(The live bus through the rows path: ``tests/query/test_live.py``, whose batches take it.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.factories import CHROME_UA

#: columns that differ between two sends of the same events by design
_OWN = {"project_id", "event_id", "received_at"}
NOW_MS = int(time.time() * 1000)


def events(tag: str) -> list[Any]:
    """Events covering each step's cases; ids are ``<tag>-<n>``, so that the two sends pair."""
    long = "x" * 300
    cases: list[dict[str, Any]] = [
        {
            "event": "page_view",
            "anonymous_id": "v-1",
            "session_id": "s-1",
            "properties": {
                "url": "https://www.Shop.example/pricing?utm_source=news&utm_medium=mail#top",
                "referrer": "https://www.google.com/search?q=x",
                "title": "Pricing",
                "language": "fr",
                "screen": 1920,
                "timezone": "Europe/Paris",
                "plan": "free",
            },
        },
        {  # a UTM property wins over the URL's; path from a property, query and hash cut
            "event": " signup ",
            "user_id": "u-1",
            "timestamp": "2026-01-02T03:04:05Z",
            "properties": {
                "url": "https://shop.example/a?utm_source=url&utm_campaign=c1",
                "utm_source": "prop",
                "utm_term": "",
                "path": "/b?x=1#y",
                "title": {"nested": True},
                "referrer": "https://shop.example/other",
            },
        },
        {"event": "no_ids", "timestamp": 1_767_000_000.5, "properties": None},  # visitor id
        {"event": "empty_ids", "user_id": "", "anonymous_id": "", "timestamp": NOW_MS - 5},
        {
            "event": "$mcp_call",
            "user_id": "agent-1",
            "mcp_session_id": "m-1",
            "primitive_type": "tool",
            "primitive_name": "search",
            "latency_ms": 12,
            "success": False,
            "error": "boom",
            "args": '{"q": 1}',
            "result": long,
            "client": "cursor",
            "properties": {"tool": "search"},
        },
        {"event": "mcp_by_one_null_field", "anonymous_id": "v-2", "client": None},
        {
            "event": "clipped",
            "anonymous_id": "v-3",
            "user_email": long,
            "user_name": 12345,
            "page_origin": "http://localhost:3000",
        },
        {"event": "dev", "anonymous_id": "v-4", "page_origin": "https://preview.vercel.app"},
        {"event": "dup", "id": "same", "anonymous_id": "v-5"},
        {"event": "dup", "id": "same", "anonymous_id": "v-5"},
        # rejected, each with its own error
        {"event": "   "},
        {"event": "many", "properties": {f"k{i}": i for i in range(101)}},
        {"event": "big", "properties": {"k": "v" * 40_000}},
        {"event": "when", "timestamp": "yesterday"},
        {"event": "old", "timestamp": 5},
        {"event": "kind", "primitive_type": "bogus"},
        {"event": "slow", "latency_ms": "slow"},
        {"event": "yes", "success": "yes"},
    ]
    for n, case in enumerate(cases):
        case.setdefault("id", f"{tag}-{n}")
        if case["id"] == "same":
            case["id"] = f"{tag}-same"
    return cases


def send(server: RunningServer, token: str, batch: list[Any], headers: dict[str, str]) -> Any:
    r = httpx.post(
        server.url + "/track/batch", json={"token": token, "events": batch}, headers=headers
    )
    assert r.status_code == 202, r.text
    return r.json()


def by_case(server: RunningServer, project_id: str, tag: str) -> dict[str, dict[str, Any]]:
    rows = server.services.events.query(
        "SELECT * FROM events WHERE project_id = ? AND event_id LIKE ?", [project_id, f"{tag}-%"]
    ).dicts()
    cases = {}
    for r in rows:
        case = {k: r[k] for k in r if k not in _OWN}
        if r["timestamp"] == r["received_at"]:  # sent without one: differs between sends
            case["timestamp"] = "received_at"
        cases[r["event_id"].removeprefix(tag)] = case
    return cases


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "my-backend/1.0"},
        {"User-Agent": CHROME_UA, "Origin": "https://shop.example", "CF-IPCountry": "DE"},
    ],
    ids=["server", "browser"],
)
def test_rows_path_stores_what_the_drafts_path_stores(
    server: RunningServer, project: dict[str, Any], headers: dict[str, str]
) -> None:
    token = project["project_token"]
    fast, slow = f"f{uuid.uuid4().hex[:6]}", f"s{uuid.uuid4().hex[:6]}"
    rows_answer = send(server, token, events(fast), headers)
    drafts_answer = send(server, token, [*events(slow), 42], headers)  # 42: not an object

    last = len(events(slow))
    assert drafts_answer["rejected"][-1] == {
        "index": last,
        "error": "INVALID_FIELD",
        "message": "event must be an object",
    }
    assert rows_answer["rejected"] == drafts_answer["rejected"][:-1]
    assert [r["error"] for r in rows_answer["rejected"]] == [
        "MISSING_FIELDS",
        "PROPERTIES_TOO_LARGE",
        "PROPERTIES_TOO_LARGE",
        "INVALID_TIMESTAMP",
        "INVALID_TIMESTAMP",
        "INVALID_FIELD",
        "INVALID_FIELD",
        "INVALID_FIELD",
    ]
    assert rows_answer["count"] == drafts_answer["count"] == 10

    stored_rows = by_case(server, project["id"], fast)
    stored_drafts = by_case(server, project["id"], slow)
    assert len(stored_rows) == 9  # the duplicate once
    assert stored_rows == stored_drafts
    # and the cases did what they are there for
    first, second = stored_rows["-0"], stored_rows["-1"]
    assert (first["host"], first["path"], first["utm_medium"]) == (
        "www.shop.example",
        "/pricing",
        "mail",
    )
    assert (first["screen"], first["referrer_host"]) == ("1920", "google.com")
    assert (second["name"], second["path"], second["utm_source"]) == ("signup", "/b", "prop")
    assert (second["utm_campaign"], second["title"], second["referrer_host"]) == ("c1", None, None)
    assert stored_rows["-2"]["anonymous_id"].startswith("v_")
    assert stored_rows["-5"]["timestamp"] == "received_at"
    assert stored_rows["-4"]["source"] == stored_rows["-5"]["source"] == "mcp"
    assert stored_rows["-4"]["latency_ms"] == 12.0 and stored_rows["-4"]["success"] is False
    assert len(stored_rows["-6"]["user_email"]) == 200 and stored_rows["-6"]["user_name"] == "12345"
    if "Origin" in headers:
        assert (first["source"], first["browser"], first["country"]) == ("browser", "Chrome", "DE")

    # the live bus carries the same views of the stored events (the duplicate once)
    recent = asyncio.run(server.services.coord.recent(project["id"], 0))
    live_rows = {e["id"].removeprefix(fast): e for e in recent if e["id"].startswith(fast)}
    live_drafts = {e["id"].removeprefix(slow): e for e in recent if e["id"].startswith(slow)}
    for live in (live_rows, live_drafts):
        for e in live.values():
            e.pop("id")
            if e["event"] not in ("signup", "no_ids", "empty_ids"):
                e.pop("timestamp")  # sent without one: the time received
    assert len(live_rows) == 9 and live_rows == live_drafts
    assert live_rows["-0"]["properties"]["plan"] == "free"


def test_a_name_or_id_too_long_is_rejected_on_its_own(
    server: RunningServer, project: dict[str, Any]
) -> None:
    """Lengths are checked as the body decodes (``NativeEvent``): a batch with a name or an
    id past its limit takes the drafts path, which rejects those events and keeps the rest."""
    tag = f"l{uuid.uuid4().hex[:6]}"
    batch = [
        {"event": "ok", "id": f"{tag}-0"},
        {"event": "n" * 201, "id": f"{tag}-1"},
        {"event": "long_id", "id": "i" * 129},
        {"event": "long_user", "id": f"{tag}-3", "user_id": "u" * 257},
        {"event": "long_session", "id": f"{tag}-4", "session_id": "s" * 257},
        {"event": "n" * 200, "id": f"{tag}-5", "anonymous_id": "a" * 256},
    ]
    answer = send(server, project["project_token"], batch, {"User-Agent": "my-backend/1.0"})
    assert answer["count"] == 2
    assert answer["rejected"] == [
        {
            "index": 1,
            "error": "INVALID_FIELD",
            "message": "event name is longer than 200 characters",
        },
        {"index": 2, "error": "INVALID_FIELD", "message": "id is longer than 128 characters"},
        {
            "index": 3,
            "error": "INVALID_FIELD",
            "message": "user_id is longer than 256 characters",
        },
        {
            "index": 4,
            "error": "INVALID_FIELD",
            "message": "session_id is longer than 256 characters",
        },
    ]
    assert sorted(by_case(server, project["id"], tag)) == ["-0", "-5"]


def test_properties_as_sent_store_alike_on_both_paths(
    server: RunningServer, project: dict[str, Any]
) -> None:
    """Properties written by hand, as a client might send them (white space, escapes, a
    repeated key, the same text twice, a number where a column takes text, none), store the
    same text and columns through the typed rows path and through the drafts path, and
    properties that are not an object are rejected alike."""
    texts = [
        '{"a" : "\\u00e9\\n", "b": [1, 2.50, {"c": null}]}',
        '{"k": 1, "k": 2}',
        '{"url": "https://shop.example/p?utm_source=x", "title": 7}',
        '{"url": "https://shop.example/p?utm_source=x", "title": 7}',
        "null",
        "{}",
    ]

    def body(tag: str, texts: list[str], tail: str = "") -> bytes:
        events = ",".join(
            f'{{"event": "p", "id": "{tag}-{n}", "anonymous_id": "v", "properties": {t}}}'
            for n, t in enumerate(texts)
        )
        return f'{{"token": "{project["project_token"]}", "events": [{events}{tail}]}}'.encode()

    def post(raw: bytes) -> Any:
        r = httpx.post(server.url + "/track/batch", content=raw, headers=JSON)
        assert r.status_code == 202, r.text
        return r.json()

    fast, slow = f"f{uuid.uuid4().hex[:6]}", f"s{uuid.uuid4().hex[:6]}"
    assert post(body(fast, texts))["rejected"] == []
    assert post(body(slow, texts, ", 42"))["rejected"] == [  # 42: the drafts path
        {"index": len(texts), "error": "INVALID_FIELD", "message": "event must be an object"}
    ]
    stored_rows = by_case(server, project["id"], fast)
    assert stored_rows == by_case(server, project["id"], slow)
    assert stored_rows["-0"]["properties"] == '{"a":"é\\n","b":[1,2.5,{"c":null}]}'
    assert stored_rows["-1"]["properties"] == '{"k":2}'
    assert stored_rows["-2"]["title"] == stored_rows["-3"]["title"] == "7"
    assert stored_rows["-3"]["utm_source"] == "x"
    assert stored_rows["-4"]["properties"] == stored_rows["-5"]["properties"] == "{}"

    not_objects = post(body(f"n{uuid.uuid4().hex[:6]}", ["{}", "5", '"text"', "[1]"]))
    assert not_objects["count"] == 1
    assert not_objects["rejected"] == [
        {"index": i, "error": "INVALID_PROPERTIES", "message": "properties must be a JSON object"}
        for i in (1, 2, 3)
    ]


JSON = {"Content-Type": "application/json", "User-Agent": "my-backend/1.0"}
