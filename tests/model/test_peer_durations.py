"""model: BGPPeer durations (`maxRestartTime`, `keepaliveTime`) are Go durations, as Calico's API
stores them: read as Go's time.ParseDuration reads them, rounded to whole seconds as Go's
math.Round does, and refused out of range naming the peer and the field.

The expectations are written by hand and read back from the rendered session.
"""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects

ME = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "me"},
      "spec": {"bgp": {"ipv4Address": "10.0.0.1/24"}}}  # fmt: skip


def session_lines(field: str, value: Any, statement: str) -> list[str]:
    spec = {"peerIP": "10.0.0.254", "asNumber": 65001, field: value}
    rendered = render_objects([ME, bgp_configuration(), bgp_peer("tor", **spec)], Environment("me"))
    return [x.strip() for x in rendered.text.splitlines() if x.strip().startswith(statement)]


def refusal(field: str, value: Any) -> list[str]:
    spec = {"peerIP": "10.0.0.254", "asNumber": 65001, field: value}
    with pytest.raises(InvalidInput) as info:
        render_objects([ME, bgp_configuration(), bgp_peer("tor", **spec)], Environment("me"))
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),  # Go's only unitless duration
        ("90s", 90),
        ("+90s", 90),
        ("1h8m", 4080),
        ("1m30s", 90),
        ("1.5m", 90),
        (".5m", 30),
        ("1500ms", 2),  # 1.5 s, rounded half away from zero
        ("2000000us", 2),
        ("3000000000ns", 3),
        ("-0.4s", 0),  # -0.4 s rounds to 0, which is in range
        ("0.6s", 1),
        ("4095s", 4095),  # the most RFC 4724's 12 bits hold
    ],
)
def test_go_durations_give_the_graceful_restart_time(text: str, seconds: int) -> None:
    lines = session_lines("maxRestartTime", text, "graceful restart time")
    assert lines == [f"graceful restart time {seconds};"]


NOT_A_DURATION = 'is not a duration such as "90s" or "2m"'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (90, "90"),  # a number, not a duration string
        ("", '""'),
        ("90", '"90"'),  # no unit
        ("1x", '"1x"'),
        ("X5s", '"X5s"'),
        ("s", '"s"'),
        ("-", '"-"'),  # a sign and nothing after it
        ("+", '"+"'),
        ("1m 30s", '"1m 30s"'),
    ],
)
def test_what_go_cannot_parse_is_refused_naming_peer_and_field(value: Any, shown: str) -> None:
    assert refusal("maxRestartTime", value) == [
        f"BGPPeer/tor: spec.maxRestartTime: {shown} {NOT_A_DURATION}"
    ]


@pytest.mark.parametrize("text", ["-1s", "-0.6s", "4095.5s"])
def test_a_restart_time_out_of_range_is_refused(text: str) -> None:
    assert refusal("maxRestartTime", text) == [
        f'BGPPeer/tor: spec.maxRestartTime: "{text}" is out of range (0s-4095s, RFC 4724)'
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("30s", "keepalive time 30;"),
        ("0.5s", "keepalive time 1;"),  # rounds up to the lowest value BIRD takes
        ("65535s", "keepalive time 65535;"),
        ("1m", "keepalive time 60;"),
        ("1h30m", "keepalive time 5400;"),
    ],
)
def test_peer_keepalive_time_is_the_session_keepalive_time(text: str, line: str) -> None:
    assert session_lines("keepaliveTime", text, "keepalive time") == [line]


def test_no_keepalive_time_leaves_birds_default() -> None:
    spec = {"peerIP": "10.0.0.254", "asNumber": 65001}
    rendered = render_objects([ME, bgp_configuration(), bgp_peer("tor", **spec)], Environment("me"))
    assert "keepalive time" not in rendered.text


@pytest.mark.parametrize("text", ["0s", "0.4s", "-1s", "65535.5s", "19h"])
def test_a_keepalive_time_out_of_range_is_refused(text: str) -> None:
    assert refusal("keepaliveTime", text) == [
        f'BGPPeer/tor: spec.keepaliveTime: "{text}" is out of range (1s-65535s)'
    ]
