"""Admin routes under /_emulator/: no auth, never faulted, not counted in stats."""

from __future__ import annotations

from datetime import timedelta

from governor.core.model import SessionStatus, VmSize
from governor.core.policy.limits import SESSION_ID
from governor.emulator import capacity as capacity_mod
from governor.emulator import faults as faults_mod
from governor.emulator.app import Emulator
from governor.emulator.errors import ApiError, bad_request
from governor.emulator.jsonbody import as_int, as_str, parse_object, require
from governor.emulator.messages import Request, Response
from governor.emulator.render import truth
from governor.emulator.routes_2021 import MAX_LEASE_MINUTES
from governor.emulator.store import SessionConflict

MAX_BULK = 200_000


def _clock(emu: Emulator) -> Response:
    return Response.json(
        200,
        {
            "now": emu.clock.now().isoformat(),
            "offsetSeconds": emu.clock.offset_seconds,
            "timeScale": emu.clock.time_scale,
        },
    )


def get_clock(emu: Emulator, req: Request) -> Response:
    return _clock(emu)


def advance_clock(emu: Emulator, req: Request) -> Response:
    seconds = require(parse_object(req.body), "advanceSeconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 10 * 365 * 86400:
        raise bad_request("The advanceSeconds field must be a number between 0 and 315360000.")
    emu.clock.advance(seconds)
    emu.store.on_change()
    return _clock(emu)


def get_faults(emu: Emulator, req: Request) -> Response:
    return Response.json(200, emu.faults.to_json())


def put_faults(emu: Emulator, req: Request) -> Response:
    emu.set_faults(faults_mod.from_json(parse_object(req.body)))
    return Response.json(200, emu.faults.to_json())


def delete_faults(emu: Emulator, req: Request) -> Response:
    emu.set_faults(faults_mod.Faults())
    return Response.json(200, emu.faults.to_json())


def get_capacity(emu: Emulator, req: Request) -> Response:
    return Response.json(200, emu.capacity_json())


def put_capacity(emu: Emulator, req: Request) -> Response:
    emu.capacity = capacity_mod.from_json(parse_object(req.body), emu.accounts)
    return Response.json(200, emu.capacity_json())


def reset(emu: Emulator, req: Request) -> Response:
    emu.reset()
    return Response.json(200, {"reset": True, "now": emu.clock.now().isoformat()})


def sessions(emu: Emulator, req: Request) -> Response:
    account = req.query_value("account")
    views = emu.store.all_views(account.lower() if account else None)
    status = req.query_value("status")
    if status:
        views = [v for v in views if v.status.value.lower() == status.lower()]
    return Response.json(200, {"sessions": [_truth(emu, v) for v in views]})


def _truth(emu: Emulator, current) -> dict:
    connection = emu.connections.current(current)
    return {**truth(current), "connectedDevice": connection.device if connection else None}


def bulk(emu: Emulator, req: Request) -> Response:
    body = parse_object(req.body)
    account = as_str(body.get("account") or next(iter(emu.accounts)), "account").lower()
    if account not in emu.accounts:
        raise bad_request(f"The account '{account[:64]}' is not configured on this emulator.")
    count = as_int(require(body, "count"), "count")
    if not 1 <= count <= MAX_BULK:
        raise bad_request(f"The count field must be between 1 and {MAX_BULK}.")
    minutes = as_int(body.get("leaseMinutes", 60), "leaseMinutes")
    if not 0 <= minutes <= MAX_LEASE_MINUTES:
        raise bad_request(f"The leaseMinutes field must be between 0 and {MAX_LEASE_MINUTES}.")
    try:
        size = VmSize.parse(as_str(body.get("size", "Standard"), "size"))
        status = SessionStatus.parse(as_str(body.get("status", "Ready"), "status"))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if not status.active:
        raise bad_request("The status field must be Starting or Ready.")
    prefix = body.get("idPrefix")
    if prefix is not None:
        prefix = as_str(prefix, "idPrefix")
        if not SESSION_ID.accepts(f"{prefix}{count - 1:06d}"):  # the ids it makes must be ones ARR takes
            raise bad_request("The idPrefix field may hold only letters, digits, hyphens and underscores.")
    try:
        ids = emu.store.bulk(account, count, size, timedelta(minutes=minutes), status, prefix)
    except SessionConflict:
        raise ApiError(409, "Conflict", "Some of the generated session ids already exist.") from None
    return Response.json(201, {"created": len(ids), "ids": ids})


def stats(emu: Emulator, req: Request) -> Response:
    return Response.json(200, emu.stats())


def clear_stats(emu: Emulator, req: Request) -> Response:
    emu.clear_stats()
    return Response.json(200, emu.stats())


ROUTES = [
    ("/_emulator/capacity", "admin", {"GET": get_capacity, "PUT": put_capacity}),
    ("/_emulator/clock", "admin", {"GET": get_clock, "POST": advance_clock}),
    ("/_emulator/faults", "admin", {"GET": get_faults, "PUT": put_faults, "DELETE": delete_faults}),
    ("/_emulator/reset", "admin", {"POST": reset}),
    ("/_emulator/sessions", "admin", {"GET": sessions}),
    ("/_emulator/sessions/bulk", "admin", {"POST": bulk}),
    ("/_emulator/stats", "admin", {"GET": stats, "DELETE": clear_stats}),
]
