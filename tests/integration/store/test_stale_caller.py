"""An admission's caller is checked again by every round, against the project row the round decides
by: a request that authenticated with a key keeps no right the project row has taken away since
(the key revoked, rotated, expired; a principal removed or its limits lowered), however long its
transaction takes. Against Azurite: instance A's first ledger write loses its ETag to instance B
right after an operator changed the project, so A's admission runs a second round."""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError

from governor.core.model import CallerLimits, CallerRef, LedgerEntry, LedgerState, VmSize
from governor.core.policy import gate as rules
from governor.core.policy.callers import PRINCIPAL_PREFIX
from governor.service.ports import Refusal
from governor.store import TableStore
from tests.integration.store.helpers import NOW, RATE, policy

REQUEST = rules.SessionRequest(VmSize.STANDARD, timedelta(minutes=30))
PRINCIPAL = "8f1c2d9e-0000-4000-8000-00000000abcd"


def entry(caller: str | None) -> LedgerEntry:
    sid = str(uuid.uuid4())
    return LedgerEntry(
        "demo", sid, "default", VmSize.STANDARD, LedgerState.PENDING, NOW, REQUEST.lease, rate=RATE, caller=caller
    )


def reserve(store: TableStore, who: CallerRef | None, **kw) -> LedgerEntry:
    pending = entry(who.name if who else None)
    decide = functools.partial(rules.admit, REQUEST)
    reserved, _ = store.reserve(
        "demo", pending, decide, NOW, policy=store.get_project("demo"), fresh=True, who=who, **kw
    )
    return reserved


def open_rows(store: TableStore) -> list[LedgerEntry]:
    return [e for e in store.snapshot(NOW).open_entries if e.project == "demo"]


class Stores:
    """A (the request's instance), B (another instance) and the operator's."""

    def __init__(self, azurite, prefix):
        self.admin, self.a, self.b = (TableStore(azurite.connection_string, prefix) for _ in range(3))
        self.admin.put_project(policy(daily_budget=None, monthly_budget=None, principals=frozenset({PRINCIPAL})))
        self.running = reserve(self.admin, None)  # what B meters to move the state row under A

    def key(self, name: str, **limits) -> CallerRef:
        secret = self.admin.add_key("demo", name, NOW, limits=CallerLimits(**limits) if limits else None)
        found = self.admin.find_key("demo", secret, NOW)
        assert found is not None
        return CallerRef(name, found.key_id, presented=True)

    def while_retrying(self, change, who: CallerRef, **kw):
        """A's admission for `who`, authenticated before `change()`; its first write loses its ETag
        to B, after the change. Returns the entry or the Refusal."""
        self.a.get_project("demo", max_age=2.0)  # the request authenticated: A holds the row as it was
        submit, first, lost = self.a._submit, [True], []

        def raced(table, ops):
            if table != self.a.tables.ledger or not first:
                return submit(table, ops)
            first.clear()
            change()
            self.b.meter("demo", self.running.session_id, 1, NOW)  # the state row moves under A
            try:
                return submit(table, ops)
            except HttpResponseError as exc:
                lost.append(exc.status_code)
                raise

        self.a._submit = raced
        try:
            return reserve(self.a, who, **kw)
        except Refusal as refusal:
            return refusal
        finally:
            self.a._submit = submit
            assert lost == [412], "A's first write did not lose its ETag: the race this test needs did not happen"


@pytest.fixture
def stores(azurite, table_prefix):
    return Stores(azurite, table_prefix)


def test_a_key_left_alone_admits(stores):
    who = stores.key("kiosk")
    got = stores.while_retrying(lambda: None, who)
    assert isinstance(got, LedgerEntry) and got.caller == "kiosk"


