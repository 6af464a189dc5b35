"""The Entra ID stand-in's tokens and answers: client-credentials access tokens for the Mixed
Reality token service, HS256-signed with a key of this emulator process. Pure (no HTTP).

Only what azure-identity and MSAL use is served: OpenID discovery and the token endpoint.
Times are wall-clock times, as Entra's: clients compare `exp` with their own clocks.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime

from governor.emulator import jwt
from governor.emulator.directory import Principal

STS_RESOURCE = "https://sts.mixedreality.azure.com"
_REGIONAL_STS = re.compile(r"https://sts\.[a-z0-9-]+\.mixedreality\.azure\.com", re.IGNORECASE)
TOKEN_LIFETIME_SECONDS = 3600
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


class EntraIssuer:
    def __init__(self, tenant: str, key: bytes | None = None):
        self.tenant = tenant.lower()
        self.key = key or os.urandom(32)

    def issuer(self, base_url: str) -> str:
        return f"{base_url}/{self.tenant}/v2.0"

    def openid_configuration(self, base_url: str) -> dict:
        tenant_base = f"{base_url}/{self.tenant}"
        return {
            "token_endpoint": f"{tenant_base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "jwks_uri": f"{tenant_base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer(base_url),
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{tenant_base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{tenant_base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{tenant_base}/oauth2/v2.0/logout",
            "grant_types_supported": ["client_credentials"],
        }

    def issue(self, principal: Principal, audience: str, base_url: str, now_epoch: float) -> str:
        iat = int(now_epoch)
        claims = {
            "aud": audience,
            "iss": self.issuer(base_url),
            "iat": iat,
            "nbf": iat,
            "exp": iat + TOKEN_LIFETIME_SECONDS,
            "appid": principal.client_id,
            "azp": principal.client_id,
            "idtyp": "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": self.tenant,
            "uti": uuid.uuid4().hex[:22],
            "ver": "2.0",
        }
        return jwt.encode(claims, self.key)

    def verify(self, token: str, now_epoch: float, own_base_url: str) -> dict | None:
        """The claims of a token of this stand-in, for this tenant and the token service, not expired."""
        claims = jwt.decode(token, self.key, now_epoch)
        if claims is None or claims.get("tid") != self.tenant:
            return None
        audience = claims.get("aud")
        if not isinstance(audience, str) or not is_sts_resource(audience, own_base_url):
            return None
        return claims if isinstance(claims.get("appid"), str) else None


def is_sts_resource(resource: str, own_base_url: str) -> bool:
    """The Mixed Reality token service, global or regional (`https://sts.{accountDomain}`), or this
    emulator itself: the official SDK asks for `{authentication_endpoint_url}/.default`."""
    return (
        resource == STS_RESOURCE
        or _REGIONAL_STS.fullmatch(resource) is not None
        or resource.lower() == own_base_url.lower()
    )


def resource_of(scope: str) -> str | None:
    """`https://sts.mixedreality.azure.com/.default` (also `//.default`, as the governor sends it)
    -> the resource; None when the scope is not a `/.default` scope of one resource."""
    names = [s for s in scope.split() if s not in RESERVED_SCOPES]
    if len(names) != 1 or not names[0].endswith("/.default"):
        return None
    return names[0].removesuffix("/.default").rstrip("/") or None


def error_body(error: str, code: int, text: str, correlation_id: str, base_url: str) -> dict:
    """Entra's error shape: `error`, and an `error_description` that starts with the AADSTS code."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace = str(uuid.uuid4())
    return {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {now}"
        ),
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation_id,
        "error_uri": f"{base_url}/error?code={code}",
    }
