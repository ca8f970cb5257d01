"""The network-namespace lab used by the end-to-end tests and by `birdgen lab`.

It builds a top-of-rack router (a BIRD daemon), a few Kubernetes "nodes" and an external client,
each in its own network namespace, so rendered node configs can be tried against a real BGP
speaker and real kernel routing tables. It is test scaffolding: nothing in the render pipeline
imports it, and it never configures an address or route in the root namespace.

    netns     namespaces, veths, bridges, addresses, routes, bounded waits
    bird      a BIRD daemon running inside a namespace, driven through birdc
    tor       the ToR's BIRD config (iBGP to every node, ECMP into the kernel)
    topology  `Lab`: the whole walkthrough topology as a context manager
    peer      `NodeAndPeer`: one node's BIRD and the eBGP peer of its plan
"""
