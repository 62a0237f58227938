"""Text patches ``init`` applies. Each is a pure function of the file's text and idempotent:
applied to its own output it changes nothing."""

from __future__ import annotations

import ast
import re

SDK = "agentlytics-sdk"
_SDK_NAME = re.compile(r"agentlytics[-_]sdk\b", re.I)
_HEAD_CLOSE = re.compile(r"</head\s*>", re.I)
_OUR_SRC = re.compile(r"""(src=["'])[^"']*/script\.js\?key=[^"']*(["'])""")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$", re.M)


def script_tag(url: str, write_key: str) -> str:
    return f'<script defer src="{url.rstrip("/")}/script.js?key={write_key}"></script>'


def add_script_tag(html: str, url: str, write_key: str) -> str:
    """The tracker's script tag just before ``</head>`` (or its URL updated if it is there)."""
    tag = script_tag(url, write_key)
    src = tag.split('src="', 1)[1].split('"', 1)[0]
    if _OUR_SRC.search(html):
        return _OUR_SRC.sub(lambda m: f"{m.group(1)}{src}{m.group(2)}", html, count=1)
    match = _HEAD_CLOSE.search(html)
    if match is None:
        return html
    line_start = html.rfind("\n", 0, match.start()) + 1
    prefix = html[line_start : match.start()]
    if prefix.strip() == "":  # </head> starts its line: a line of its own, indented one step in
        return f"{html[:line_start]}{prefix}  {tag}\n{html[line_start:]}"
    return f"{html[: match.start()]}{tag}{html[match.start() :]}"


def add_requirement(text: str) -> str:
    """``requirements.txt`` with the SDK on a line of its own."""
    for line in text.splitlines():
        if _SDK_NAME.match(line.strip()):
            return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + SDK + "\n"


def _section(text: str, name: str) -> tuple[int, int] | None:
    """Start (after the header line) and end offsets of a TOML table."""
    headers = list(_SECTION.finditer(text))
    for i, header in enumerate(headers):
        if header.group(1).strip() == name:
            start = header.end() + 1 if header.end() < len(text) else header.end()
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            return start, end
    return None


def add_pyproject_dependency(text: str) -> str | None:
    """``pyproject.toml`` with the SDK in ``[project] dependencies`` (or Poetry's table);
    None when the file has neither, so the caller can say what to do instead."""
    project = _section(text, "project")
    if project is not None:
        start, end = project
        body = text[start:end]
        match = re.search(r"^dependencies\s*=\s*\[", body, re.M)
        if match is None:
            return text[:start] + f'dependencies = ["{SDK}"]\n' + text[start:]
        open_at = start + match.end()
        close_at = text.find("]", open_at)
        if close_at < 0:
            return None
        items = text[open_at:close_at]
        if _SDK_NAME.search(items):
            return text
        if "\n" not in items:  # one line: dependencies = ["a", "b"]
            sep = ", " if items.strip() else ""
            trimmed = items.rstrip()
            if trimmed.endswith(","):
                trimmed, sep = trimmed[:-1], ", "
            return text[:open_at] + f'{trimmed}{sep}"{SDK}"' + text[close_at:]
        lines = items.rstrip().splitlines()
        indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines if ln.strip()), "    ")
        last = items.rstrip()
        comma = "" if not last.strip() or last.endswith((",", "[")) else ","
        return text[:open_at] + f'{last}{comma}\n{indent}"{SDK}",\n' + text[close_at:]
    poetry = _section(text, "tool.poetry.dependencies")
    if poetry is not None:
        start, end = poetry
        if _SDK_NAME.search(text[start:end]):
            return text
        return text[:start] + f'{SDK} = "*"\n' + text[start:]
    return None


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def import_line_index(tree: ast.Module) -> int:
    """The 0-based line after the module's leading docstring and imports."""
    index = 0
    for i, node in enumerate(tree.body):
        is_docstring = (
            i == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if is_docstring or isinstance(node, ast.Import | ast.ImportFrom):
            index = node.end_lineno or node.lineno
        else:
            break
    return index


def insert_import(lines: list[str], tree: ast.Module, statement: str) -> None:
    """Insert an import line after the module's docstring and leading imports, with the
    blank lines PEP 8 expects when it starts a new block."""
    at = import_line_index(tree)
    has_imports = any(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body[:2])
    block = [statement + "\n"]
    if at > 0 and not has_imports:  # right after the docstring
        block.insert(0, "\n")
    if at < len(lines) and lines[at].strip() and not has_imports:
        block.append("\n")
    lines[at:at] = block


def add_mcp_instrument(source: str, variable: str, line: int, col: int) -> str:
    """Call ``agentlytics_sdk.mcp.instrument(<server>)`` right after the server is made."""
    if "agentlytics_sdk.mcp" in source:
        return source
    tree = ast.parse(source)
    name = "instrument" if "instrument" not in _bound_names(tree) else "agentlytics_instrument"
    alias = "" if name == "instrument" else f" as {name}"
    lines = source.splitlines(keepends=True)
    call = (
        f"{' ' * col}{name}({variable})  # agentlytics: record every tool, resource, prompt call\n"
    )
    if lines and not lines[-1].endswith("\n") and line >= len(lines):
        lines[-1] += "\n"
    lines.insert(line, call)
    insert_import(lines, tree, f"from agentlytics_sdk.mcp import instrument{alias}")
    return "".join(lines)
