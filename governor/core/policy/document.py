"""Project policy documents (JSON) <-> ProjectPolicy, and projects.json files. Pure: no I/O.

Every error is a PolicyError naming the field (e.g. `projects[1].budget.daily`) and, for a
file, its line. Unknown fields, wrong types, negative money and unknown VM sizes are errors.
Money is a JSON number or a decimal string in cost units (`limits.MONEY`: ASCII digits, at most
6 decimals); durations are whole minutes; zones are canonical IANA names (`schedule.check_zone`),
days `YYYY-MM-DD` (`limits.DAY`), sizes exact (`limits.VM_SIZE`), webhook URLs https to a public
host (`limits.webhook_target`). `webhookSecret` is write-only: absent keeps the stored secret, null clears it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from governor.core.model import (
    CallerLimits,
    Closing,
    PlacementAccount,
    ProjectPolicy,
    Schedule,
    SizeFallback,
    VmSize,
    format_money,
    money_text,
    to_micros,
    whole_minutes,
)
from governor.core.policy import schedule as hours
from governor.core.policy.jsonlines import DuplicateKey, Path, loads_with_lines
from governor.core.policy.limits import (
    ACCOUNT_NAME,
    CURRENCY,
    MAX_PLACEMENT,
    MONEY,
    PRINCIPAL,
    PROJECT_NAME,
    VM_SIZE,
    TextRule,
    parse_day,
    webhook_target,
)

MAX_MONEY = Decimal(10**12)
MAX_MINUTES = 7 * 24 * 60
# A rate per hour: every sum the ledger keeps (a session's cost up to the 7-day cap, a month of
# 10,000 concurrent sessions' spend, their savings) must fit Table Storage's Int64 of micros
# (9.2e18); at MAX_MONEY an hour, one 24-hour lease already did not (a 500 at the request).
MAX_RATE = Decimal(10**4)
MINUTE_FIELDS = {
    "maxLeaseMinutes": ("max_lease", 1),
    "hardMaxMinutes": ("hard_max_duration", 1),
    "extensionStepMinutes": ("extension_step", 1),
    "extensionThresholdMinutes": ("extension_threshold", 0),
    "idleTimeoutMinutes": ("idle_timeout", 1),
}
FIELDS = (
    "name",
    "enabled",
    "account",
    "allowedSizes",
    "currency",
    "rates",
    "budget",
    "maxConcurrent",
    *MINUTE_FIELDS,
    "dryRun",
    "webhookUrl",
    "webhookSecret",
    "principals",
    "principalLimits",
    "schedule",
    "placement",
    "sizeFallback",
)
PLACEMENT_FIELDS = ("account", "rates")
SCHEDULE_FIELDS = ("timeZone", "hours", "holidays", "closing", "warnBeforeMinutes")
LIMIT_FIELDS = ("maxConcurrent", "dailyBudget", "monthlyBudget")
MAX_HOLIDAYS = 400
MAX_WINDOWS = 8
FILE_FIELDS = ("$schema", "projects")
# Standard Webhooks secrets: "whsec_" + base64 of 24-64 random bytes (names, not secrets: hence noqa)
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105
WEBHOOK_SECRET = TextRule(
    r"whsec_[A-Za-z0-9+/]{32,88}={0,2}", "must be whsec_ followed by the base64 of 24-64 random bytes"
)


def is_webhook_secret(text: str) -> bool:
    if not WEBHOOK_SECRET.accepts(text):
        return False
    try:
        key = base64.b64decode(text[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (ValueError, binascii.Error):
        return False
    return 24 <= len(key) <= 64


class PolicyError(ValueError):
    """A policy document or file is invalid. `field` is a dotted path; `line` is set for files."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field, self.message, self.line = field, message, line
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{field}: {message}")


@dataclass(frozen=True)
class ProjectSpec:
    """One project as declared: the policy, the webhook secret (None keep, "" clear) and its line."""

    policy: ProjectPolicy
    webhook_secret: str | None = field(default=None, repr=False)
    line: int | None = None


# ---------------------------------------------------------------- public API
def policy_from_document(doc: Any, name: str | None = None, *, allow_loopback_http: bool = False) -> ProjectSpec:
    """Validate one policy document (already parsed JSON). `name`, if given, wins over (and must
    match) the document's `name`. `allow_loopback_http`: the local-only setting
    GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP (a webhook URL may then name a loopback host)."""
    return _Checker({}, allow_loopback_http=allow_loopback_http).spec(doc, (), name)


