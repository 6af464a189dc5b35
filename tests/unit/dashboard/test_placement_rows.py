"""The dashboard's placement table: sessions per account and capacity failures per account and size, today."""

from dataclasses import replace
from datetime import timedelta

from governor.core.model import CapacityFailure, PlacementAccount, VmSize
from governor.dashboard.data import Dashboard
from governor.dashboard.page import render_page
from governor.dashboard.placement import PlacementRow, placement_rows
from tests.unit.dashboard.samples import NOW, entry, policy, sample_dashboard

REGIONS = policy(placement=(PlacementAccount("east"), PlacementAccount("west")))


def test_sessions_and_failures_of_today_per_account_and_size():
    today = NOW + timedelta(hours=9)
    entries = {
        "alpha": [
            replace(entry(session_id="a", requested_at=today), account="east"),
            replace(entry(session_id="b", requested_at=today), account="west"),
            replace(entry(session_id="c", requested_at=today), account="east"),  # failed: not a session
            replace(entry(session_id="old", requested_at=today - timedelta(days=1)), account="west"),
        ]
    }
    failures = [
        CapacityFailure("alpha", "c", "east", VmSize.STANDARD, today),
        CapacityFailure("alpha", "y", "east", VmSize.STANDARD, today - timedelta(days=1)),  # yesterday's
    ]
    assert placement_rows([replace(REGIONS, name="alpha")], entries, failures, today) == [
        PlacementRow("alpha", "east", "Standard", 1, 1),
        PlacementRow("alpha", "west", "Standard", 1, 0),
    ]


def test_a_project_with_one_account_and_no_failure_is_left_out():
    assert placement_rows([policy()], {"alpha": [entry(requested_at=NOW)]}, [], NOW) == []


def test_the_page_shows_the_table_only_when_there_is_placement_to_show():
    board: Dashboard = sample_dashboard()
    assert "Placement today" not in render_page(board)
    shown = render_page(replace(board, placement=(PlacementRow("alpha", "<east>", "Standard", 2, 3),)))
    assert "Placement today" in shown and "&lt;east&gt;" in shown
