"""Manifests read as kubectl reads them, whichever YAML parser PyYAML was built with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from birdgen.errors import SourceError
from birdgen.sources.files import load, parse_text


def test_yaml_values_are_read_as_kubectl_reads_them() -> None:
    [doc] = parse_text("community: 65000:10\nlabel: yes\ndate: 2020-01-01\nport: 179\n", "x.yaml")
    # No YAML 1.1 base-60 integers and no timestamps; booleans and ints as usual.
    assert doc == {"community": "65000:10", "label": True, "date": "2020-01-01", "port": 179}


def test_lists_are_flattened_and_items_get_their_kind_back() -> None:
    # (A ServiceList's items come back as typed documents: tests/sources/test_json_read.py.)
    text = '{"apiVersion": "v1", "kind": "ConfigMapList", "items": [{"metadata": {"name": "a"}}]}'
    assert parse_text(text, "x.json") == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    ]


def test_multi_document_yaml_skips_empty_documents() -> None:
    docs = parse_text("---\nkind: A\n---\n---\nkind: B\n", "x.yaml")
    assert [d["kind"] for d in docs] == ["A", "B"]


@pytest.mark.parametrize("text", ["a: [1, 2\n", "- a\nb: c\n", "scalar"])
def test_bad_documents_are_source_errors(text: str) -> None:
    with pytest.raises(SourceError, match=r"x\.yaml"):
        parse_text(text, "x.yaml")


@pytest.mark.parametrize("name", ["x.yaml", "x.json", "x.yml"])
def test_files_that_are_not_utf8_cannot_be_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b'{"kind": "A", "name": "\xff"}\n' if name.endswith("json") else b"a: \xff\n")
    with pytest.raises(SourceError, match=rf"^{re.escape(str(path))}: cannot read: 'utf-8' codec"):
        load([str(path)])


def test_files_are_read_as_bytes_and_text_alike(tmp_path: Path) -> None:
    text = "---\nkind: A\nname: ü\n---\nkind: B\nport: 010\n"
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "y.json").write_text('{"kind": "C", "n": 1.5}', encoding="utf-8")
    assert load([str(tmp_path)]) == parse_text(text, "x.yaml") + parse_text(
        '{"kind": "C", "n": 1.5}', "y.json"
    )
    assert parse_text(text, "x.yaml")[1] == {"kind": "B", "port": 8}


def test_text_that_cannot_be_utf8_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"^<stdin>: cannot read: "):
        parse_text("a: \udcff\n", "<stdin>")


@pytest.mark.parametrize("text", ["- " * 1000 + "x\n", "- " * 5000 + "x\n"])
def test_yaml_nested_past_libyamls_limit_is_a_source_error(text: str) -> None:
    # yaml-rs would read it, and the flattening of lists would then recurse past Python's limit.
    with pytest.raises(SourceError, match=r"^x\.yaml: malformed YAML: "):
        parse_text(text, "x.yaml")
