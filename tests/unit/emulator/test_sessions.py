import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from governor.core.model import SessionStatus, VmSize
from governor.emulator.render import session_2021, session_v1
from governor.emulator.sessions import Record, dotnet_time, view

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def record(lease_minutes=10, startup=5, fails=False, stopped_after=None) -> Record:
    return Record(
        account="acc",
        id="s",
        size=VmSize.STANDARD,
        lease=timedelta(minutes=lease_minutes),
        create_lease=timedelta(minutes=lease_minutes),
        created_at=T0,
        ready_at=T0 + timedelta(seconds=startup),
        api_version="2021-01-01",
        seq=1,
        fails=fails,
        stopped_at=T0 + timedelta(seconds=stopped_after) if stopped_after is not None else None,
        arr_inspector_port=50000,
        handshake_port=50001,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_starting_ready_expired():
    r = record()
    assert view(r, at(4.9)).status is SessionStatus.STARTING
    ready = view(r, at(5 + 61))
    assert (ready.status, ready.elapsed_minutes, ready.billed) == (SessionStatus.READY, 1, timedelta(seconds=61))
    expired = view(r, at(5 + 600))
    assert (expired.status, expired.billed, expired.ended_at) == (SessionStatus.EXPIRED, timedelta(minutes=10), at(605))
    assert view(r, at(10_000)).billed == timedelta(minutes=10)


def test_stopped_bills_until_the_stop():
    r = record(stopped_after=125)
    stopped = view(r, at(10_000))
    assert (stopped.status, stopped.billed, stopped.ended_at) == (
        SessionStatus.STOPPED,
        timedelta(seconds=120),
        at(125),
    )
    assert stopped.reached_ready


def test_stopped_while_starting_never_bills():
    stopped = view(record(stopped_after=2), at(10_000))
    assert (stopped.status, stopped.billed, stopped.reached_ready) == (SessionStatus.STOPPED, timedelta(0), False)


def test_capacity_failure_errors_at_ready_time():
    r = record(fails=True)
    assert view(r, at(1)).status is SessionStatus.STARTING
    failed = view(r, at(5))
    assert failed.status is SessionStatus.ERROR
    assert failed.error[0] == "InsufficientCapacity"
    assert failed.billed == timedelta(0)


def test_2021_rendering_follows_the_recordings():
    r = record()
    assert list(session_2021(view(r, at(1)))) == [
        "id", "creationTime", "elapsedTimeMinutes", "maxLeaseTimeMinutes", "size", "status",
    ]  # fmt: skip
    ready = session_2021(view(r, at(6)))
    assert list(ready)[2:4] == ["arrInspectorPort", "handshakePort"]
    assert ready["teraflops"] == 8.1
    expired = session_2021(view(r, at(10_000)))
    assert "hostname" not in expired and expired["teraflops"] == 8.1 and "error" not in expired
    assert session_2021(view(record(fails=True), at(6)))["error"]["code"] == "InsufficientCapacity"


def test_v1_rendering():
    body = session_v1(view(record(lease_minutes=240), at(6)))
    assert body["message"] is None
    assert body["sessionElapsedTime"] == "00:00:01"
    assert body["sessionMaxLeaseTime"] == "04:00:00"
    starting = session_v1(view(record(), at(1)))
    assert starting["sessionHostname"] is None and starting["arrInspectorPort"] is None


def test_dotnet_time_writes_ticks_as_the_service_did():
    # (A) 2022: ".4773534"; (D) 2021: ".214787" (System.Text.Json drops trailing zeros of the ticks)
    assert dotnet_time(T0 + timedelta(microseconds=477353), 4) == "2026-01-01T12:00:00.4773534+00:00"
    assert dotnet_time(T0 + timedelta(microseconds=214787), 0) == "2026-01-01T12:00:00.214787+00:00"
    assert dotnet_time(T0 + timedelta(microseconds=500000), 0) == "2026-01-01T12:00:00.5+00:00"
    assert dotnet_time(T0, 0) == "2026-01-01T12:00:00+00:00"
    assert dotnet_time(T0, 3) == "2026-01-01T12:00:00.0000003+00:00"


def test_creation_times_do_not_all_end_in_zero_and_stay_the_same_for_a_session():
    created = T0 + timedelta(microseconds=123456)
    times = [replace(record(), id=f"s{i}", created_at=created).creation_time for i in range(40)]
    assert all(re.fullmatch(r"2026-01-01T12:00:00\.123456[1-9]?\+00:00", t) for t in times)
    seventh = {t[26] for t in times if t[26] != "+"}
    assert len(seventh) > 3  # the seventh digit varies between sessions; never a trailing 0
    again = Record.from_json(replace(record(), id="s7", created_at=created).to_json())
    assert again.creation_time == times[7]


def test_record_round_trips_through_json():
    r = record(stopped_after=100)
    assert Record.from_json(r.to_json()) == r
