"""`python -m birdgen` is the same as the `birdgen` command."""

from birdgen.cli import entry

entry()
