"""render: lay a `NodePlan` out as BIRD 2 configuration text."""

from birdgen.render.render import render

__all__ = ["render"]
