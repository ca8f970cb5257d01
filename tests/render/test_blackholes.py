"""The static protocol's route lines, and the prefix texts the plan stores for them."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from birdgen.model.values import network_text
from birdgen.plan.types import Route
from birdgen.render.render import blackhole_lines

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def reference(nets: list[Net]) -> str:
    return "".join(f"  route {n} blackhole;\n" for n in nets)


def routes_of(nets: list[Net]) -> tuple[Route, ...]:
    return tuple(Route(network_text(n), ()) for n in nets)


@given(
    st.lists(
        st.one_of(
            st.ip_addresses(v=4).map(lambda ip: ipaddress.ip_network(ip)),
            st.ip_addresses(v=6).map(lambda ip: ipaddress.ip_network(ip)),
            st.builds(
                lambda ip, length: ipaddress.ip_network(f"{ip}/{length}", strict=False),
                st.ip_addresses(v=4),
                st.integers(0, 32),
            ),
        ),
        max_size=30,
    )
)
def test_same_text_as_ipaddress(nets: list[Net]) -> None:
    routes = routes_of(nets)
    assert blackhole_lines(routes) == reference(nets)
    assert [r.prefix for r in routes] == nets


def test_edge_addresses() -> None:
    nets = ["0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/8", "1.2.3.4/32", "::/0", "fd00::1/128"]
    parsed = [ipaddress.ip_network(n) for n in nets]
    assert blackhole_lines(routes_of(parsed)) == reference(parsed)
    assert blackhole_lines(()) == ""
