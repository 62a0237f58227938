"""Server-rendered pages (sign up, sign in, claim, the dashboard) and the static files.

* ``auth``: accounts with passwords, server-side sessions, CSRF tokens; the small API other
  pages build on (``current_account``, ``require_account``, ``login``, ``logout``,
  ``csrf_token``, ``check_csrf``).
* ``pages``: sign up, sign in, sign out and claim.
* ``dashboard``: the projects list and the project pages (shells the browser fills from the
  JSON API), their scripts and styles, and uPlot from node_modules (docs/dashboard.md).
* ``api_session``: the web session as an API credential (full scope; CSRF header on changes).
* ``templates/``: Jinja2; every page extends ``base.html``.
* ``static/tracker.js``: the browser tracker, built from ``tracker/``.
* ``static/dash*.{js,css}``: the dashboard's scripts (ES modules, no build step) and styles.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
TRACKER_JS = STATIC_DIR / "tracker.js"
