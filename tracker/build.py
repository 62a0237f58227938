#!/usr/bin/env python3
"""Build the browser tracker: tracker/src/*.js -> src/agentlytics/web/static/tracker.js.

No npm toolchain: the modules share one IIFE scope (`import` lines dropped, `export`
keywords removed), then a small tokenizer minifies the bundle:
- comments and the whitespace the grammar does not need go; line breaks stay wherever
  automatic semicolon insertion could depend on them;
- names the bundle declares (functions, parameters, const/let) are renamed consistently
  to short ones. Every other identifier must be a known browser global or keyword
  (GLOBALS), property names are never touched, and the output is re-tokenized and checked
  to have the same shape: same globals, same property names, same token kinds.
The sources keep to a subset of JavaScript this can check (it fails loudly otherwise):
single-line imports, only `export function|const|let|class`, no `${}` templates, one
binding per const/let, no object destructuring or method shorthand, no name declared at
the top level of two modules.

    python tracker/build.py          # write the bundle, print its sizes
    python tracker/build.py --check  # exit 1 if the committed bundle is stale
"""

from __future__ import annotations

import gzip
import itertools
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
OUT = ROOT.parent / "src" / "agentlytics" / "web" / "static" / "tracker.js"

# Dependency order: each module only uses names defined by the ones before it (at load time).
MODULES = [
    "config.js",
    "storage.js",
    "identity.js",
    "transport.js",
    "consent.js",
    "events.js",
    "pageviews.js",
    "autocapture.js",
    "metrics.js",
    "hash.js",
    "experiments.js",
    "index.js",
]

HEADER = "/*! agentlytics tracker (MIT), built from tracker/src */\n"
IMPORT = re.compile(r"""^import\s+(\{[^}]*\}\s+from\s+)?['"][^'"]+['"];?$""")
TOP_LEVEL = re.compile(
    r"^(?:export\s+)?(?:async\s+)?(?:function\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)"
)


class BuildError(Exception):
    pass


def strip_module(name: str, text: str) -> str:
    out: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("import"):
            if not IMPORT.match(line.strip()):
                raise BuildError(f"{name}:{n}: imports must be single-line `import {{…}} from …;`")
            line = ""
        elif line.startswith("export "):
            if re.match(r"export\s+(default|\{)", line):
                raise BuildError(f"{name}:{n}: only `export function|const|let|class` is supported")
            line = line[len("export ") :]
        out.append(line)
    return "\n".join(out)


TOKEN = re.compile(
    r"""
    (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`)
  | (?P<num>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_$][\w$]*)
  | (?P<punct>>>>=|\.\.\.|===|!==|\*\*=|<<=|>>=|>>>|&&=|\|\|=|\?\?=|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.
      |\+\+|--|\+=|-=|\*=|/=|%=|&=|\|=|\^=|<<|>>|\*\*|[{}()\[\];,<>+\-*/%&|^!~?:=.])
    """,
    re.S | re.X,
)
REGEX = re.compile(r"/(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/[a-z]*")
# After these a `/` starts a regex literal rather than a division.
REGEX_AFTER_WORDS = {
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
}
# A line break next to these can be dropped without any effect on semicolon insertion.
JOIN_AFTER = {
    "{",
    ";",
    ",",
    "(",
    "[",
    "=>",
    "=",
    ":",
    "?",
    "&&",
    "||",
    "??",
    "+",
    "-",
    "*",
    "/",
    "==",
    "===",
    "!=",
    "!==",
    "<",
    ">",
    "<=",
    ">=",
}
JOIN_BEFORE = {
    "}",
    ")",
    "]",
    ".",
    ",",
    ";",
    ":",
    "?",
    "&&",
    "||",
    "??",
    "=",
    "==",
    "===",
    "!==",
    "!=",
}


def tokenize(code: str, where: str) -> list[tuple[str, str]]:
    """(kind, text) tokens; kind "nl" marks a line break, whitespace and comments are dropped."""
    tokens: list[tuple[str, str]] = []
    prev: tuple[str, str] | None = None
    i = 0
    while i < len(code):
        if code[i] == "/" and code[i + 1 : i + 2] not in ("/", "*"):
            regex_ok = (
                prev is None
                or (prev[0] == "punct" and prev[1] not in (")", "]", "}"))
                or (prev[0] == "word" and prev[1] in REGEX_AFTER_WORDS)
            )
            if regex_ok:
                m = REGEX.match(code, i)
                if not m:
                    raise BuildError(
                        f"{where}: cannot read the regex literal at {code[i : i + 40]!r}"
                    )
                prev = ("regex", m.group())
                tokens.append(prev)
                i = m.end()
                continue
        m = TOKEN.match(code, i)
        if not m:
            raise BuildError(f"{where}: unsupported syntax at {code[i : i + 40]!r}")
        kind = m.lastgroup or ""
        i = m.end()
        if kind in ("ws", "comment"):
            if kind == "comment" and "\n" in m.group():
                tokens.append(("nl", "\n"))
            continue
        if kind == "nl":
            tokens.append(("nl", "\n"))
            continue
        prev = (kind, m.group())
        tokens.append(prev)
    return tokens


