"""Inline SVG charts. Each chart is role="img" with a <title> and a <desc> summing up its data;
the page puts a data table beside it. Colours keep at least 3:1 contrast against white, and
stacked segments are parted by a white line, since two size colours side by side may not."""

from __future__ import annotations

from governor.core.model import format_money
from governor.dashboard.data import UNATTRIBUTED, BudgetRow, CostSeries
from governor.dashboard.fmt import esc, percent

INK = "#1f2328"
MUTED = "#57606a"
SPENT = "#1d4ed8"
OVER = "#b91c1c"
SIZE_COLOURS = {"Standard": "#1d4ed8", "Premium": "#b45309", UNATTRIBUTED: "#57606a"}
EXTRA_COLOURS = ("#047857", "#7c3aed", "#be185d")


def size_colour(size: str, index: int) -> str:
    return SIZE_COLOURS.get(size, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{esc(title)}</title><desc id="{chart_id}-desc">{esc(desc)}</desc>'
    )


def _x(value: int, scale: int, width: float) -> float:
    return round(width * value / scale, 2) if scale else 0.0


def budget_chart(rows: list[BudgetRow], chart_id: str = "budget-chart") -> str:
    """Per project and period: spent (solid), reserved (hatched), projection to period end
    (dashed outline), and the budget (a vertical mark at the bar's end of scale)."""
    width, left, bar_w, row_h = 480, 4, 472, 56
    height = max(row_h * len(rows), 40)
    desc = "; ".join(
        f"{r.project} {r.period.value} {r.key}: spent {format_money(r.spent, r.currency)}, "
        f"reserved {format_money(r.reserved, r.currency)} of {format_money(r.budget, r.currency)} "
        f"({percent(r.used, r.budget)} used), projected {format_money(r.projected, r.currency)} at the period's end"
        for r in rows
    )
    parts = [
        _open(
            chart_id, width, height, "Budget used per project, with a projection to the period's end", desc or "none"
        ),
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#dbeafe"/><line x1="0" y1="0" x2="0" y2="6" stroke="{SPENT}" '
        'stroke-width="2"/></pattern></defs>',
    ]
    if not rows:
        parts.append(f'<text x="{left}" y="24" fill="{MUTED}" font-size="14">No projects</text>')
    for index, row in enumerate(rows):
        top = index * row_h
        scale = max(row.budget or 0, row.projected, row.used, 1)
        label = f"{row.project} · {row.period.value} {row.key} · {percent(row.used, row.budget)} used"
        parts.append(f'<g data-project="{esc(row.project)}" data-period="{row.period.value}">')
        parts.append(f'<text x="{left}" y="{top + 18}" fill="{INK}" font-size="16">{esc(label)}</text>')
        bar_top, bar_h = top + 26, 20
        parts.append(
            f'<rect class="track" x="{left}" y="{bar_top}" width="{bar_w}" height="{bar_h}" '
            'fill="#f6f8fa" stroke="#8c959f"/>'
        )
        spent_w = _x(row.spent, scale, bar_w)
        reserved_w = _x(row.reserved, scale, bar_w)
        parts.append(
            f'<rect class="spent" data-scale="{scale}" x="{left}" y="{bar_top}" width="{spent_w}" '
            f'height="{bar_h}" fill="{SPENT}"/>'
        )
        if reserved_w:
            parts.append(
                f'<rect class="reserved" x="{left + spent_w}" y="{bar_top}" width="{reserved_w}" '
                f'height="{bar_h}" fill="url(#{chart_id}-hatch)"/>'
            )
        colour = OVER if row.over_budget else INK
        parts.append(
            f'<rect class="projected" x="{left}" y="{bar_top + 3}" width="{_x(row.projected, scale, bar_w)}" '
            f'height="{bar_h - 6}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        if row.budget is not None:
            budget_x = left + _x(row.budget, scale, bar_w)
            parts.append(
                f'<line class="budget" x1="{budget_x}" y1="{bar_top - 4}" x2="{budget_x}" '
                f'y2="{bar_top + bar_h + 4}" stroke="{INK}" stroke-width="3"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _nice_top(value: int) -> int:
    """A round axis maximum (1, 2 or 5 x 10^n whole cost units, in micros) at or above `value`."""
    unit = 10_000  # 0.01 cost units
    while True:
        for step in (1, 2, 5):
            if step * unit >= value:
                return step * unit
        unit *= 10


def cost_chart(series: CostSeries, chart_id: str = "cost-chart") -> str:
    """Columns per day of the month, stacked by VM size."""
    width, height, left, bottom, top = 400, 220, 56, 24, 10
    plot_w, plot_h = width - left - 6, height - bottom - top
    y_max = _nice_top(max((d.total for d in series.days), default=0) or 1)
    slot = plot_w / max(len(series.days), 1)
    by_size = ", ".join(f"{size} {format_money(series.size_total(size), series.currency)}" for size in series.sizes)
    busiest = max(series.days, key=lambda d: d.total, default=None)
    desc = f"Total {format_money(series.total, series.currency)} over {len(series.days)} days"
    if by_size:
        desc += f" ({by_size})"
    if busiest and busiest.total:
        desc += f"; highest day {busiest.day.isoformat()} at {format_money(busiest.total, series.currency)}"
    parts = [_open(chart_id, width, height, f"Cost per day in {series.currency}, stacked by VM size", desc)]
    for fraction in (0, 0.5, 1):
        y = round(top + plot_h * (1 - fraction), 2)
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - 6}" y2="{y}" stroke="#d0d7de"/>')
        label = format_money(int(y_max * fraction))
        parts.append(
            f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" fill="{MUTED}" font-size="12">{esc(label)}</text>'
        )
    for index, day in enumerate(series.days):
        x = round(left + index * slot + slot * 0.15, 2)
        base: float = top + plot_h
        for size_index, size in enumerate(series.sizes):
            amount = day.by_size.get(size, 0)
            if amount <= 0:
                continue
            h = round(plot_h * amount / y_max, 2)
            base = round(base - h, 2)
            parts.append(
                f'<rect x="{x}" y="{base}" width="{round(slot * 0.7, 2)}" height="{h}" '
                f'fill="{size_colour(size, size_index)}" stroke="#ffffff" stroke-width="1">'
                f"<title>{esc(day.day.isoformat())} {esc(size)}: "
                f"{esc(format_money(amount, series.currency))}</title></rect>"
            )
        last = index == len(series.days) - 1
        crowded = len(series.days) - 1 - index < 3  # keep clear of the last day's label
        if last or day.day.day == 1 or (day.day.day % 5 == 0 and not crowded):
            parts.append(
                f'<text x="{round(x + slot * 0.35, 2)}" y="{height - 8}" text-anchor="middle" fill="{MUTED}" '
                f'font-size="12">{day.day.day}</text>'
            )
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)
