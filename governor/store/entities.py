"""Entity <-> model mapping and Table Storage's entity limits, checked in code.

Azurite does not enforce the service's limits, so we do: at most 252 custom properties, at
most 1 MiB per entity (the service's own size formula), strings of at most 64 KiB (UTF-16)
and property names that are C# identifiers of at most 255 characters.
Money is always written as Edm.Int64 so a small value and a large one read back alike.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import EdmType, EntityProperty

from governor.core.model import (
    AuditRecord,
    LedgerEntry,
    LedgerState,
    ProjectPolicy,
    RetryPlan,
    SessionStatus,
    SizeFallback,
    VmSize,
)
from governor.core.policy import document as documents
from governor.store.errors import InvalidEntity

MAX_ENTITY_BYTES = 1024 * 1024
MAX_CUSTOM_PROPERTIES = 252
MAX_STRING_BYTES = 64 * 1024
_SYSTEM = ("PartitionKey", "RowKey", "Timestamp")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


# ---------------------------------------------------------------- typed values
def i64(value: int):
    return EntityProperty(int(value), EdmType.INT64)


def plain(value: Any) -> Any:
    """The Python value of a property as read back (Int64 comes back wrapped)."""
    inner = getattr(value, "value", value)
    if isinstance(inner, datetime):
        return datetime.combine(inner.date(), inner.time(), UTC) if inner.tzinfo else inner.replace(tzinfo=UTC)
    return inner


def get(entity: dict, name: str, default: Any = None) -> Any:
    return plain(entity[name]) if name in entity and entity[name] is not None else default


def etag_of(entity: dict) -> str | None:
    metadata = getattr(entity, "metadata", None) or {}
    return metadata.get("etag")


def seconds(value: timedelta) -> int:
    return int(value.total_seconds())


# ---------------------------------------------------------------- limits
def _value_size(value: Any) -> int:
    value = getattr(value, "value", value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return 4 + len(value.encode("utf-16-le"))
    if isinstance(value, bytes | bytearray):
        return 4 + len(value)
    if isinstance(value, int | float | datetime):
        return 8
    return 16  # Guid


def check_entity(entity: dict, what: str = "entity") -> dict:
    """Raise InvalidEntity (naming the property) if Table Storage would refuse `entity`."""
    custom = [name for name in entity if name not in _SYSTEM]
    if len(custom) > MAX_CUSTOM_PROPERTIES:
        raise InvalidEntity(what, f"has {len(custom)} properties; Table Storage allows {MAX_CUSTOM_PROPERTIES}")
    size = 4 + 2 * (len(entity.get("PartitionKey", "")) + len(entity.get("RowKey", "")))
    for name in custom:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidEntity(f"{what}.{str(name)[:64]}", "is not a valid property name")
        value = entity[name]
        inner = getattr(value, "value", value)
        if isinstance(inner, str) and len(inner.encode("utf-16-le")) > MAX_STRING_BYTES:
            raise InvalidEntity(f"{what}.{name}", "is a string over 64 KiB")
        if isinstance(inner, bytes | bytearray) and len(inner) > MAX_STRING_BYTES:
            raise InvalidEntity(f"{what}.{name}", "is binary over 64 KiB")
        size += 8 + 2 * len(name) + _value_size(value)
    if size > MAX_ENTITY_BYTES:
        raise InvalidEntity(what, f"is {size} bytes; Table Storage allows {MAX_ENTITY_BYTES} (1 MiB)")
    return entity


# ---------------------------------------------------------------- JSON blobs split over properties
_CHUNK_CHARS = 30_000  # json.dumps escapes to ASCII, so 60,000 bytes as UTF-16: under 64 KiB


def put_json(entity: dict, name: str, value: Any) -> dict:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    chunks = [text[i : i + _CHUNK_CHARS] for i in range(0, len(text), _CHUNK_CHARS)] or [""]
    entity[f"{name}Parts"] = len(chunks)
    for index, chunk in enumerate(chunks):
        entity[f"{name}{index}"] = chunk
    return entity


def get_json(entity: dict, name: str, default: Any = None) -> Any:
    parts = get(entity, f"{name}Parts")
    if parts is None:
        return default
    return json.loads("".join(get(entity, f"{name}{i}", "") for i in range(parts)))


# ---------------------------------------------------------------- projects
# Every column policy_to_entity writes: reads that need only the policy `select` these (no secrets).
POLICY_COLUMNS = [
    "RowKey",
    "Enabled",
    "Account",
    "AllowedSizes",
    "Rates",
    "Currency",
    "DailyBudget",
    "MonthlyBudget",
    "MaxConcurrent",
    "MaxLeaseSeconds",
    "HardMaxSeconds",
    "ExtensionStepSeconds",
    "ExtensionThresholdSeconds",
    "IdleTimeoutSeconds",
    "DryRun",
    "WebhookUrl",
    "Principals",
    "Schedule",
    "PrincipalLimits",
    "Placement",
    "SizeFallback",
]


def policy_to_entity(policy: ProjectPolicy, partition: str) -> dict:
    entity = {
        "PartitionKey": partition,
        "RowKey": policy.name,
        "Enabled": bool(policy.enabled),
        "Account": policy.account,
        "AllowedSizes": ",".join(sorted(size.value for size in policy.allowed_sizes)),
        "Rates": json.dumps({size.value: int(rate) for size, rate in sorted(policy.rates.items())}),
        "Currency": policy.currency,
        "MaxConcurrent": int(policy.max_concurrent),
        "MaxLeaseSeconds": i64(seconds(policy.max_lease)),
        "HardMaxSeconds": i64(seconds(policy.hard_max_duration)),
        "ExtensionStepSeconds": i64(seconds(policy.extension_step)),
        "ExtensionThresholdSeconds": i64(seconds(policy.extension_threshold)),
        "IdleTimeoutSeconds": i64(seconds(policy.idle_timeout)),
        "DryRun": bool(policy.dry_run),
        "Principals": json.dumps(sorted(policy.principals)),
    }
    if policy.daily_budget is not None:
        entity["DailyBudget"] = i64(policy.daily_budget)
    if policy.monthly_budget is not None:
        entity["MonthlyBudget"] = i64(policy.monthly_budget)
    if policy.webhook_url:
        entity["WebhookUrl"] = policy.webhook_url
    if policy.schedule is not None:
        entity["Schedule"] = json.dumps(documents.schedule_to_document(policy.schedule))
    if policy.principal_limits:
        limits = {p: documents.limits_to_document(lim) for p, lim in sorted(policy.principal_limits.items())}
        entity["PrincipalLimits"] = json.dumps(limits)
    if policy.placement:
        entity["Placement"] = json.dumps(documents.placement_to_document(policy))
    if policy.size_fallback is not SizeFallback.NONE:
        entity["SizeFallback"] = policy.size_fallback.value
    return entity


def entity_to_policy(entity: dict) -> ProjectPolicy:
    schedule, placement = get(entity, "Schedule"), get(entity, "Placement")
    sizes = [s for s in get(entity, "AllowedSizes", "").split(",") if s]
    return ProjectPolicy(
        name=entity["RowKey"],
        enabled=get(entity, "Enabled", True),
        account=get(entity, "Account", "default"),
        allowed_sizes=frozenset(VmSize.parse(s) for s in sizes),
        rates={VmSize.parse(k): int(v) for k, v in json.loads(get(entity, "Rates", "{}")).items()},
        currency=get(entity, "Currency", "USD"),
        daily_budget=get(entity, "DailyBudget"),
        monthly_budget=get(entity, "MonthlyBudget"),
        max_concurrent=get(entity, "MaxConcurrent", 1),
        max_lease=timedelta(seconds=get(entity, "MaxLeaseSeconds", 0)),
        hard_max_duration=timedelta(seconds=get(entity, "HardMaxSeconds", 0)),
        extension_step=timedelta(seconds=get(entity, "ExtensionStepSeconds", 0)),
        extension_threshold=timedelta(seconds=get(entity, "ExtensionThresholdSeconds", 0)),
        idle_timeout=timedelta(seconds=get(entity, "IdleTimeoutSeconds", 0)),
        dry_run=get(entity, "DryRun", False),
        webhook_url=get(entity, "WebhookUrl"),
        principals=frozenset(json.loads(get(entity, "Principals", "[]"))),
        schedule=documents.schedule_from_document(json.loads(schedule)) if schedule else None,
        principal_limits={
            p: documents.limits_from_document(lim)
            for p, lim in json.loads(get(entity, "PrincipalLimits", "{}")).items()
        },
        placement=documents.placement_from_document(json.loads(placement)) if placement else (),
        size_fallback=SizeFallback(get(entity, "SizeFallback", SizeFallback.NONE.value)),
    )


# ---------------------------------------------------------------- ledger entries
def entry_to_entity(entry: LedgerEntry, row_key: str) -> dict:
    entity = {
        "PartitionKey": entry.project,
        "RowKey": row_key,
        "SessionId": entry.session_id,
        "Account": entry.account,
        "Size": entry.size.value,
        "State": entry.state.value,
        "RequestedAt": entry.requested_at.astimezone(UTC),
        "LeaseSeconds": i64(seconds(entry.lease)),
        "Rate": i64(entry.rate),
        "Reserved": i64(entry.reserved),
        "ChargedMinutes": i64(entry.charged_minutes),
        "Charged": i64(entry.charged),
        "Extensions": int(entry.extensions),
        "Adopted": bool(entry.adopted),
    }
    if entry.last_heartbeat is not None:
        entity["LastHeartbeat"] = entry.last_heartbeat.astimezone(UTC)
    if entry.heartbeat_elapsed is not None:
        entity["HeartbeatElapsedSeconds"] = i64(seconds(entry.heartbeat_elapsed))
    if entry.final_status is not None:
        entity["FinalStatus"] = entry.final_status.value
    if entry.caller:
        entity["Caller"] = entry.caller
    if entry.saved_lease:
        entity["SavedLease"] = i64(entry.saved_lease)
    if entry.saved_extension:
        entity["SavedExtension"] = i64(entry.saved_extension)
    if entry.claim:
        entity["Claim"] = True
    if entry.request_hash:
        entity["RequestHash"] = entry.request_hash
    if entry.working_since is not None and entry.state is LedgerState.PENDING:
        entity["WorkingSince"] = entry.working_since.astimezone(UTC)
    if entry.plan is not None:
        put_json(entity, "Plan", plan_to_json(entry.plan))
    return entity


def plan_to_json(plan: RetryPlan) -> dict:
    return {
        "size": plan.size.value,
        "regions": list(plan.regions),
        "autoRetry": plan.auto_retry,
        "models": list(plan.models),
        "idempotencyKey": plan.idempotency_key,
        "attempt": plan.attempt,
        "first": plan.first,
        **({"stopped": True} if plan.stopped else {}),
    }


def plan_from_json(value: dict | None) -> RetryPlan | None:
    if not value:
        return None
    return RetryPlan(
        size=VmSize.parse(value["size"]),
        regions=tuple(value.get("regions", ())),
        auto_retry=bool(value.get("autoRetry")),
        models=tuple(value.get("models", ())),
        idempotency_key=value.get("idempotencyKey"),
        attempt=int(value.get("attempt", 0)),
        first=value.get("first", ""),
        stopped=bool(value.get("stopped")),  # absent on rows written before callers' stops were marked
    )


def _optional_seconds(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def entity_to_entry(entity: dict) -> LedgerEntry:
    final = get(entity, "FinalStatus")
    return LedgerEntry(
        project=entity["PartitionKey"],
        session_id=get(entity, "SessionId"),
        account=get(entity, "Account", "default"),
        size=VmSize.parse(get(entity, "Size", "Standard")),
        state=LedgerState.parse(get(entity, "State")),
        requested_at=get(entity, "RequestedAt"),
        lease=timedelta(seconds=get(entity, "LeaseSeconds", 0)),
        rate=get(entity, "Rate", 0),
        reserved=get(entity, "Reserved", 0),
        charged_minutes=get(entity, "ChargedMinutes", 0),
        charged=get(entity, "Charged", 0),
        last_heartbeat=get(entity, "LastHeartbeat"),
        heartbeat_elapsed=_optional_seconds(get(entity, "HeartbeatElapsedSeconds")),
        extensions=get(entity, "Extensions", 0),
        adopted=get(entity, "Adopted", False),
        final_status=SessionStatus.parse(final) if final else None,
        caller=get(entity, "Caller"),
        saved_lease=get(entity, "SavedLease", 0),
        saved_extension=get(entity, "SavedExtension", 0),
        claim=get(entity, "Claim", False),
        request_hash=get(entity, "RequestHash"),
        working_since=get(entity, "WorkingSince"),
        plan=plan_from_json(get_json(entity, "Plan")),
        etag=etag_of(entity),
    )


# ---------------------------------------------------------------- audit
def audit_to_entity(record: AuditRecord, partition: str, row_key: str) -> dict:
    entity = {
        "PartitionKey": partition,
        "RowKey": row_key,
        "At": record.at.astimezone(UTC),
        "Source": record.source,
        "Project": record.project,
        "SessionId": record.session_id,
        "Action": record.action,
        "Reason": record.reason,
        "DryRun": bool(record.dry_run),
        "Outcome": record.outcome,
    }
    if record.ms_cv:
        entity["MsCv"] = record.ms_cv
    if record.caller:
        entity["Caller"] = record.caller
    return put_json(entity, "Figures", record.figures)


def entity_to_audit(entity: dict) -> AuditRecord:
    return AuditRecord(
        at=get(entity, "At"),
        source=get(entity, "Source", ""),
        project=get(entity, "Project", ""),
        session_id=get(entity, "SessionId", ""),
        action=get(entity, "Action", ""),
        reason=get(entity, "Reason", ""),
        figures=get_json(entity, "Figures", {}),
        dry_run=get(entity, "DryRun", False),
        outcome=get(entity, "Outcome", "ok"),
        ms_cv=get(entity, "MsCv"),
        caller=get(entity, "Caller"),
        key=entity.get("RowKey"),
    )
