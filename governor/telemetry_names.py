"""The names the telemetry interface and its backend share: metrics with their units, metric
dimensions, and the span attributes the backend reads. Stdlib only and imports nothing, so
`governor.telemetry` (the interface) and `governor.telemetry_otel` (the backend) both depend on it
and never on each other.

Metric names are written here once, used by the code, the alert rules (infra/) and docs/deploy.md.
They follow OpenTelemetry's naming rules (docs/general/naming.md of the semantic conventions):
singular namespaces (`governor.session.*`), no unit in a name (the unit is the instrument's: `s` for
durations, `1` for a ratio, `{session}`-style annotations for counts of things), and a standard
metric where one exists (`http.server.request.duration`). Renames are listed in docs/deploy.md,
"Telemetry names".
"""

from __future__ import annotations

# Counts of things: each unit is an annotation naming what is counted.
ADMITTED = "governor.session.admitted"  # sessions the gate admitted
REFUSED = "governor.session.refused"  # session requests the gate refused
STOPPED = "governor.session.stopped"  # sessions the sweep stopped
EXTENDED = "governor.session.extended"  # lease extensions the sweep made
OPEN_SESSIONS = "governor.session.open"  # gauge: open sessions when the sweep read the ledger
METERED_TIME = "governor.session.metered_time"  # ARR time the sweep's metering charged
COST = "governor.cost"  # gauge: spent in the current day / month
SAVINGS = "governor.savings"  # gauge: saved in the current day / month
SAVED = "governor.saved"  # counter: each saving as it is recorded
SWEEPS = "governor.sweeps"
SWEEP_DURATION = "governor.sweep.duration"
SWEEP_FAILED_ACTIONS = "governor.sweep.failed_actions"
BUDGET_UTILIZATION = "governor.budget.utilization"  # gauge: (spent + reserved) / budget, a ratio
# OpenTelemetry's HTTP server metric (docs/http/http-metrics.md): every request through
# `governor.functions.http.serve`, in seconds, by method, route, status, scheme and error.type.
HTTP_SERVER_DURATION = "http.server.request.duration"

UNITS = {
    ADMITTED: "{session}",
    REFUSED: "{request}",
    STOPPED: "{session}",
    EXTENDED: "{extension}",
    OPEN_SESSIONS: "{session}",
    METERED_TIME: "s",
    COST: "{micro}",
    SAVINGS: "{micro}",
    SAVED: "{micro}",
    SWEEPS: "{sweep}",
    SWEEP_DURATION: "s",
    SWEEP_FAILED_ACTIONS: "{action}",
    BUDGET_UTILIZATION: "1",
    HTTP_SERVER_DURATION: "s",
}

# The explicit bucket boundaries OpenTelemetry advises for http.server.request.duration (seconds).
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
BUCKETS = {HTTP_SERVER_DURATION: HTTP_DURATION_BUCKETS}

# Metric dimensions: callers name them by keyword (`telemetry.add(ADMITTED, project=..., size=...)`);
# what reaches the backend is the attribute on the right, namespaced under `governor.` as the span
# attributes are (`governor.project` on a request's span and on its metrics alike). A keyword not
# listed here is refused, so no bare `project` or `period` reaches an exporter.
DIMENSIONS = {
    "project": "governor.project",
    "period": "governor.period",  # day, month
    "reason": "governor.reason",  # a refusal's or a sweep decision's reason code
    "size": "governor.size",  # the VM size
    "kind": "governor.saving.kind",  # lease, extension
    "outcome": "governor.sweep.outcome",  # ok, errors, skipped
    "dry_run": "governor.dry_run",
}

# server.port is left out (a database or server span) or set (an HTTP client span, where it is
# required) by each convention; what counts as a scheme's default port is one fact
DEFAULT_PORTS = {"https": 443, "http": 80}

# Span attributes with a meaning beyond their value (see `governor.telemetry.span`).
KIND = "kind"  # "internal" (default), "client" or "server": the span's kind, not an attribute
ERROR_TYPE = "error.type"  # OpenTelemetry: set exactly when the operation failed
HTTP_METHOD = "http.request.method"  # on a client span: the HTTP client span of its request
OWN_HTTP = "own_http"  # not an attribute: the block's HTTP client spans are the governor's own
