"""The static protocol's route lines: the fast IPv4 formatting must write what ipaddress writes."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from birdgen.plan.types import Route
from birdgen.render.render import blackhole_lines


def reference(routes: tuple[Route, ...]) -> str:
    return "".join(f"  route {r.prefix} blackhole;\n" for r in routes)


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
def test_same_text_as_ipaddress(
    prefixes: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    routes = tuple(Route(p, ()) for p in prefixes)
    assert blackhole_lines(routes) == reference(routes)


def test_edge_addresses() -> None:
    nets = ["0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/8", "1.2.3.4/32", "::/0", "fd00::1/128"]
    routes = tuple(Route(ipaddress.ip_network(n), ()) for n in nets)
    assert blackhole_lines(routes) == reference(routes)
    assert blackhole_lines(()) == ""
