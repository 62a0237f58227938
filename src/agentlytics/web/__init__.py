"""Server-rendered pages (sign up, sign in, claim, the projects list) and the static files.

* ``auth``: accounts with passwords, server-side sessions, CSRF tokens; the small API other
  pages build on (``current_account``, ``require_account``, ``login``, ``logout``,
  ``csrf_token``, ``check_csrf``).
* ``pages``: the handlers and their routes.
* ``templates/``: Jinja2; every page extends ``base.html``.
* ``static/tracker.js``: the browser tracker, built from ``tracker/``.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
TRACKER_JS = STATIC_DIR / "tracker.js"
