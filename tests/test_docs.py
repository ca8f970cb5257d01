"""The repository is its own documentation: what the README, docs/ and deploy/ point at is
inside the repository and exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("deploy/*")])
LINK = re.compile(r"\]\(([^)#\s]+)")  # a Markdown link's target, without its #anchor
# Paths named in prose or comments: `docs/x.md`, ../shared/..., or a home outside the checkout.
OUTSIDE = re.compile(r"(?<![\w.])(?:\.\./[\w./-]+|/work/[\w./-]+|/home/[\w./-]+)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_doc_points_only_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert OUTSIDE.findall(text) == []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_the_bird_facts_the_readme_cites_are_in_the_repository() -> None:
    assert "[docs/bird-facts.md](docs/bird-facts.md)" in (REPO / "README.md").read_text()
    assert "docs/bird-facts.md" in (REPO / "deploy" / "daemonset.yaml").read_text()
