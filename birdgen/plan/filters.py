"""plan: which BGPFilter functions this node defines and which of them a session calls (§10).

Calico defines a function for every BGPFilter that has rules for a family and direction, whether
or not a peer uses it, and only when BGP runs in that family. A peer calls the functions of its
`spec.filters` in order, skipping names with no such function; unknown names are ignored, as
Calico ignores them, with a warning. Pure: reads the cluster snapshot only.
"""

from __future__ import annotations

from birdgen.model.bgpfilter import DIRECTIONS, Direction
from birdgen.model.resources import BGPPeer, Cluster
from birdgen.model.values import Family
from birdgen.plan.types import FilterFunction


def filter_functions(cluster: Cluster, family: Family) -> tuple[FilterFunction, ...]:
    """Every BGPFilter's function for `family`, by filter name, import before export."""
    return tuple(
        FilterFunction(name, direction, family, rules)
        for name, flt in sorted(cluster.filters.items())
        for direction in DIRECTIONS
        if (rules := flt.rules(direction, family))
    )


def filter_calls(
    cluster: Cluster, peer: BGPPeer, family: Family, direction: Direction
) -> tuple[str, ...]:
    """The BGPFilters a session of `peer` calls in this family and direction, in its order."""
    return tuple(
        name
        for name in peer.filters
        if (flt := cluster.filters.get(name)) is not None and flt.rules(direction, family)
    )


def unknown_filter_warnings(cluster: Cluster, peer: BGPPeer) -> list[str]:
    return [
        f"BGPPeer/{peer.name}: spec.filters[{i}]: BGPFilter {name} not found; "
        "ignored (as Calico does)"
        for i, name in enumerate(peer.filters)
        if name not in cluster.filters
    ]
