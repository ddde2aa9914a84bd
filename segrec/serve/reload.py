"""Picking up a new export without dropping requests: the new build is loaded in full beside
the one being served, then one reference is swapped. Requests read the reference once, so each
is answered from one build, old or new; a refused export leaves the old build serving."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from segrec.errors import SegrecError
from segrec.serve.published import manifest_fingerprint
from segrec.serve.store import ServingBuild, load_build


class BuildHolder:
    """The build being served, and :meth:`reload` to replace it by a newer export."""

    def __init__(self, export_dir: str | Path, build: ServingBuild | None = None) -> None:
        self.export_dir = Path(export_dir)
        self.build = build if build is not None else load_build(self.export_dir)
        self.last_error: str | None = None
        self._lock = threading.Lock()  # one reload at a time; readers never wait on it

    def reload(self) -> bool:
        """Load the export again if its manifest changed; True when a new build was swapped in.

        A new export that fails its checks (half-written, damaged) is refused: the current build
        keeps serving and ``last_error`` says why.
        """
        with self._lock:
            if manifest_fingerprint(self.export_dir) in (None, self.build.manifest_sha256):
                return False
            try:
                fresh = load_build(self.export_dir)
            except SegrecError as exc:
                self.last_error = str(exc)
                return False
            except Exception as exc:  # whatever else breaks a load, the served build stays
                self.last_error = f"loading {self.export_dir}: {type(exc).__name__}: {exc}"
                return False
            self.build, self.last_error = fresh, None  # the swap: one reference assignment
            return True


def repeat(action: Callable[[], object], interval: float, stop: threading.Event, name: str) -> threading.Thread:
    """Start a daemon thread calling ``action()`` every ``interval`` seconds until ``stop`` is set
    (the reload check, the event journal's flush)."""

    def loop() -> None:
        while not stop.wait(interval):
            action()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
