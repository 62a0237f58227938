"""A synthetic but realistic traffic model, as the requests a site and its MCP server would send.

The population is simulated day by day with numpy (who visits, when, from where); each day's
sessions are then expanded into the exact wire requests our clients send: the browser
tracker's ``/track`` bodies and headers (``tracker/src/events.js``: url, path, title,
referrer, language, screen, timezone, UTM, session_count, first_* …), server-side events and
MCP ``$mcp_call`` events, plus bot page views. ``bench.datagen`` runs those requests through
the real ingest steps, so the stored rows are what the server would store.

What it contains:
  * visitors arriving with weekly growth and a weekday rhythm, returning with a retention
    curve that decays by age (weekly cohorts), a loyal tail;
  * sessions at local daytime hours, 1 to ~10 pages on a power-law page popularity, ~40%
    bounces, passive scroll events, clicks;
  * referrers (search, social, news, direct) and UTM campaigns on landing URLs;
  * a funnel /pricing → signup_started → signup_completed (identify) → purchase with
    drop-off at each step; identified visitors carry user_id, e-mail and name afterwards;
  * MCP agents calling tools (primitive_name, latency_ms, success, error, client);
  * bot page views (crawlers, AI agents, link previews, monitors) that the pipeline drops.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY_MS = 86_400_000
SITE = "https://example.com"

#: (user agent, weight); each visitor keeps one
USER_AGENTS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        14,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15",
        8,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        5,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        4,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        17,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        11,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        3,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        2,
    ),
]

#: (country, weight, UTC offset in hours, language, time zone)
COUNTRIES = [
    ("US", 32, -5, "en-US", "America/New_York"),
    ("IN", 9, 5, "en-IN", "Asia/Kolkata"),
    ("GB", 7, 0, "en-GB", "Europe/London"),
    ("DE", 7, 1, "de-DE", "Europe/Berlin"),
    ("FR", 5, 1, "fr-FR", "Europe/Paris"),
    ("BR", 4, -3, "pt-BR", "America/Sao_Paulo"),
    ("CA", 4, -5, "en-CA", "America/Toronto"),
    ("NL", 3, 1, "nl-NL", "Europe/Amsterdam"),
    ("JP", 3, 9, "ja-JP", "Asia/Tokyo"),
    ("AU", 3, 10, "en-AU", "Australia/Sydney"),
    ("ES", 2, 1, "es-ES", "Europe/Madrid"),
    ("PL", 2, 1, "pl-PL", "Europe/Warsaw"),
    ("SE", 2, 1, "sv-SE", "Europe/Stockholm"),
    ("SG", 2, 8, "en-SG", "Asia/Singapore"),
    ("KR", 2, 9, "ko-KR", "Asia/Seoul"),
    ("MX", 2, -6, "es-MX", "America/Mexico_City"),
    ("IT", 2, 1, "it-IT", "Europe/Rome"),
    ("UA", 1, 2, "uk-UA", "Europe/Kyiv"),
    ("NG", 1, 1, "en-NG", "Africa/Lagos"),
    ("ZA", 1, 2, "en-ZA", "Africa/Johannesburg"),
]
SCREENS = ["1920x1080", "1536x864", "1440x900", "2560x1440", "390x844", "412x915", "820x1180"]

_SECTIONS = {
    "docs": ["install", "quickstart", "tracking", "identify", "funnels", "retention", "api",
             "mcp", "self-hosting", "configuration", "sdk/python", "sdk/js", "faq"],
    "blog": ["launch", "agent-analytics", "duckdb-vs-clickhouse", "privacy-first",
             "mcp-observability", "funnels-that-work", "why-self-host", "pricing-update"],
    "integrations": ["nextjs", "django", "rails", "convex", "fastapi", "cloudflare", "vercel"],
}  # fmt: skip
PAGES = (
    ["/", "/pricing", "/docs", "/blog", "/features", "/changelog", "/about", "/login"]
    + [f"/docs/{p}" for p in _SECTIONS["docs"]]
    + [f"/blog/{p}" for p in _SECTIONS["blog"]]
    + [f"/integrations/{p}" for p in _SECTIONS["integrations"]]
    + [f"/docs/api/{r}" for r in ("events", "stats", "query", "funnels", "retention", "paths")]
    + [f"/templates/{i}" for i in range(1, 61)]
)
TITLES = {p: (p.strip("/").replace("/", " · ").replace("-", " ").title() or "Home") for p in PAGES}

#: (source key, referrer URL, weight, UTM (source, medium, campaign) or None)
SOURCES = [
    ("direct", "", 30, None),
    ("google", "https://www.google.com/", 28, None),
    ("bing", "https://www.bing.com/", 3, None),
    ("duckduckgo", "https://duckduckgo.com/", 2, None),
    ("hn", "https://news.ycombinator.com/", 5, None),
    ("reddit", "https://www.reddit.com/r/selfhosted/", 3, None),
    ("x", "https://t.co/Xa81kQ", 4, None),
    ("github", "https://github.com/agentlytics/agentlytics", 6, None),
    ("linkedin", "https://www.linkedin.com/", 2, ("linkedin", "social", "launch_week")),
    ("newsletter", "", 5, ("newsletter", "email", "weekly_digest")),
    ("producthunt", "https://www.producthunt.com/", 2, ("producthunt", "referral", "launch")),
    ("ads", "https://www.google.com/", 6, ("google", "cpc", "brand_search")),
    ("ads2", "https://www.google.com/", 3, ("google", "cpc", "competitor_terms")),
    ("chatgpt", "https://chatgpt.com/", 1, None),
]

TOOLS = [
    ("search_docs", "tool", 30, 80),
    ("get_stats", "tool", 18, 120),
    ("query_events", "tool", 12, 260),
    ("create_funnel", "tool", 6, 180),
    ("get_retention", "tool", 5, 420),
    ("list_projects", "tool", 8, 40),
    ("track_event", "tool", 6, 30),
    ("get_breakdown", "tool", 5, 150),
    ("docs://quickstart", "resource", 4, 20),
    ("schema://query", "resource", 3, 15),
    ("summarize_week", "prompt", 2, 35),
    ("explain_drop", "prompt", 1, 40),
]
CLIENTS = [("claude-desktop", 40), ("cursor", 25), ("vscode", 15), ("windsurf", 8),
           ("chatgpt", 7), ("zed", 5)]  # fmt: skip
ERRORS = ["timeout after 30s", "rate limited", "invalid arguments: missing 'project'",
          "upstream 502"]  # fmt: skip

BOT_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
]

SERVER_HEADERS = {"content-type": "application/json", "user-agent": "agentlytics-python/0.1"}


def browser_headers(ua: str, country: str) -> dict[str, str]:
    """What a browser beacon from our site carries (lowercase names, as ASGI gives them)."""
    return {
        "content-type": "text/plain;charset=UTF-8",
        "origin": SITE,
        "user-agent": ua,
        "cf-ipcountry": country,
    }


@dataclass
class Request:
    """One event as sent: the ``/track`` body (without the token) and its request headers."""

    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class DayPlan:
    """Everything about one day that needs the whole population to decide."""

    day: int
    start_ms: int
    seed: int
    #: per browser session: visitor number, start ms, session number of that visitor, days
    #: since the visitor's first visit, source index, the visitor's first source index,
    #: ua index, country index, 1 if this is the signup session, 1 if already identified
    sessions: dict[str, np.ndarray] = field(default_factory=dict)
    #: per MCP session: agent number, start ms
    mcp: dict[str, np.ndarray] = field(default_factory=dict)
    bots: int = 0


def _weights(items: list[Any], at: int) -> np.ndarray:
    w = np.array([float(i[at]) for i in items])
    return np.asarray(w / w.sum())


def _zipf(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return np.asarray(w / w.sum())


class Population:
    """Visitors and their visits, simulated day by day (cheap: numpy only)."""

    def __init__(self, *, days: int, end_ms: int, new_per_day: float, seed: int) -> None:
        self.days = days
        self.start_ms = end_ms - days * DAY_MS
        self.new_per_day = new_per_day
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.first_day = np.zeros(0, dtype=np.int32)
        self.first_source = np.zeros(0, dtype=np.int16)
        self.ua = np.zeros(0, dtype=np.int16)
        self.country = np.zeros(0, dtype=np.int16)
        self.loyal = np.zeros(0, dtype=bool)
        self.sessions_so_far = np.zeros(0, dtype=np.int32)
        self.signup_day = np.zeros(0, dtype=np.int32)
        self.p_ua = _weights(USER_AGENTS, 1)
        self.p_country = _weights(COUNTRIES, 1)
        self.p_source = _weights(SOURCES, 2)
        self.hour_weights = np.array(
            [1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.7, 1.2, 2, 2.8, 3.2, 3.3,
             3.1, 3.2, 3.3, 3.2, 3, 2.7, 2.3, 2, 1.8, 1.6, 1.4, 1.2]
        )  # fmt: skip
        self.hour_weights /= self.hour_weights.sum()

    def plan(self, day: int) -> DayPlan:
        rng = self.rng
        weekday = (self.start_ms // DAY_MS + day + 3) % 7  # 1970-01-01 was a Thursday
        rhythm = 0.55 if weekday >= 5 else 1.0
        n_new = rng.poisson(self.new_per_day * rhythm * (1.012**day))
        self._arrive(day, n_new)
        age = day - self.first_day
        # retention: likely back within days, decaying with age; a loyal tenth stays
        q = 0.09 * np.exp(-age / 12.0) + np.where(self.loyal, 0.18, 0.004)
        q = q * rhythm
        back = (age > 0) & (rng.random(age.size) < q)
        visitors = np.concatenate([np.flatnonzero(age == 0), np.flatnonzero(back)])
        # a few visitors come twice in a day
        twice = visitors[rng.random(visitors.size) < 0.12]
        visitors = np.concatenate([visitors, twice])
        n = visitors.size
        self.sessions_so_far[visitors] += 1  # the second visit of a day counts the same
        first = age[visitors] == 0
        source = np.where(
            first | (rng.random(n) < 0.45),
            rng.choice(len(SOURCES), size=n, p=self.p_source),
            0,
        )
        offset = np.array([c[2] for c in COUNTRIES])[self.country[visitors]]
        local_hour = rng.choice(24, size=n, p=self.hour_weights)
        utc_hour = (local_hour - offset) % 24
        start = (
            self.start_ms + day * DAY_MS + utc_hour * 3_600_000 + rng.integers(0, 3_600_000, size=n)
        )
        signup_now = self.signup_day[visitors] == day
        # only the first of a signup day's sessions signs up
        _, first_idx = np.unique(visitors, return_index=True)
        once = np.zeros(n, dtype=bool)
        once[first_idx] = True
        plan = DayPlan(day=day, start_ms=self.start_ms + day * DAY_MS, seed=self.seed + day)
        plan.sessions = {
            "visitor": visitors.astype(np.int64),
            "start": start.astype(np.int64),
            "number": self.sessions_so_far[visitors].astype(np.int32),
            "age": age[visitors].astype(np.int32),
            "source": source.astype(np.int16),
            "first_source": self.first_source[visitors],
            "ua": self.ua[visitors],
            "country": self.country[visitors],
            "signup": (signup_now & once).astype(np.int8),
            "identified": (self.signup_day[visitors] < day).astype(np.int8),
        }
        n_mcp = rng.poisson(0.10 * n * rhythm)
        plan.mcp = {
            "agent": rng.zipf(1.6, size=n_mcp).clip(max=5000).astype(np.int64),
            "start": (
                self.start_ms + day * DAY_MS + rng.integers(0, DAY_MS - 3_600_000, size=n_mcp)
            ).astype(np.int64),
        }
        plan.bots = int(rng.poisson(0.12 * n))
        return plan

    def _arrive(self, day: int, n: int) -> None:
        rng = self.rng
        self.first_day = np.concatenate([self.first_day, np.full(n, day, dtype=np.int32)])
        src = rng.choice(len(SOURCES), size=n, p=self.p_source).astype(np.int16)
        self.first_source = np.concatenate([self.first_source, src])
        self.ua = np.concatenate(
            [self.ua, rng.choice(len(USER_AGENTS), size=n, p=self.p_ua).astype(np.int16)]
        )
        self.country = np.concatenate(
            [self.country, rng.choice(len(COUNTRIES), size=n, p=self.p_country).astype(np.int16)]
        )
        self.loyal = np.concatenate([self.loyal, rng.random(n) < 0.08])
        self.sessions_so_far = np.concatenate([self.sessions_so_far, np.zeros(n, dtype=np.int32)])
        # ~9% sign up, most in their first days; campaign traffic converts better
        converts = rng.random(n) < np.where(src >= 8, 0.14, 0.08)
        delay = np.minimum(rng.geometric(0.35, size=n) - 1, 10_000)
        signup = np.where(converts, day + delay, np.iinfo(np.int32).max)
        self.signup_day = np.concatenate([self.signup_day, signup.astype(np.int32)])


class _Ids:
    """Fast deterministic UUID-shaped ids from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def visitor_uuid(seed: int, visitor: int) -> str:
    """The tracker's visitor id of a visitor (stable across days and processes)."""
    h = f"{random.Random(seed * 1_000_003 + visitor).getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-b{h[17:20]}-{h[20:]}"


