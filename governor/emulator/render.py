"""Sessions as each API generation writes them, field order and absences as the live service did."""

from __future__ import annotations

from datetime import timedelta

from governor.core.model import SessionStatus, whole_minutes
from governor.core.timespan import format_timespan
from governor.emulator.sessions import TERAFLOPS, View


def session_2021(v: View) -> dict:
    r = v.record
    ready = v.status is SessionStatus.READY
    body: dict = {"id": r.id, "creationTime": r.creation_time}
    if ready:
        body["arrInspectorPort"] = r.arr_inspector_port
        body["handshakePort"] = r.handshake_port
    body["elapsedTimeMinutes"] = v.elapsed_minutes
    if ready:
        body["hostname"] = r.hostname
    body["maxLeaseTimeMinutes"] = whole_minutes(r.lease)
    body["size"] = r.size.value
    body["status"] = v.status.value
    if v.reached_ready:
        body["teraflops"] = TERAFLOPS[r.size]
    if v.error:
        body["error"] = {"code": v.error[0], "message": v.error[1]}
    return body


def session_v1(v: View) -> dict:
    """v1 properties: every documented key, alphabetical, null when unknown (as in the real sample)."""
    r = v.record
    ready = v.status is SessionStatus.READY
    return {
        "arrInspectorPort": r.arr_inspector_port if ready else None,
        "handshakePort": r.handshake_port if ready else None,
        "message": v.message,
        "sessionElapsedTime": format_timespan(timedelta(seconds=int(v.billed.total_seconds()))),
        "sessionHostname": r.hostname if ready else None,
        "sessionId": r.id,
        "sessionMaxLeaseTime": format_timespan(r.lease),
        "sessionSize": r.size.value,
        "sessionStatus": v.status.value,
    }


def truth(v: View) -> dict:
    r = v.record
    return {
        "account": r.account,
        "id": r.id,
        "status": v.status.value,
        "size": r.size.value,
        "maxLeaseMinutes": whole_minutes(r.lease),
        "billedSeconds": round(v.billed.total_seconds(), 3),
        "elapsedMinutes": v.elapsed_minutes,
        "createdAt": r.created_at.isoformat(),
        "readyAt": r.ready_at.isoformat() if v.reached_ready else None,
        "endedAt": v.ended_at.isoformat() if v.ended_at else None,
        "apiVersion": r.api_version,
    }
