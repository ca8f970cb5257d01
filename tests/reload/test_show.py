"""The parsers of BIRD's `show` output, on text BIRD 2.0.12 printed in the walkthrough lab."""

from __future__ import annotations

from birdgen.reload.show import (
    ChangeCounts,
    parse_count,
    parse_protocols,
    parse_routes,
    parse_status,
)

STATUS = """\
BIRD 2.0.12
Router ID is 192.168.1.11
Hostname is vm
Current server time is 2026-12-01 20:41:43.333
Last reboot on 2026-12-01 20:41:39.296
Last reconfiguration on 2026-12-01 20:41:40.100
Daemon is up and running"""

PROTOCOLS = """\
Name       Proto      Table      State  Since         Info
svc4       Static     master4    up     20:41:39.296
Global_192_168_1_1 BGP        ---        up     20:41:40.007  Established
  Description:    BGPPeer tor
  BGP state:          Established
    Neighbor address: 192.168.1.1
    Neighbor AS:      64512
    Local capabilities
      Graceful restart
        Restart time: 120
    Session:          internal multihop AS4
  Channel ipv4
    State:          UP
    Table:          master4
    Routes:         0 imported, 2 exported, 0 preferred
    Route change stats:     received   rejected   filtered    ignored   accepted
      Export updates:              4          0          2        ---          2

Mesh_192_168_1_12 BGP        ---        start  20:41:43.366  Active        Socket: Connection refused
  BGP state:          Active
    Neighbor address: 192.168.1.12
    Last error:       Socket: Connection refused
  Channel ipv4
    State:          DOWN
Off BGP        ---        down   20:41:49.488
  BGP state:          Down
"""

ROUTES = """\
Table master4:
10.49.62.131/32      blackhole [svc4 20:41:39.296] * (200)
                     unicast [Mesh_192_168_1_12 20:41:41.259] (100) [i]
\tvia 192.168.1.12 on eth0
10.49.0.0/16         blackhole [svc4 20:41:39.296] * (200)
192.168.1.0/24       unicast [direct1 20:41:39.313] * (240)
\tdev eth0

Table master6:
fd00:49::/112        blackhole [svc6 20:41:39.296] * (200)
"""


def test_status() -> None:
    st = parse_status(STATUS)
    assert (st.version, st.router_id) == ("2.0.12", "192.168.1.11")
    assert st.last_reconfiguration == "2026-12-01 20:41:40.100"
    assert st.state == "Daemon is up and running" and not st.reconfiguring
    assert parse_status(
        STATUS.replace("Daemon is up and running", "Reconfiguration in progress")
    ).reconfiguring


def test_protocols_rows_details_and_channels() -> None:
    p = parse_protocols(PROTOCOLS)
    assert list(p) == ["svc4", "Global_192_168_1_1", "Mesh_192_168_1_12", "Off"]
    tor = p["Global_192_168_1_1"]
    assert tor.is_bgp and tor.established and tor.exported == 2
    assert (tor.neighbor, tor.neighbor_as, tor.description) == (
        "192.168.1.1",
        "64512",
        "BGPPeer tor",
    )
    assert tor.since == "20:41:40.007"
    mesh = p["Mesh_192_168_1_12"]
    assert not mesh.established and mesh.bgp_state == "Active" and mesh.state == "start"
    assert mesh.last_error == "Socket: Connection refused" and mesh.exported == 0
    assert mesh.channels[0].state == "DOWN"
    assert p["Off"].state == "down" and not p["Off"].established
    assert not p["svc4"].is_bgp


def test_routes_keep_every_source_of_a_prefix() -> None:
    r = parse_routes(ROUTES)
    assert r.prefixes == {"10.49.62.131/32", "10.49.0.0/16", "192.168.1.0/24", "fd00:49::/112"}
    assert r.sources["10.49.62.131/32"] == {"svc4", "Mesh_192_168_1_12"}
    assert r.sources["192.168.1.0/24"] == {"direct1"}
    assert parse_routes("").prefixes == frozenset()


