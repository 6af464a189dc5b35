from dataclasses import replace

import pytest
from azure.core.exceptions import HttpResponseError

from governor.store.concurrency import RetryPolicy, with_retry
from governor.store.errors import Contention
from governor.store.ledger import charge
from tests.integration.store.helpers import RATE, entry


def conflict(status: int) -> HttpResponseError:
    error = HttpResponseError(message="conflict")
    error.status_code = status
    return error


def test_retries_conflicts_then_succeeds():
    calls, sleeps = [], []

    def round_():
        calls.append(1)
        if len(calls) < 3:
            raise conflict(412 if len(calls) == 1 else 409)
        return "done"

    assert with_retry(round_, RetryPolicy(attempts=5), "x", sleep=sleeps.append) == "done"
    assert len(calls) == 3 and len(sleeps) == 2 and all(0 <= s <= 0.2 for s in sleeps)


def test_gives_up_after_bounded_attempts():
    def round_():
        raise conflict(412)

    with pytest.raises(Contention, match="after 4 attempts"):
        with_retry(round_, RetryPolicy(attempts=4), "reserve", sleep=lambda s: None)


def test_other_errors_propagate_at_once():
    calls = []

    def round_():
        calls.append(1)
        raise conflict(500)

    with pytest.raises(HttpResponseError):
        with_retry(round_, RetryPolicy(attempts=4), "x", sleep=lambda s: None)
    assert len(calls) == 1


def test_charge_is_by_checkpoint():
    start = replace(entry("s1"), reserved=6_000_000)
    moved, spent = charge(start, 10)
    assert (moved.charged_minutes, moved.charged, moved.reserved, spent) == (10, 1_000_000, 5_000_000, 1_000_000)
    assert charge(moved, 10) == (moved, 0) and charge(moved, 3) == (moved, 0)
    far, spent = charge(moved, 70)  # overrun: reservation floors at zero, spend is exact
    assert (far.charged, far.reserved, spent) == (7_000_000, 0, 6_000_000)
    assert RATE == 6_000_000
