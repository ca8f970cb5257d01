"""sidecar: what the sidecar keeps of each object (sources -> **store** -> reconcile).

The informers hand every object, as it arrives in a list page or a watch event, to `Lean`
(Services, EndpointSlices and v1 Nodes as the typed documents the edge decodes them into, the rest as
raw objects): it is parsed once, here, into its record (`birdgen.model.parse.parse_object`,
the same reader `birdgen render` uses), and an EndpointSlice is reduced to what this node's
plan reads of it (`birdgen.plan.services.as_seen_from`). The store keeps that, never the raw
JSON nor the document, so

* the sidecar holds one small record per object, not 41,000 dicts and their deep copies;
* an event whose record comes out as before — a Node's status, a Service's annotations, an
  endpoint moving between two other nodes — is dropped by the informer: no render, no plan;
* a reconcile step assembles the records into a `Cluster` without parsing anything again.
"""

from __future__ import annotations

from typing import Any

from birdgen.model.parse import Parsed, parse_object
from birdgen.model.resources import EndpointSlice
from birdgen.plan.services import as_seen_from


class Lean:
    """The informers' transform: raw object -> `Parsed`, slices as seen from `node_name`."""

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name

    def __call__(self, obj: Any) -> Parsed:
        parsed = parse_object(obj)
        record = parsed.record
        if isinstance(record, EndpointSlice):
            return Parsed(parsed.key, as_seen_from(record, self.node_name), parsed.problems, parsed.notices)  # fmt: skip
        if isinstance(record, list):  # a legacy Endpoints' pseudo-slices
            slices = [as_seen_from(s, self.node_name) for s in record]
            return Parsed(parsed.key, slices, parsed.problems, parsed.notices)
        return parsed
