"""reload: tell the running BIRD to load the new configuration and read its answer.

The sidecar sees only the `Reloader` seam: `install` a candidate staged beside the live file
(BIRD takes it, then the commit renames it into place), `reload` the live file as it is.
`SocketReloader` speaks BIRD's control socket (`birdgen.reload.control`) and has BIRD load the
candidate itself, so BIRD parses each text once; `CommandReloader` runs a command such as
`birdc configure`, which can only load the live file, so it checks the candidate with
`bird -p` first. Tests inject fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from birdgen.reload.reloaders import CommandReloader, SocketReloader

__all__ = ["CommandReloader", "Reloader", "SocketReloader"]


class Reloader(Protocol):
    def install(self, candidate: Path, live: Path, commit: Callable[[], None]) -> str:
        """Make BIRD run the text of `candidate` (staged beside `live`), calling `commit()` to
        rename it over `live` once BIRD took it (or once it is checked, where BIRD can only
        load `live`); return a short summary such as "0003 Reconfigured".

        Raises ConfigRejected, without committing, if BIRD refuses the text (its previous
        config stays active, `live` keeps its text); ReloadFailed (BIRD unreachable, unexpected
        answer), before or after committing.
        """
        ...

    def reload(self, live: Path) -> str:
        """Make BIRD load `live` as it is; return a short summary, as `install`.

        Raises ReloadFailed (BIRD unreachable, unexpected answer) or ConfigRejected (BIRD
        refused the file; its previous config stays active).
        """
        ...
