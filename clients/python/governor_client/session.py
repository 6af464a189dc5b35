"""LeasedSession: one governed session from request to stop, for a `with` block."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from governor_client.bundle import ConnectBundle
from governor_client.client import ENDED_STATUSES, GovernorClient, Lease, regions_value
from governor_client.errors import GovernorError
from governor_client.heartbeat import Heartbeat

log = logging.getLogger("governor_client")

# Used until the gate's session answer declares its own cadence in this field.
CADENCE_FIELD = "heartbeatIntervalSeconds"
DEFAULT_HEARTBEAT_SECONDS = 60.0
MIN_HEARTBEAT_SECONDS = 1.0


class LeasedSession:
    """Requested and Ready on entry; heartbeated in the background, and extended when the gate's
    heartbeat answer suggests it; stopped on exit, also on an exception or Ctrl-C (which then
    propagates). Outside a `with` block, call `open()` and `close()`."""

    def __init__(
        self,
        client: GovernorClient,
        size: str,
        lease: Lease,
        *,
        idempotency_key: str,
        models: Iterable[str] | None,
        regions: Iterable[str] | None,
        auto_retry: bool,
        ready_timeout: float,
        heartbeat_seconds: float | None,
        auto_extend: bool,
    ):
        if heartbeat_seconds is not None and heartbeat_seconds < MIN_HEARTBEAT_SECONDS:
            raise ValueError(f"heartbeat_seconds must be at least {MIN_HEARTBEAT_SECONDS:g}")
        self.client = client
        self.size = size
        self.lease = lease
        self.idempotency_key = idempotency_key  # a retry of the request with it never makes a second session
        self.models = None if models is None else list(models)
        self.regions = None if regions is None else regions_value(regions)
        self.auto_retry = auto_retry
        self.ready_timeout = ready_timeout
        self.auto_extend = auto_extend
        self.session_id: str | None = None
        self._declared_cadence: float | None = None
        self.view = {}  # the gate's latest answer about the session
        self.extensions: list[dict] = []  # the answers of the extensions the heartbeat asked for
        self.heartbeat_error: Exception | None = None  # the heartbeat's latest failure, if any
        self.ended = threading.Event()  # set when a heartbeat learns the session is over
        self._heartbeat_seconds = heartbeat_seconds
        self._heartbeat: Heartbeat | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"LeasedSession({self.session_id!r}, status={self.view.get('status')!r})"

    # ------------------------------------------------------------ life cycle
    def open(self) -> LeasedSession:
        self.view = self.client.request(
            self.size,
            self.lease,
            idempotency_key=self.idempotency_key,
            models=self.models,
            regions=self.regions,
            auto_retry=self.auto_retry,
        )
        self.session_id = self.view["sessionId"]
        try:
            self.view = self.client.wait_ready(self.session_id, timeout=self.ready_timeout, view=self.view)
            self._heartbeat = Heartbeat(self._beat, self.heartbeat_seconds, f"heartbeat {self.session_id}")
            self._heartbeat.start()
        except BaseException as exc:
            self._close_after(exc)
            raise
        return self

    def close(self) -> dict:
        """Stop the heartbeat, then the session (once; the answer is the closed session)."""
        if self._heartbeat is not None:
            self._heartbeat.halt(self.client.timeout + 1)
        if self.session_id is not None and not self._stopped:
            self.view = self.client.stop(self.session_id)
            self._stopped = True
        return self.view

    def __enter__(self) -> LeasedSession:
        return self.open()

    def __exit__(self, kind, exc, traceback) -> bool:
        if exc is None:
            self.close()
        else:
            self._close_after(exc)
        return False

    def _close_after(self, exc: BaseException) -> None:
        """Stop on the way out of a failure; a failing stop must not hide the failure itself."""
        try:
            self.close()
        except Exception as failure:
            log.warning("could not stop session %s: %s", self.session_id, failure)
            exc.add_note(f"stopping session {self.session_id} failed too: {failure}")

    # ------------------------------------------------------------ while in use
    @property
    def heartbeat_seconds(self) -> float:
        """The cadence: as asked, else as the gate's latest answer that declared one, else a minute."""
        if self._heartbeat_seconds is not None:
            return self._heartbeat_seconds
        return self._declared_cadence or DEFAULT_HEARTBEAT_SECONDS

    @property
    def view(self) -> dict:
        return self._view

    @view.setter
    def view(self, answer: dict) -> None:
        self._view = answer
        declared = answer.get(CADENCE_FIELD)
        if isinstance(declared, int | float) and not isinstance(declared, bool) and declared > 0:
            self._declared_cadence = max(float(declared), MIN_HEARTBEAT_SECONDS)

    def connect(self) -> ConnectBundle:
        return self.client.connect(self._id(), ready_timeout=self.ready_timeout)

    def refresh(self) -> dict:
        self.view = self.client.get(self._id())
        return self.view

    def heartbeat(self) -> dict:
        self.view = self.client.heartbeat(self._id())
        return self.view

    def extend(self, minutes: int | None = None) -> dict:
        self.view = self.client.extend(self._id(), minutes)
        self.extensions.append(self.view)
        return self.view

    def _id(self) -> str:
        if self.session_id is None:
            raise RuntimeError("the session has not been requested yet: use it in a `with` block or call open()")
        return self.session_id

    def _beat(self, halted: threading.Event) -> bool:
        try:
            answer = self.client.heartbeat(self._id(), cancel=halted)
        except GovernorError as error:
            self.heartbeat_error = error
            if _permanent(error):  # closed, or the key or project is gone: beating on cannot help
                log.warning("heartbeat of session %s ends: %s", self.session_id, error)
                self.ended.set()
                return False
            log.warning("heartbeat of session %s failed (will beat again): %s", self.session_id, error)
            return True
        self.view = answer
        if self._heartbeat is not None:
            self._heartbeat.interval = self.heartbeat_seconds
        if answer.get("status") in ENDED_STATUSES or answer.get("state") == "closed":
            self.ended.set()
            return False
        if self.auto_extend:
            self._extend_if_suggested(answer, halted)
        return True

    def _extend_if_suggested(self, answer: dict, halted: threading.Event) -> None:
        outlook = answer.get("extension") or {}
        target = outlook.get("leaseMinutes")
        if not (outlook.get("suggest") and outlook.get("wouldGrant") and isinstance(target, int)):
            return
        if target <= answer.get("leaseMinutes", 0):
            return
        try:
            # the total, not "one more step": repeating it after a lost answer extends nothing twice
            self.view = self.client.extend(self._id(), target, cancel=halted)
        except GovernorError as error:
            if error.reason == "extension-denied" and error.problem.get("limit") == "lease-covers":
                return
            self.heartbeat_error = error
            log.warning("extension of session %s refused: %s", self.session_id, error)
            return
        self.extensions.append(self.view)


def _permanent(error: GovernorError) -> bool:
    return error.status is not None and 400 <= error.status < 500 and error.status not in (409, 429)
