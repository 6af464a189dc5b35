"""Named callers: key names, the body that adds a key, and the per-caller admission rule. Pure.

A caller is a named key (`lobby-kiosk`) or a principal App Service vouched for
(`principal:<id>`). Its limits apply on top of the project's, in the same admission decision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from governor.core.errors import Refusal
from governor.core.model import (
    CallerFigures,
    CallerKey,
    CallerLimits,
    CallerRef,
    Period,
    ProjectPolicy,
    format_money,
    money_text,
)
from governor.core.policy import document as documents
from governor.core.policy.limits import KEY_NAME

# Key names end up in row keys and ledger columns: letters, digits, '.', '_' and '-' only, so
# none of Table Storage's forbidden characters (/ \ # ? and control characters) can reach them.
DEFAULT_KEY = "default"  # the name of the key `rotate-key` (revoke all and add one) creates by default
MAX_KEYS = 100  # per project: the key list lives in the project's row (64 KiB a column)
OWN_SCOPE, PROJECT_SCOPE = "own", "project"
KEY_SCOPES = (OWN_SCOPE, PROJECT_SCOPE)  # own: the sessions the key started; project: every session of it
REVOKE_OTHERS = "revokeOthers"
NEW_KEY_FIELDS = ("name", "scope", "expiresAt", "maxConcurrent", "dailyBudget", "monthlyBudget")
PRINCIPAL_PREFIX = "principal:"
ROLE_PREFIX = "role:"  # a principal id naming an app role (App Service's role claims), not a person
# How old a project row (policy, keys and their version) the gate may act on, per instance: a policy
# edit or a revoked key reaches every instance within it (target: 5 s), and a burst of requests,
# wrong keys included, costs one read of it per instance in that time instead of one per request.
PROJECT_ROW_SECONDS = 2.0


KEY_NOT_VALID = "the caller key is not valid for this project (unknown, revoked or expired)"


def bad(field: str, detail: str) -> Refusal:
    return Refusal("bad-request", f"{field}: {detail}", {"field": field})


def check_key_name(name: Any, field: str = "name") -> str:
    if not KEY_NAME.accepts(name):
        raise bad(field, KEY_NAME.hint)
    return name


@dataclass(frozen=True)
class NewKey:
    name: str
    expires_at: datetime | None = None
    limits: CallerLimits = field(default_factory=CallerLimits)
    scope: str = OWN_SCOPE
    revoke_others: bool = False  # revoke every other key of the project in the same write


def parse_keys_post(body: Any, policy: ProjectPolicy, now: datetime) -> NewKey:
    """The body of `POST .../keys`: a new key (see parse_new_key), which with `"revokeOthers": true`
    replaces every key of the project (its name then defaults to "default"). Anything else is a 400:
    revoking every key is never what a malformed or empty body does."""
    if not isinstance(body, dict):
        raise bad(
            "body",
            'must be a JSON object: {"name": ...} adds a key, {"revokeOthers": true} revokes every key and adds one',
        )
    if REVOKE_OTHERS not in body:
        return parse_new_key(body, policy, now, (REVOKE_OTHERS,))
    if body[REVOKE_OTHERS] is not True:
        raise bad(REVOKE_OTHERS, "must be true (leave it out to add a key and keep the others)")
    rest = {k: v for k, v in body.items() if k != REVOKE_OTHERS}
    new = parse_new_key({"name": DEFAULT_KEY, **rest}, policy, now, (REVOKE_OTHERS,))
    return NewKey(new.name, new.expires_at, new.limits, new.scope, revoke_others=True)


def parse_new_key(body: Any, policy: ProjectPolicy, now: datetime, also: tuple[str, ...] = ()) -> NewKey:
    """The body of "add a key": a name, an optional scope, an optional future expiry, optional limits
    within the project's."""
    if not isinstance(body, dict):
        raise bad("body", "must be a JSON object")
    allowed = (*NEW_KEY_FIELDS, *also)
    for name in body:
        if name not in allowed:
            raise bad(str(name)[:64], f"unknown field (allowed: {', '.join(allowed)})")
    if "name" not in body:
        raise bad("name", "is required")
    name = check_key_name(body["name"])
    scope = body.get("scope", OWN_SCOPE)
    if not isinstance(scope, str) or scope not in KEY_SCOPES:
        raise bad("scope", f"must be one of {', '.join(KEY_SCOPES)}")
    expires = None
    if body.get("expiresAt") is not None:
        expires = _instant(body["expiresAt"], "expiresAt")
        if expires <= now:
            raise bad("expiresAt", "must be in the future")
    try:
        limits = documents.limits_from_document({k: v for k, v in body.items() if k in documents.LIMIT_FIELDS}, policy)
    except documents.PolicyError as exc:
        raise bad(exc.field, exc.message) from None
    return NewKey(name, expires, limits, scope)


