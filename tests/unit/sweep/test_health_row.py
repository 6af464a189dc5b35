"""The sweep's health row: one declared shape, written by to_row and read back by from_row."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import SweepHealth

STARTED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
FULL = SweepHealth(
    STARTED,
    STARTED + timedelta(seconds=2),
    "errors",
    counts={"extend": 2, "stop": 1},
    failed=1,
    metered=5,
    errors=("stop s1: http-503",),
    phases_ms={"read": 12, "act": 30},
    duration_ms=2000,
    dry_run=True,
    sessions=7,
    decisions=3,
    owner="host:1:ab12",
    inside=(("default", "s1", "hard-cap"), ("default", "s2", "lease-low")),
)


def test_round_trip():
    assert SweepHealth.from_row(FULL.to_row()) == FULL


def test_row_keys_are_the_declared_ones():
    assert set(FULL.to_row()) == {
        "startedAt",
        "finishedAt",
        "outcome",
        "counts",
        "failed",
        "metered",
        "errors",
        "phasesMs",
        "durationMs",
        "dryRun",
        "sessions",
        "decisions",
        "owner",
        "insideHorizons",
    }
    assert "insideHorizons" not in replace(FULL, inside=None).to_row()  # not recorded: left out


@pytest.mark.parametrize(
    "row",
    [
        None,
        [],
        {},
        {"finished_at": "2026-11-26T10:00:02+00:00", "outcome": "ok"},  # another spelling is not the row
        {**FULL.to_row(), "startedAt": "yesterday"},
        {**FULL.to_row(), "finishedAt": 1700000000},
    ],
)
def test_no_row_or_unreadable_times_read_as_none(row):
    assert SweepHealth.from_row(row) is None


def test_a_damaged_field_reads_as_its_default():
    row = {**FULL.to_row(), "failed": "one", "counts": {"stop": "1", "extend": 2}, "errors": "x", "dryRun": "yes"}
    health = SweepHealth.from_row(row)
    assert (health.failed, health.counts, health.errors, health.dry_run) == (0, {"extend": 2}, (), False)


def test_naive_times_are_utc():
    row = {**FULL.to_row(), "finishedAt": "2026-11-26T10:00:02"}
    assert SweepHealth.from_row(row).finished_at == STARTED + timedelta(seconds=2)


@pytest.mark.parametrize(
    "inside", ["x", [["default", "s1"]], [["default", "s1", 3]], [["default", "s1", "hard-cap"], "s2"], None]
)
def test_damaged_horizons_read_as_not_recorded(inside):
    """The next sweep then judges crossings by its gap, as before horizons were recorded."""
    assert SweepHealth.from_row({**FULL.to_row(), "insideHorizons": inside}).inside is None