def check_accounts(
    policy: ProjectPolicy, configured: Collection[str], path: Path = (), line: int | None = None
) -> None:
    """Every ARR account the project may start sessions in is one the app is configured with
    (GOVERNOR_ARR_ACCOUNTS): a project naming another would answer each request 503 until an
    operator noticed, so it is refused when it is written. `path` and `line`: where the project
    is in a projects file (the error then names e.g. `projects[1].placement[0]`)."""
    places = [((*path, "placement", index), place.account) for index, place in enumerate(policy.placement)]
    for where, account in places or [((*path, "account"), policy.account)]:
        if account not in configured:
            known = ", ".join(sorted(configured)) or "none"
            raise PolicyError(_render(where), f"ARR account {account!r} is not configured (configured: {known})", line)


def parse_policy_text(text: str, name: str | None = None, *, allow_loopback_http: bool = False) -> ProjectSpec:
    """Validate one policy document given as JSON text (errors carry lines)."""
    value, lines = _load(text)
    return _Checker(lines, allow_loopback_http=allow_loopback_http).spec(value, (), name)


def parse_projects_file(text: str, *, allow_loopback_http: bool = False) -> list[ProjectSpec]:
    """Validate a projects.json file: {"projects": [policy, ...]}. Names must be unique."""
    value, lines = _load(text)
    check = _Checker(lines, allow_loopback_http=allow_loopback_http)
    body = check.object(value, ())
    check.only(body, (), FILE_FIELDS)
    if "projects" not in body:
        raise check.error((), 'must have a "projects" array')
    items = body["projects"]
    if not isinstance(items, list):
        raise check.error(("projects",), "must be an array of project policies")
    specs: list[ProjectSpec] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        spec = check.spec(item, ("projects", index), None)
        if spec.policy.name in seen:
            raise check.error(
                ("projects", index, "name"), f"duplicate project (first at projects[{seen[spec.policy.name]}])"
            )
        seen[spec.policy.name] = index
        specs.append(spec)
    return specs


def policy_to_document(policy: ProjectPolicy) -> dict:
    """The document form of a policy (never a secret). policy_from_document() reads it back."""
    return {
        "name": policy.name,
        "enabled": policy.enabled,
        "account": policy.account,
        "allowedSizes": sorted(size.value for size in policy.allowed_sizes),
        "currency": policy.currency,
        "rates": {size.value: money_text(rate) for size, rate in sorted(policy.rates.items())},
        "budget": {
            "daily": money_text(policy.daily_budget),
            "monthly": money_text(policy.monthly_budget),
        },
        "maxConcurrent": policy.max_concurrent,
        **{key: whole_minutes(getattr(policy, attr)) for key, (attr, _) in MINUTE_FIELDS.items()},
        "dryRun": policy.dry_run,
        "webhookUrl": policy.webhook_url,
        "principals": sorted(policy.principals),
        "principalLimits": {p: limits_to_document(lim) for p, lim in sorted(policy.principal_limits.items())},
        "schedule": None if policy.schedule is None else schedule_to_document(policy.schedule),
        "placement": placement_to_document(policy),
        "sizeFallback": policy.size_fallback.value,
    }


def placement_to_document(policy: ProjectPolicy) -> list:
    """Each account by name, or as {account, rates} when it has rates of its own."""
    places = policy.placement or (PlacementAccount(policy.account),)
    return [
        {"account": p.account, "rates": {size.value: money_text(rate) for size, rate in sorted(p.rates.items())}}
        if p.rates
        else p.account
        for p in places
    ]


def schedule_to_document(schedule: Schedule) -> dict:
    return {
        "timeZone": schedule.time_zone,
        "hours": {
            day: [hours.window_text(w) for w in schedule.hours[index]]
            for index, day in enumerate(hours.WEEKDAYS)
            if schedule.hours[index]
        },
        "holidays": sorted(d.isoformat() for d in schedule.holidays),
        "closing": schedule.closing.value,
        "warnBeforeMinutes": None if schedule.warn_before is None else whole_minutes(schedule.warn_before),
    }


def limits_to_document(limits: CallerLimits) -> dict:
    return {
        "maxConcurrent": limits.max_concurrent,
        "dailyBudget": money_text(limits.daily_budget),
        "monthlyBudget": money_text(limits.monthly_budget),
    }


def schedule_from_document(doc: Any) -> Schedule:
    """A stored schedule read back (schedule_to_document's output): its zone need only load."""
    return _Checker({}, stored=True).schedule(doc, ("schedule",))


