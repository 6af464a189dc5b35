"""ARR credentials and the access-token cache.

An account key or an Entra ID token is exchanged at the token service (STS) for an ARR access
token (a JWT); a ready access token is used as is. The provider caches the token until shortly
before its `exp`, is safe to share between threads, and is refreshed once when ARR answers 401.
No secret appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from governor.arr.accounts import DEFAULT_AUTHORITY, EntraIdentity
from governor.arr.errors import ArrAuthError
from governor.settings import running_in_azure

STS_SCOPE = "https://sts.mixedreality.azure.com//.default"
REFRESH_MARGIN = timedelta(minutes=5)
NO_EXP_LIFETIME = timedelta(minutes=10)  # a token without `exp` is reused this long at most


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, without verifying it (that is ARR's job); None if unreadable."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    segment = parts[1]
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return datetime.fromtimestamp(int(payload["exp"]), UTC)
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError):
        return None


class AccountKeyCredential:
    """`Authorization: Bearer {accountId}:{accountKey}` at the token service."""

    def __init__(self, account_id: str, account_key: str):
        self._bearer = f"{account_id}:{account_key}"

    def sts_bearer(self) -> str:
        return self._bearer

    def __repr__(self) -> str:
        return "AccountKeyCredential(key=***)"


class EntraCredential:
    """An azure-identity TokenCredential's token for the STS scope. Without one, builds it from
    `identity` on first use: a client secret signs in at its authority; otherwise the managed
    identity (user-assigned with a client id) in Azure and DefaultAzureCredential elsewhere."""

    def __init__(
        self, credential: Any | None = None, in_azure: bool | None = None, identity: EntraIdentity | None = None
    ):
        self._credential = credential
        self._in_azure = in_azure  # None: ask governor.settings.running_in_azure() on first use
        self._identity = identity or EntraIdentity()
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._credential is None:
                self._credential = self._build()
            return self._credential

    def _build(self) -> Any:
        import azure.identity as identity  # lazy: optional feature (Entra ID credentials)

        who = self._identity
        if who.client_secret:
            if not (who.tenant_id and who.client_id):  # entra_identity() and resolve_connect() refuse this
                raise ArrAuthError("a client secret needs a tenant id and a client id", operation="token")
            options = {"connection_verify": who.ca_bundle} if who.ca_bundle else {}
            return identity.ClientSecretCredential(
                who.tenant_id,
                who.client_id,
                who.client_secret,
                authority=who.authority,
                # Instance discovery asks the public cloud about the authority: only it knows it.
                disable_instance_discovery=who.authority != DEFAULT_AUTHORITY,
                **options,
            )
        in_azure = running_in_azure() if self._in_azure is None else self._in_azure
        if in_azure:
            return identity.ManagedIdentityCredential(client_id=who.client_id)
        if who.client_id:
            return identity.DefaultAzureCredential(managed_identity_client_id=who.client_id)
        return identity.DefaultAzureCredential()

    def sts_bearer(self) -> str:
        try:
            return self._get().get_token(STS_SCOPE).token
        except ArrAuthError:
            raise
        except Exception as exc:  # azure-identity raises many types; all mean "no token"
            raise ArrAuthError(
                f"Entra ID credential could not get a token ({type(exc).__name__})", operation="token"
            ) from None

    def __repr__(self) -> str:
        kind = type(self._credential).__name__ if self._credential else "default"
        return f"EntraCredential({kind}, client_id={self._identity.client_id!r})"


class StaticToken:
    """A ready ARR access token: used as is, never exchanged, cannot be refreshed."""

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return "StaticToken(***)"


Credential = AccountKeyCredential | EntraCredential | StaticToken


class TokenProvider:
    """Hands out a valid ARR access token; `exchange(sts_bearer) -> token` calls the STS."""

    def __init__(
        self,
        credential: Credential,
        exchange: Callable[[str], str],
        clock: Callable[[], datetime],
    ):
        self._credential = credential
        self._exchange = exchange
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at: datetime | None = None
        self.fetches = 0

    @property
    def refreshable(self) -> bool:
        return not isinstance(self._credential, StaticToken)

    def token(self) -> str:
        if isinstance(self._credential, StaticToken):
            return self._credential.token
        with self._lock:
            # _fetch sets both together, so _refresh_at is None only before the first fetch
            if self._token is None or self._refresh_at is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = self._fetch()
            return self._token

    def invalidate(self, token: str) -> None:
        """ARR refused `token`: drop it unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, datetime]:
        credential = self._credential
        assert not isinstance(credential, StaticToken)  # token() hands a static token out itself, never fetches
        token = self._exchange(credential.sts_bearer())
        self.fetches += 1
        now = self._clock()
        expires = jwt_expiry(token) or now + NO_EXP_LIFETIME
        margin = min(REFRESH_MARGIN, max(expires - now, timedelta(0)) / 10)
        return token, expires - margin

    def __repr__(self) -> str:
        return f"TokenProvider({self._credential!r}, cached={self._token is not None})"
