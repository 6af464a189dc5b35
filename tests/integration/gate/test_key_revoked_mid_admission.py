"""A session request whose key is revoked while its admission's transaction retries starts no
session: the gate hands the round the key it authenticated with (`Identity.ref`) and the round
checks it against the project row it decides by. The request's first ledger write loses its ETag
to another instance right after an operator revoked the key."""

from __future__ import annotations

import uuid

from tests.integration.gate.races import first_write_loses
from tests.integration.store.helpers import reserve


def test_a_key_revoked_while_its_admission_retries_starts_no_session(gate):
    key = gate.project(max_concurrent=10)
    reserve(gate.store, str(uuid.uuid4()), "alpha", 30)  # the project's state row exists: a race is a 412
    with first_write_loses(gate, lambda: gate.store.revoke_key("alpha", "default")) as lost:  # the operator
        reply = gate.create("alpha", key)
    assert lost == [412], "the request's first write did not lose its ETag: the race this test needs did not happen"
    assert (reply.status, reply.reason) == (403, "forbidden"), reply.body
    assert gate.emulator.truth() == []  # ARR was never asked
    assert [e.caller for e in gate.store.list_entries("alpha")] == [None, None]  # the other instance's only
