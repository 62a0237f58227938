"""Discovery for agents: ``/llms.txt``, ``/llms-full.txt``, ``/.well-known/mcp/server-card.json``.

Both text files are generated at request time from the Markdown pages in ``docs/``, so they
say what the docs say. The pages are read from ``agentlytics/_docs`` when a wheel ships them
there, else from the ``docs/`` directory of the source tree the package runs from (an
editable install or a checkout); with neither, ``/llms-full.txt`` holds only the index.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from agentlytics import __version__
from agentlytics.api.common import in_thread, json_response
from agentlytics.api.convalytics import base_url

_PACKAGE = Path(__file__).resolve().parents[1]
DOC_DIRS = (_PACKAGE / "_docs", _PACKAGE.parents[1] / "docs")
#: the reading order of the manual; pages not listed follow in name order
DOC_ORDER = (
    "index.md",
    "quickstart.md",
    "agent-setup.md",
    "http-api.md",
    "convalytics.md",
    "agnost.md",
    "tracker.md",
    "sdk.md",
    "mcp.md",
    "queries.md",
    "cli.md",
    "configuration.md",
    "self-hosting.md",
    "scale-out.md",
    "architecture.md",
)
_HEADERS = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


def docs_dir() -> Path | None:
    return next((d for d in DOC_DIRS if d.is_dir()), None)


def doc_pages() -> list[Path]:
    """The manual's pages in reading order (``docs/*.md``; ``docs/dev/`` is for contributors)."""
    root = docs_dir()
    if root is None:
        return []
    pages = {p.name: p for p in root.glob("*.md")}
    ordered = [pages.pop(name) for name in DOC_ORDER if name in pages]
    return ordered + [pages[name] for name in sorted(pages)]


def _title_and_summary(text: str) -> tuple[str, str]:
    title, summary = "", ""
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not title and block.startswith("# "):
            title = block.splitlines()[0][2:].strip()
        elif title and block and not block.startswith(("#", "<!--", "```", "|", "-", "*")):
            summary = " ".join(block.split())
            break
    return title, summary


def llms_txt(base: str) -> str:
    """The short index: what this is, how an agent starts, and the pages of the manual."""
    lines = [
        "# agentlytics",
        "",
        "> Self-hosted, agent-first product analytics for web apps, back ends and MCP servers. "
        "An agent sets it up with one command; a person claims the project later.",
        "",
        f"Full manual: {base}/llms-full.txt",
        f"OpenAPI: {base}/openapi.json",
        f"MCP server card: {base}/.well-known/mcp/server-card.json",
        "",
        "## Agent flow, no account needed",
        "",
        "1. `agentlytics init --url " + base + "` in the app's directory (or `POST "
        f"{base}/api/provision`): a write key (`aat_…`) and a claim URL.",
        "2. Send events with the write key: `POST /ingest`, `POST /ingest/batch` (Convalytics "
        "format), `POST /track` (native), or the browser script "
        f'`<script defer src="{base}/script.js?key=WRITE_KEY"></script>`.',
        "3. `agentlytics verify` (or `GET /verify?writeKey=…`) confirms events arrive.",
        "4. `agentlytics plan` proposes events from the code; `--apply` instruments them.",
        "5. Give the claim URL to a person: they sign in and the project joins their account.",
        "",
        "## Manual",
        "",
    ]
    for page in doc_pages():
        title, summary = _title_and_summary(page.read_text())
        entry = f"- {title or page.stem}"
        lines.append(f"{entry}: {summary}" if summary else entry)
    return "\n".join(lines) + "\n"


def llms_full_txt(base: str) -> str:
    parts = [llms_txt(base)]
    for page in doc_pages():
        parts.append(f"\n---\n<!-- docs/{page.name} -->\n\n{page.read_text().strip()}\n")
    return "".join(parts)


async def llms(request: Request) -> Response:
    text = await in_thread(llms_txt, base_url(request))
    return PlainTextResponse(text, headers=_HEADERS)


async def llms_full(request: Request) -> Response:
    text = await in_thread(llms_full_txt, base_url(request))
    return PlainTextResponse(text, headers=_HEADERS)


async def mcp_server_card(request: Request) -> Response:
    base = base_url(request)
    card = {
        "name": "agentlytics",
        "displayName": "agentlytics",
        "description": "Read-only analytics for AI assistants over the Model Context Protocol: "
        "projects, page views, events, funnels, retention, breakdowns and experiments of a "
        "self-hosted agentlytics server.",
        "version": __version__,
        "serverUrl": f"{base}/mcp",
        "transport": "http",
        "documentationUrl": f"{base}/llms-full.txt",
        "auth": {
            "type": "bearer",
            "scheme": "Bearer",
            "description": "An agentlytics API key (aak_…), sent as Authorization: Bearer aak_…. "
            "Create one with `agentlytics keys create` or POST /account/keys.",
        },
    }
    return json_response(card, headers=_HEADERS)
