"""The Entra ID stand-in: OpenID discovery and the client-credentials token endpoint of one tenant.

Errors come in Entra's shape (`error`, `error_description` starting with the AADSTS code), never
naming a secret. Not faulted and not counted as ARR requests; `/_emulator/stats` counts them apart.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs

from governor.emulator import directory as dir_mod
from governor.emulator.app import Emulator
from governor.emulator.entra import TOKEN_LIFETIME_SECONDS, error_body, is_sts_resource, resource_of
from governor.emulator.messages import Request, Response

NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
SHOWN = 200  # characters of a caller's value an error message repeats


def _unknown_tenant(tenant: str) -> str:
    return (
        f"Tenant '{tenant[:SHOWN]}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud."
    )


def _fail(req: Request, status: int, error: str, code: int, text: str) -> Response:
    correlation = (req.header("client-request-id") or "")[:64] or str(uuid.uuid4())
    return Response.json(status, error_body(error, code, text, correlation, req.base_url), dict(NO_CACHE))


def openid_configuration(emu: Emulator, req: Request) -> Response:
    emu.count_entra("discovery")
    tenant = req.params["tenant"]
    if tenant.lower() != emu.entra.tenant:
        return _fail(req, 400, "invalid_tenant", 90002, _unknown_tenant(tenant))
    return Response.json(200, emu.entra.openid_configuration(req.base_url), dict(NO_CACHE))


def keys(emu: Emulator, req: Request) -> Response:
    # Tokens are HS256 with a key that never leaves the emulator, so there is no public key to publish.
    return Response.json(200, {"keys": []}, dict(NO_CACHE))


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items() if values and values[0]}


def token(emu: Emulator, req: Request) -> Response:
    emu.count_entra("tokenRequests")
    tenant = req.params["tenant"]
    if tenant.lower() != emu.entra.tenant:
        return _fail(req, 400, "invalid_request", 90002, _unknown_tenant(tenant))
    form = _form(req.body)
    for name in ("grant_type", "client_id", "scope"):
        if name not in form:
            text = f"The request body must contain the following parameter: '{name}'."
            return _fail(req, 400, "invalid_request", 900144, text)
    if form["grant_type"] != "client_credentials":
        text = f"The app requested an unsupported grant type '{form['grant_type'][:SHOWN]}'."
        return _fail(req, 400, "unsupported_grant_type", 70003, text)
    client = form["client_id"]
    if "client_secret" not in form:
        text = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
        return _fail(req, 401, "invalid_client", 7000218, text)
    try:
        principal = emu.directory.principal(dir_mod.client_id(client))
    except dir_mod.DirectoryError:
        principal = None
    if principal is None:
        text = (
            f"Application with identifier '{client[:SHOWN]}' was not found in the directory '{emu.entra.tenant}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        )
        return _fail(req, 400, "unauthorized_client", 700016, text)
    if not hmac.compare_digest(principal.secret.encode(), form["client_secret"].encode()):
        text = (
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{principal.client_id}'."
        )
        return _fail(req, 401, "invalid_client", 7000215, text)
    if principal.secret_expired(datetime.fromtimestamp(emu.wall(), UTC)):
        text = (
            f"The provided client secret keys for app '{principal.client_id}' are expired. Visit the Azure portal "
            "to create new keys for your app or consider using certificate credentials for added security."
        )
        return _fail(req, 401, "invalid_client", 7000222, text)
    resource = resource_of(form["scope"])
    if resource is None:
        text = (
            f"The provided value for scope {form['scope'][:SHOWN]} is not valid. Client credential flows must have "
            "a scope value with /.default suffixed to the resource identifier (application ID URI)."
        )
        return _fail(req, 400, "invalid_scope", 1002012, text)
    if not is_sts_resource(resource, req.base_url):
        text = f"The resource principal named {resource[:SHOWN]} was not found in the tenant named {emu.entra.tenant}."
        return _fail(req, 400, "invalid_resource", 500011, text)
    access_token = emu.entra.issue(principal, resource, req.base_url, emu.wall())
    emu.count_entra("tokensIssued")
    lifetime = TOKEN_LIFETIME_SECONDS
    body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}
    return Response.json(200, body, dict(NO_CACHE))


ROUTES = [
    ("/{tenant}/v2.0/.well-known/openid-configuration", "entra", {"GET": openid_configuration}),
    ("/{tenant}/discovery/v2.0/keys", "entra", {"GET": keys}),
    ("/{tenant}/oauth2/v2.0/token", "entra", {"POST": token}),
]
