"""Errors every stage may raise, and the exit codes the command line maps them to.

A problem in the input always names the object and the field it is in, so an operator can find
it: `BGPPeer/tor-1: spec.peerIP: "1.2.3" is not an IP address`. Validation collects every
problem it finds before raising, so one run reports them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID = 1  # invalid input, or BIRD rejected the candidate config (or could not check it)
EXIT_USAGE = 2
EXIT_DRIFT = 3  # `birdgen status`: BIRD runs, but not what the plan says


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one field of one object."""

    kind: str
    name: str  # "namespace/name" for namespaced objects, else "name"
    field: str  # a field path such as "spec.peerIP" or "spec.ports[0].port"; "" for the object
    message: str

    def __str__(self) -> str:
        where = f"{self.kind}/{self.name}" if self.name else self.kind
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return _one_line(text)


def _one_line(text: str) -> str:
    """Control characters from the input shown escaped, so one problem is always one line."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class BirdgenError(Exception):
    """Base of the errors birdgen reports to its user (as opposed to bugs)."""

    exit_code = EXIT_INVALID


class InvalidInput(BirdgenError):
    """The resources cannot be rendered; `problems` says every reason found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceError(BirdgenError):
    """A source could not be read: a missing file, malformed YAML, an unreachable API server."""


class ConfigRejected(BirdgenError):
    """BIRD refused the candidate configuration; `detail` is BIRD's own message."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"BIRD rejected the generated configuration: {detail}")


class BirdNotRun(BirdgenError):
    """BIRD could not be run to check a candidate (not installed, not executable, hung).

    Nothing was checked, so, as with a rejection, nothing is installed; but nothing was
    rejected either, and the message must not say so."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"BIRD could not be run to check the configuration: {detail}")


class ReloadFailed(BirdgenError):
    """BIRD could not be told to load the new configuration (daemon down, refused, timed out)."""
