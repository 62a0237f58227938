"""Classify automated traffic by User-Agent into the four ``/bot-traffic`` categories.

``classify_bot(ua)`` returns a ``BotMatch(category, actor)`` or None. The caller (the
ingest pipeline) applies it to **browser events only** (``source == "browser"``: the
tracker's requests). Server-side events come from our SDK, Agnost's SDKs or a backend's
own HTTP client, whose UAs (``python-requests``, ``node``, ``undici``…) say nothing about
whether a person is behind the event, so they are never passed here.

Rules, in order:

1. Empty or missing UA → None. A browser always sends one, but a missing header is not
   evidence of a bot, and server events often have none. (Agent Analytics' ``bot.js``
   counts it as a bot; we do not.) Our own SDK (``agentlytics-sdk``) → None, always.
2. ``RULES``: an ordered table of (regex, category, actor) for named agents; the first
   match wins, so a more specific token comes before a token it contains
   ("Applebot-Extended" before "Applebot", "Chrome-Lighthouse" before "HeadlessChrome").
   - ``ai_agent``: LLM crawlers and the fetchers that act for a user in a chat
     (GPTBot, ChatGPT-User, ClaudeBot, Claude-User, PerplexityBot, Bytespider, CCBot…).
   - ``social_preview``: link unfurlers (facebookexternalhit, Twitterbot, Slackbot…).
   - ``search_crawler``: search engines, archives and SEO crawlers (Googlebot, Bingbot,
     AhrefsBot…). Our category list is closed, so SEO tools land here.
   - ``monitoring_perf``: uptime and performance checks (UptimeRobot, Pingdom,
     Lighthouse…), headless and automated browsers (HeadlessChrome, PhantomJS,
     Playwright…), and **generic HTTP clients** (curl, python-requests, Go-http-client,
     node…). A script hitting the browser tracker is almost always a smoke test, a cron
     ping or a synthetic check, so it is filed with those rather than with crawlers.
3. Otherwise crawlerdetect's ~1,400 patterns; its matched token is the actor, and the
   category comes from keywords in that token (monitor/uptime/ping/http client words →
   ``monitoring_perf``; preview/embed/share → ``social_preview``; gpt/claude/llm/ai →
   ``ai_agent``); anything else is a ``search_crawler``.

Results are LRU-cached (4096 entries): the same UAs repeat, and a crawlerdetect miss (every
real browser) costs about half a millisecond.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from crawlerdetect import CrawlerDetect

__all__ = ["BOT_CATEGORIES", "RULES", "BotCategory", "BotMatch", "classify_bot"]

BotCategory = Literal["ai_agent", "search_crawler", "social_preview", "monitoring_perf"]
BOT_CATEGORIES: Final[tuple[BotCategory, ...]] = get_args(BotCategory)

MAX_UA = 1024
_MAX_ACTOR = 64


@dataclass(frozen=True, slots=True)
class BotMatch:
    """A UA identified as automated: its category and a readable actor name."""

    category: BotCategory
    actor: str


_AI: BotCategory = "ai_agent"
_SEARCH: BotCategory = "search_crawler"
_SOCIAL: BotCategory = "social_preview"
_MONITOR: BotCategory = "monitoring_perf"

_TABLE: tuple[tuple[str, BotCategory, str], ...] = (
    # AI agents: crawlers that feed models, and fetchers acting for a chat user.
    (r"ChatGPT-User", _AI, "ChatGPT-User"),
    (r"OAI-SearchBot", _AI, "OAI-SearchBot"),
    (r"GPTBot", _AI, "GPTBot"),
    (r"Claude-User", _AI, "Claude-User"),
    (r"Claude-SearchBot", _AI, "Claude-SearchBot"),
    (r"Claude-Web", _AI, "Claude-Web"),
    (r"ClaudeBot", _AI, "ClaudeBot"),
    (r"anthropic-ai", _AI, "anthropic-ai"),
    (r"Perplexity-User", _AI, "Perplexity-User"),
    (r"PerplexityBot", _AI, "PerplexityBot"),
    (r"Google-Extended", _AI, "Google-Extended"),
    (r"Google-CloudVertexBot", _AI, "Google-CloudVertexBot"),
    (r"Google-NotebookLM", _AI, "Google-NotebookLM"),
    (r"Gemini-Deep-Research", _AI, "Gemini-Deep-Research"),
    (r"CCBot", _AI, "CCBot"),
    (r"Bytespider", _AI, "Bytespider"),
    (r"Amazonbot", _AI, "Amazonbot"),
    (r"Applebot-Extended", _AI, "Applebot-Extended"),
    (r"cohere-ai|cohere-training-data-crawler", _AI, "cohere-ai"),
    (r"Meta-ExternalAgent", _AI, "Meta-ExternalAgent"),
    (r"Meta-ExternalFetcher", _AI, "Meta-ExternalFetcher"),
    (r"FacebookBot", _AI, "FacebookBot"),
    (r"Diffbot", _AI, "Diffbot"),
    (r"YouBot", _AI, "YouBot"),
    (r"MistralAI-User", _AI, "MistralAI-User"),
    (r"DuckAssistBot", _AI, "DuckAssistBot"),
    (r"AI2Bot", _AI, "AI2Bot"),
    (r"Timpibot", _AI, "Timpibot"),
    (r"ImagesiftBot", _AI, "ImagesiftBot"),
    (r"Kangaroo Bot", _AI, "Kangaroo Bot"),
    (r"PanguBot", _AI, "PanguBot"),
    (r"iaskspider|iAskBot", _AI, "iAskBot"),
    # Social previews: link unfurlers in chat and social apps.
    (r"facebookexternalhit|facebookcatalog", _SOCIAL, "facebookexternalhit"),
    (r"Facebot", _SOCIAL, "Facebot"),
    # Before Twitterbot: Telegram's UA is "TelegramBot (like TwitterBot)".
    (r"TelegramBot", _SOCIAL, "TelegramBot"),
    (r"Twitterbot", _SOCIAL, "Twitterbot"),
    (r"LinkedInBot", _SOCIAL, "LinkedInBot"),
    # Anchored: WhatsApp's in-app browser is a WebView that does not start with it.
    (r"^WhatsApp/", _SOCIAL, "WhatsApp"),
    (r"Discordbot", _SOCIAL, "Discordbot"),
    (r"Slackbot|Slack-ImgProxy", _SOCIAL, "Slackbot"),
    (r"Pinterestbot|Pinterest/0\.", _SOCIAL, "Pinterestbot"),
    (r"redditbot", _SOCIAL, "redditbot"),
    (r"SkypeUriPreview", _SOCIAL, "SkypeUriPreview"),
    (r"BingPreview", _SOCIAL, "BingPreview"),
    (r"Google-PageRenderer", _SOCIAL, "Google-PageRenderer"),
    (r"Iframely", _SOCIAL, "Iframely"),
    (r"Embedly", _SOCIAL, "Embedly"),
    (r"vkShare", _SOCIAL, "vkShare"),
    (r"\(Mastodon/", _SOCIAL, "Mastodon"),
    (r"Cardyb", _SOCIAL, "Bluesky"),
    (r"Snap URL Preview", _SOCIAL, "Snapchat"),
    (r"kakaotalk-scrap", _SOCIAL, "KakaoTalk"),
    # Search engines, archives, SEO crawlers.
    (r"Googlebot", _SEARCH, "Googlebot"),
    (r"Storebot-Google", _SEARCH, "Storebot-Google"),
    (r"Google-InspectionTool", _SEARCH, "Google-InspectionTool"),
    (r"GoogleOther", _SEARCH, "GoogleOther"),
    (r"AdsBot-Google", _SEARCH, "AdsBot-Google"),
    (r"Mediapartners-Google", _SEARCH, "Mediapartners-Google"),
    (r"APIs-Google", _SEARCH, "APIs-Google"),
    (r"FeedFetcher-Google", _SEARCH, "FeedFetcher-Google"),
    (r"bingbot", _SEARCH, "Bingbot"),
    (r"adidxbot", _SEARCH, "AdIdxBot"),
    (r"msnbot", _SEARCH, "msnbot"),
    (r"\bSlurp\b", _SEARCH, "Slurp"),
    (r"DuckDuckBot", _SEARCH, "DuckDuckBot"),
    (r"Baiduspider", _SEARCH, "Baiduspider"),
    (r"Yandex\w*Bot|YandexImages", _SEARCH, "YandexBot"),
    # "Sogou web spider"; SogouMobileBrowser is a real browser.
    (r"Sogou[\w ]*spider", _SEARCH, "Sogou"),
    (r"Exabot", _SEARCH, "Exabot"),
    (r"ia_archiver", _SEARCH, "ia_archiver"),
    (r"archive\.org_bot", _SEARCH, "archive.org_bot"),
    (r"Applebot", _SEARCH, "Applebot"),
    (r"Qwantify|Qwantbot", _SEARCH, "Qwantbot"),
    (r"SeznamBot", _SEARCH, "SeznamBot"),
    (r"\bYeti/\d", _SEARCH, "Yeti"),
    (r"PetalBot", _SEARCH, "PetalBot"),
    (r"coccocbot", _SEARCH, "coccocbot"),
    (r"MojeekBot", _SEARCH, "MojeekBot"),
    (r"AhrefsBot|AhrefsSiteAudit", _SEARCH, "AhrefsBot"),
    (r"SemrushBot|SiteAuditBot", _SEARCH, "SemrushBot"),
    (r"MJ12bot", _SEARCH, "MJ12bot"),
    (r"DotBot", _SEARCH, "DotBot"),
    (r"rogerbot", _SEARCH, "rogerbot"),
    (r"Screaming Frog", _SEARCH, "Screaming Frog"),
    (r"DataForSeoBot", _SEARCH, "DataForSeoBot"),
    (r"BLEXBot", _SEARCH, "BLEXBot"),
    (r"serpstatbot", _SEARCH, "serpstatbot"),
    (r"Barkrowler", _SEARCH, "Barkrowler"),
    (r"Scrapy", _SEARCH, "Scrapy"),
    # Monitoring and performance: uptime checks, audits, synthetic browsers.
    (r"Google Page Speed|PageSpeed", _MONITOR, "PageSpeed"),
    (r"Lighthouse", _MONITOR, "Lighthouse"),
    (r"GTmetrix", _MONITOR, "GTmetrix"),
    (r"PTST/", _MONITOR, "WebPageTest"),
    (r"SpeedCurve", _MONITOR, "SpeedCurve"),
    (r"UptimeRobot", _MONITOR, "UptimeRobot"),
    (r"Pingdom", _MONITOR, "Pingdom"),
    (r"StatusCake", _MONITOR, "StatusCake"),
    (r"Datadog", _MONITOR, "Datadog"),
    (r"Site24x7", _MONITOR, "Site24x7"),
    (r"NewRelicPinger|New Relic Synthetics", _MONITOR, "New Relic"),
    (r"Better ?Uptime|Better ?Stack", _MONITOR, "Better Stack"),
    (r"Checkly", _MONITOR, "Checkly"),
    (r"HetrixTools", _MONITOR, "HetrixTools"),
    (r"Uptime-Kuma", _MONITOR, "Uptime Kuma"),
    (r"Freshping", _MONITOR, "Freshping"),
    (r"Catchpoint", _MONITOR, "Catchpoint"),
    (r"HeadlessChrome", _MONITOR, "HeadlessChrome"),
    (r"PhantomJS", _MONITOR, "PhantomJS"),
    (r"Puppeteer", _MONITOR, "Puppeteer"),
    (r"Playwright", _MONITOR, "Playwright"),
    (r"Selenium", _MONITOR, "Selenium"),
    (r"Cypress/", _MONITOR, "Cypress"),
    # Generic HTTP clients: scripts, not people (see the module docstring).
    (r"^curl/", _MONITOR, "curl"),
    (r"^Wget/", _MONITOR, "Wget"),
    (r"python-requests", _MONITOR, "python-requests"),
    (r"python-httpx", _MONITOR, "python-httpx"),
    (r"aiohttp", _MONITOR, "aiohttp"),
    (r"Python-urllib", _MONITOR, "Python-urllib"),
    (r"Go-http-client", _MONITOR, "Go-http-client"),
    (r"node-fetch", _MONITOR, "node-fetch"),
    (r"^undici", _MONITOR, "undici"),
    (r"^axios/", _MONITOR, "axios"),
    (r"^got\b", _MONITOR, "got"),
    (r"^node(?:/|$)", _MONITOR, "node"),
    (r"^Deno/", _MONITOR, "Deno"),
    (r"^Bun/", _MONITOR, "Bun"),
    (r"okhttp", _MONITOR, "okhttp"),
    (r"libwww-perl", _MONITOR, "libwww-perl"),
    (r"^Java/", _MONITOR, "Java"),
    (r"Apache-HttpClient", _MONITOR, "Apache-HttpClient"),
    (r"HTTPie/", _MONITOR, "HTTPie"),
    (r"PostmanRuntime", _MONITOR, "Postman"),
    (r"^insomnia/", _MONITOR, "Insomnia"),
)

#: The ordered rule table: (compiled case-insensitive regex, category, actor).
RULES: Final[tuple[tuple[re.Pattern[str], BotCategory, str], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), category, actor) for pattern, category, actor in _TABLE
)

# UAs that are never bots, whatever else they contain: our own SDK.
_ALLOW = re.compile(r"agentlytics-sdk", re.IGNORECASE)

_FALLBACK_KEYWORDS: tuple[tuple[re.Pattern[str], BotCategory], ...] = (
    (
        re.compile(
            r"monitor|uptime|(?<!shop)ping|status|check|synthetic|health|speed|perf|lighthouse|headless"
            r"|curl|wget|http|python|java|perl|ruby|php|okhttp|axios|node|undici",
            re.IGNORECASE,
        ),
        _MONITOR,
    ),
    (re.compile(r"preview|embed|unfurl|share|card", re.IGNORECASE), _SOCIAL),
    (
        re.compile(
            r"gpt|claude|anthropic|openai|perplexity|llm|cohere|mistral|gemini|(?:\b|_)ai(?:\b|_|bot)",
            re.IGNORECASE,
        ),
        _AI,
    ),
)


def classify_bot(ua: str | None) -> BotMatch | None:
    """Return the bot category and actor for a browser event's UA, or None for a person."""
    if not ua or not (ua := ua.strip()):
        return None
    return _classify_cached(ua[:MAX_UA])


@functools.lru_cache(maxsize=4096)
def _classify_cached(ua: str) -> BotMatch | None:
    if _ALLOW.search(ua):
        return None
    for pattern, category, actor in RULES:
        if pattern.search(ua):
            return BotMatch(category, actor)
    # A fresh detector per call: CrawlerDetect keeps the last match on the instance, so a
    # shared one is not thread-safe. This runs only on a cache miss.
    detector = CrawlerDetect()
    if not detector.is_crawler(ua):
        return None
    token = (detector.get_matches() or "").strip().rstrip("/;:,").strip()[:_MAX_ACTOR]
    if not token:
        return BotMatch(_SEARCH, "unknown")
    for keywords, category in _FALLBACK_KEYWORDS:
        if keywords.search(token):
            return BotMatch(category, token)
    return BotMatch(_SEARCH, token)
