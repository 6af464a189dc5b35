"""Which device is connected to which session, for the connect stand-in (`routes_connect.py`).

ARR lets one device at a time connect to a session. A connection lasts while its session is Ready:
it is dropped as soon as anyone looks at it after the session stopped or expired.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from governor.core.model import SessionStatus
from governor.emulator.sessions import View


@dataclass(frozen=True)
class Connection:
    device: str
    connected_at: datetime
    seq: int  # the session record's, so a connection never outlives its record


class AlreadyConnected(Exception):
    def __init__(self, connection: Connection):
        super().__init__(connection.device)
        self.connection = connection


class Connections:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_session: dict[tuple[str, str], Connection] = {}

    def _live(self, current: View) -> Connection | None:
        key = (current.record.account, current.record.id)
        connection = self._by_session.get(key)
        if connection is None:
            return None
        if current.status is not SessionStatus.READY or connection.seq != current.record.seq:
            del self._by_session[key]
            return None
        return connection

    def current(self, current: View) -> Connection | None:
        if not self._by_session:  # the admin truth view asks for every session
            return None
        with self._lock:
            return self._live(current)

    def connect(self, current: View, device: str, now: datetime) -> Connection:
        """Connect to a Ready session (the caller checked it); AlreadyConnected if a device is."""
        with self._lock:
            existing = self._live(current)
            if existing is not None:
                raise AlreadyConnected(existing)
            connection = Connection(device, now, current.record.seq)
            self._by_session[(current.record.account, current.record.id)] = connection
            return connection

    def disconnect(self, current: View) -> Connection | None:
        with self._lock:
            connection = self._live(current)
            if connection is not None:
                del self._by_session[(current.record.account, current.record.id)]
            return connection

    def reset(self) -> None:
        with self._lock:
            self._by_session.clear()