def placement_from_document(doc: Any) -> tuple[PlacementAccount, ...]:
    """A stored placement read back (placement_to_document's output)."""
    return _Checker({}, stored=True).placement(doc, ("placement",))


def limits_from_document(doc: Any, ceiling: ProjectPolicy | None = None) -> CallerLimits:
    """A caller's limits; with `ceiling`, each must be within that project's."""
    unlimited = ProjectPolicy(name="-", max_concurrent=10_000)
    return _Checker({}).limits(doc, ("limits",) if ceiling is None else (), ceiling or unlimited)


# ---------------------------------------------------------------- checking
def _load(text: str):
    try:
        return loads_with_lines(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("(file)", f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except DuplicateKey as exc:
        raise PolicyError(_render(exc.path), "duplicate field", exc.line) from None


def _render(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


class _Checker:
    def __init__(self, lines: dict[Path, int], *, allow_loopback_http: bool = False, stored: bool = False):
        self.lines = lines
        self.allow_loopback_http = allow_loopback_http
        self.stored = stored  # reading back what was checked when it was saved

    def error(self, path: Path, message: str) -> PolicyError:
        line: int | None = None
        probe: Path | None = path
        while line is None and probe is not None:
            line = self.lines.get(probe)
            probe = probe[:-1] if probe else None
        return PolicyError(_render(path), message, line)

    def object(self, value: Any, path: Path) -> dict:
        if not isinstance(value, dict):
            raise self.error(path, "must be a JSON object")
        return value

    def only(self, body: dict, path: Path, allowed: tuple[str, ...]) -> None:
        for key in body:
            if key not in allowed:
                raise self.error((*path, key), f"unknown field (allowed: {', '.join(allowed)})")

    def text(self, value: Any, path: Path, rule: TextRule | None = None) -> str:
        if not isinstance(value, str):
            raise self.error(path, "must be a string")
        if rule is not None and not rule.accepts(value):
            raise self.error(path, rule.hint)
        return value

    def boolean(self, value: Any, path: Path) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, "must be true or false")
        return value

    def integer(self, value: Any, path: Path, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, "must be a whole number")
        if not low <= value <= high:
            raise self.error(path, f"must be between {low} and {high}")
        return value

    def money(self, value: Any, path: Path, most: Decimal = MAX_MONEY) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise self.error(path, "must be an amount (a number or a decimal string)")
        if isinstance(value, str) and not MONEY.accepts(value):
            raise self.error(path, MONEY.hint)
        try:
            amount = Decimal(str(value)) if isinstance(value, str | float) else Decimal(value)
        except InvalidOperation:
            raise self.error(path, "must be an amount (a number or a decimal string)") from None
        if not amount.is_finite():
            raise self.error(path, "must be a finite amount")
        if amount < 0:
            raise self.error(path, "must not be negative")
        if amount > most:
            raise self.error(path, f"must be at most {most}")
        if amount != amount.quantize(Decimal("0.000001")):
            raise self.error(path, "has more than 6 decimal places")
        return to_micros(amount)

    def size(self, value: Any, path: Path) -> VmSize:
        try:
            if not VM_SIZE.accepts(value):
                raise ValueError
            return VmSize.parse(value)
        except ValueError:
            raise self.error(path, f"unknown VM size (one of {', '.join(s.value for s in VmSize)})") from None

    def limits(self, value: Any, path: Path, policy: ProjectPolicy) -> CallerLimits:
        """A caller's limits: each within the project's (a caller cannot be allowed more than it)."""
        body = self.object(value, path)
        self.only(body, path, LIMIT_FIELDS)
        found: dict[str, Any] = {}
        if body.get("maxConcurrent") is not None:
            found["max_concurrent"] = self.integer(
                body["maxConcurrent"], (*path, "maxConcurrent"), 0, policy.max_concurrent
            )
        for key, attr, ceiling in (
            ("dailyBudget", "daily_budget", policy.daily_budget),
            ("monthlyBudget", "monthly_budget", policy.monthly_budget),
        ):
            if body.get(key) is not None:
                found[attr] = self.money(body[key], (*path, key))
                if ceiling is not None and found[attr] > ceiling:
                    raise self.error((*path, key), f"must not exceed the project's {format_money(ceiling)}")
        return CallerLimits(**found)

    def placement(self, value: Any, path: Path) -> tuple[PlacementAccount, ...]:
        """Accounts in order, each a name or {account, rates}: its own rates by size (the rest: the project's)."""
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_PLACEMENT:
            raise self.error(path, f"must be an array of 1-{MAX_PLACEMENT} accounts (names, or {{account, rates}})")
        places: list[PlacementAccount] = []
        for index, item in enumerate(value):
            at = (*path, index)
            if isinstance(item, dict):
                self.only(item, at, PLACEMENT_FIELDS)
                if "account" not in item:
                    raise self.error((*at, "account"), "is required")
                name = self.text(item["account"], (*at, "account"), ACCOUNT_NAME)
                rates = self.rates(self.object(item.get("rates", {}), (*at, "rates")), (*at, "rates"))
            else:
                name, rates = self.text(item, at, ACCOUNT_NAME), {}
            if any(place.account == name for place in places):
                raise self.error(at, f"the account {name!r} is listed twice")
            places.append(PlacementAccount(name, rates))
        return tuple(places)

    def placed(self, body: dict, path: Path, values: dict) -> None:
        """`placement`, `sizeFallback` and how they meet `account` and `allowedSizes`."""
        at = lambda key: (*path, key)  # noqa: E731
        if body.get("placement") is not None:
            places = self.placement(body["placement"], at("placement"))
            if "account" not in values:
                values["account"] = places[0].account
            elif values["account"] != places[0].account:
                raise self.error(at("account"), "must be the first account of placement (or left out)")
            if len(places) > 1 or places[0].rates:  # one account and no rates of its own: the default
                values["placement"] = places
        if body.get("sizeFallback") is not None:
            try:
                fallback = SizeFallback(body["sizeFallback"])
            except ValueError:
                raise self.error(at("sizeFallback"), "must be none or premium") from None
            if fallback is SizeFallback.PREMIUM and VmSize.PREMIUM not in values["allowed_sizes"]:
                raise self.error(at("sizeFallback"), "premium needs Premium in allowedSizes (and a rate for it)")
            values["size_fallback"] = fallback

    def schedule(self, value: Any, path: Path) -> Schedule:
        body = self.object(value, path)
        self.only(body, path, SCHEDULE_FIELDS)
        at = lambda *keys: (*path, *keys)  # noqa: E731
        if "timeZone" not in body:
            raise self.error(at("timeZone"), "is required (an IANA time zone such as Europe/Berlin)")
        try:
            (hours.zone if self.stored else hours.check_zone)(body["timeZone"])
            week = self.week(body.get("hours"), at("hours"))
            hours.check_overlaps(week)
        except hours.ScheduleError as exc:
            raise self.error((*path, *exc.field.split(".")), exc.message) from None
        holidays = body.get("holidays") or []
        if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
            raise self.error(at("holidays"), f"must be an array of at most {MAX_HOLIDAYS} dates (YYYY-MM-DD)")
        days: set[date] = set()
        for index, text in enumerate(holidays):
            day = parse_day(text)
            if day is None:
                raise self.error(at("holidays", index), "must be a date YYYY-MM-DD")
            days.add(day)
        closing_text = body.get("closing", "stop")
        try:
            if not isinstance(closing_text, str):
                raise ValueError(closing_text)
            closing = Closing(closing_text)
        except ValueError:
            raise self.error(at("closing"), "must be stop or finish") from None
        warn = None
        if body.get("warnBeforeMinutes") is not None:
            warn = timedelta(minutes=self.integer(body["warnBeforeMinutes"], at("warnBeforeMinutes"), 0, 24 * 60))
        return Schedule(body["timeZone"], week, frozenset(days), closing, warn)

    def week(self, value: Any, path: Path) -> tuple:
        body = self.object(value if value is not None else {}, path)
        self.only(body, path, hours.WEEKDAYS)
        week = []
        for day in hours.WEEKDAYS:
            windows = body.get(day) or []
            if isinstance(windows, str):
                windows = [windows]
            if not isinstance(windows, list) or len(windows) > MAX_WINDOWS:
                raise self.error((*path, day), f"must be an array of at most {MAX_WINDOWS} windows HH:MM-HH:MM")
            week.append(tuple(hours.parse_window(w, f"hours.{day}[{i}]") for i, w in enumerate(windows)))
        return tuple(week)

    def rates(self, rates: dict, path: Path) -> dict[VmSize, int]:
        """Rates by VM size; `Standard` and `standard` name the same size, so both at once is an error."""
        found: dict[VmSize, int] = {}
        first: dict[VmSize, str] = {}
        for key, value in rates.items():
            size = self.size(key, (*path, key))
            if size in found:
                raise self.error((*path, key), f"duplicate rate (the same size as {first[size]!r})")
            found[size], first[size] = self.money(value, (*path, key), MAX_RATE), key
        return found

    def spec(self, doc: Any, path: Path, name: str | None) -> ProjectSpec:
        body = self.object(doc, path)
        self.only(body, path, FIELDS)
        at = lambda key: (*path, key)  # noqa: E731
        if "name" in body:
            doc_name = self.text(body["name"], at("name"), PROJECT_NAME)
            if name is not None and doc_name != name:
                raise self.error(at("name"), f"does not match the project {name!r}")
        elif name is None:
            raise self.error(at("name"), "is required")
        values: dict[str, Any] = {"name": name if name is not None else body["name"]}
        if name is not None and not PROJECT_NAME.accepts(name):
            raise self.error(at("name"), PROJECT_NAME.hint)
        if "enabled" in body:
            values["enabled"] = self.boolean(body["enabled"], at("enabled"))
        if "dryRun" in body:
            values["dry_run"] = self.boolean(body["dryRun"], at("dryRun"))
        if "account" in body:
            values["account"] = self.text(body["account"], at("account"), ACCOUNT_NAME)
        if "currency" in body:
            values["currency"] = self.text(body["currency"], at("currency"), CURRENCY)
        sizes = body.get("allowedSizes", ["Standard"])
        if not isinstance(sizes, list) or not sizes:
            raise self.error(at("allowedSizes"), "must be a non-empty array of VM sizes")
        values["allowed_sizes"] = frozenset(self.size(s, (*at("allowedSizes"), i)) for i, s in enumerate(sizes))
        rates = self.object(body.get("rates", {}), at("rates"))
        values["rates"] = self.rates(rates, at("rates"))
        for size in sorted(values["allowed_sizes"]):
            if size not in values["rates"]:
                raise self.error(at("rates"), f"needs a rate for the allowed size {size.value}")
        if "budget" in body:
            budget = self.object(body["budget"], at("budget"))
            self.only(budget, at("budget"), ("daily", "monthly"))
            for key, attr in (("daily", "daily_budget"), ("monthly", "monthly_budget")):
                if budget.get(key) is not None:
                    values[attr] = self.money(budget[key], (*at("budget"), key))
        if "maxConcurrent" in body:
            values["max_concurrent"] = self.integer(body["maxConcurrent"], at("maxConcurrent"), 0, 10_000)
        for key, (attr, low) in MINUTE_FIELDS.items():
            if key in body:
                values[attr] = timedelta(minutes=self.integer(body[key], at(key), low, MAX_MINUTES))
        policy_defaults = ProjectPolicy(name=values["name"])
        lease = values.get("max_lease", policy_defaults.max_lease)
        if lease > values.get("hard_max_duration", policy_defaults.hard_max_duration):
            raise self.error(at("maxLeaseMinutes"), "must not exceed hardMaxMinutes")
        if body.get("webhookUrl") is not None:
            url = self.text(body["webhookUrl"], at("webhookUrl"))
            try:
                webhook_target(url, self.allow_loopback_http)
            except ValueError as exc:
                raise self.error(at("webhookUrl"), str(exc)) from None
            values["webhook_url"] = url
        if "principals" in body:
            principals = body["principals"]
            if not isinstance(principals, list):
                raise self.error(at("principals"), "must be an array of strings")
            values["principals"] = frozenset(
                self.text(p, (*at("principals"), i), PRINCIPAL) for i, p in enumerate(principals)
            )
        if body.get("principalLimits") is not None:
            limits = self.object(body["principalLimits"], at("principalLimits"))
            ceiling = ProjectPolicy(**values)
            found: dict[str, Any] = {}
            first: dict[str, str] = {}
            for p, item in limits.items():
                key = self.text(p, (*at("principalLimits"), p), PRINCIPAL).lower()
                if key in found:  # ids compare case-insensitively: two spellings would silently be one
                    raise self.error((*at("principalLimits"), p), f"duplicate principal (the same as {first[key]!r})")
                found[key], first[key] = self.limits(item, (*at("principalLimits"), p), ceiling), p
            values["principal_limits"] = found
        if body.get("schedule") is not None:
            values["schedule"] = self.schedule(body["schedule"], at("schedule"))
        self.placed(body, path, values)
        secret = None
        if "webhookSecret" in body:
            if body["webhookSecret"] is None:
                secret = ""
            else:
                secret = self.text(body["webhookSecret"], at("webhookSecret"))
                if not is_webhook_secret(secret):
                    raise self.error(at("webhookSecret"), WEBHOOK_SECRET.hint)
        return ProjectSpec(ProjectPolicy(**values), secret, self.lines.get(path))
