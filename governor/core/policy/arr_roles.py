"""ARR's data actions and the roles built from them, as Azure RBAC names them. Pure.

One place for the emulator (which enforces them), the connect identity's custom role (infra/ and
`arr check-connect`), and the docs. Source: Azure's built-in roles, Mixed reality category.
"""

from __future__ import annotations

PREFIX = "Microsoft.MixedReality/RemoteRenderingAccounts/"

CONVERT_ACTION = PREFIX + "convert/action"
CONVERT_READ = PREFIX + "convert/read"
CONVERT_DELETE = PREFIX + "convert/delete"
SESSIONS_READ = PREFIX + "managesessions/read"
SESSIONS_START = PREFIX + "managesessions/action"  # create and update (lease) a session
SESSIONS_STOP = PREFIX + "managesessions/delete"
RENDER_READ = PREFIX + "render/read"  # connect a device to a session
DIAGNOSTIC_READ = PREFIX + "diagnostic/read"  # connect ArrInspector

ALL_ACTIONS = (
    CONVERT_ACTION,
    CONVERT_READ,
    CONVERT_DELETE,
    SESSIONS_READ,
    SESSIONS_START,
    SESSIONS_STOP,
    RENDER_READ,
    DIAGNOSTIC_READ,
)

ADMINISTRATOR = "Remote Rendering Administrator"
CLIENT = "Remote Rendering Client"
BUILT_IN_ROLES: dict[str, tuple[str, ...]] = {
    ADMINISTRATOR: ALL_ACTIONS,
    CLIENT: (SESSIONS_READ, SESSIONS_START, SESSIONS_STOP, RENDER_READ, DIAGNOSTIC_READ),
}

# The connect identity's custom role: read sessions and connect to them, never start or stop one.
CONNECT_ROLE = "Remote Rendering Session Connect"
CONNECT_ACTIONS = (SESSIONS_READ, RENDER_READ, DIAGNOSTIC_READ)

# Starting a session (or raising its lease) is what lets a holder go around the gate.
STARTS_SESSIONS = SESSIONS_START


def can_start_sessions(actions: tuple[str, ...] | frozenset[str] | list[str]) -> bool:
    return STARTS_SESSIONS in actions
