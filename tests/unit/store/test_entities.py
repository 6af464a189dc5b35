from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import AuditRecord, LedgerEntry, LedgerState, SessionStatus, VmSize
from governor.store.entities import (
    MAX_CUSTOM_PROPERTIES,
    audit_to_entity,
    check_entity,
    entity_to_audit,
    entity_to_entry,
    entry_to_entity,
    get_json,
    put_json,
)
from governor.store.errors import InvalidEntity


def base(**props):
    return {"PartitionKey": "p", "RowKey": "r", **props}


def test_property_count_limit():
    check_entity(base(**{f"P{i}": i for i in range(MAX_CUSTOM_PROPERTIES)}))
    with pytest.raises(InvalidEntity, match="253 properties"):
        check_entity(base(**{f"P{i}": i for i in range(MAX_CUSTOM_PROPERTIES + 1)}))


def test_entity_size_limit_uses_the_service_formula():
    chunk = "x" * 30_000  # 60,000 bytes as UTF-16
    check_entity(base(**{f"S{i}": chunk for i in range(17)}))  # ~1,020,000 bytes
    with pytest.raises(InvalidEntity, match="1 MiB"):
        check_entity(base(**{f"S{i}": chunk for i in range(18)}))


def test_string_and_name_limits():
    with pytest.raises(InvalidEntity) as caught:
        check_entity(base(Big="x" * 32_769), "row")
    assert caught.value.field == "row.Big"
    for name in ("bad-name", "Name\n"):
        with pytest.raises(InvalidEntity, match="property name"):
            check_entity(base(**{name: 1}))


def test_json_blobs_split_under_the_string_limit():
    value = {"items": ["y" * 1000 for _ in range(100)]}
    entity = put_json(base(), "Report", value)
    assert entity["ReportParts"] == 4
    check_entity(entity)
    assert get_json(entity, "Report") == value
    assert get_json(base(), "Report", "missing") == "missing"


def test_entry_round_trip():
    entry = LedgerEntry(
        project="demo",
        session_id="s1",
        account="acc",
        size=VmSize.PREMIUM,
        state=LedgerState.CLOSED,
        requested_at=datetime(2030, 1, 1, tzinfo=UTC),
        lease=timedelta(minutes=90),
        rate=12_000_000,
        reserved=0,
        charged_minutes=42,
        charged=8_400_000_000_000,  # beyond Int32
        last_heartbeat=datetime(2030, 1, 1, 0, 5, tzinfo=UTC),
        extensions=2,
        adopted=True,
        final_status=SessionStatus.EXPIRED,
    )
    entity = entry_to_entity(entry, "closed|s1")
    assert entity["Charged"].edm_type.value == "Edm.Int64"
    assert entity_to_entry(entity) == entry


def test_audit_round_trip():
    record = AuditRecord(datetime(2030, 1, 1, tzinfo=UTC), "gate", "demo", "s1", "refuse", "budget", {"a": 1})
    assert entity_to_audit(audit_to_entity(record, "audit", "k")) == replace(record, key="k")  # read back with its key
