"""Admin routes of the Entra stand-in and ARR's roles: principals, roles, role assignments.
No auth, never faulted, not counted; secrets are accepted but never answered.
`POST /_emulator/reset` returns all three to the configuration of the flags."""

from __future__ import annotations

from collections.abc import Callable

from governor.core.policy.arr_roles import BUILT_IN_ROLES
from governor.emulator import directory as d
from governor.emulator.app import Emulator
from governor.emulator.errors import ApiError, bad_request
from governor.emulator.jsonbody import parse_object, require
from governor.emulator.messages import Request, Response

CODES = {400: "BadRequest", 404: "NotFound", 409: "Conflict"}


def _checked(action: Callable):
    try:
        return action()
    except d.DirectoryError as exc:
        raise ApiError(exc.status, CODES.get(exc.status, "BadRequest"), exc.message) from None


def entra(emu: Emulator, req: Request) -> Response:
    base = f"{req.base_url}/{emu.entra.tenant}"
    return Response.json(
        200,
        {
            "tenantId": emu.entra.tenant,
            "authority": req.base_url,
            "openidConfiguration": f"{base}/v2.0/.well-known/openid-configuration",
            "tokenEndpoint": f"{base}/oauth2/v2.0/token",
            "https": req.base_url.startswith("https://"),
        },
    )


def list_principals(emu: Emulator, req: Request) -> Response:
    return Response.json(200, {"principals": [p.public() for p in emu.directory.principals()]})


def put_principal(emu: Emulator, req: Request) -> Response:
    body = parse_object(req.body)
    principal = _checked(
        lambda: d.Principal(
            d.client_id(req.params["client"], "clientId"),
            d.secret(require(body, "secret")),
            d.expiry(body.get("secretExpiresAt")),
        )
    )
    created = emu.directory.put_principal(principal)
    return Response.json(201 if created else 200, principal.public())


def delete_principal(emu: Emulator, req: Request) -> Response:
    _checked(lambda: emu.directory.delete_principal(d.client_id(req.params["client"], "clientId")))
    return Response(204)


def _role_json(name: str, actions: tuple[str, ...]) -> dict:
    return {"name": name, "actions": list(actions), "builtIn": name in BUILT_IN_ROLES}


def list_roles(emu: Emulator, req: Request) -> Response:
    return Response.json(200, {"roles": [_role_json(n, a) for n, a in emu.directory.roles().items()]})


def put_role(emu: Emulator, req: Request) -> Response:
    body = parse_object(req.body)
    name = _checked(lambda: d.role_name(req.params["role"], "role name"))
    actions = _checked(lambda: d.actions(require(body, "actions")))
    created = _checked(lambda: emu.directory.put_role(name, actions))
    return Response.json(201 if created else 200, _role_json(name, actions))


def delete_role(emu: Emulator, req: Request) -> Response:
    _checked(lambda: emu.directory.delete_role(req.params["role"]))
    return Response(204)


def _assignment_json(account: str, client: str, role: str) -> dict:
    return {"account": account, "clientId": client, "role": role}


def _assignment(emu: Emulator, req: Request) -> tuple[str, str, str]:
    body = parse_object(req.body)
    account = require(body, "account")
    if not isinstance(account, str) or account.lower() not in emu.accounts:
        shown = account[:64] if isinstance(account, str) else type(account).__name__
        raise bad_request(f"The account '{shown}' is not configured on this emulator.")
    client = _checked(lambda: d.client_id(require(body, "clientId")))
    role = _checked(lambda: d.role_name(require(body, "role")))
    return account.lower(), client, role


def list_assignments(emu: Emulator, req: Request) -> Response:
    account = req.query_value("account")
    client = req.query_value("clientId")
    found = emu.directory.assignments(account.lower() if account else None, client.lower() if client else None)
    return Response.json(200, {"assignments": [_assignment_json(*a) for a in found]})


def add_assignment(emu: Emulator, req: Request) -> Response:
    assignment = _assignment(emu, req)
    created = _checked(lambda: emu.directory.assign(*assignment))
    return Response.json(201 if created else 200, _assignment_json(*assignment))


def delete_assignment(emu: Emulator, req: Request) -> Response:
    assignment = _assignment(emu, req)
    _checked(lambda: emu.directory.unassign(*assignment))
    return Response(204)


ROUTES = [
    ("/_emulator/entra", "admin", {"GET": entra}),
    ("/_emulator/principals", "admin", {"GET": list_principals}),
    ("/_emulator/principals/{client}", "admin", {"PUT": put_principal, "DELETE": delete_principal}),
    ("/_emulator/roles", "admin", {"GET": list_roles}),
    ("/_emulator/roles/{role}", "admin", {"PUT": put_role, "DELETE": delete_role}),
    (
        "/_emulator/assignments",
        "admin",
        {"GET": list_assignments, "POST": add_assignment, "DELETE": delete_assignment},
    ),
]