def test_count() -> None:
    assert parse_count("2 of 7 routes for 4 networks in table master4") == 2
    both = "7 of 7 routes for 4 networks in table master4\n2 of 2 routes for 2 networks in table master6\nTotal: 9 of 9 routes for 6 networks in 2 tables"
    assert parse_count(both) == 9


# `show protocols all` on both ends of an eBGP session right after the node (AS 64512, 1,004
# routes) swapped one /32 for another: the peer (import all, export none) was sent one update and
# one withdraw; the node's export filter dropped one route (its /16 of another node's range).
PEER_SIDE = """\
Name       Proto      Table      State  Since         Info
node       BGP        ---        up     03:54:11.093  Established
  BGP state:          Established
    Neighbor address: 10.0.0.2
    Neighbor AS:      64512
    Local AS:         65000
    Neighbor ID:      10.0.0.2
    Session:          external AS4
    Source address:   10.0.255.254
    Hold timer:       214.052/240
    Keepalive timer:  75.314/80
  Channel ipv4
    State:          UP
    Table:          master4
    Preference:     100
    Input filter:   ACCEPT
    Output filter:  REJECT
    Routes:         1004 imported, 0 exported, 1004 preferred
    Route change stats:     received   rejected   filtered    ignored   accepted
      Import updates:           1005          0          0          0       1005
      Import withdraws:            1          0        ---          0          1
      Export updates:           1005       1005          0        ---          0
      Export withdraws:            1        ---        ---        ---          0
    BGP Next hop:   10.0.255.254

"""

NODE_SIDE = """\
Name       Proto      Table      State  Since         Info
Global_10_0_255_254 BGP        ---        up     03:54:11.091  Established
  Description:    BGPPeer tor
  BGP state:          Established
    Neighbor address: 10.0.255.254
    Neighbor AS:      65000
  Channel ipv4
    State:          UP
    Table:          master4
    Preference:     100
    Input filter:   birdgen_import_v4
    Output filter:  birdgen_export_v4
    Routes:         0 imported, 1004 exported, 0 preferred
    Route change stats:     received   rejected   filtered    ignored   accepted
      Import updates:              0          0          0          0          0
      Import withdraws:            0          0        ---          0          0
      Export updates:           1006          0          1        ---       1005
      Export withdraws:            1        ---        ---        ---          1
    BGP Next hop:   10.0.0.2
    IGP IPv4 table: master4
"""


def test_route_change_stats_of_both_ends() -> None:
    [peer] = parse_protocols(PEER_SIDE)["node"].channels
    assert peer.changes is not None
    assert peer.changes.import_updates == ChangeCounts(1005, 0, 0, 0, 1005)
    assert peer.changes.import_withdraws == ChangeCounts(1, 0, None, 0, 1)
    assert peer.changes.export_updates == ChangeCounts(1005, 1005, 0, None, 0)
    assert peer.changes.export_withdraws == ChangeCounts(1, None, None, None, 0)
    [node] = parse_protocols(NODE_SIDE)["Global_10_0_255_254"].channels
    assert node.changes is not None
    # What the node sent is what the peer received.
    assert node.changes.export_updates.accepted == peer.changes.import_updates.received
    assert node.changes.export_withdraws == ChangeCounts(1, None, None, None, 1)
    assert (node.imported, node.exported) == (0, 1004)


def test_route_change_stats_only_when_complete() -> None:
    # PROTOCOLS' channel shows one row of the four, a DOWN channel none: no stats either way.
    p = parse_protocols(PROTOCOLS)
    assert p["Global_192_168_1_1"].channels[0].changes is None
    assert p["Mesh_192_168_1_12"].channels[0].changes is None
    # Columns are read by the header's names, not by position.
    swapped = PEER_SIDE.replace("received   rejected", "rejected   received")
    [ch] = parse_protocols(swapped)["node"].channels
    assert ch.changes is not None and ch.changes.import_updates == ChangeCounts(0, 1005, 0, 0, 1005)
