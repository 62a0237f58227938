"""What kind of app a directory holds: Python web framework, static site, MCP server."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FRAMEWORKS = ("fastapi", "flask", "django")
MCP_MODULES = frozenset({"mcp", "fastmcp"})
#: server classes that can be instrumented right after construction
MCP_HIGH_LEVEL = frozenset({"FastMCP", "MCPServer"})
MCP_CLASSES = MCP_HIGH_LEVEL | {"Server"}
SKIP_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        "site-packages",
        "venv",
        "env",
        "build",
        "dist",
        "htmlcov",
    }
)
BASE_TEMPLATES = ("base.html", "layout.html", "_base.html", "base.jinja", "base.html.j2")
INDEX_DIRS = ("", "public", "static", "site", "www")
MAX_FILES = 5000
MAX_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class McpServer:
    path: Path
    variable: str
    kind: str  # FastMCP, MCPServer or Server
    line: int  # the last line of the assignment
    col: int  # its indentation


@dataclass
class AppInfo:
    root: Path
    frameworks: list[str] = field(default_factory=list)
    mcp_servers: list[McpServer] = field(default_factory=list)
    base_template: Path | None = None
    index_html: Path | None = None
    requirements: Path | None = None
    pyproject: Path | None = None
    python_files: list[Path] = field(default_factory=list)

    @property
    def static_site(self) -> bool:
        return self.index_html is not None and not self.frameworks

    @property
    def kinds(self) -> list[str]:
        """Human names, e.g. ["FastAPI", "MCP server"]."""
        names = {"fastapi": "FastAPI", "flask": "Flask", "django": "Django"}
        kinds = [names[f] for f in self.frameworks]
        if self.static_site:
            kinds.append("static site")
        if self.mcp_servers:
            kinds.append("MCP server")
        return kinds


def walk(root: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Files under ``root`` with these suffixes, skipping hidden, virtualenv and build dirs."""
    count = 0
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(files):
            if name.endswith(suffixes):
                count += 1
                if count > MAX_FILES:
                    return
                yield Path(current) / name


def parse(path: Path) -> ast.Module | None:
    """The file's syntax tree, or None when it is too big or not valid Python."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def imported_roots(tree: ast.Module) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _declared(root: Path) -> str:
    texts = []
    for name in ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile"):
        path = root / name
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    texts += [
        p.read_text(encoding="utf-8", errors="replace") for p in root.glob("requirements*.txt")
    ]
    return "\n".join(texts).lower()


def _statement_bodies(tree: ast.Module) -> Iterator[list[ast.stmt]]:
    """The module body and every function body (class bodies are not places to call)."""
    yield tree.body
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.body


def _mcp_servers(path: Path, tree: ast.Module) -> list[McpServer]:
    names: dict[str, str] = {}  # local name -> class
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] in MCP_MODULES
        ):
            for alias in node.names:
                if alias.name in MCP_CLASSES:
                    names[alias.asname or alias.name] = alias.name
    found = []
    for body in _statement_bodies(tree):
        for stmt in body:
            target, value = None, None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0], stmt.value
            elif isinstance(stmt, ast.AnnAssign):
                target, value = stmt.target, stmt.value
            if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
                continue
            func = value.func
            called = func.id if isinstance(func, ast.Name) else None
            if isinstance(func, ast.Attribute) and func.attr in MCP_HIGH_LEVEL:
                called = func.attr
                kind = func.attr
            else:
                kind = names.get(called or "", "")
            if kind:
                found.append(
                    McpServer(
                        path, target.id, kind, stmt.end_lineno or stmt.lineno, stmt.col_offset
                    )
                )
    return found


def _base_template(root: Path) -> Path | None:
    candidates = []
    for path in walk(root, (".html", ".jinja", ".j2")):
        rel = path.relative_to(root)
        if path.name in BASE_TEMPLATES and "templates" in rel.parts[:-1]:
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"</head\s*>", text, re.I):
                candidates.append((BASE_TEMPLATES.index(path.name), len(rel.parts), str(rel), path))
    return min(candidates)[3] if candidates else None


def _index_html(root: Path) -> Path | None:
    for folder in INDEX_DIRS:
        path = root / folder / "index.html"
        if path.is_file():
            return path
    return None


def detect(root: Path) -> AppInfo:
    root = root.resolve()
    info = AppInfo(root=root)
    declared = _declared(root)
    imports: set[str] = set()
    for path in walk(root, (".py",)):
        info.python_files.append(path)
        tree = parse(path)
        if tree is None:
            continue
        roots = imported_roots(tree)
        imports |= roots
        if roots & MCP_MODULES:
            info.mcp_servers.extend(_mcp_servers(path, tree))
    for name in FRAMEWORKS:
        if name in imports or re.search(rf"(^|[\s\"'\[,]){name}\b", declared, re.M):
            info.frameworks.append(name)
    info.base_template = _base_template(root)
    info.index_html = _index_html(root)
    if (root / "requirements.txt").is_file():
        info.requirements = root / "requirements.txt"
    if (root / "pyproject.toml").is_file():
        info.pyproject = root / "pyproject.toml"
    return info