def expand(plan: DayPlan, seed: int) -> tuple[list[Request], list[tuple[str, str, int]]]:
    """The day's requests, and the ``/identify`` calls (previous id, user id, at ms)."""
    rng = random.Random(plan.seed)
    ids = _Ids(rng)
    out: list[Request] = []
    identifies: list[tuple[str, str, int]] = []
    page_p = _zipf(len(PAGES), 1.1).tolist()
    page_cum = list(np.cumsum(page_p))
    s = plan.sessions
    for i in range(s["visitor"].size):
        _session(
            out,
            identifies,
            rng,
            ids,
            page_cum,
            seed=seed,
            visitor=int(s["visitor"][i]),
            start=int(s["start"][i]),
            number=int(s["number"][i]),
            age=int(s["age"][i]),
            source=int(s["source"][i]),
            first_source=int(s["first_source"][i]),
            ua=int(s["ua"][i]),
            country=int(s["country"][i]),
            signup=bool(s["signup"][i]),
            identified=bool(s["identified"][i]),
        )
    tool_p = list(np.cumsum(_weights(TOOLS, 2)))
    client_p = list(np.cumsum(_weights(CLIENTS, 1)))
    for agent, start in zip(plan.mcp["agent"].tolist(), plan.mcp["start"].tolist(), strict=True):
        _mcp_session(out, rng, ids, tool_p, client_p, agent=agent, start=start)
    for _ in range(plan.bots):
        at = plan.start_ms + rng.randrange(DAY_MS)
        path = PAGES[min(len(PAGES) - 1, int(rng.expovariate(0.08)))]
        ua = BOT_AGENTS[rng.randrange(len(BOT_AGENTS))]
        out.append(
            Request(
                {"event": "page_view", "properties": {"url": SITE + path, "path": path},
                 "timestamp": at, "id": ids.uuid()},
                {"content-type": "text/plain;charset=UTF-8", "origin": SITE, "user-agent": ua},
            )
        )  # fmt: skip
    return out, identifies


