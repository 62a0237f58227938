"""The docs hold together: every relative link in the README and the manual leads to a file
(and heading) that exists, and the README and docs/index.md list every page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "tracker" / "README.md",
        ROOT / "sdk" / "python" / "README.md",
        *DOCS.rglob("*.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(page: Path) -> list[str]:
    """Relative link targets of a Markdown page, code blocks left out."""
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.relative_to(ROOT)} links to a missing {path}"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{page.relative_to(ROOT)}: no #{anchor} in {path}"


def test_the_readme_and_the_index_list_every_page() -> None:
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    in_readme = {t.removeprefix("docs/") for t in links(ROOT / "README.md")}
    in_index = {t.partition("#")[0] for t in links(DOCS / "index.md")} | {"index.md"}
    assert pages <= in_readme, f"README.md leaves out {sorted(pages - in_readme)}"
    assert pages <= in_index, f"docs/index.md leaves out {sorted(pages - in_index)}"
