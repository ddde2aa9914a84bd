"""Group commit of accepted events: a request appends its events to a journal (one JSON line
each, a fast local append), and a flush turns the journal into one Parquet file of the raw
events folder every second or so. Writing a Parquet file per request would cost each POST about
10 ms; the journal costs microseconds and loses nothing when the service stops: a journal left
behind is turned into Parquet when the next service starts (or by :func:`recover`)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import datetime
from pathlib import Path

from segrec.rawio import TIMESTAMP_FORMAT
from segrec.serve.events import append_events

JOURNAL_FOLDER = ".serve-journal"


class EventJournal:
    """Accepted events of this process, on their way into ``raw_dir``'s events folder."""

    def __init__(self, raw_dir: str | Path) -> None:
        self.raw_dir = Path(raw_dir)
        self.folder = self.raw_dir / JOURNAL_FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._handle = None
        self.pending = 0

    def write(self, events: list[dict], loaded_at: datetime) -> None:
        """Append ``events`` (already checked) with their ``loaded_at``; flushed to the OS at once."""
        lines = "".join(json.dumps({**e, "loaded_at": loaded_at.strftime(TIMESTAMP_FORMAT)}) + "\n" for e in events)
        with self._lock:
            if self._handle is None:
                self._path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
                self._handle = self._path.open("a", encoding="utf-8")
            self._handle.write(lines)
            self._handle.flush()
            self.pending += len(events)

    def flush(self) -> list[Path]:
        """Turn the journal written so far into raw Parquet files; returns them."""
        with self._lock:  # rotate: writes from now on go to a new journal file
            handle, path, self._handle, self._path, self.pending = self._handle, self._path, None, None, 0
            if handle is not None:
                handle.close()
        return convert(path, self.raw_dir) if path is not None else []


def convert(path: Path, raw_dir: str | Path) -> list[Path]:
    """A closed journal file as raw events Parquet files (one per loaded_at), then removed."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_load: dict[str, list[dict]] = {}
    for row in rows:
        by_load.setdefault(row.pop("loaded_at"), []).append(row)
    written = [append_events(events, raw_dir, datetime.strptime(loaded_at, TIMESTAMP_FORMAT))
               for loaded_at, events in by_load.items()]
    path.unlink()
    return written


def recover(raw_dir: str | Path) -> list[Path]:
    """The journals that stopped services left in ``raw_dir``, as raw Parquet files. Journals of
    processes still running are theirs to flush."""
    folder = Path(raw_dir) / JOURNAL_FOLDER
    paths = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    return [written for path in paths if not _alive(int(path.name.split("-", 1)[0]))
            for written in convert(path, raw_dir)]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
