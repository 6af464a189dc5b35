"""Session records and their lifecycle, computed from the virtual clock (no background timers).

A record stores what happened (created, when it becomes Ready, lease, stop time); its status
at any instant is derived: Starting until `ready_at`, then Ready until `ready_at + lease`
(Expired) or the stop (Stopped). A capacity failure turns Starting into Error at `ready_at`.
Billed time is time spent in Ready.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from governor.core.model import SessionStatus, VmSize, whole_minutes


def dotnet_time(at: datetime, tick: int = 0) -> str:
    """creationTime as the service wrote it (System.Text.Json's DateTimeOffset): ISO 8601, +00:00,
    the fraction in 100 ns ticks with trailing zeros dropped (`.4773534`, `.214787`, none at all).
    `tick` is the seventh digit, below the microsecond a Python datetime holds."""
    at = at.astimezone(UTC)
    fraction = f"{at.microsecond:06d}{tick % 10}".rstrip("0")
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "+00:00"


TERAFLOPS = {VmSize.STANDARD: 8.1, VmSize.PREMIUM: 32.4}
CAPACITY_ERROR = ("InsufficientCapacity", "There is not enough capacity to start a {size} session. Try again later.")
EXPIRED_MESSAGE = "The session lease time was reached and the session was stopped."


@dataclass(slots=True)
class Record:
    account: str
    id: str
    size: VmSize
    lease: timedelta  # current lease, counted from Ready
    create_lease: timedelta  # as created, to recognise an identical PUT retry
    created_at: datetime
    ready_at: datetime
    api_version: str
    seq: int
    fails: bool = False
    stopped_at: datetime | None = None
    arr_inspector_port: int = 0
    handshake_port: int = 0
    indexed: bool = True  # still in its account's active index
    hostname: str = ""  # derived, cached: lists of 10k sessions render these on every call
    creation_time: str = ""

    def __post_init__(self):
        digest = hashlib.sha256(f"{self.account}/{self.id}".encode()).hexdigest()[:32]
        self.hostname = f"arr{self.size.value.lower()}{digest}.remoterendering.vm.emulator.mixedreality.azure.com"
        # The service's clock had 100 ns ticks; the seventh digit comes from the id, so it stays
        # the same for the record's whole life and across a restore from the state file.
        self.creation_time = dotnet_time(self.created_at, int(digest, 16) % 10)

    def to_json(self) -> dict:
        return {
            "account": self.account,
            "id": self.id,
            "size": self.size.value,
            "leaseSeconds": self.lease.total_seconds(),
            "createLeaseSeconds": self.create_lease.total_seconds(),
            "createdAt": self.created_at.isoformat(),
            "readyAt": self.ready_at.isoformat(),
            "apiVersion": self.api_version,
            "seq": self.seq,
            "fails": self.fails,
            "stoppedAt": self.stopped_at.isoformat() if self.stopped_at else None,
            "arrInspectorPort": self.arr_inspector_port,
            "handshakePort": self.handshake_port,
        }

    @classmethod
    def from_json(cls, data: dict) -> Record:
        return cls(
            account=data["account"],
            id=data["id"],
            size=VmSize.parse(data["size"]),
            lease=timedelta(seconds=data["leaseSeconds"]),
            create_lease=timedelta(seconds=data["createLeaseSeconds"]),
            created_at=datetime.fromisoformat(data["createdAt"]),
            ready_at=datetime.fromisoformat(data["readyAt"]),
            api_version=data["apiVersion"],
            seq=data["seq"],
            fails=data["fails"],
            stopped_at=datetime.fromisoformat(data["stoppedAt"]) if data["stoppedAt"] else None,
            arr_inspector_port=data["arrInspectorPort"],
            handshake_port=data["handshakePort"],
        )


@dataclass(frozen=True, slots=True)
class View:
    """A record as seen at one instant."""

    record: Record
    status: SessionStatus
    billed: timedelta
    ended_at: datetime | None

    @property
    def elapsed_minutes(self) -> int:
        return whole_minutes(self.billed)

    @property
    def reached_ready(self) -> bool:
        if self.status in (SessionStatus.READY, SessionStatus.EXPIRED):
            return True
        if self.status is not SessionStatus.STOPPED:
            return False
        assert self.ended_at is not None  # view() gives every stopped view its end
        return self.ended_at >= self.record.ready_at

    @property
    def error(self) -> tuple[str, str] | None:
        if self.status is not SessionStatus.ERROR:
            return None
        return CAPACITY_ERROR[0], CAPACITY_ERROR[1].format(size=self.record.size.value)

    @property
    def message(self) -> str | None:
        if self.error:
            return self.error[1]
        return EXPIRED_MESSAGE if self.status is SessionStatus.EXPIRED else None


def view(record: Record, now: datetime) -> View:
    ready_at, stopped_at = record.ready_at, record.stopped_at
    zero = timedelta(0)
    if stopped_at is not None and stopped_at < ready_at:
        return View(record, SessionStatus.STOPPED, zero, stopped_at)
    if now < ready_at:
        return View(record, SessionStatus.STARTING, zero, None)
    if record.fails:
        return View(record, SessionStatus.ERROR, zero, ready_at)
    expiry = ready_at + record.lease
    if stopped_at is not None and stopped_at < expiry:
        return View(record, SessionStatus.STOPPED, stopped_at - ready_at, stopped_at)
    if now >= expiry:
        return View(record, SessionStatus.EXPIRED, record.lease, expiry)
    return View(record, SessionStatus.READY, now - ready_at, None)
