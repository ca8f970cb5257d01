"""Reading a YAML stream as two halves, the second in a real forked child process."""

from __future__ import annotations

import threading

import pytest
import yaml

from birdgen.sources import files, halves


def stream(count: int, bad_at: int | None = None) -> str:
    docs = []
    for i in range(count):
        body = (
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  labels:\n    n: '{i}'\n"
        )
        if i == bad_at:
            body += "spec: [unclosed\n"
        docs.append(body)
    return "---\n" + "---\n".join(docs)


def serial(text: str) -> list[object]:
    return files._read_yaml_serially(text)


def in_two(text: str) -> list[object] | None:
    # Earlier tests in this process may leave threads behind (informers, servers), which
    # would make read_in_two decline; test_no_fork_while_other_threads_run covers that rule.
    return halves.read_in_two(text, serial, other_threads_ok=True)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n---\nb: 2\n",
        "---\na: 1\n---\n---\nb: 2\n---\n",  # empty documents on both sides
        "a: 1\n---\nb: |\n  x\n---\nc: [1, 2]\n---\nd: 4",
        stream(50),
    ],
)
def test_the_halves_hold_the_same_documents(text: str) -> None:
    split = halves.split_stream(text)
    assert split is not None
    first, second = split
    assert serial(first) + serial(second) == serial(text)
    assert in_two(text) == serial(text)


@pytest.mark.parametrize(
    "text", ["a: 1\nb: 2\n", "%YAML 1.1\n---\na: 1\n---\nb: 2\n", "a: 1\n...\n---\nb: 2\n"]
)
def test_streams_that_do_not_split_safely_are_left_whole(text: str) -> None:
    assert halves.split_stream(text) is None
    assert in_two(text) is None


@pytest.mark.parametrize("bad_at", [3, 46])  # in the parent's half, in the child's half
def test_an_error_in_either_half_leaves_the_stream_to_the_caller(bad_at: int) -> None:
    text = stream(50, bad_at=bad_at)
    assert in_two(text) is None
    with pytest.raises(yaml.YAMLError):
        serial(text)


def test_errors_are_those_of_the_whole_stream() -> None:
    text = stream(50, bad_at=46)
    with pytest.raises(yaml.YAMLError) as parallel:
        files._read_yaml(text, parallel=True, min_size=0)
    with pytest.raises(yaml.YAMLError) as whole:
        serial(text)
    assert str(parallel.value) == str(whole.value)
    assert "line 331" in str(parallel.value)  # counted in the whole stream, not in a half


def test_no_fork_while_other_threads_run() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, args=(10,))
    other.start()
    try:
        assert halves.read_in_two(stream(20), serial) is None
    finally:
        stop.set()
        other.join(timeout=10)


def test_parse_text_reads_big_files_with_the_same_result() -> None:
    text = stream(50_000)
    assert len(text) >= halves.MIN_SIZE
    assert files.parse_text(text, "big.yaml", parallel=True) == files.parse_text(text, "big.yaml")


def test_documents_marshal_cannot_write_come_back_too() -> None:
    text = "a: !!timestamp 2024-05-14\n---\nb: 2\n---\nc: !!timestamp 2024-05-15\n"
    assert in_two(text) == serial(text)
