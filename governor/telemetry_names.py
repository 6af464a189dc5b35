"""The names the telemetry interface and its backend share: metrics with their units, and the span
attributes the backend reads. Stdlib only and imports nothing, so `governor.telemetry` (the
interface) and `governor.telemetry_otel` (the backend) both depend on it and never on each other.

Metric names are written here once, used by the code, the alert rules (infra/) and docs/deploy.md.
"""

from __future__ import annotations

ADMITTED = "governor.sessions.admitted"
REFUSED = "governor.sessions.refused"
STOPPED = "governor.sessions.stopped"
EXTENDED = "governor.sessions.extended"
OPEN_SESSIONS = "governor.sessions.open"
GOVERNED_MINUTES = "governor.governed.minutes"
COST = "governor.cost"  # gauge: spent in the current day / month
SAVINGS = "governor.savings"  # gauge: saved in the current day / month
SAVED = "governor.saved"  # counter: each saving as it is recorded
SWEEPS = "governor.sweeps"
SWEEP_DURATION = "governor.sweep.duration"
SWEEP_FAILED_ACTIONS = "governor.sweep.failed_actions"
BUDGET_USED = "governor.budget.used_percent"
GATE_RESPONSES = "governor.gate.responses"

# server.port is left out (a database or server span) or set (an HTTP client span, where it is
# required) by each convention; what counts as a scheme's default port is one fact
DEFAULT_PORTS = {"https": 443, "http": 80}

UNITS = {
    COST: "{micro}",
    SAVINGS: "{micro}",
    SAVED: "{micro}",
    SWEEP_DURATION: "ms",
    GOVERNED_MINUTES: "min",
    BUDGET_USED: "%",
}

# Span attributes with a meaning beyond their value (see `governor.telemetry.span`).
KIND = "kind"  # "internal" (default), "client" or "server": the span's kind, not an attribute
ERROR_TYPE = "error.type"  # OpenTelemetry: set exactly when the operation failed
HTTP_METHOD = "http.request.method"  # on a client span: the HTTP client span of its request
