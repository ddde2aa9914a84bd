"""Picking up a new export without dropping requests: the new build is loaded in full beside
the one being served, then one reference is swapped. Requests read the reference once, so each
is answered from one build, old or new; a refused export leaves the old build serving."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path

from segrec.errors import SegrecError
from segrec.serve.published import manifest_fingerprint
from segrec.serve.store import ServingBuild, load_build


class BuildHolder:
    """The build being served, and :meth:`reload` to replace it by a newer export."""

    def __init__(self, export_dir: str | Path, build: ServingBuild | None = None) -> None:
        self.export_dir = Path(export_dir)
        self.build = build if build is not None else load_quietly(self.export_dir)
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
                fresh = load_quietly(self.export_dir)
            except SegrecError as exc:
                self.last_error = str(exc)
                return False
            except Exception as exc:  # whatever else breaks a load, the served build stays
                self.last_error = f"loading {self.export_dir}: {type(exc).__name__}: {exc}"
                return False
            stale, self.build, self.last_error = self.build, fresh, None  # the swap: one reference assignment
        threading.Thread(target=release_gradually, args=(stale,), name="segrec-serve-release", daemon=True).start()
        return True


def load_quietly(export_dir: Path) -> ServingBuild:
    """:func:`load_build` without pausing the requests answered meanwhile: the cyclic garbage
    collector stays off while millions of objects are made (each of its passes would hold the GIL
    for a tenth of a second or more), and the loaded build is frozen out of its later passes
    (it is not cyclic garbage; scanning it made every collection during serving slow too)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        build = load_build(export_dir)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    return build


def release_gradually(build: ServingBuild, grace: float = 2.0, rows: int = 65_536, pause: float = 0.001) -> None:
    """Drop the Python objects of a replaced build a slice at a time, after ``grace`` seconds:
    freeing millions of strings at once holds the GIL for about half a second, which requests
    would wait for. The grace period lets the requests that read the old reference before the
    swap finish first (a lookup reads the build without awaiting, in a millisecond or so)."""
    time.sleep(grace)
    for grouped in (build.recommendations, build.segments, build.predictions, build.strategies, build.similar):
        for values in grouped.columns.values():
            if values.dtype == object:
                for start in range(0, len(values), rows):
                    values[start:start + rows] = None
                    time.sleep(pause)


def repeat(action: Callable[[], object], interval: float, stop: threading.Event, name: str) -> threading.Thread:
    """Start a daemon thread calling ``action()`` every ``interval`` seconds until ``stop`` is set
    (the reload check, the event journal's flush)."""

    def loop() -> None:
        while not stop.wait(interval):
            action()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
