"""The dashboard: server-rendered page shells whose numbers the browser reads from the JSON API.

The server does three things here and no analytics at all:

* checks who is signed in and that the project in the URL is theirs (another account's
  project, by name or id, is a 404 page, never a redirect that would confirm it exists);
* renders the page shell (navigation, filter bar, empty panels) with the project's name,
  time zone, write key and the session's CSRF token as ``data-`` attributes;
* serves the page's scripts and styles, and uPlot from ``node_modules`` (``npm ci``).

Every number is fetched by ``static/dashboard.js`` from the same routes agents use, with
the session cookie as the credential (``web/api_session.py``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from agentlytics.api.common import services
from agentlytics.api.convalytics import base_url
from agentlytics.errors import NotFound, ValidationError
from agentlytics.model.project import Project
from agentlytics.web import STATIC_DIR, WEB_DIR
from agentlytics.web.auth import require_account
from agentlytics.web.pages import render


@dataclass(frozen=True, slots=True)
class Section:
    slug: str  # URL segment after /p/{project}; "" is the overview
    title: str
    in_nav: bool = True
    #: which parts of the filter bar the page's panels honour
    range: bool = True
    filters: bool = False
    compare: bool = False


SECTIONS: dict[str, Section] = {
    s.slug: s
    for s in [
        Section("", "Overview", filters=True, compare=True),
        Section("funnels", "Funnels"),
        Section("retention", "Retention", range=False),
        Section("paths", "Paths"),
        Section("live", "Live", range=False),
        Section("users", "Users", filters=True),
        Section("user", "User", in_nav=False),
        Section("mcp", "MCP servers", filters=True, compare=True),
        Section("experiments", "Experiments", range=False),
        Section("bots", "Bot traffic"),
        Section("settings", "Settings", range=False),
    ]
}
NAV = [s for s in SECTIONS.values() if s.in_nav]

# vendor files: the name served under /static/vendor/ -> the file inside the npm package
VENDOR_FILES = {
    "uPlot.iife.min.js": Path("uplot/dist/uPlot.iife.min.js"),
    "uPlot.min.css": Path("uplot/dist/uPlot.min.css"),
}
_OWN_STATIC = re.compile(r"^dash(board)?(-[a-z]+)?\.(js|css)$")
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def node_modules_dirs() -> list[Path]:
    """Where ``npm ci`` may have put node_modules: the source checkout (editable install),
    the directory holding the virtualenv, and the working directory."""
    repo = WEB_DIR.parents[2]
    venv_parent = Path(sys.prefix).resolve().parent
    return [repo / "node_modules", venv_parent / "node_modules", Path.cwd() / "node_modules"]


_found: dict[str, Path] = {}


def vendor_path(name: str) -> Path | None:
    """The installed file, or None; a miss is looked for again, so `npm ci` needs no restart."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        return None
    if name not in _found:
        for base in node_modules_dirs():
            if (base / relative).is_file():
                _found[name] = base / relative
                break
    return _found.get(name)


def charts_available() -> bool:
    return all(vendor_path(name) is not None for name in VENDOR_FILES)


# pages ------------------------------------------------------------------------------------


def _not_found(request: Request) -> Response:
    context = {
        "title": "Page not found",
        "text": "There is no such page or project in your account.",
        "link": "/",
    }
    return render(request, "message.html", context, 404)


async def projects_home(request: Request) -> Response:
    """``/``: the account's projects, each with a 30-day sparkline (filled in by the script)."""
    account = require_account(request)
    projects = services(request).projects.list_projects(account)
    context = {
        "projects": projects,
        "claimed": request.query_params.get("claimed"),
        "base_url": base_url(request),
        "page": "projects",
        "charts": charts_available(),
    }
    return render(request, "dashboard/projects.html", context)


def _project(request: Request) -> Project | None:
    account = require_account(request)
    try:
        return services(request).projects.get_project(account, request.path_params["project"])
    except (NotFound, ValidationError):
        return None


async def project_page(request: Request) -> Response:
    """``/p/{project}`` and ``/p/{project}/{section}``: one page shell per section."""
    project = _project(request)
    section = SECTIONS.get(request.path_params.get("section", ""))
    if project is None or section is None:
        return _not_found(request)
    context = {
        "project": project,
        "section": section,
        "nav": NAV,
        "page": section.slug or "overview",
        "base_url": base_url(request),
        "charts": charts_available(),
    }
    template = f"dashboard/{section.slug or 'overview'}.html"
    return render(request, template, context)


# static files -------------------------------------------------------------------------------


def _file(path: Path) -> Response:
    return FileResponse(path, media_type=_MEDIA.get(path.suffix), headers=_STATIC_HEADERS)


async def own_static(request: Request) -> Response:
    name = request.path_params["name"]
    path = STATIC_DIR / name
    if not _OWN_STATIC.match(name) or not path.is_file():
        return Response("not found", 404, media_type="text/plain")
    return _file(path)


async def vendor_static(request: Request) -> Response:
    path = vendor_path(request.path_params["name"])
    if path is None:
        return Response(
            "not installed: run `npm ci` in the agentlytics checkout (scripts/install does)",
            404,
            media_type="text/plain",
        )
    return _file(path)


ROUTES: list[BaseRoute] = [
    Route("/", projects_home, methods=["GET"], name="projects_home"),
    Route("/p/{project}", project_page, methods=["GET"], name="project_overview"),
    Route("/p/{project}/{section}", project_page, methods=["GET"], name="project_section"),
    Route("/static/vendor/{name}", vendor_static, methods=["GET"], name="vendor_static"),
    Route("/static/{name}", own_static, methods=["GET"], name="dashboard_static"),
]
