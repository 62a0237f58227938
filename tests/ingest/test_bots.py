from __future__ import annotations

import pytest
from crawlerdetect import CrawlerDetect
from crawlerdetect.providers.crawlers import data as crawler_patterns

from agentlytics.ingest.bots import BOT_CATEGORIES, BotMatch, classify_bot

# (user agent, category, actor): real-world UA strings.
BOTS = {
    "gptbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot",
        "ai_agent",
        "GPTBot",
    ),
    "chatgpt-user": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "ai_agent",
        "ChatGPT-User",
    ),
    "oai-searchbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; "
        "+https://openai.com/searchbot",
        "ai_agent",
        "OAI-SearchBot",
    ),
    "claudebot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "ai_agent",
        "ClaudeBot",
    ),
    "claude-user": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; "
        "+Claude-User@anthropic.com)",
        "ai_agent",
        "Claude-User",
    ),
    "perplexitybot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
        "+https://perplexity.ai/perplexitybot)",
        "ai_agent",
        "PerplexityBot",
    ),
    "perplexity-user": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; "
        "+https://perplexity.ai/perplexity-user)",
        "ai_agent",
        "Perplexity-User",
    ),
    "bytespider": (
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "ai_agent",
        "Bytespider",
    ),
    "ccbot": ("CCBot/2.0 (https://commoncrawl.org/faq/)", "ai_agent", "CCBot"),
    "amazonbot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5 (KHTML, like Gecko) "
        "Version/8.0.2 Safari/600.2.5 (Amazonbot/0.1; "
        "+https://developer.amazon.com/support/amazonbot)",
        "ai_agent",
        "Amazonbot",
    ),
    "meta-externalagent": (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "ai_agent",
        "Meta-ExternalAgent",
    ),
    "googlebot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_crawler",
        "Googlebot",
    ),
    "googlebot-smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; "
        "Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_crawler",
        "Googlebot",
    ),
    "bingbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "search_crawler",
        "Bingbot",
    ),
    "yandexbot": (
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "search_crawler",
        "YandexBot",
    ),
    "duckduckbot": (
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "search_crawler",
        "DuckDuckBot",
    ),
    "applebot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "search_crawler",
        "Applebot",
    ),
    "ahrefsbot": (
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "search_crawler",
        "AhrefsBot",
    ),
    "facebookexternalhit": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "social_preview",
        "facebookexternalhit",
    ),
    "twitterbot": ("Twitterbot/1.0", "social_preview", "Twitterbot"),
    "slackbot": (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "social_preview",
        "Slackbot",
    ),
    "linkedinbot": (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "social_preview",
        "LinkedInBot",
    ),
    "discordbot": (
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "social_preview",
        "Discordbot",
    ),
    "whatsapp": ("WhatsApp/2.23.20.0 A", "social_preview", "WhatsApp"),
    "telegrambot": ("TelegramBot (like TwitterBot)", "social_preview", "TelegramBot"),
    "uptimerobot": (
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "monitoring_perf",
        "UptimeRobot",
    ),
    "pingdom": (
        "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        "monitoring_perf",
        "Pingdom",
    ),
    "lighthouse": (
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "monitoring_perf",
        "Lighthouse",
    ),
    "lighthouse-headless": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.6367.60 Safari/537.36 Chrome-Lighthouse",
        "monitoring_perf",
        "Lighthouse",
    ),
    "headless-chrome": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.6367.60 Safari/537.36",
        "monitoring_perf",
        "HeadlessChrome",
    ),
    "gtmetrix": (
        "Mozilla/5.0 (X11; Linux x86_64; GTmetrix https://gtmetrix.com/) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "monitoring_perf",
        "GTmetrix",
    ),
    "datadog-synthetics": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 DatadogSynthetics",
        "monitoring_perf",
        "Datadog",
    ),
    "curl": ("curl/8.5.0", "monitoring_perf", "curl"),
    "wget": ("Wget/1.21.4", "monitoring_perf", "Wget"),
    "python-requests": ("python-requests/2.31.0", "monitoring_perf", "python-requests"),
    "go-http-client": ("Go-http-client/1.1", "monitoring_perf", "Go-http-client"),
    "node-fetch": ("node", "monitoring_perf", "node"),
    "undici": ("undici", "monitoring_perf", "undici"),
    # Not in our table: crawlerdetect finds them, the token picks the category.
    "seekport (crawlerdetect)": (
        "Mozilla/5.0 (compatible; SeekportBot; +https://bot.seekport.com)",
        "search_crawler",
        "SeekportBot",
    ),
    "nodeping (crawlerdetect)": ("NodePing", "monitoring_perf", "NodePing"),
    "preview keyword (crawlerdetect)": (
        "Mozilla/5.0 (compatible; AcmePreviewBot/1.0; +https://acme.example/bot)",
        "social_preview",
        "AcmePreviewBot",
    ),
    "llm keyword (crawlerdetect)": (
        "Mozilla/5.0 (compatible; AcmeLLMCrawler/1.0; +https://acme.example/bot)",
        "ai_agent",
        "AcmeLLMCrawler",
    ),
}

