"""Access tokens of the emulated ARR token service: HS256 JWTs signed with the account key. Pure.

Every token carries the data actions its holder may perform on the account (`actions`): all of
them for an account-key exchange, the union of the principal's role assignments for an Entra one.
A token without the claim can only come from an emulator older than the claim, which minted
tokens for account keys alone, so it is read as full rights.
"""

from __future__ import annotations

from governor.core.policy.arr_roles import ALL_ACTIONS
from governor.emulator import jwt

TOKEN_LIFETIME_SECONDS = 24 * 3600


def issue(
    account_id: str,
    account_key: str,
    now_epoch: float,
    actions: tuple[str, ...] | frozenset[str] = ALL_ACTIONS,
    principal: str | None = None,
) -> str:
    iat = int(now_epoch)
    claims: dict = {"aid": account_id, "iat": iat, "exp": iat + TOKEN_LIFETIME_SECONDS}
    if principal is not None:
        claims["appid"] = principal
    claims["actions"] = [a for a in ALL_ACTIONS if a in actions]  # a stable order
    return jwt.encode(claims, account_key)


def account_of(token: str) -> str | None:
    """The account a token claims, unverified (to pick the key to verify with)."""
    claims = jwt.peek(token)
    account = claims.get("aid") if claims else None
    return account if isinstance(account, str) else None


def claims(token: str, account_key: str, now_epoch: float) -> dict | None:
    return jwt.decode(token, account_key, now_epoch)


def verify(token: str, account_key: str, now_epoch: float) -> bool:
    return claims(token, account_key, now_epoch) is not None


def actions_of(token_claims: dict) -> frozenset[str]:
    actions = token_claims.get("actions", ALL_ACTIONS)
    if not isinstance(actions, list | tuple):
        return frozenset()
    return frozenset(a for a in actions if isinstance(a, str))
