"""The live sessions of visitors since the service started: their recent product events, in
memory and bounded (least recently active visitors are forgotten first). Accepted events are
also in the raw folder, so nothing is lost when the service stops: the next build has them."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable

from segrec.segmentation.online import LiveEvent


class SessionStore:
    """``{visitor id: recent events}`` for at most ``max_visitors`` visitors and
    ``max_events`` events each; also the event ids accepted, for duplicate checks."""

    def __init__(self, max_visitors: int = 100_000, max_events: int = 50, max_event_ids: int = 1_000_000) -> None:
        self.max_visitors, self.max_events, self.max_event_ids = max_visitors, max_events, max_event_ids
        self._sessions: OrderedDict[str, deque[LiveEvent]] = OrderedDict()
        self._event_ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, visitor_id: str, event: LiveEvent) -> None:
        with self._lock:
            events = self._sessions.pop(visitor_id, None) or deque(maxlen=self.max_events)
            events.append(event)
            self._sessions[visitor_id] = events
            if len(self._sessions) > self.max_visitors:
                self._sessions.popitem(last=False)
            self._event_ids[event.event_id] = None
            if len(self._event_ids) > self.max_event_ids:
                self._event_ids.popitem(last=False)

    def events(self, visitor_id: str) -> list[LiveEvent]:
        with self._lock:
            return list(self._sessions.get(visitor_id, ()))

    def seen(self, event_ids: Iterable[str | None]) -> set[str]:
        """Those of ``event_ids`` accepted before."""
        with self._lock:
            return {e for e in event_ids if e is not None and e in self._event_ids}
