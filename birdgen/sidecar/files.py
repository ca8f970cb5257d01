"""sidecar: watch the -f manifest paths (sources -> **change** -> debounce).

Place in the pipeline: a source's edge. It does not read the files (the reconciler reloads them
all with `birdgen.sources.files.load` at each step, so a snapshot is always whole); it only
tells the debouncer that something under the watched paths changed. A file is watched through
its directory, so editors that replace files and Kubernetes ConfigMap volumes (which swap a
`..data` symlink) are both seen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _Handler(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[], None], only: set[str] | None) -> None:
        self.on_change = on_change
        self.only = only  # for a watched file: the names in its directory that matter

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (ours included) change nothing
        if self.only is not None:
            names = {
                os.path.basename(os.fsdecode(p))
                for p in (event.src_path, getattr(event, "dest_path", ""))
                if p
            }
            if not any(n in self.only or n.startswith("..data") for n in names):
                return
        self.on_change()


class FileWatcher:
    """Calls `on_change()` (from watchdog's thread) whenever a watched path changes."""

    def __init__(self, paths: Sequence[str], on_change: Callable[[], None]) -> None:
        self.observer = Observer()
        files_by_dir: dict[Path, set[str]] = {}
        for raw in paths:
            path = Path(raw).absolute()
            if path.is_dir():
                self.observer.schedule(_Handler(on_change, None), str(path), recursive=True)
            else:
                files_by_dir.setdefault(path.parent, set()).add(path.name)
        for directory, names in files_by_dir.items():
            self.observer.schedule(_Handler(on_change, names), str(directory), recursive=False)

    def start(self) -> FileWatcher:
        self.observer.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.observer.stop()
        self.observer.join(timeout)