KEYWORDS = frozenset(
    [
        "arguments",
        "async",
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "let",
        "new",
        "null",
        "of",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ]
)
# Every free identifier the sources may use. A new browser API must be added here.
GLOBALS = frozenset(
    [
        "Array",
        "Blob",
        "Date",
        "HTMLFormElement",
        "IntersectionObserver",
        "Intl",
        "JSON",
        "Math",
        "Number",
        "Object",
        "PerformanceObserver",
        "String",
        "TextEncoder",
        "URL",
        "URLSearchParams",
        "Uint8Array",
        "addEventListener",
        "console",
        "crypto",
        "document",
        "encodeURIComponent",
        "fetch",
        "history",
        "localStorage",
        "location",
        "navigator",
        "parseInt",
        "performance",
        "requestAnimationFrame",
        "screen",
        "sessionStorage",
        "setInterval",
        "setTimeout",
        "undefined",
        "window",
    ]
)
OBJECT_AFTER = {"(", ",", "=", ":", "?", "[", "||", "&&", "??", "!", "return"}
BLOCK_AFTER = {None, ")", "=>", ";", "{", "}", "else", "try", "catch", "finally", "do"}
Token = tuple[str, str]


def significant(tokens: list[Token]) -> list[Token]:
    """Tokens without line breaks, trailing commas and the last `;` of a block (all optional)."""
    out: list[Token] = []
    for t in (t for t in tokens if t[0] != "nl"):
        if out and (
            (out[-1] == ("punct", ",") and t[1] in ")]}")
            or (out[-1] == ("punct", ";") and t[1] == "}")
        ):
            out.pop()
        out.append(t)
    return out


def roles(sig: list[Token]) -> list[str]:
    """Role of each token: "prop" (after a dot), "key"/"short" (object literal key, shorthand),
    "name" (any other word: keyword, binding or global) or its own kind."""
    out: list[str] = []
    stack: list[str] = []
    for i, (kind, text) in enumerate(sig):
        prev = sig[i - 1][1] if i else None
        nxt = sig[i + 1][1] if i + 1 < len(sig) else None
        role = kind
        if kind == "word":
            in_object = bool(stack) and stack[-1] == "obj"
            if prev in (".", "?."):
                role = "prop"
            elif in_object and prev in ("{", ","):
                if nxt == ":":
                    role = "key"
                elif nxt in (",", "}"):
                    role = "short"
                else:
                    raise BuildError(f"unsupported object literal member `{text} {nxt}`")
            else:
                role = "name"
        elif text == "{":
            if prev in OBJECT_AFTER:
                stack.append("obj")
            elif prev in BLOCK_AFTER:
                stack.append("block")
            else:
                raise BuildError(f"is `{{` after `{prev}` a block or an object literal?")
        elif text in ("(", "["):
            stack.append(text)
        elif text in (")", "]", "}"):
            want = {")": "(", "]": "["}.get(text)
            if (
                not stack
                or (want and stack[-1] != want)
                or (not want and stack[-1] not in ("obj", "block"))
            ):
                raise BuildError(f"unbalanced `{text}`")
            stack.pop()
        out.append(role)
    if stack:
        raise BuildError("unbalanced brackets at end of bundle")
    return out


def _closing(sig: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(sig)):
        if sig[j][1] in "([{":
            depth += 1
        elif sig[j][1] in ")]}":
            depth -= 1
            if depth == 0:
                return j
    raise BuildError("unbalanced brackets")


def _opening(sig: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, -1, -1):
        if sig[j][1] in ")]}":
            depth += 1
        elif sig[j][1] in "([{":
            depth -= 1
            if depth == 0:
                return j
    raise BuildError("unbalanced brackets")


def _list_names(sig: list[Token], start: int, end: int) -> list[str]:
    """Binding names in a parameter list or array pattern sig[start..end] (brackets included)."""
    names = []
    depth = 0
    for j in range(start, end + 1):
        t = sig[j][1]
        if t in "([{":
            depth += 1
        elif t in ")]}":
            depth -= 1
        elif depth == 1 and sig[j][0] == "word" and sig[j - 1][1] in ("(", "[", ",", "..."):
            names.append(t)
    return names


def declared(sig: list[Token]) -> set[str]:
    names: set[str] = set()
    for i, (_kind, text) in enumerate(sig):
        nxt = sig[i + 1] if i + 1 < len(sig) else ("", "")
        if text in ("const", "let", "var", "class"):
            if nxt[1] == "[":
                names.update(_list_names(sig, i + 1, _closing(sig, i + 1)))
            elif nxt[0] == "word":
                names.add(nxt[1])
            else:
                raise BuildError(f"unsupported declaration `{text} {nxt[1]}`")
        elif text == "function":
            j = i + 1
            if sig[j][0] == "word":
                names.add(sig[j][1])
                j += 1
            names.update(_list_names(sig, j, _closing(sig, j)))
        elif text == "catch" and nxt[1] == "(":
            names.update(_list_names(sig, i + 1, _closing(sig, i + 1)))
        elif text == "=>":
            if sig[i - 1][0] == "word":
                names.add(sig[i - 1][1])
            else:
                names.update(_list_names(sig, _opening(sig, i - 1), i - 1))
    return names


