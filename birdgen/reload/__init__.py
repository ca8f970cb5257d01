"""reload: tell the running BIRD to load the new configuration and read its answer.

The sidecar sees only the `Reloader` seam: `check` the staged candidate before it is renamed
into place, `reload` the live file after. `SocketReloader` speaks BIRD's control socket
(`birdgen.reload.control`); `CommandReloader` runs a command such as `birdc configure`.
Tests inject fakes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from birdgen.reload.reloaders import CommandReloader, SocketReloader

__all__ = ["CommandReloader", "Reloader", "SocketReloader"]


class Reloader(Protocol):
    def check(self, candidate: Path) -> None:
        """Raise ConfigRejected if BIRD would refuse `candidate`; may be a no-op."""
        ...

    def reload(self, live: Path) -> str:
        """Make BIRD load `live`; return a short summary such as "0003 Reconfigured".

        Raises ReloadFailed (BIRD unreachable, unexpected answer) or ConfigRejected (BIRD
        refused the file; its previous config stays active).
        """
        ...
