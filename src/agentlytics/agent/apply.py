"""``agentlytics plan --apply PLAN.json``: insert the approved ``track()`` calls.

Each call goes at the start of its function's body (after the docstring), with the import
of ``agentlytics_sdk.track``. A function that already calls ``track("<event>"`` is left
alone, so applying a plan twice changes nothing. A file whose result would not parse is
not written.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlytics.agent.files import Change, change, read_text
from agentlytics.agent.patches import insert_import

_EVENT = re.compile(r"^[a-z][a-z0-9_]{0,199}$")
_IDENT_EXPR = re.compile(r"^[A-Za-z_][\w.\[\]\"'(), ]*$")


@dataclass
class ApplyResult:
    changes: list[Change] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)  # "file:function event"
    skipped: list[str] = field(default_factory=list)  # why an entry was not applied


def _entries(plan: Any) -> list[dict[str, Any]]:
    events = plan.get("events") if isinstance(plan, dict) else plan
    if not isinstance(events, list):
        raise ValueError('a plan is {"events": [...]} or a list of events')
    return [e for e in events if isinstance(e, dict)]


def _expr(value: Any) -> str | None:
    """A Python expression from the plan, when it looks like one (names, attributes,
    subscripts, getattr calls) and parses."""
    if not isinstance(value, str) or not value.strip() or not _IDENT_EXPR.match(value):
        return None
    try:
        ast.parse(value, mode="eval")
    except SyntaxError:
        return None
    return value.strip()


def track_call(entry: dict[str, Any], func: str) -> str:
    event = entry["event"]
    props = entry.get("props") or {}
    if isinstance(props, list):
        props = {p: p for p in props if isinstance(p, str)}
    pairs = [
        f"{json.dumps(name)}: {expr}"
        for name, raw in props.items()
        if isinstance(name, str) and (expr := _expr(raw)) is not None
    ]
    user = _expr(entry.get("user_id")) or "None"
    args = [json.dumps(event), user]
    if pairs:
        args.append("{" + ", ".join(pairs) + "}")
    email = _expr(entry.get("user_email"))
    if email:
        args.append(f"user_email={email}")
    return f"{func}({', '.join(args)})"


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + node.name, node))
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


def _track_name(tree: ast.Module) -> tuple[str, str | None]:
    """The name to call and the import line to add (None when already imported)."""
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "agentlytics_sdk":
            for alias in node.names:
                if alias.name == "track":
                    return alias.asname or "track", None
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "agentlytics_sdk" and alias.asname is None:
                    return "agentlytics_sdk.track", None
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    if "track" in bound:
        return "agentlytics_sdk.track", "import agentlytics_sdk"
    return "track", "from agentlytics_sdk import track"


def _insertion(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]
) -> tuple[int, str] | None:
    """(0-based line index to insert at, indentation), or None for one-line functions."""
    body = fn.body
    first = body[0]
    if lines[first.lineno - 1][: first.col_offset].strip():  # def f(): return 1
        return None
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    ref = first
    if docstring:
        if len(body) == 1:
            text = lines[first.lineno - 1]
            return first.end_lineno or first.lineno, text[: len(text) - len(text.lstrip())]
        ref = body[1]
    start = ref.lineno
    decorators = getattr(ref, "decorator_list", None)
    if decorators:
        start = min(d.lineno for d in decorators)
    text = lines[start - 1]
    return start - 1, text[: len(text) - len(text.lstrip())]


def _already(fn: ast.FunctionDef | ast.AsyncFunctionDef, event: str) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            if name == "track" and isinstance(first, ast.Constant) and first.value == event:
                return True
    return False


def _apply_file(
    path: Path, rel: str, entries: list[dict[str, Any]], result: ApplyResult
) -> Change | None:
    source = read_text(path)
    if source is None:
        result.skipped += [f"{rel}: no such file ({e['event']})" for e in entries]
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        result.skipped.append(f"{rel}: not valid Python ({exc.msg}); nothing inserted")
        return None
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    call_name, import_line = _track_name(tree)
    functions = _functions(tree)
    inserts: list[tuple[int, str]] = []
    for entry in entries:
        wanted = str(entry.get("function", ""))
        matches = [(q, f) for q, f in functions if q == wanted] or [
            (q, f) for q, f in functions if q.split(".")[-1] == wanted.split(".")[-1]
        ]
        if not matches:
            result.skipped.append(f"{rel}: no function {wanted} ({entry['event']})")
            continue
        raw_line = entry.get("line")
        line = raw_line if isinstance(raw_line, int) else 0
        qualname, fn = min(matches, key=lambda m: abs(m[1].lineno - line))
        if _already(fn, entry["event"]):
            result.skipped.append(f"{rel}:{qualname} already tracks {entry['event']}")
            continue
        spot = _insertion(fn, lines)
        if spot is None:
            result.skipped.append(f"{rel}:{qualname} is a one-line function; add it by hand")
            continue
        index, indent = spot
        inserts.append((index, f"{indent}{track_call(entry, call_name)}\n"))
        result.inserted.append(f"{rel}:{qualname} {entry['event']}")
    if not inserts:
        return None
    for index, text in sorted(inserts, key=lambda i: i[0], reverse=True):
        lines.insert(index, text)
    if import_line is not None:
        insert_import(lines, tree, import_line)
    patched = "".join(lines)
    try:
        ast.parse(patched)
    except SyntaxError as exc:
        result.skipped.append(f"{rel}: the result would not parse ({exc.msg}); not written")
        del result.inserted[-len(inserts) :]
        return None
    return change(path, patched, f"{len(inserts)} track() call(s)")


def apply_plan(root: Path, plan: Any) -> ApplyResult:
    """The changes that insert a plan's calls (not written: the caller writes them).

    Raises:
        ValueError: the plan is not a list of events.
    """
    root = root.resolve()
    result = ApplyResult()
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in _entries(plan):
        event, rel = entry.get("event"), entry.get("file")
        if not isinstance(event, str) or not _EVENT.match(event):
            result.skipped.append(f"{event!r}: event names are snake_case, e.g. user_signed_up")
            continue
        if not isinstance(rel, str) or not entry.get("function"):
            result.skipped.append(f"{event}: the entry needs file and function")
            continue
        path = (root / rel).resolve()
        if not path.is_relative_to(root):
            result.skipped.append(f"{event}: {rel} is outside {root}")
            continue
        by_file[rel].append(entry)
    for rel, entries in sorted(by_file.items()):
        found = _apply_file(root / rel, rel, entries, result)
        if found is not None:
            result.changes.append(found)
    return result