def short_names(taken: frozenset[str]) -> Iterator[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    size = 1
    while True:
        for combo in itertools.product(alphabet, repeat=size):
            name = "".join(combo)
            if name not in taken:
                yield name
        size += 1


def mangle(tokens: list[Token]) -> tuple[list[Token], list[tuple[str, str]]]:
    """Rename declared bindings; returns the new tokens and the expected (role, text) shape."""
    sig = significant(tokens)
    role = roles(sig)
    ours = declared(sig)
    clash = ours & GLOBALS
    if clash:
        raise BuildError(f"declared names shadow globals the bundle uses: {sorted(clash)}")
    words = [t for (_, t), r in zip(sig, role, strict=True) if r in ("name", "short")]
    free = {t for t in words if t not in ours and t not in KEYWORDS}
    if free - GLOBALS:
        unknown = sorted(free - GLOBALS)
        raise BuildError(f"undeclared (declare them, or add browser globals to GLOBALS): {unknown}")
    uses = Counter(t for t in words if t in ours)
    # All bindings are renamed at once, so new names only have to avoid what stays.
    names = short_names(KEYWORDS | GLOBALS)
    rename = {old: next(names) for old, _ in uses.most_common()}
    # Re-classify per significant token, then map onto the full token list (line breaks kept).
    expected: list[tuple[str, str]] = []
    replacement: dict[int, list[Token]] = {}
    sig_ids = [i for i, t in enumerate(tokens) if t[0] != "nl"]
    sig_at = 0
    for i in sig_ids:
        tok = tokens[i]
        if sig_at < len(sig) and tok == sig[sig_at]:
            r = role[sig_at]
            sig_at += 1
        else:
            # A trailing comma or block-final semicolon that `significant` dropped.
            replacement[i] = [tok]
            continue
        text = tok[1]
        if r == "name" and text in rename:
            replacement[i] = [("word", rename[text])]
            expected.append(("name", rename[text]))
        elif r == "short" and text in rename:
            replacement[i] = [tok, ("punct", ":"), ("word", rename[text])]
            expected += [("key", text), ("punct", ":"), ("name", rename[text])]
        else:
            replacement[i] = [tok]
            expected.append((r, text))
    out: list[Token] = []
    for i, tok in enumerate(tokens):
        out.extend(replacement.get(i, [tok]))
    return out, expected


def minify(code: str, where: str) -> str:
    tokens, expected = mangle(tokenize(code, where))
    out: list[str] = []
    last: tuple[str, str] | None = None
    pending_nl = False
    for kind, text in tokens:
        if kind == "nl":
            pending_nl = last is not None
            continue
        if last is not None and (
            (last[1] == "," and text in ")]}") or (last[1] == ";" and text == "}")
        ):
            out.pop()
            last = ("punct", out[-1][-1:]) if out else None
        if last is not None:
            if pending_nl and last[1] not in JOIN_AFTER and text not in JOIN_BEFORE:
                out.append("\n")
            elif (re.match(r"[\w$]", last[1][-1]) and re.match(r"[\w$]", text[0])) or (
                last[1][-1] in "+-" and text[0] == last[1][-1]
            ):
                out.append(" ")
        pending_nl = False
        out.append(text)
        last = (kind, text)
    result = "".join(out)
    sig = significant(tokenize(result, where))
    if list(zip(roles(sig), (t for _, t in sig), strict=True)) != expected:
        raise BuildError(f"{where}: the minified bundle lost the shape of the source")
    return result


def build() -> str:
    on_disk = sorted(p.name for p in SRC.glob("*.js"))
    if sorted(MODULES) != on_disk:
        raise BuildError(f"MODULES {sorted(MODULES)} does not match tracker/src {on_disk}")
    owners: dict[str, str] = {}
    body: list[str] = []
    for name in MODULES:
        text = (SRC / name).read_text(encoding="utf-8")
        for line in text.splitlines():
            m = TOP_LEVEL.match(line)
            if m:
                ident = m.group(1)
                if ident in owners:
                    raise BuildError(f"top-level `{ident}` in both {owners[ident]} and {name}")
                owners[ident] = name
        body.append(strip_module(name, text))
    code = "(function(){'use strict';\n" + "\n".join(body) + "\n})();"
    return HEADER + minify(code, "bundle") + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    try:
        code = build()
    except BuildError as e:
        print(f"tracker build failed: {e}", file=sys.stderr)
        return 2
    data = code.encode("utf-8")
    size = f"{len(data):,} bytes raw, {len(gzip.compress(data, 9, mtime=0)):,} bytes gzipped"
    rel = OUT.relative_to(ROOT.parent)
    if check:
        current = OUT.read_bytes() if OUT.exists() else b""
        if current != data:
            print(f"{rel} is stale: run `python tracker/build.py` ({size})", file=sys.stderr)
            return 1
        print(f"{rel} is up to date ({size})")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"wrote {rel}: {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
