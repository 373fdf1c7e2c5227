"""The README is a front page a newcomer reads whole; docs/ holds the rest, and no link is dead.

Links are checked as GitHub renders them: a relative path from the page's own folder, and an
anchor that is the slug of one of the target page's headings.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_BYTES = 15_000

_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)


def links(page: Path) -> list[str]:
    """The link targets of ``page``, code blocks and code spans left out (they show, not link)."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    return _LINK.findall(text)


def relative_links(page: Path) -> list[str]:
    """The links of ``page`` that point into the repository."""
    return [link for link in links(page) if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub gives ``page``'s headings (a repeated one gets -1, -2...)."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    result = set()
    for heading in _HEADING.findall(text):
        base = slug(heading)
        result.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return result


def test_the_readme_is_a_front_page_of_at_most_15000_bytes():
    """The issue's bound: what it is, two commands, real accounts, features, links."""
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes: move detail into docs/"


def test_the_readme_links_every_docs_page():
    """A page nothing links to is a page nobody finds."""
    linked = {(README.parent / link.split("#")[0]).resolve() for link in relative_links(README)}
    assert DOCS, "docs/ holds no page"
    assert [page.name for page in DOCS if page.resolve() not in linked] == []


def test_the_slug_of_a_heading_is_githubs_anchor():
    """The anchors below are the ones GitHub renders, so a link checked here works there."""
    assert slug("Errors, logs and exit codes") == "errors-logs-and-exit-codes"
    assert slug("Checking the set-up") == "checking-the-set-up"
    assert slug("`make bench` (2 cores)") == "make-bench-2-cores"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.relative_to(ROOT).name)
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path):
    """A moved section leaves no dead link behind, in the README or between docs pages."""
    dead = []
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            dead.append(f"{link}: no file {target.relative_to(ROOT)}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            dead.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert dead == []