def _pick(cum: list[float], rng: random.Random) -> int:
    x = rng.random()
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _session(
    out: list[Request],
    identifies: list[tuple[str, str, int]],
    rng: random.Random,
    ids: _Ids,
    page_cum: list[float],
    *,
    seed: int,
    visitor: int,
    start: int,
    number: int,
    age: int,
    source: int,
    first_source: int,
    ua: int,
    country: int,
    signup: bool,
    identified: bool,
) -> None:
    cc, _, _, language, tz = COUNTRIES[country]
    headers = browser_headers(USER_AGENTS[ua][0], cc)
    screen = SCREENS[(visitor * 7 + ua) % len(SCREENS)] if ua < 6 else SCREENS[4 + visitor % 3]
    anon = visitor_uuid(seed, visitor)
    user = f"user_{visitor}"
    traits = {"user_email": f"user{visitor}@example.org", "user_name": f"User {visitor}"}
    _, ref_url, _, utm_t = SOURCES[source]
    utm = {}
    if utm_t:
        utm = {"utm_source": utm_t[0], "utm_medium": utm_t[1], "utm_campaign": utm_t[2]}
    _, first_ref, _, first_utm_t = SOURCES[first_source]
    visitor_props: dict[str, Any] = {"session_count": number, "days_since_first_visit": age}
    if first_ref:
        visitor_props["first_referrer"] = first_ref
    if first_utm_t:
        visitor_props.update(
            first_utm_source=first_utm_t[0],
            first_utm_medium=first_utm_t[1],
            first_utm_campaign=first_utm_t[2],
        )
    sid = ids.uuid()
    now = start
    # pages: ~40% bounce on one page, the rest a few more
    n_pages = 1 if rng.random() < 0.4 else 2 + min(int(rng.expovariate(0.45)), 12)
    pages = [PAGES[_pick(page_cum, rng)] for _ in range(n_pages)]
    if signup and "/pricing" not in pages:
        pages.append("/pricing")
    referrer = ref_url
    is_user = identified
    pending_signup = signup

    def send(name: str, path: str, url: str, extra: dict[str, Any] | None = None) -> None:
        props: dict[str, Any] = {
            "url": url,
            "path": path,
            "title": TITLES[path],
            "referrer": referrer,
            "language": language,
            "screen": screen,
            "timezone": tz,
            **utm,
            **visitor_props,
        }
        if extra:
            props.update(extra)
        body: dict[str, Any] = {
            "event": name,
            "properties": props,
            "user_id": user if is_user else anon,
            "anonymous_id": anon,
            "session_id": sid,
            "timestamp": now,
            "id": ids.uuid(),
        }
        if is_user:
            body.update(traits)
        out.append(Request(body, headers))

    for n, path in enumerate(pages):
        query = ""
        if n == 0 and utm:
            query = "?" + "&".join(f"{k}={v}" for k, v in utm.items())
        url = SITE + path + query
        send("page_view", path, url)
        if rng.random() < 0.35:
            now += int(rng.expovariate(1 / 20_000)) + 500
            send("$scroll_depth", path, url, {"depth": rng.choice((25, 50, 75, 100))})
        if rng.random() < 0.12:
            now += int(rng.expovariate(1 / 15_000)) + 300
            send("cta_click", path, url, {"button": rng.choice(("get_started", "docs", "demo"))})
        if path == "/pricing" and (pending_signup or rng.random() < 0.08):
            now += int(rng.expovariate(1 / 30_000)) + 1000
            plan_name = "team" if rng.random() < 0.3 else "pro"
            send("signup_started", path, url, {"plan": plan_name})
            if pending_signup:
                pending_signup = False
                now += int(rng.expovariate(1 / 60_000)) + 5000
                is_user = True
                send("signup_completed", path, url, {"plan": plan_name})
                identifies.append((anon, user, now))
                if rng.random() < 0.35:
                    now += int(rng.expovariate(1 / 120_000)) + 10_000
                    amount = 99 if plan_name == "team" else 29
                    send("purchase", path, url, {"plan": plan_name, "amount": amount})
                    out.append(
                        Request(
                            {
                                "event": "subscription_created",
                                "properties": {"plan": plan_name, "amount": amount},
                                "user_id": user,
                                "timestamp": now + 1500,
                                "id": ids.uuid(),
                            },
                            SERVER_HEADERS,
                        )
                    )
        referrer = url
        now += int(rng.expovariate(1 / 45_000)) + 2000


