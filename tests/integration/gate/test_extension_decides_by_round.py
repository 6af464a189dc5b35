"""An extension decides by the project row its ledger round reads, not the one its request
authenticated with: the round may run seconds later (ARR's answer first, then ETag retries), and a
cap lowered meanwhile must hold. Here the request's first ledger write loses its ETag to another
instance right after an operator lowered the project's hard cap to the session's lease."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.integration.gate.races import first_write_loses


def test_a_cap_lowered_while_an_extension_retries_holds(gate):
    key = gate.project(max_concurrent=10)
    made = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": 60})
    assert made.status == 202, made.body
    sid = made.body["sessionId"]
    gate.settle()

    def lower_the_cap():  # the operator
        gate.store.put_project(replace(gate.store.get_project("alpha"), hard_max_duration=timedelta(minutes=60)))

    with first_write_loses(gate, lower_the_cap) as lost:
        reply = gate.extend("alpha", key, sid, {"maxLeaseTime": 90})
    assert lost == [412], "the extension's first write did not lose its ETag: the race this test needs did not happen"
    assert (reply.status, reply.reason) == (409, "extension-denied"), reply.body
    assert reply.body["limit"] == "hard-cap" and "(60 min)" in reply.body["detail"], reply.body
    entry = gate.store.get_entry("alpha", sid)
    assert (entry.lease, entry.extensions) == (timedelta(minutes=60), 0)
    (session,) = [s for s in gate.emulator.truth() if s["id"] == sid]
    assert session["maxLeaseMinutes"] == 60  # ARR was not asked for more
