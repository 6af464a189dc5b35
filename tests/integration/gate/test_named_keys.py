"""Named caller keys through the admin routes and the gate, against Azurite and the ARR emulator."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from governor.core.model import MICROS, CallerLimits, LedgerState, Period, utcnow
from governor.store import TableStore
from governor.store.keycache import VerifiedKeys
from tests.integration.store.test_key_cache import Clock

BODY = {"size": "Standard", "maxLeaseTime": 30}  # 30 minutes at 6/h: 3.00


def keys_call(gate, name, method, project="alpha", key_name=None, body=None, suffix=""):
    route = f"manage/projects/{project}/keys" + (f"/{key_name}" if key_name is not None else "") + suffix
    params = {"project": project} | ({"keyName": key_name} if key_name is not None else {})
    return gate.call(name, method, route, params, body)


def add(gate, body, project="alpha"):
    return keys_call(gate, "manage_rotate_key", "POST", project, body=body)


def listed(gate, project="alpha"):
    return keys_call(gate, "manage_list_keys", "GET", project).body["keys"]


def test_add_list_revoke_rotate_one_key_leaves_the_others_working(gate):
    default = gate.project(max_concurrent=5)
    kiosk = add(gate, {"name": "lobby-kiosk", "maxConcurrent": 2, "dailyBudget": "20"})
    assert kiosk.status == 201 and kiosk.headers["Cache-Control"] == "no-store"
    assert kiosk.body["name"] == "lobby-kiosk" and kiosk.body["key"].startswith("gk_")
    assert kiosk.body["limits"] == {"maxConcurrent": 2, "dailyBudget": "20.000000", "monthlyBudget": None}
    alice = add(gate, {"name": "alice-hl2", "expiresAt": (utcnow() + timedelta(days=30)).isoformat()}).body["key"]

    keys = listed(gate)
    assert [k["name"] for k in keys] == ["default", "lobby-kiosk", "alice-hl2"]
    text = json.dumps(keys)
    assert kiosk.body["key"] not in text and alice not in text and "scrypt" not in text and "hash" not in text
    assert keys[2]["expiresAt"] is not None and keys[0]["createdAt"] is not None

    assert gate.list("alpha", kiosk.body["key"]).status == 200
    assert listed(gate)[1]["lastUsedAt"] is not None  # recorded on use
    assert add(gate, {"name": "lobby-kiosk"}).status == 409  # names are unique

    revoked = keys_call(gate, "manage_revoke_key", "DELETE", key_name="lobby-kiosk")
    assert revoked.status == 204
    assert gate.list("alpha", kiosk.body["key"]).status == 403  # at once, on the revoking instance
    assert gate.list("alpha", alice).status == 200 and gate.list("alpha", default).status == 200
    assert keys_call(gate, "manage_revoke_key", "DELETE", key_name="lobby-kiosk").status == 404

    rotated = keys_call(gate, "manage_rotate_named_key", "POST", key_name="alice-hl2", suffix="/rotate")
    assert rotated.status == 201 and rotated.body["name"] == "alice-hl2"
    assert gate.list("alpha", alice).status == 403 and gate.list("alpha", rotated.body["key"]).status == 200
    assert [k["name"] for k in listed(gate)] == ["default", "alice-hl2"]
    assert listed(gate)[1]["expiresAt"] == keys[2]["expiresAt"]  # rotation keeps the expiry

    assert add(gate, None).status == 400  # no body: nothing is revoked (issue 22)
    everything = add(gate, {"revokeOthers": True})  # revoke all and add "default"
    assert everything.status == 201 and everything.body["name"] == "default"
    assert gate.list("alpha", rotated.body["key"]).status == 403 and gate.list("alpha", default).status == 403
    assert [k["name"] for k in listed(gate)] == ["default"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a/b"}, "name"),
        ({"name": "a#b"}, "name"),
        ({"name": "a?b"}, "name"),
        ({"name": "a\\b"}, "name"),
        ({"name": "a\x01b"}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "kiosk", "maxConcurrent": 6}, "maxConcurrent"),
        ({"name": "kiosk", "dailyBudget": "100.01"}, "dailyBudget"),
        ({"name": "kiosk", "dailyBudget": "-1"}, "dailyBudget"),
        ({"name": "kiosk", "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({"name": "kiosk", "expiresAt": "2099-01-01T00:00:00"}, "expiresAt"),
        ({"name": "kiosk", "colour": "red"}, "colour"),
    ],
)
def test_bad_keys_are_a_400_naming_the_field_and_nothing_is_written(gate, body, field):
    gate.project(max_concurrent=5)  # daily budget 100
    before = listed(gate)
    reply = add(gate, body)
    assert (reply.status, reply.reason, reply.body["field"]) == (400, "bad-request", field), reply.body
    assert listed(gate) == before


def test_ledger_and_audit_rows_record_the_key_name_never_the_key(gate):
    gate.project(max_concurrent=5)
    kiosk = add(gate, {"name": "kiosk", "maxConcurrent": 1}).body["key"]
    created = gate.create("alpha", kiosk, BODY)
    assert created.status == 202 and created.body["caller"] == "kiosk"
    assert gate.store.get_entry("alpha", created.body["sessionId"]).caller == "kiosk"
    refused = gate.create("alpha", kiosk, BODY)
    assert (refused.status, refused.reason) == (429, "concurrency-limit")
    assert refused.body["limit"] == "caller" and refused.body["caller"] == "kiosk"
    stopped = gate.stop("alpha", kiosk, created.body["sessionId"])
    assert stopped.status == 200 and stopped.body["caller"] == "kiosk"
    rows = gate.store.recent_audit(project="alpha")
    assert {(r.action, r.caller) for r in rows} >= {("refuse", "kiosk"), ("stop", "kiosk")}
    assert kiosk not in repr(rows)


def test_a_key_budget_is_its_share_of_the_project_budget(gate):
    gate.project(max_concurrent=10)  # daily budget 100
    small = add(gate, {"name": "small", "dailyBudget": "7"}).body["key"]
    other = add(gate, {"name": "other"}).body["key"]
    assert gate.create("alpha", small, BODY).status == 202
    assert gate.create("alpha", small, BODY).status == 202  # 6 of 7 held
    refused = gate.create("alpha", small, BODY)
    assert (refused.status, refused.reason, refused.body["limit"]) == (402, "budget-exhausted", "caller")
    assert refused.body["remainingBudget"] == "1.000000"
    assert gate.create("alpha", other, BODY).status == 202  # the project still has money


def test_usage_by_key(gate):
    default = gate.project(max_concurrent=10)
    kiosk = add(gate, {"name": "kiosk", "dailyBudget": "50"}).body["key"]
    first = gate.create("alpha", kiosk, BODY).body["sessionId"]
    gate.create("alpha", kiosk, BODY)
    gate.stop("alpha", kiosk, first)
    gate.create("alpha", default, BODY)
    reply = gate.usage("alpha", default, params={"by": "key"})
    assert reply.status == 200, reply.body
    callers = {c["caller"]: c for c in reply.body["callers"]}
    assert callers["kiosk"]["openSessions"] == 1 and callers["kiosk"]["reserved"] == "3.000000"
    assert callers["kiosk"]["limits"]["dailyBudget"] == "50.000000"
    assert callers["default"]["openSessions"] == 1
    assert set(callers["kiosk"]["spent"]) == {"day", "month"}
    assert gate.usage("alpha", default, params={"by": "colour"}).body["field"] == "by"
    assert "callers" not in gate.usage("alpha", default).body


def test_spend_is_charged_to_the_key(gate):
    gate.project(max_concurrent=10)
    kiosk = add(gate, {"name": "kiosk"}).body["key"]
    sid = gate.create("alpha", kiosk, BODY).body["sessionId"]
    now = utcnow()
    gate.store.meter("alpha", sid, 10, now)  # 10 minutes at 6/h: 1.00
    assert gate.store.caller_spent("alpha", Period.DAY, Period.DAY.key(now)) == {"kiosk": MICROS}
    gate.store.close("alpha", sid, 20, "Stopped", now)
    assert gate.store.caller_spent("alpha", Period.MONTH, Period.MONTH.key(now)) == {"kiosk": 2 * MICROS}


@pytest.mark.parametrize("change", ["revoke", "rotate", "revoke-others", "recreate"])
def test_a_revoked_key_stops_on_other_instances_at_their_next_policy_read(gate, azurite, table_prefix, change):
    """Issue 22: another instance kept a revoked key for its cache's 60 s; now the keys version in the
    project row, read with the policy on every request, drops it at once everywhere."""
    gate.project()
    kiosk = add(gate, {"name": "kiosk"}).body["key"]
    other = TableStore(azurite.connection_string, table_prefix)  # another instance: its own cache
    other.verified_keys = VerifiedKeys(ttl=60, clock=Clock())
    assert other.get_project("alpha") and other.find_key("alpha", kiosk, utcnow()) is not None
    assert other.find_key("alpha", kiosk, utcnow()) is not None  # cached now
    if change == "revoke":
        assert keys_call(gate, "manage_revoke_key", "DELETE", key_name="kiosk").status == 204
    elif change == "rotate":
        assert keys_call(gate, "manage_rotate_named_key", "POST", key_name="kiosk", suffix="/rotate").status == 201
    elif change == "revoke-others":
        assert add(gate, {"revokeOthers": True}).status == 201
    else:
        # a project deleted and made again: another process's store, so nothing of this one is forgotten
        third = TableStore(azurite.connection_string, table_prefix)
        policy = third.get_project("alpha")
        assert third.delete_project("alpha")
        third.put_project(policy)
    assert gate.list("alpha", kiosk).status == 403  # this instance: at once
    other.get_project("alpha")  # the other: its next request reads the policy, and the keys version with it
    assert other.find_key("alpha", kiosk, utcnow()) is None


def test_an_expired_key_is_refused(gate):
    gate.project()
    now = utcnow()
    key = gate.store.add_key("alpha", "temp", now, expires_at=now + timedelta(seconds=1))
    assert gate.store.find_key("alpha", key, now) is not None
    assert gate.store.find_key("alpha", key, now + timedelta(seconds=1)) is None  # cached or not


PARALLEL = 50


def test_per_key_concurrency_under_fifty_racing_requests(gate):
    gate.project(max_concurrent=PARALLEL, daily_budget=1000 * MICROS)
    limited = add(gate, {"name": "limited", "maxConcurrent": 3}).body["key"]
    free = add(gate, {"name": "free"}).body["key"]
    keys = [limited if i % 5 else free for i in range(PARALLEL)]  # 40 on the limited key, 10 on the free one
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        replies = list(pool.map(lambda key: (key, gate.create("alpha", key, BODY)), keys))
    admitted = [k for k, r in replies if r.status == 202]
    refused = [r for k, r in replies if r.status != 202]
    assert admitted.count(limited) == 3, sorted({(r.status, r.reason) for r in refused})
    assert admitted.count(free) == 10
    assert {(r.reason, r.body.get("caller")) for r in refused} == {("concurrency-limit", "limited")}
    gate.settle()  # the deferred activations, as in the race tests
    entries = gate.store.list_entries("alpha")
    assert sorted(e.caller for e in entries) == ["free"] * 10 + ["limited"] * 3
    assert all(e.state is LedgerState.ACTIVE for e in entries)
    assert len(gate.open_sessions_in_arr()) == 13
    assert gate.store.list_keys("alpha")[1].limits == CallerLimits(max_concurrent=3)


def test_principal_limits_apply_when_app_service_vouches_for_the_principal(gate, monkeypatch):
    import base64

    from governor.bootstrap import reset_context

    gate.project(principals=frozenset({"oid-1"}), principal_limits={"oid-1": CallerLimits(max_concurrent=1)})
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    reset_context()
    claims = {"claims": [{"typ": "oid", "val": "OID-1"}]}
    header = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode()}
    first = gate.create("alpha", None, BODY, headers=header)
    assert first.status == 202 and first.body["caller"] == "principal:oid-1"
    second = gate.create("alpha", None, BODY, headers=header)
    assert (second.status, second.reason, second.body["caller"]) == (429, "concurrency-limit", "principal:oid-1")


def test_a_token_matching_several_principals_acts_as_one_chosen_by_rule(gate, monkeypatch):
    """A second, unlimited role does not lift a limited one; a person's own listing wins over roles."""
    import base64

    from governor.bootstrap import reset_context

    limited = {"role:students": CallerLimits(max_concurrent=1), "zz-oid": CallerLimits(max_concurrent=2)}
    gate.project(principals=frozenset({"role:staff", "role:students", "zz-oid"}), principal_limits=limited)
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    reset_context()

    def header(*claims):
        value = {"claims": [{"typ": typ, "val": val} for typ, val in claims]}
        return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(value).encode()).decode()}

    student = header(("roles", "staff"), ("roles", "students"))
    first = gate.create("alpha", None, BODY, headers=student)
    assert (first.status, first.body["caller"]) == (202, "principal:role:students")
    second = gate.create("alpha", None, BODY, headers=student)
    assert (second.status, second.reason, second.body["caller"]) == (
        429,
        "concurrency-limit",
        "principal:role:students",
    )
    person = header(("roles", "students"), ("oid", "ZZ-OID"))
    assert gate.create("alpha", None, BODY, headers=person).body["caller"] == "principal:zz-oid"


