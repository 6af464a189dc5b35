"""Injected faults: a rate of error responses, added latency, capacity failures. Pure parsing."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from governor.emulator.errors import bad_request

DEFAULT_STATUSES = (429, 500, 503)


@dataclass
class Faults:
    rate: float = 0.0
    statuses: tuple[int, ...] = DEFAULT_STATUSES
    retry_after: int = 1
    latency_ms: int = 0
    paths: re.Pattern | None = None
    capacity_failures: int = 0
    phase: str = "before"  # "after": the request takes effect, then the fault is returned
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def to_json(self) -> dict:
        return {
            "rate": self.rate,
            "statuses": list(self.statuses),
            "retryAfter": self.retry_after,
            "latencyMs": self.latency_ms,
            "paths": self.paths.pattern if self.paths else None,
            "capacityFailures": self.capacity_failures,
            "phase": self.phase,
        }

    def applies_to(self, path: str) -> bool:
        return self.paths is None or self.paths.search(path) is not None

    def pick(self, path: str) -> int | None:
        """The status to inject for this request, or None."""
        if self.rate <= 0 or not self.applies_to(path):
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.statuses)


def _number(body: dict, name: str, default, lo: float, hi: float | None, integer: bool):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"The {name} field must be a number.")
    if integer and not float(value).is_integer():
        raise bad_request(f"The {name} field must be an integer.")
    if value < lo or (hi is not None and value > hi):
        raise bad_request(f"The {name} field must be between {lo} and {hi if hi is not None else 'any'}.")
    return int(value) if integer else float(value)


def parse_statuses(value) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise bad_request("The statuses field must be a non-empty list of HTTP status codes.")
    out = []
    for item in value:
        try:
            status = int(item)
        except (TypeError, ValueError):
            raise bad_request("The statuses field must hold HTTP status codes (400-599).") from None
        if isinstance(item, bool) or not 400 <= status <= 599:
            raise bad_request("The statuses field must hold HTTP status codes (400-599).")
        out.append(status)
    return tuple(out)


def parse_paths(value) -> re.Pattern | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_request("The paths field must be a regular expression string or null.")
    try:
        return re.compile(value)
    except re.error as exc:
        raise bad_request(f"The paths field is not a valid regular expression: {exc}") from None


def from_json(body: dict) -> Faults:
    phase = body.get("phase", "before") or "before"
    if phase not in ("before", "after"):
        raise bad_request('The phase field must be "before" or "after".')
    return Faults(
        rate=_number(body, "rate", 0.0, 0, 1, integer=False),
        statuses=parse_statuses(body["statuses"]) if body.get("statuses") is not None else DEFAULT_STATUSES,
        retry_after=_number(body, "retryAfter", 1, 0, 3600, integer=True),
        latency_ms=_number(body, "latencyMs", 0, 0, 60_000, integer=True),
        paths=parse_paths(body.get("paths")),
        capacity_failures=_number(body, "capacityFailures", 0, 0, None, integer=True),
        phase=phase,
    )
