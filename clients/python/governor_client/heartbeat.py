"""The background thread that keeps a session alive: one beat every interval until halted."""

from __future__ import annotations

import threading
from collections.abc import Callable

# A beat gets the halt event (to cut its retry waits short) and answers whether to go on.
Beat = Callable[[threading.Event], bool]


class Heartbeat:
    def __init__(self, beat: Beat, interval: float, name: str):
        self.interval = interval
        self._beat = beat
        self._halted = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def halt(self, timeout: float) -> None:
        self._halted.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        # the interval is read on every turn: the gate's answers may change it
        while not self._halted.wait(self.interval):
            if not self._beat(self._halted):
                return
