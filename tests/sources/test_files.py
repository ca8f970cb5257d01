"""Manifests read as kubectl reads them, whichever YAML parser PyYAML was built with."""

from __future__ import annotations

import pytest

from birdgen.errors import SourceError
from birdgen.sources.files import parse_text


def test_yaml_values_are_read_as_kubectl_reads_them() -> None:
    [doc] = parse_text("community: 65000:10\nlabel: yes\ndate: 2020-01-01\nport: 179\n", "x.yaml")
    # No YAML 1.1 base-60 integers and no timestamps; booleans and ints as usual.
    assert doc == {"community": "65000:10", "label": True, "date": "2020-01-01", "port": 179}


def test_lists_are_flattened_and_items_get_their_kind_back() -> None:
    text = '{"apiVersion": "v1", "kind": "ServiceList", "items": [{"metadata": {"name": "a"}}]}'
    assert parse_text(text, "x.json") == [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    ]


def test_multi_document_yaml_skips_empty_documents() -> None:
    docs = parse_text("---\nkind: A\n---\n---\nkind: B\n", "x.yaml")
    assert [d["kind"] for d in docs] == ["A", "B"]


@pytest.mark.parametrize("text", ["a: [1, 2\n", "- a\nb: c\n", "scalar"])
def test_bad_documents_are_source_errors(text: str) -> None:
    with pytest.raises(SourceError, match=r"x\.yaml"):
        parse_text(text, "x.yaml")