def _mcp_session(
    out: list[Request],
    rng: random.Random,
    ids: _Ids,
    tool_cum: list[float],
    client_cum: list[float],
    *,
    agent: int,
    start: int,
) -> None:
    client = CLIENTS[_pick(client_cum, rng)][0]
    session = ids.uuid()
    user = f"agent_user_{agent}"
    now = start
    for _ in range(1 + min(int(rng.expovariate(1 / 7)), 60)):
        name, kind, _, base_latency = TOOLS[_pick(tool_cum, rng)]
        ok = rng.random() > 0.06
        latency = round(base_latency * math.exp(rng.gauss(0, 0.6)), 1)
        body: dict[str, Any] = {
            "event": "$mcp_call",
            "user_id": user,
            "session_id": session,
            "timestamp": now,
            "id": ids.uuid(),
            "mcp_session_id": session,
            "primitive_type": kind,
            "primitive_name": name,
            "latency_ms": latency if ok else round(latency * 4, 1),
            "success": ok,
            "client": client,
            "properties": {"tool": name, "client_version": "1.4.2"},
        }
        if not ok:
            body["error"] = ERRORS[rng.randrange(len(ERRORS))]
        if kind == "tool":
            body["args"] = '{"project":"example","since":"7d"}'
        out.append(Request(body, SERVER_HEADERS))
        now += int(rng.expovariate(1 / 25_000)) + int(latency)
