"""The dashboard's working-hours and usage-by-key sections."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from governor.core.model import MICROS, LedgerEntry, LedgerState, Period, ProjectPolicy, VmSize
from governor.core.policy import document as documents
from governor.dashboard.data import UNNAMED, caller_rows, hours_rows
from governor.dashboard.page import render_page
from tests.unit.dashboard.samples import sample_dashboard

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)  # Tuesday, 11:00 in Berlin


def scheduled(name="alpha") -> ProjectPolicy:
    doc = {
        "name": name,
        "rates": {"Standard": 6},
        "schedule": {"timeZone": "Europe/Berlin", "hours": {"tue": ["08:00-18:00"]}},
    }
    return documents.policy_from_document(doc).policy


def entry(caller, state=LedgerState.ACTIVE, reserved=3 * MICROS) -> LedgerEntry:
    return LedgerEntry(
        "alpha", f"s-{caller}-{state.value}", "default", VmSize.STANDARD, state, NOW, timedelta(minutes=30),
        reserved=reserved, caller=caller,
    )  # fmt: skip


def test_hours_rows_say_open_or_closed_and_the_next_change():
    (row,) = hours_rows([scheduled(), ProjectPolicy(name="beta")], NOW)
    assert (row.project, row.open, row.closing) == ("alpha", True, "stop")
    assert row.next_change == datetime(2026, 11, 24, 17, tzinfo=UTC)
    assert row.next_change_local == "2026-11-24T18:00:00+01:00"
    (closed,) = hours_rows([scheduled()], NOW + timedelta(hours=8))
    assert not closed.open and closed.next_change == datetime(2026, 12, 1, 7, tzinfo=UTC)


def test_caller_rows_add_up_per_key():
    entries = {"alpha": [entry("kiosk"), entry("kiosk"), entry(None), entry("kiosk", LedgerState.CLOSED)]}
    spent = {("alpha", Period.DAY): {"kiosk": 2 * MICROS}, ("alpha", Period.MONTH): {"kiosk": 5 * MICROS, "old": 1}}
    rows = {r.caller: r for r in caller_rows([scheduled()], entries, spent)}
    assert set(rows) == {"kiosk", UNNAMED, "old"}
    assert (rows["kiosk"].open_sessions, rows["kiosk"].reserved) == (2, 6 * MICROS)
    assert (rows["kiosk"].day_spent, rows["kiosk"].month_spent) == (2 * MICROS, 5 * MICROS)
    assert rows[UNNAMED].open_sessions == 1 and rows["old"].open_sessions == 0


def test_page_shows_both_sections_only_when_there_is_something_to_show():
    board = sample_dashboard()
    assert "h-hours" not in render_page(board) and "h-callers" not in render_page(board)
    board = replace(
        board,
        hours=tuple(hours_rows([scheduled()], NOW)),
        callers=tuple(caller_rows([scheduled()], {"alpha": [entry("lobby-kiosk")]}, {})),
    )
    page = render_page(board)
    assert "Working hours" in page and "closes 2026-11-24 17:00 UTC" in page and "Europe/Berlin" in page
    assert "Usage by key" in page and "lobby-kiosk" in page
