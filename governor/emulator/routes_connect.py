"""An emulator-only stand-in for the handshake of ARR's client runtime (not ARR's protocol, which
is not HTTP): a device "connects" to a Ready session of the token's account with `render/read`,
one device at a time. Lets tests prove what a connect-only identity can and cannot do."""

from __future__ import annotations

from governor.core.model import SessionStatus
from governor.core.policy.arr_roles import RENDER_READ
from governor.emulator.app import Emulator, require_action
from governor.emulator.connect import AlreadyConnected
from governor.emulator.errors import ApiError, not_found
from governor.emulator.jsonbody import as_str, parse_object
from governor.emulator.messages import Request, Response
from governor.emulator.store import SessionNotFound

MAX_DEVICE_LENGTH = 256
DEFAULT_DEVICE = "device"


def _session(emu: Emulator, req: Request):
    caller = emu.caller(req.header("Authorization"))
    require_action(caller, RENDER_READ)
    sid = req.params["session"]
    try:
        return emu.store.get(caller.account, sid)
    except SessionNotFound:
        raise not_found(f"The session '{sid[:256]}' does not exist.") from None


def _device(body: bytes) -> str:
    if not body.strip():
        return DEFAULT_DEVICE
    device = parse_object(body).get("device")
    if device is None:
        return DEFAULT_DEVICE
    device = as_str(device, "device")
    if not device or len(device) > MAX_DEVICE_LENGTH or not device.isprintable():
        raise ApiError(400, "BadRequest", f"The device field must be 1 to {MAX_DEVICE_LENGTH} printable characters.")
    return device


def connect(emu: Emulator, req: Request) -> Response:
    current = _session(emu, req)
    device = _device(req.body)
    if current.status is not SessionStatus.READY:
        raise ApiError(
            409, "Conflict", f"The session is {current.status.value}; a device can connect only to a Ready session."
        )
    try:
        connection = emu.connections.connect(current, device, emu.clock.now())
    except AlreadyConnected as exc:
        raise ApiError(
            409,
            "Conflict",
            f"The device '{exc.connection.device}' is connected to this session; one device at a time can be.",
        ) from None
    body = {
        "sessionId": current.record.id,
        "device": connection.device,
        "connectedAt": connection.connected_at.isoformat(),
    }
    return Response.json(200, body)


def disconnect(emu: Emulator, req: Request) -> Response:
    current = _session(emu, req)
    if emu.connections.disconnect(current) is None:
        raise not_found("No device is connected to this session.")
    return Response(204)


ROUTES = [("/_emulator/sessions/{session}/connect", "standin", {"POST": connect, "DELETE": disconnect})]
