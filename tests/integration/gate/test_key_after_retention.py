"""An Idempotency-Key sent again after retention archived its request's row: the key maps to the
same session id, and ARR still knows that id (it keeps ended sessions for 30 days), so the create
answers the old, ended session. Its minutes were charged in the archived row: the new reservation
must go back, and nothing be charged twice."""

from datetime import timedelta

import pytest

from governor.bootstrap import Context, get_context, set_context
from governor.core.model import Period, utcnow
from governor.service.retention import RetentionConfig, run_retention
from governor.service.sweep import Sweeper

BODY = {"size": "Standard", "maxLeaseTime": 60}


@pytest.mark.parametrize("again", [BODY, {**BODY, "maxLeaseTime": 90}], ids=["same-body", "other-lease"])
def test_a_key_sent_again_after_its_row_was_archived_charges_nothing_twice(gate, again):
    key = gate.project("alpha")
    headers = {"Idempotency-Key": "lesson-42"}
    first = gate.create("alpha", key, BODY, headers=headers)
    assert first.status == 202, first.body
    sid = first.body["sessionId"]
    gate.settle()
    gate.emulator.advance(5 + 40 * 60)
    assert gate.stop("alpha", key, sid).status == 200
    charged = gate.store.get_entry("alpha", sid).charged
    assert charged > 0
    today = Period.DAY.key(utcnow())
    spent = gate.store.usage("alpha", Period.DAY, today).spent
    later = utcnow() + timedelta(days=2)
    gate.emulator.advance(2 * 24 * 3600)
    real = get_context()
    set_context(Context(real.settings, real.store, real.arr, lambda: later))
    moved = run_retention(gate.store, lambda: later, RetentionConfig(history_days=1))
    assert moved["moved"] >= 1 and gate.store.get_entry("alpha", sid) is None, moved

    reply = gate.create("alpha", key, again, headers=headers)
    assert (reply.status, reply.reason, reply.body.get("field")) == (409, "conflict", "Idempotency-Key"), reply.body
    gate.settle()
    Sweeper.from_context(get_context()).run()
    usage = gate.store.usage("alpha", Period.DAY, today)
    assert (usage.spent, usage.reserved) == (spent, 0)
    assert gate.store.usage("alpha", Period.DAY, Period.DAY.key(later)).reserved == 0
    assert gate.open_sessions_in_arr() == []
    assert all(e.charged == 0 for e in gate.store.list_entries("alpha", include_closed=True))
