"""The service table's routes in Calico's order, kept as prefixes come and go: after any
sequence of updates, few at a time (bisection) or many (one sort), they are the routes a
sort of the current prefixes gives."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from birdgen.plan.services import _Ordered, calico_order
from birdgen.plan.types import Route

texts = st.builds(lambda a, b, n: f"10.{a}.{b}.0/{n}", st.integers(0, 3), st.integers(0, 40), st.sampled_from([24, 32]))  # fmt: skip
reasons = st.none() | st.tuples(st.sampled_from(["a", "b"]))
few = st.dictionaries(texts, reasons, max_size=10)


def _many(seed: int) -> dict[str, tuple[str, ...] | None]:
    """More changes at once than bisection takes (drawn from a seed: cheap to generate)."""
    rng = random.Random(seed)
    return {
        f"10.{rng.randrange(4)}.{rng.randrange(41)}.0/{rng.choice((24, 32))}": rng.choice(
            (None, ("a",), ("b",))
        )
        for _ in range(rng.randrange(70, 150))
    }


many = st.builds(_many, st.integers(0, 2**32))


@given(st.lists(st.one_of(few, many), max_size=8))
def test_routes_stay_in_calico_order(history: list[dict[str, tuple[str, ...] | None]]) -> None:
    ordered = _Ordered()
    expected: dict[str, tuple[str, ...]] = {}
    for changes in history:
        ordered.update(changes)
        for text, reasons in changes.items():
            if reasons is None:
                expected.pop(text, None)
            else:
                expected[text] = reasons
        want = tuple(Route(t, expected[t]) for t in sorted(expected, key=calico_order))
        assert ordered.routes() == want