def _instant(value: Any, field: str) -> datetime:
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(field, "must be an ISO 8601 time with an offset, such as 2026-12-31T18:00:00Z") from None
    if instant.tzinfo is None:
        raise bad(field, "must carry an offset (Z or +01:00)")
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is after the last instant Python can hold
        raise bad(field, "is out of range (years 0001-9999 in UTC)") from None


def limits_of(name: str | None, policy: ProjectPolicy, key_limits: dict[str, CallerLimits]) -> CallerLimits | None:
    """The limits of its own that the caller `name` (a key name or "principal:<id>") has, or None."""
    if not name:
        return None
    if name.startswith(PRINCIPAL_PREFIX):
        limits = policy.principal_limits.get(name[len(PRINCIPAL_PREFIX) :])
    else:
        limits = key_limits.get(name)
    return None if limits is None or limits.empty else limits


# ---------------------------------------------------------------- admission
def caller_remaining(limits: CallerLimits | None, figures: CallerFigures | None) -> int | None:
    """The caller's tightest budget left (its spent and reserved counted); None: no budget of its own."""
    if limits is None or figures is None:
        return None
    left = [
        budget - figures.spent.get(period, 0) - figures.reserved
        for period in Period
        if (budget := limits.budget(period)) is not None
    ]
    return min(left) if left else None


def acting_principal(matched: Collection[str], limits: Mapping[str, CallerLimits]) -> str:
    """Which of the project's principals that a caller's token matched it acts as. A person's own
    listing (object id, user name, email) comes before a role's, since the operator named that
    person; then one with limits before one without, so holding a second, unlimited role does not
    escape a limited one; then by name, so every instance chooses the same."""
    return min(matched, key=lambda principal: (principal.startswith(ROLE_PREFIX), principal not in limits, principal))


def standing(ref: CallerRef, policy: ProjectPolicy, keys: Sequence[CallerKey], now: datetime) -> CallerLimits | None:
    """The caller's own limits by the project row an admission's round read (None: none to keep).
    A caller that presented itself must still be let in by that row: a round may run seconds after
    the request authenticated (ETag retries, group commit), and a key revoked, rotated or expired,
    or a principal removed, meanwhile admits nothing."""
    if ref.name.startswith(PRINCIPAL_PREFIX):
        principal = ref.name.removeprefix(PRINCIPAL_PREFIX)
        if ref.presented and principal not in {p.lower() for p in policy.principals}:
            raise Refusal("forbidden", "the principal is no longer allowed in this project")
        limits = policy.principal_limits.get(principal)
    else:
        key = next((k for k in keys if k.name == ref.name), None)
        if ref.presented and (key is None or key.expired(now) or key.key_id != ref.key_id):
            raise Refusal("forbidden", KEY_NOT_VALID)
        limits = key.limits if key is not None else None
    return limits if limits is not None and not limits.empty else None


def admit_caller(limits: CallerLimits | None, figures: CallerFigures | None, cost: int, currency: str) -> None:
    """The caller's own limits, after the project's: refuse as the project's checks would, saying whose."""
    if limits is None or limits.empty or figures is None:
        return
    who = {"limit": "caller", "caller": figures.name}
    if limits.max_concurrent is not None and figures.active >= limits.max_concurrent:
        raise Refusal(
            "concurrency-limit",
            f"the caller {figures.name!r} already runs {figures.active} of its {limits.max_concurrent} sessions",
            {"activeSessions": figures.active, "maxConcurrent": limits.max_concurrent, **who},
        )
    for period in Period:
        budget = limits.budget(period)
        if budget is None:
            continue
        remaining = budget - figures.spent.get(period, 0) - figures.reserved
        if remaining < cost:
            raise Refusal(
                "budget-exhausted",
                f"the lease costs {format_money(cost, currency)}; the caller {figures.name!r} has "
                f"{format_money(max(remaining, 0), currency)} of its {period.value} budget left",
                {
                    "cost": money_text(cost),
                    "remainingBudget": money_text(remaining),
                    "currency": currency,
                    "period": period.value,
                }
                | who,
            )
