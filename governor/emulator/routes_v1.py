"""The v1 session API (2019 - Feb 2021), as the seed document describes it. Trailing slashes are
accepted; bodies may use single-quoted strings; leases are .NET TimeSpan strings."""

from __future__ import annotations

from datetime import timedelta

from governor.core.model import VmSize
from governor.core.policy.arr_roles import SESSIONS_READ, SESSIONS_START, SESSIONS_STOP
from governor.core.policy.limits import ARR_MAX_CREATE_LEASE
from governor.core.timespan import TimeSpanError, format_timespan, parse_timespan
from governor.emulator.app import Emulator
from governor.emulator.errors import ApiError, bad_request, not_found
from governor.emulator.jsonbody import as_str, parse_object, require
from governor.emulator.messages import Request, Response
from governor.emulator.render import session_v1
from governor.emulator.store import LeaseNotLarger, SessionNotActive, SessionNotFound

MAX_LEASE = ARR_MAX_CREATE_LEASE  # no v1 limit is documented: 2021-01-01's 1440 minutes is assumed


def _account(emu: Emulator, req: Request, action: str) -> str:
    account = req.params["account"].lower()
    emu.authorize(account, req.header("Authorization"), action)
    return account


def _lease(body: dict) -> timedelta:
    text = as_str(require(body, "maxLeaseTime"), "maxLeaseTime")
    try:
        lease = parse_timespan(text)
    except TimeSpanError as exc:
        raise bad_request(f"The maxLeaseTime field is not a valid TimeSpan: {exc}") from None
    if lease < timedelta(0):
        raise bad_request("The maxLeaseTime value cannot be negative.")
    return lease


def _view(emu: Emulator, account: str, sid: str):
    try:
        return emu.store.get(account, sid)
    except SessionNotFound:
        raise not_found(f"The session '{sid}' does not exist.") from None


def create(emu: Emulator, req: Request) -> Response:
    account = _account(emu, req, SESSIONS_START)
    body = parse_object(req.body)
    lease = _lease(body)
    if lease > MAX_LEASE:
        raise bad_request(f"The maxLeaseTime value must not exceed {format_timespan(MAX_LEASE)}.")
    size_text = as_str(require(body, "size"), "size")
    try:
        size = VmSize.parse(size_text)
    except ValueError:
        raise bad_request(f"The size '{size_text[:64]}' is not supported. Use standard or premium.") from None
    models = body.get("models", [])
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise bad_request("The models field must be an array of strings.")
    current, _ = emu.create_session(account, None, size, lease, "v1")
    sid = current.record.id
    return Response.json(202, {"sessionId": sid}, {"Location": f"accounts/{account}/sessions/{sid}"})


def update(emu: Emulator, req: Request) -> Response:
    account = _account(emu, req, SESSIONS_START)
    lease = _lease(parse_object(req.body))
    sid = req.params["session"]
    _view(emu, account, sid)
    if lease >= MAX_LEASE:
        raise bad_request(f"The maxLeaseTime value must be less than {format_timespan(MAX_LEASE)}.")
    try:
        emu.store.update_lease(account, sid, lease)
    except SessionNotActive as exc:
        raise ApiError(
            409, "Conflict", f"The session is {exc.view.status.value} and can no longer be updated."
        ) from None
    except LeaseNotLarger as exc:
        raise bad_request(
            f"The maxLeaseTime must be larger than the current lease ({format_timespan(exc.current)}); "
            "it is the total time since the session started, not an extension."
        ) from None
    except SessionNotFound:
        raise not_found(f"The session '{sid}' does not exist.") from None
    return Response(200)


def stop(emu: Emulator, req: Request) -> Response:
    account = _account(emu, req, SESSIONS_STOP)
    sid = req.params["session"]
    try:
        emu.store.stop(account, sid)
    except SessionNotFound:
        raise not_found(f"The session '{sid}' does not exist.") from None
    return Response(204)


def properties(emu: Emulator, req: Request) -> Response:
    account = _account(emu, req, SESSIONS_READ)
    return Response.json(200, session_v1(_view(emu, account, req.params["session"])))


def list_sessions(emu: Emulator, req: Request) -> Response:
    account = _account(emu, req, SESSIONS_READ)
    page, _ = emu.store.list_active(account)
    return Response.json(200, {"sessions": [session_v1(v) for v in page]})


ROUTES = [
    ("/v1/accounts/{account}/sessions/create", "v1", {"POST": create}),
    ("/v1/accounts/{account}/sessions", "v1", {"GET": list_sessions}),
    ("/v1/accounts/{account}/sessions/{session}", "v1", {"PATCH": update, "DELETE": stop}),
    ("/v1/accounts/{account}/sessions/{session}/properties", "v1", {"GET": properties}),
]