PEOPLE = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "firefox-linux": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 "
    "Firefox/125.0",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "safari-ipad": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "facebook-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/454.0.0.38.106;"
    "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.3.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
    "instagram-in-app": "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.118 Mobile "
    "Safari/537.36 Instagram 326.0.0.42.90 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B)",
    "telegram-in-app": "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36 Telegram-Android/10.0.5 "
    "(Google Pixel 7; Android 13; SDK 33; AVERAGE)",
}


@pytest.mark.parametrize(("ua", "category", "actor"), BOTS.values(), ids=BOTS.keys())
def test_classify_bot_names_the_category_and_actor(ua: str, category: str, actor: str) -> None:
    assert classify_bot(ua) == BotMatch(category, actor)  # type: ignore[arg-type]


@pytest.mark.parametrize("ua", PEOPLE.values(), ids=PEOPLE.keys())
def test_browsers_of_people_are_not_bots(ua: str) -> None:
    assert classify_bot(ua) is None


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_a_missing_user_agent_is_not_a_bot(ua: str | None) -> None:
    assert classify_bot(ua) is None


@pytest.mark.parametrize(
    "ua", ["agentlytics-sdk/0.1.0", "agentlytics-sdk/0.1.0 python-httpx/0.28.1"]
)
def test_our_own_sdk_is_never_a_bot(ua: str) -> None:
    assert classify_bot(ua) is None


def test_every_category_is_one_of_the_contract_categories() -> None:
    assert set(BOT_CATEGORIES) == {
        "ai_agent",
        "search_crawler",
        "social_preview",
        "monitoring_perf",
    }
    assert {category for _, category, _ in BOTS.values()} == set(BOT_CATEGORIES)


def test_classify_bot_returns_the_cached_result_for_a_repeated_user_agent() -> None:
    ua = BOTS["googlebot"][0]
    assert classify_bot(ua) is classify_bot(ua)


def _crawlerdetect_corpus() -> list[str]:
    # Each literal crawlerdetect pattern inside a browser-like UA, plus hand-made UAs that
    # exercise its regex patterns (anchored, catch-all, lookahead, optional groups).
    literals = [
        p.replace("\\", "")
        for p in crawler_patterns
        if not set(".^$*+?{}[]()|").intersection(
            p.replace("\\.", "").replace("\\/", "").replace("\\-", "").replace("\\ ", "")
        )
    ]
    handmade = [
        "Java/17.0.2",
        "npm/10.2.4 node/v20.11.0 linux x64",
        "docker/24.0.7 go/go1.20.10",
        "Go 1.1 package http",
        "Mozilla/5.0 (compatible; Sitemaps Generator)",
        "Mozilla/5.0 (compatible; AcmeSpider/2.1)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 DebugBear",
        "Mozilla/5.0 (compatible; YandexMetrika/2.0)",
        "Daumoa/4.0",
        "PTST/230101.120000",
        "xpymep1.exe",
        # re matches "s" to the long s (U+017F) under IGNORECASE; str.lower() does not.
        "Mozilla/5.0 (compatible; AddThi\u017f/1.0)",
    ]
    return [f"Mozilla/5.0 (compatible; {lit}/1.0)" for lit in literals] + handmade


def test_every_ua_crawlerdetect_flags_is_classified_as_a_bot() -> None:
    corpus = _crawlerdetect_corpus()
    assert len(corpus) > 1300
    missed = [ua for ua in corpus if CrawlerDetect().is_crawler(ua) and classify_bot(ua) is None]
    assert missed == []


def test_a_person_with_non_ascii_in_the_user_agent_is_not_a_bot() -> None:
    ua = PEOPLE["chrome-android"].replace("; K)", "; Téléphone)")
    assert classify_bot(ua) is None
