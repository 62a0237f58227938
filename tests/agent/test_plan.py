"""``agentlytics plan``: events proposed from the code, and ``--apply`` inserting them."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from agentlytics.agent.apply import apply_plan
from tests.agent.conftest import APPS, cli, copy_app, snapshot


def plan_json(root: Path) -> dict[str, Any]:
    result = cli("plan", "--dir", str(root), "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def by_event(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["event"]: e for e in plan["events"]}


def test_plan_proposes_the_core_journey_of_the_fastapi_app() -> None:
    events = by_event(plan_json(APPS / "fastapi_app"))
    assert set(events) == {
        "user_signed_up",
        "user_logged_in",
        "checkout_completed",
        "project_created",
        "project_deleted",
        "member_invited",
        "project_archived",
    }
    signup = events["user_signed_up"]
    assert (signup["file"], signup["function"], signup["line"]) == ("app/main.py", "signup", 32)
    assert signup["kind"] == "route" and signup["reason"] == "POST /signup"
    assert signup["props"] == {"plan": "payload.plan", "referral": "payload.referral"}
    assert signup["user_email"] == "payload.email"
    # no secrets, no infrastructure; an e-mail is the user's, not a prop
    assert events["user_logged_in"]["props"] == {}
    assert events["user_logged_in"]["user_email"] == "email"
    assert events["checkout_completed"]["props"] == {"plan": "plan", "coupon": "coupon"}
    created = events["project_created"]
    assert created["props"] == {"name": "body.name", "template": "body.template"}
    assert created["user_id"] == 'getattr(user, "id", None)'
    deleted = events["project_deleted"]
    assert deleted["props"] == {"project_id": "project_id"}
    assert deleted["user_id"] == 'getattr(owner, "id", None)'
    assert events["member_invited"]["props"] == {"project_id": "project_id", "role": "role"}
    assert events["project_archived"]["kind"] == "mutation"
    assert events["project_archived"]["file"] == "app/services.py"
    functions = {e["function"] for e in events.values()}
    assert not functions & {
        "home",
        "list_projects",
        "reset_everything",
        "health",
        "_internal_helper",
        "delete_user",
        "test_create_project",
    }


def test_plan_names_mcp_tools(tmp_path: Path) -> None:
    events = by_event(plan_json(APPS / "mcp_server"))
    assert events["forecast_fetched"]["props"] == {"city": "city", "days": "days"}
    assert events["alert_searched"]["function"] == "alerts"
    assert events["alert_searched"]["props"] == {"region": "region"}  # no api_key
    assert {e["kind"] for e in events.values()} == {"mcp_tool"}


def test_plan_reads_django_views_and_names_from_routes(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "views.py").write_text(
        "from django.views import View\n\n\n"
        "def contact(request):\n    if request.method == 'POST':\n        return None\n\n\n"
        "def about(request):\n    return None\n\n\n"
        "class CommentView(View):\n"
        "    def post(self, request, slug):\n        return None\n\n"
        "    def get(self, request, slug):\n        return None\n"
    )
    (tmp_path / "api.py").write_text(
        "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n"
        "@router.delete('/projects/{id}')\ndef remove(id: int):\n    return None\n\n\n"
        "@router.post('/orders')\ndef orders(sku: str, quantity: int = 1):\n    return None\n\n\n"
        "@router.get('/logout')\ndef logout():\n    return None\n\n\n"
        "@router.get('/orders/{id}')\ndef show_order(id: int):\n    return None\n"
    )
    events = by_event(plan_json(tmp_path))
    assert set(events) == {
        "contact_form_submitted",
        "comment_created",
        "project_removed",
        "order_created",
        "user_logged_out",
    }
    assert events["comment_created"]["function"] == "CommentView.post"
    assert events["comment_created"]["props"] == {"slug": "slug"}
    assert events["order_created"]["props"] == {"sku": "sku", "quantity": "quantity"}
    assert events["user_logged_out"]["reason"] == "GET /logout"


def test_plan_prints_markdown_for_a_person() -> None:
    out = cli("plan", "--dir", str(APPS / "fastapi_app")).output
    assert out.startswith("# Tracking plan for fastapi_app\n")
    assert "| # | Event | Where | Props | Why |" in out
    assert "| 1 | `user_signed_up` | `app/main.py:32` `signup()` | `plan`, `referral` |" in out
    assert "agentlytics plan --apply plan.json" in out


def test_apply_inserts_track_calls_and_is_idempotent(tmp_path: Path) -> None:
    root = copy_app("fastapi_app", tmp_path)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan_json(root)))

    dry = cli("plan", "--dir", str(root), "--apply", str(plan_file), "--dry-run")
    assert "+++ b/app/main.py" in dry.output and "+++ b/app/services.py" in dry.output
    untouched = snapshot(root)

    result = cli("plan", "--dir", str(root), "--apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert "inserted track() in app/main.py:signup user_signed_up" in result.output
    main = (root / "app/main.py").read_text()
    ast.parse(main)
    assert main.count("from agentlytics_sdk import track\n") == 1
    assert main.index("from agentlytics_sdk import track") < main.index("app = FastAPI()")
    assert (
        '    """Create an account."""\n'
        '    track("user_signed_up", None, {"plan": payload.plan, "referral": payload.referral}, '
        "user_email=payload.email)\n"
        '    return {"ok": "yes"}\n'
    ) in main
    assert (
        '    """Make a project from a template."""\n'
        '    track("project_created", getattr(user, "id", None), '
        '{"name": body.name, "template": body.template})\n'
    ) in main
    assert '    track("user_logged_in", None, user_email=email)\n    return {"token": "t"}' in main
    services = (root / "app/services.py").read_text()
    ast.parse(services)
    assert services.startswith('"""Domain operations the routes call."""\n\nfrom agentlytics_sdk')
    assert "track(" not in snapshot(root)["app/admin.py"]
    assert snapshot(root) != untouched

    applied = snapshot(root)
    again = cli("plan", "--dir", str(root), "--apply", str(plan_file))
    assert again.exit_code == 0
    assert "Nothing to change." in again.output
    assert "already tracks user_signed_up" in again.output
    assert snapshot(root) == applied


def test_apply_uses_a_qualified_call_when_track_is_taken(tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(
        "def track(x):\n    return x\n\n\ndef publish_post(post_id, title):\n    return post_id\n"
    )
    plan = [
        {
            "event": "post_published",
            "file": "jobs.py",
            "function": "publish_post",
            "props": ["post_id", "title"],
        }
    ]
    result = apply_plan(tmp_path, plan)
    [change] = result.changes
    assert change.after == (
        "import agentlytics_sdk\n\n"
        "def track(x):\n    return x\n\n\n"
        "def publish_post(post_id, title):\n"
        '    agentlytics_sdk.track("post_published", None, {"post_id": post_id, "title": title})\n'
        "    return post_id\n"
    )


def test_apply_refuses_bad_entries_and_one_line_functions(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def create_item(name): return name\n")
    plan = {
        "events": [
            {"event": "Item Created", "file": "m.py", "function": "create_item"},
            {"event": "item_created", "file": "../outside.py", "function": "create_item"},
            {"event": "item_created", "file": "m.py", "function": "missing"},
            {
                "event": "item_created",
                "file": "m.py",
                "function": "create_item",
                "props": {"name": "name; import os"},
            },
        ]
    }
    result = apply_plan(tmp_path, plan)
    assert result.changes == []
    assert len(result.skipped) == 4
    assert any("one-line function" in s for s in result.skipped)
