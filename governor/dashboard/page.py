"""One self-contained HTML page: inline CSS and SVG, no script, nothing fetched, readable at phone width.

Every value that came from storage passes through `esc`; no key is ever part of a Dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from governor.core.model import format_money
from governor.dashboard.data import Dashboard
from governor.dashboard.fmt import ago, duration, esc, percent, when
from governor.dashboard.svg import budget_chart, cost_chart, size_colour

# The page runs no script and loads nothing; the same policy is sent as a response header.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = """
:root{color-scheme:light}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;margin:0}
.chart{width:100%;max-width:40rem;height:auto;display:block}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem;margin:.4rem 0;min-width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:.85em;word-break:break-all}
.legend{list-style:none;padding:0;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.4rem 1rem;font-size:.9rem}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border:1px solid #1f2328}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-weight:600}
summary{cursor:pointer;color:#0550ae;padding:.2rem 0}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
.over{color:#a40e26;font-weight:600}
@media (max-width:40rem){main{padding:.6rem}th,td{padding:.25rem .3rem}}
"""


def _table(
    table_id: str, caption: str, headers: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]], empty: str
) -> str:
    """`headers` are (text, numeric); row cells must already be escaped HTML."""
    head = "".join(f'<th scope="col"{" class=n" if numeric else ""}>{esc(text)}</th>' for text, numeric in headers)
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=n' if numeric else ''}>{cell}</td>" for cell, (_, numeric) in zip(row, headers, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">{esc(empty)}</td></tr>')
    return (
        f'<div class="scroll" role="region" aria-label="{esc(caption)}" tabindex="0"><table id="{table_id}">'
        f"<caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _health(board: Dashboard) -> str:
    health = board.health
    healthy = not health.stale and not health.errors
    badge = f'<span class="badge {"ok" if healthy else "bad"}">{"Healthy" if healthy else "Needs attention"}</span>'
    if health.last_sweep_at is None:
        summary = "No sweep has been recorded yet."
    else:
        summary = f"Last sweep {esc(when(health.last_sweep_at))} ({esc(ago(health.last_sweep_at, board.generated_at))})"
        summary += f", {health.errors} error(s)." if health.errors is not None else "."
        if health.stale:
            summary += " The sweep is overdue."
    facts = _table(
        "health-table",
        "Last sweep report",
        [("Field", False), ("Value", False)],
        ([esc(k), esc(v)] for k, v in health.facts),
        "none",
    )
    return (
        '<section aria-labelledby="h-health"><h2 id="h-health">Governor health</h2>'
        f"<p>{badge} {summary}</p><details><summary>Last sweep report</summary>{facts}</details></section>"
    )


def _budgets(board: Dashboard) -> str:
    rows = [
        [
            esc(r.project),
            esc(f"{r.period.value} {r.key}"),
            esc(format_money(r.budget, r.currency)),
            esc(format_money(r.spent, r.currency)),
            esc(format_money(r.reserved, r.currency)),
            esc(percent(r.used, r.budget)),
            esc(format_money(r.saved, r.currency)),
            f'<span class="over">{esc(format_money(r.projected, r.currency))} (over)</span>'
            if r.over_budget
            else esc(format_money(r.projected, r.currency)),
        ]
        for r in board.budgets
    ]
    table = _table(
        "budget-table",
        "Budget figures",
        [
            ("Project", False),
            ("Period", False),
            ("Budget", True),
            ("Spent", True),
            ("Reserved", True),
            ("Used", True),
            ("Saved by the governor", True),
            ("Projected at period end", True),
        ],
        rows,
        "No projects.",
    )
    legend = (
        '<ul class="legend"><li><span class="sw" style="background:#1d4ed8"></span>spent</li>'
        '<li><span class="sw" style="background:#dbeafe"></span>reserved for running leases</li>'
        '<li><span class="sw" style="border-style:dashed"></span>projected at the current burn rate</li>'
        '<li><span class="sw" style="background:#1f2328;width:.25em"></span>budget</li></ul>'
    )
    unreadable = ""
    if board.unreadable:
        names = ", ".join(f"<code>{esc(name)}</code>" for name in board.unreadable)
        unreadable = (
            f'<p id="unreadable-projects" class="over">Not shown: project rows whose names the governor refuses '
            f"(letters, digits, '-' and '_' only): {names}</p>"
        )
    return (
        '<section aria-labelledby="h-budget"><h2 id="h-budget">Budget used vs. budget</h2>'
        f"{unreadable}{budget_chart(list(board.budgets))}{legend}{table}</section>"
    )


def _costs(board: Dashboard) -> str:
    parts = ['<section aria-labelledby="h-cost"><h2 id="h-cost">Cost per day this month, by VM size</h2>']
    if not board.costs:
        parts.append("<p>No projects.</p>")
    for index, series in enumerate(board.costs):
        legend = "".join(
            f'<li><span class="sw" style="background:{size_colour(size, i)}"></span>{esc(size)}</li>'
            for i, size in enumerate(series.sizes)
        )
        rows = [
            [esc(day.day.isoformat())]
            + [esc(format_money(day.by_size.get(size, 0))) for size in series.sizes]
            + [esc(format_money(day.total))]
            for day in series.days
            if day.total
        ]
        headers = [("Day", False)] + [(size, True) for size in series.sizes] + [("Total", True)]
        parts.append(cost_chart(series, chart_id=f"cost-chart-{index}"))
        parts.append(f'<ul class="legend">{legend}</ul>')
        table = _table(
            f"cost-table-{index}", f"Cost per day in {series.currency}", headers, rows, "No cost this month."
        )
        parts.append(f"<details><summary>Cost per day in {esc(series.currency)} as a table</summary>{table}</details>")
    parts.append("</section>")
    return "".join(parts)


def _sessions(board: Dashboard) -> str:
    rows = [
        [
            esc(s.project),
            f"<code>{esc(s.session_id)}</code>",
            esc(s.size),
            esc(s.state),
            esc(duration(s.remaining)),
            esc(ago(s.last_heartbeat, board.generated_at)),
            f"{esc(s.next_action)} <small>({esc(s.next_reason)})</small>",
        ]
        for s in board.sessions
    ]
    headers = [
        ("Project", False),
        ("Session", False),
        ("Size", False),
        ("State", False),
        ("Remaining lease", True),
        ("Last heartbeat", False),
        ("Next likely decision", False),
    ]
    return (
        '<section aria-labelledby="h-sessions"><h2 id="h-sessions">Active sessions</h2>'
        f"{_table('sessions-table', 'Active sessions', headers, rows, 'No active sessions.')}</section>"
    )


def _hours(board: Dashboard) -> str:
    if not board.hours:
        return ""
    rows = [
        [
            esc(h.project),
            f'<span class="badge {"ok" if h.open else "bad"}">{"open" if h.open else "closed"}</span>',
            esc(("closes" if h.open else "opens") + " " + when(h.next_change) if h.next_change else "no change ahead"),
            esc(f"{h.next_change_local or ''} ({h.time_zone})"),
            esc(h.closing),
        ]
        for h in board.hours
    ]
    headers = [("Project", False), ("Now", False), ("Next change", False), ("Local time", False), ("At closing", False)]
    return (
        '<section aria-labelledby="h-hours"><h2 id="h-hours">Working hours</h2>'
        f"{_table('hours-table', 'Working hours', headers, rows, '')}</section>"
    )


def _callers(board: Dashboard) -> str:
    if not board.callers:
        return ""
    rows = [
        [
            esc(c.project),
            esc(c.caller),
            esc(str(c.open_sessions)),
            esc(format_money(c.reserved, c.currency)),
            esc(format_money(c.day_spent, c.currency)),
            esc(format_money(c.month_spent, c.currency)),
        ]
        for c in board.callers
    ]
    headers = [
        ("Project", False),
        ("Key or principal", False),
        ("Open sessions", True),
        ("Reserved", True),
        ("Spent today", True),
        ("Spent this month", True),
    ]
    return (
        '<section aria-labelledby="h-callers"><h2 id="h-callers">Usage by key</h2>'
        f"{_table('callers-table', 'Usage by key', headers, rows, '')}</section>"
    )


def _placement(board: Dashboard) -> str:
    if not board.placement:
        return ""
    rows = [
        [esc(p.project), esc(p.account), esc(p.size), esc(str(p.sessions)), esc(str(p.capacity_failures))]
        for p in board.placement
    ]
    headers = [
        ("Project", False),
        ("Account", False),
        ("Size", False),
        ("Sessions today", True),
        ("Capacity failures today", True),
    ]
    return (
        '<section aria-labelledby="h-placement"><h2 id="h-placement">Placement today</h2>'
        f"{_table('placement-table', 'Placement today', headers, rows, '')}</section>"
    )


def _decisions(board: Dashboard) -> str:
    rows = [
        [
            esc(when(r.at)),
            esc(r.project),
            f"<code>{esc(r.session_id)}</code>",
            esc(r.source),
            esc(r.action + (" (dry run)" if r.dry_run else "")),
            esc(r.reason),
            esc(r.outcome),
        ]
        for r in board.decisions
    ]
    headers = [
        ("Time", False),
        ("Project", False),
        ("Session", False),
        ("Source", False),
        ("Action", False),
        ("Reason", False),
        ("Outcome", False),
    ]
    return (
        '<section aria-labelledby="h-decisions"><h2 id="h-decisions">Last 50 decisions</h2>'
        f"{_table('decisions-table', 'Last 50 decisions, newest first', headers, rows, 'No decisions yet.')}</section>"
    )


def render_page(board: Dashboard, refresh_seconds: int | None = None) -> str:
    """`refresh_seconds`: reload that often; opt-in, since an unasked reload disrupts screen readers."""
    title = f"{board.scope} · ARR usage" if board.scope else "ARR lease governor · usage"
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">{refresh}'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<header><h1>{esc(title)}</h1><p class="meta">Generated {esc(when(board.generated_at))}; '
        "session figures are as of the last sweep's metering.</p></header>"
        f"{_health(board)}{_hours(board)}{_budgets(board)}{_costs(board)}{_callers(board)}{_placement(board)}"
        f"{_sessions(board)}{_decisions(board)}"
        "</main></body></html>"
    )