def test_a_key_budget_bounds_its_sessions_extensions(gate):
    gate.project(max_concurrent=10)  # daily budget 100, step 30 min
    key = add(gate, {"name": "small", "dailyBudget": "5"}).body["key"]
    sid = gate.create("alpha", key, BODY).body["sessionId"]  # 3.00 held of its 5.00
    gate.emulator.advance(30)  # Ready
    extended = gate.extend("alpha", key, sid, {"maxLeaseTime": 60})  # the key can pay 20 more minutes
    assert extended.status == 200, extended.body
    assert extended.body["partial"] is True and extended.body["leaseMinutes"] == 50
    refused = gate.extend("alpha", key, sid, {"maxLeaseTime": 60})
    assert (refused.status, refused.reason, refused.body["limit"]) == (402, "budget-exhausted", "caller")
    # issue 22: another key acts on it only with scope project, and is charged to the session's caller
    other = gate.store.add_key("alpha", "other", utcnow())
    assert gate.extend("alpha", other, sid, {"maxLeaseTime": 60}).status == 403
    operator = gate.store.add_key("alpha", "operator", utcnow(), scope="project")
    refused = gate.extend("alpha", operator, sid, {"maxLeaseTime": 60})
    assert (refused.status, refused.reason, refused.body["limit"]) == (402, "budget-exhausted", "caller")
