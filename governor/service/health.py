"""GET /api/health's use case: storage and every ARR account answer, and the sweep is not stale."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from croniter import croniter

from governor.core.model import SweepHealth
from governor.service.gate.views import iso
from governor.service.ports import ArrPort, SweepStatePort

PROBE_SECONDS = 3.0  # each dependency's answer time; health waits at most about this long in all


def health(
    store: SweepStatePort,
    arr: Mapping[str, ArrPort],
    clock: Callable[[], datetime],
    schedule: str,
    stale_intervals: int,
    version: str,
    probe_seconds: float = PROBE_SECONDS,
) -> tuple[bool, dict]:
    """(healthy, report): storage and every ARR account answer, and the sweep is not stale.
    Storage and the accounts are asked at once, ARR with one retry-free probe each."""
    now = clock()
    report: dict = {"version": version, "time": iso(now)}
    pool = ThreadPoolExecutor(max_workers=1 + len(arr), thread_name_prefix="health")
    try:
        # one `wait` over futures of different results: each is typed by what `_answer` reads (any object)
        storage: Future[object] = pool.submit(store.last_sweep)
        probes: dict[str, Future[object]] = {
            name: pool.submit(client.probe, probe_seconds) for name, client in sorted(arr.items())
        }
        wait([storage, *probes.values()], timeout=probe_seconds + 0.5)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    report["storage"], row = _answer(storage, probe_seconds)
    report["arr"] = {name: _answer(probe, probe_seconds)[0] for name, probe in probes.items()}
    report["connect"] = {name: _connect(client) for name, client in sorted(arr.items())}
    last = SweepHealth.from_row(row)
    at = last.finished_at if last else None
    old_after = stale_after(schedule, stale_intervals, now)
    stale = at is None or now - at > old_after
    report["lastSweep"] = {
        "at": iso(at),
        "outcome": last.outcome if last else None,
        "stale": stale,
        "staleAfterSeconds": int(old_after.total_seconds()),
    }
    reachable = [report["storage"], *report["arr"].values()]
    healthy = not stale and all(v == "reachable" for v in reachable)
    report["status"] = "healthy" if healthy else "unhealthy"
    return healthy, report


def _answer(future, seconds: float):
    """("reachable", result) or ("unreachable (why)", None); never a secret, only an error's type."""
    if not future.done():
        return f"unreachable (no answer within {seconds:g} s)", None
    error = future.exception()
    if error is not None:
        return f"unreachable ({type(error).__name__})", None
    return "reachable", future.result()


def stale_after(schedule: str, stale_intervals: int, now: datetime) -> timedelta:
    """How old the last sweep may be before it counts as stale (GOVERNOR_HEALTH_STALE_INTERVALS)."""
    return sweep_interval(schedule, now) * stale_intervals


def sweep_interval(schedule: str, now: datetime) -> timedelta:
    """The gap between the next two occurrences of the NCRONTAB (seconds first) schedule."""
    try:
        it = croniter(schedule, now, second_at_beginning=True)
        first = it.get_next(datetime)
        return it.get_next(datetime) - first
    except (ValueError, KeyError):
        return timedelta(minutes=1)


def _connect(client: ArrPort) -> dict:
    """What the connect route hands out for an account; `canStartSessions` warns of a key-minted token."""
    target = client.connect_target
    return {"auth": target.auth, "canStartSessions": target.can_start_sessions}
