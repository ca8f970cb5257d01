"""plan: decide, purely, what one node advertises and with whom it peers, and why."""

from birdgen.plan.build import build_plan
from birdgen.plan.types import FamilyPlan, NodePlan, PeerRoute, Route, Session

__all__ = ["FamilyPlan", "NodePlan", "PeerRoute", "Route", "Session", "build_plan"]