@pytest.mark.parametrize("how", ["revoked", "rotated", "expired"])
def test_a_key_taken_away_while_the_admission_retries_admits_nothing(stores, how):
    who = stores.key("kiosk")
    before = len(open_rows(stores.admin))
    change = {
        "revoked": lambda: stores.admin.revoke_key("demo", "kiosk"),
        "rotated": lambda: stores.admin.rotate_named_key("demo", "kiosk", NOW),
        # the same name again, expiring before the request's time: another key, already expired
        "expired": lambda: (
            stores.admin.revoke_key("demo", "kiosk"),
            stores.admin.add_key("demo", "kiosk", NOW - timedelta(hours=2), expires_at=NOW - timedelta(hours=1)),
        ),
    }[how]
    got = stores.while_retrying(change, who)
    assert isinstance(got, Refusal) and got.reason == "forbidden", got
    assert len(open_rows(stores.admin)) == before  # nothing held for A's request
    assert all(e.caller != "kiosk" for e in open_rows(stores.admin))


def test_a_principal_removed_while_the_admission_retries_admits_nothing(stores):
    who = CallerRef(PRINCIPAL_PREFIX + PRINCIPAL, presented=True)
    project = stores.admin.get_project("demo")
    got = stores.while_retrying(lambda: stores.admin.put_project(replace(project, principals=frozenset())), who)
    assert isinstance(got, Refusal) and got.reason == "forbidden", got


def test_a_principal_limit_lowered_while_the_admission_retries_holds(stores):
    name = PRINCIPAL_PREFIX + PRINCIPAL
    who = CallerRef(name, presented=True)
    project = stores.admin.get_project("demo")
    stores.admin.put_project(replace(project, principal_limits={PRINCIPAL: CallerLimits(max_concurrent=5)}))
    reserve(stores.b, who)  # the principal runs one session
    lowered = replace(project, principal_limits={PRINCIPAL: CallerLimits(max_concurrent=1)})
    got = stores.while_retrying(lambda: stores.admin.put_project(lowered), who)
    assert isinstance(got, Refusal) and got.reason == "concurrency-limit", got
    assert got.figures["caller"] == name and got.figures["maxConcurrent"] == 1
    assert sum(e.caller == name for e in open_rows(stores.admin)) == 1


def test_a_key_s_own_limit_is_counted_by_the_round_without_being_asked(stores):
    """The caller's figures are read because the row gives it limits, not because the request
    said so (`count_caller` is left out): the key's second session is refused."""
    who = stores.key("kiosk", max_concurrent=1)
    reserve(stores.b, who)
    with pytest.raises(Refusal) as refused:
        reserve(stores.a, who)
    assert refused.value.reason == "concurrency-limit" and refused.value.figures["caller"] == "kiosk"


def test_the_governor_acting_for_a_revoked_key_keeps_to_its_request(stores):
    """An attempt the governor starts for a key's earlier request (autoRetry's next attempt) is
    not the key presenting itself: revoking it stops new requests, not the one already admitted;
    the limits it had are gone with it."""
    who = stores.key("kiosk", max_concurrent=1)
    behalf = replace(who, presented=False)
    got = stores.while_retrying(lambda: stores.admin.revoke_key("demo", "kiosk"), behalf)
    assert isinstance(got, LedgerEntry) and got.caller == "kiosk", got


def slice_rows(store: TableStore) -> list[dict]:
    table = store._table(store.tables.ledger)
    return list(table.query_entities("PartitionKey eq 'demo' and RowKey ge 'slice|' and RowKey lt 'slice}'"))


def test_a_caller_with_limits_of_its_own_takes_no_escrow_slice(stores):
    """A slice pays only for callers with neither limits nor standing to check (docs/storage.md,
    Escrow slices): a batch of a limited key's admissions decides on the project's real figures and
    sizes no slice for this instance, whether or not the request said `count_caller`."""
    limited = stores.key("kiosk", max_concurrent=20)
    before = {row["RowKey"] for row in slice_rows(stores.admin)}  # the operator's admission may hold one
    for _ in range(3):
        reserve(stores.a, limited)
    assert {row["RowKey"] for row in slice_rows(stores.admin)} == before
    free = stores.key("lobby")  # no limits: its admissions may take a slice, as before
    for _ in range(3):
        reserve(stores.a, free)
    assert len({row["RowKey"] for row in slice_rows(stores.admin)} - before) == 1
