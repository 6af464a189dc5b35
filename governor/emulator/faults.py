"""Injected faults: a rate of error responses, added latency, capacity failures, scripted steps.

Pure parsing and picking; the server applies what `plan` returns.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

from governor.emulator.errors import bad_request

DEFAULT_STATUSES = (429, 500, 503)
PHASES = ("before", "after")
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
MAX_STEPS = 100


@dataclass(frozen=True)
class Step:
    """One scripted fault: the status to answer (None: the real answer) and the latency, applied
    before the request takes effect or after it did (an answer lost on its way back)."""

    status: int | None = None
    phase: str = "before"
    latency_ms: int = 0

    def to_json(self) -> dict:
        return {"status": self.status, "phase": self.phase, "latencyMs": self.latency_ms}


@dataclass
class Faults:
    rate: float = 0.0
    statuses: tuple[int, ...] = DEFAULT_STATUSES
    retry_after: int = 1
    latency_ms: int = 0
    paths: re.Pattern | None = None
    capacity_failures: int = 0
    phase: str = "before"  # "after": the request takes effect, then the fault is returned
    methods: frozenset[str] | None = None  # None: every method
    # Consumed one per matching request, in order, before `rate` applies: e.g. a create that acts
    # and answers 500, then retries throttled before they take effect.
    sequence: list[Step] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_json(self) -> dict:
        return {
            "rate": self.rate,
            "statuses": list(self.statuses),
            "retryAfter": self.retry_after,
            "latencyMs": self.latency_ms,
            "paths": self.paths.pattern if self.paths else None,
            "capacityFailures": self.capacity_failures,
            "phase": self.phase,
            "methods": sorted(self.methods) if self.methods else None,
            "sequence": [step.to_json() for step in self.sequence],
        }

    def applies_to(self, path: str, method: str | None = None) -> bool:
        if self.methods is not None and method is not None and method not in self.methods:
            return False
        return self.paths is None or self.paths.search(path) is not None

    def plan(self, path: str, method: str) -> Step | None:
        """What to do to this request: the next scripted step, else a rate fault with the
        configured latency, else latency alone; None for nothing."""
        if not self.applies_to(path, method):
            return None
        with self._lock:
            if self.sequence:
                return self.sequence.pop(0)
        status = self.pick(path)
        if status is None and not self.latency_ms:
            return None
        return Step(status, self.phase, self.latency_ms)

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
        except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is infinity
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
    except (OverflowError, RecursionError):  # a repeat count past the engine's, or nesting too deep
        raise bad_request("The paths field is a regular expression too large to compile.") from None


def parse_phase(value) -> str:
    phase = value or "before"
    if phase not in PHASES:
        raise bad_request('The phase field must be "before" or "after".')
    return phase


def parse_methods(value) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise bad_request("The methods field must be a non-empty list of HTTP methods or null.")
    methods = frozenset(m.upper() for m in value)
    if not methods <= set(METHODS):
        raise bad_request(f"The methods field may hold only {', '.join(METHODS)}.")
    return methods


def parse_sequence(value) -> list[Step]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        raise bad_request(f"The sequence field must be a list of at most {MAX_STEPS} steps.")
    steps = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("Each sequence step must be an object with status, phase and latencyMs.")
        status = item.get("status")
        if status is not None:
            (status,) = parse_statuses([status])
        latency = _number(item, "latencyMs", 0, 0, 60_000, integer=True)
        steps.append(Step(status, parse_phase(item.get("phase")), latency))
    return steps


def from_json(body: dict) -> Faults:
    phase = parse_phase(body.get("phase"))
    return Faults(
        rate=_number(body, "rate", 0.0, 0, 1, integer=False),
        statuses=parse_statuses(body["statuses"]) if body.get("statuses") is not None else DEFAULT_STATUSES,
        retry_after=_number(body, "retryAfter", 1, 0, 3600, integer=True),
        latency_ms=_number(body, "latencyMs", 0, 0, 60_000, integer=True),
        paths=parse_paths(body.get("paths")),
        capacity_failures=_number(body, "capacityFailures", 0, 0, None, integer=True),
        phase=phase,
        methods=parse_methods(body.get("methods")),
        sequence=parse_sequence(body.get("sequence")),
    )
