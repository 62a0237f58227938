"""``agentlytics plan``: propose the events worth tracking, from the app's Python source.

The code is read with ``ast`` and never run. Candidates, strongest first:

* routes that change something: FastAPI/Flask ``@x.post/put/patch/delete(...)``,
  ``@x.route(..., methods=[...])``, ``@x.api_route(...)``; Django views in ``views.py``
  that handle POST (or class-based views' ``post``/``put``/``delete`` methods);
* MCP tools (``@mcp.tool()``): each call is something an agent did;
* functions named like a mutation (``create_…``, ``delete_…``, ``signup``, ``checkout``…).

Internal code is skipped: private names, admin/internal/debug/health routes, tests,
migrations, scripts. A function already covered by a route of the same event is dropped.
Props come from the function's arguments (and the fields of a body model defined in the
app), never from secrets (passwords, tokens, keys) or contact details.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentlytics.agent import naming
from agentlytics.agent.detect import parse, walk

MAX_EVENTS = 15
MAX_PROPS = 6
HTTP_MUTATIONS = {"POST": "created", "PUT": "updated", "PATCH": "updated", "DELETE": "deleted"}
_ROUTE_ATTRS = {"get", "post", "put", "patch", "delete"}
_SKIP_PARTS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "migrations",
        "admin",
        "internal",
        "scripts",
        "fixtures",
        "conftest",
        "setup",
        "manage",
        "wsgi",
        "asgi",
        "settings",
        "docs",
        "examples",
        "bench",
    }
)
_INTERNAL = re.compile(r"(^|_)(admin|internal|debug|health|healthz|metrics|test|tests|ping)($|_)")
_INTERNAL_PATH = re.compile(r"/(admin|internal|debug|health|healthz|metrics|static|_)(/|$|\b)")
_SECRET = re.compile(
    r"pass(word|wd)?|pwd|secret|token|api_?key|^key$|_key$|credential|^auth|otp|^pin$|cvv|cvc|"
    r"card|ssn|private|signature|hash|cookie|jwt|bearer|salt",
    re.I,
)
_CONTACT = re.compile(r"e_?mail|phone|address|^ip$|ip_address|birth|dob", re.I)
_INFRA = frozenset(
    {
        "self",
        "cls",
        "request",
        "req",
        "db",
        "session",
        "conn",
        "connection",
        "cursor",
        "ctx",
        "context",
        "background_tasks",
        "response",
        "app",
        "settings",
        "config",
        "logger",
        "log",
        "client",
        "deps",
        "state",
        "g",
        "current_app",
        "http",
        "engine",
        "tx",
    }
)
_SCALARS = frozenset({"str", "int", "float", "bool", "Decimal", "UUID", "date", "datetime"})
_USER_IDS = ("user_id", "userid", "uid", "account_id", "customer_id", "member_id", "owner_id")
_USER_OBJECTS = ("current_user", "user", "account", "me", "viewer")


@dataclass
class PlannedEvent:
    event: str
    file: str  # relative to the app root, POSIX separators
    function: str  # "name", or "Class.name" for methods
    line: int
    kind: str  # route | view | mcp_tool | mutation
    reason: str
    props: dict[str, str] = field(default_factory=dict)  # prop name -> Python expression
    user_id: str | None = None  # Python expression
    user_email: str | None = None
    score: int = 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("score")
        return data


# reading the source ---------------------------------------------------------------------


def _const_str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _route(decorator: ast.expr) -> tuple[str, list[str]] | None:
    """(path, methods) when the decorator declares an HTTP route."""
    if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
        return None
    attr = decorator.func.attr
    path = (
        _const_str(decorator.args[0]) if decorator.args else _const_str(_keyword(decorator, "path"))
    )
    if path is None:
        path = _const_str(_keyword(decorator, "rule")) or ""
    if attr in _ROUTE_ATTRS:
        return path, [attr.upper()]
    if attr in ("route", "api_route", "add_url_rule"):
        methods = _keyword(decorator, "methods")
        names = (
            [m for m in (_const_str(e) for e in methods.elts) if m]
            if isinstance(methods, ast.List | ast.Tuple | ast.Set)
            else ["GET"]
        )
        return path, [m.upper() for m in names]
    return None


def _mcp_tool(decorator: ast.expr) -> tuple[bool, str | None]:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute) and target.attr == "tool":
        name = _const_str(_keyword(decorator, "name")) if isinstance(decorator, ast.Call) else None
        return True, name
    return False, None


def _handles_post(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Compare)
            and isinstance(sub.left, ast.Attribute)
            and sub.left.attr == "method"
            and any(_const_str(c) == "POST" for c in sub.comparators)
        ):
            return True
    return False


def _model_fields(tree: ast.Module) -> dict[str, tuple[list[str], bool]]:
    """Classes with annotated fields (pydantic, dataclasses, msgspec, TypedDict):
    name → (fields, subscript access)."""
    models = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        names = [
            s.target.id
            for s in node.body
            if isinstance(s, ast.AnnAssign)
            and isinstance(s.target, ast.Name)
            and not s.target.id.startswith("_")
            and "ClassVar" not in ast.unparse(s.annotation)
        ]
        if names:
            typed_dict = any(ast.unparse(b).endswith("TypedDict") for b in node.bases)
            models[node.name] = (names, typed_dict)
    return models


def _annotation_names(node: ast.expr | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _injector(node: ast.AST | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    return name in ("Depends", "Security", "Inject", "Provide")


def _is_injected(default: ast.expr | None, annotation: ast.expr | None) -> bool:
    """Filled by the framework: ``= Depends(...)`` or ``Annotated[T, Depends(...)]``."""
    if _injector(default):
        return True
    return annotation is not None and any(_injector(n) for n in ast.walk(annotation))


def _arguments(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, models: dict[str, tuple[list[str], bool]]
) -> tuple[dict[str, str], str | None, str | None]:
    """(props, user id expression, user e-mail expression) from the parameters."""
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    defaults: list[ast.expr | None] = [None] * (
        len(fn.args.posonlyargs) + len(fn.args.args) - len(fn.args.defaults)
    )
    defaults += [*fn.args.defaults, *fn.args.kw_defaults]
    props: dict[str, str] = {}
    user_id = user_email = None
    for arg, default in zip(args, defaults, strict=True):
        name = arg.arg
        if name in _INFRA or name.startswith("_") or _is_injected(default, arg.annotation):
            types = _annotation_names(arg.annotation)
            is_user = name in _USER_OBJECTS or any(t.endswith(("User", "Account")) for t in types)
            if is_user and user_id is None:
                user_id = f'getattr({name}, "id", None)'
            continue
        lowered = name.lower()
        if lowered in _USER_IDS:
            user_id = user_id if user_id and lowered != "user_id" else name
            continue
        if lowered in _USER_OBJECTS:
            user_id = user_id or f'getattr({name}, "id", None)'
            continue
        if _CONTACT.search(name):
            if "mail" in lowered and user_email is None:
                user_email = name
            continue
        if _SECRET.search(name):
            continue
        types = _annotation_names(arg.annotation)
        model = next((models[t] for t in types if t in models), None)
        if model is not None:
            fields, subscript = model
            for f in fields:
                if _SECRET.search(f) or _CONTACT.search(f):
                    if "mail" in f.lower() and user_email is None:
                        user_email = f'{name}["{f}"]' if subscript else f"{name}.{f}"
                    continue
                props[f] = f'{name}["{f}"]' if subscript else f"{name}.{f}"
            continue
        scalar = not types or types <= (
            _SCALARS | {"Optional", "Literal", "None", "Annotated", "Query", "Form", "Path", "Body"}
        )
        if scalar:
            props[name] = name
    return dict(list(props.items())[:MAX_PROPS]), user_id, user_email


def _resource(path: str) -> str | None:
    """The last literal segment of a route path: "/projects/{id}/archive" → "archive"."""
    parts = [p for p in path.strip("/").split("/") if p and not p.startswith(("{", "<", ":"))]
    return parts[-1] if parts else None


def _skipped_file(rel: Path) -> bool:
    parts = [p.lower() for p in rel.parts[:-1]] + [rel.stem.lower()]
    return (
        any(p in _SKIP_PARTS for p in parts)
        or rel.name.startswith("test_")
        or rel.stem.endswith("_test")
    )


def _functions(
    tree: ast.Module,
) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((node.name, node, None))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    found.append((f"{node.name}.{sub.name}", sub, node))
    return found


def _candidates(
    root: Path, path: Path, tree: ast.Module, models: dict[str, tuple[list[str], bool]]
) -> list[PlannedEvent]:
    rel = path.relative_to(root)
    is_views = rel.stem == "views" or "views" in rel.parts[:-1]
    out = []
    for qualname, fn, cls in _functions(tree):
        name = fn.name
        if name.startswith("_") or _INTERNAL.search(name.lower()):
            continue
        if cls is not None and _INTERNAL.search(
            naming.tokens(cls.name)[0] if naming.tokens(cls.name) else ""
        ):
            continue
        kind = reason = None
        score, hint, method_verb = 0, None, None
        for decorator in fn.decorator_list:
            route = _route(decorator)
            if route is not None:
                path_text, methods = route
                if _INTERNAL_PATH.search(path_text.lower()):
                    kind = "skip"
                    break
                changing = [m for m in methods if m in HTTP_MUTATIONS]
                if changing or naming.is_mutation(name):
                    kind, score = "route", 3
                    reason = f"{'/'.join(changing or methods)} {path_text or '/'}"
                    hint = _resource(path_text)
                    method_verb = HTTP_MUTATIONS.get(changing[0]) if changing else None
                else:
                    kind = "skip"  # a page or a read: the tracker's page views count it
                break
            tool, tool_name = _mcp_tool(decorator)
            if tool:
                kind, score, reason = "mcp_tool", 3, f"MCP tool {tool_name or name}"
                if tool_name:
                    name = tool_name
                method_verb = "used"
                break
        if kind == "skip":
            continue
        if kind is None and is_views:
            if cls is None and fn.args.args and fn.args.args[0].arg == "request":
                if _handles_post(fn) or naming.is_mutation(name):
                    kind, score, reason = "view", 3, "Django view handling POST"
            elif cls is not None and name in ("post", "put", "patch", "delete"):
                kind, score, reason = "view", 3, f"{name.upper()} on {cls.name}"
                hint = re.sub(r"(View|ViewSet|APIView|Resource|Handler)$", "", cls.name)
                method_verb = HTTP_MUTATIONS[name.upper()]
                name = ""
        if kind is None and naming.is_mutation(name):
            kind, score, reason = "mutation", 2, "changes data"
        if kind is None:
            continue
        event = naming.event_name(
            name, noun_hint=hint or (cls.name if cls else None), method_verb=method_verb
        )
        if event.split("_")[0] in ("user", "checkout", "subscription", "plan", "password"):
            score += 1  # the core journey
        props, user_id, user_email = _arguments(fn, models)
        out.append(
            PlannedEvent(
                event=event,
                file=rel.as_posix(),
                function=qualname,
                line=fn.lineno,
                kind=kind,
                reason=reason or "",
                props=props,
                user_id=user_id,
                user_email=user_email,
                score=score,
            )
        )
    return out


def propose(root: Path, limit: int = MAX_EVENTS) -> list[PlannedEvent]:
    """The tracking plan: at most ``limit`` events, strongest candidates first, each event
    name kept once unless two routes share it."""
    root = root.resolve()
    trees = []
    for path in walk(root, (".py",)):
        if not _skipped_file(path.relative_to(root)) and (tree := parse(path)) is not None:
            trees.append((path, tree))
    models: dict[str, tuple[list[str], bool]] = {}
    for _, tree in trees:  # body models are often defined in another module
        models.update(_model_fields(tree))
    found: list[PlannedEvent] = []
    for path, tree in trees:
        found.extend(_candidates(root, path, tree, models))
    found.sort(key=lambda e: (-e.score, e.file, e.line))
    kept: list[PlannedEvent] = []
    best: dict[str, int] = {}
    for event in found:
        if event.event in best and (best[event.event] > event.score or event.kind == "mutation"):
            continue
        best.setdefault(event.event, event.score)
        kept.append(event)
    return kept[:limit]


# output ---------------------------------------------------------------------------------


def as_json(root: Path, events: list[PlannedEvent]) -> dict[str, Any]:
    return {"version": 1, "root": str(root), "events": [e.as_json() for e in events]}


def as_markdown(root: Path, events: list[PlannedEvent]) -> str:
    lines = [f"# Tracking plan for {root.resolve().name}", ""]
    if not events:
        lines += [
            "No user actions found in the Python code (routes that change data, views, MCP "
            "tools, functions named create_…/update_…/delete_…). Page views are tracked by the "
            "script tag already; add events by hand where users act.",
        ]
        return "\n".join(lines) + "\n"
    lines += [
        f"{len(events)} events proposed from the code. Review them with the person who owns "
        "the app; then `agentlytics plan --json > plan.json`, edit it, and "
        "`agentlytics plan --apply plan.json` inserts the `track()` calls.",
        "",
        "| # | Event | Where | Props | Why |",
        "|---|---|---|---|---|",
    ]
    for i, e in enumerate(events, 1):
        props = ", ".join(f"`{p}`" for p in e.props) or "-"
        who = f" (user: `{e.user_id}`)" if e.user_id else ""
        lines.append(
            f"| {i} | `{e.event}` | `{e.file}:{e.line}` `{e.function}()` | {props}{who} | "
            f"{e.reason} |"
        )
    if len(events) < 5:
        lines += ["", "Fewer than 5 events: look for user actions the code hides from `ast`."]
    return "\n".join(lines) + "\n"
