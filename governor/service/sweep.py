"""The sweep use case: list, join, meter, decide, act, audit, report. Called by the timer and the CLI.

One run: take the sweep lock; list every ARR account once (all pages); join the sessions with
the ledger snapshot; reconcile pending admissions and settle vanished sessions; meter changed
sessions from ARR's own elapsed minutes; decide each session with the pure table in
`governor.policy.sweep`; act with bounded concurrency; write the audit rows, the health row and
one summary log line; then hand the webhooks to their thread pool. Every step is idempotent, so a
run that dies anywhere is repaired by the next one: metering is by checkpoint, extensions are
written to the ledger before ARR and re-applied from it, and stops and closes repeat harmlessly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from governor.model import (
    AuditRecord,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    SessionStatus,
    SweepHealth,
    UnmanagedMode,
    Usage,
    cost_of,
    whole_minutes,
)
from governor.policy import sweep as rules
from governor.policy.sweep import Action, Decision, SweepOptions
from governor.service.ports import ArrPort, Refusal, StorePort

log = logging.getLogger("governor.sweep")

LOCK_NAME = "sweep"
LOCK_TTL = timedelta(minutes=10)  # the Functions timeout: a crashed run's lock lapses by then
CHECKPOINT_MINUTES = 5  # meter a project when one of its sessions has this many uncharged minutes (see _meter)
MAX_ERRORS = 20


@dataclass(frozen=True)
class SweepConfig:
    warn_before: timedelta = timedelta(minutes=10)
    dry_run: bool = False
    unmanaged_mode: UnmanagedMode = UnmanagedMode.REPORT
    unmanaged_project: str | None = None
    concurrency: int = 8
    checkpoint_minutes: int = CHECKPOINT_MINUTES
    lock_ttl: timedelta = LOCK_TTL
    webhook_timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings, dry_run: bool | None = None) -> SweepConfig:
        return cls(
            warn_before=timedelta(minutes=settings.get("GOVERNOR_WARN_BEFORE_MINUTES")),
            dry_run=bool(settings.get("GOVERNOR_DRY_RUN")) if dry_run is None else dry_run,
            unmanaged_mode=UnmanagedMode.parse(settings.get("GOVERNOR_UNMANAGED_MODE")),
            unmanaged_project=settings.get("GOVERNOR_UNMANAGED_PROJECT"),
            concurrency=settings.get("GOVERNOR_SWEEP_CONCURRENCY"),
            webhook_timeout=settings.get("GOVERNOR_WEBHOOK_TIMEOUT_SECONDS"),
        )


@dataclass
class Item:
    """One thing the sweep decided about, and what happened when it acted."""

    project: str
    session_id: str
    account: str
    decision: Decision
    session: Session | None = None
    entry: LedgerEntry | None = None
    policy: ProjectPolicy | None = None
    outcome: str = "ok"
    error: str | None = None
    ms_cv: str | None = None


def _arr_errors():
    from governor.arr.errors import ArrError, ArrNotFound, ArrRequestError

    return ArrError, ArrNotFound, ArrRequestError


class Sweeper:
    def __init__(
        self,
        store: StorePort,
        arr: Mapping[str, ArrPort],
        clock: Callable[[], datetime],
        config: SweepConfig | None = None,
        webhooks=None,
    ):
        self.store = store
        self.arr = dict(arr)
        self.clock = clock
        self.config = config or SweepConfig()
        self.webhooks = webhooks
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @classmethod
    def from_context(cls, context, dry_run: bool | None = None, config: SweepConfig | None = None) -> Sweeper:
        from governor.service.webhooks import default_sender

        config = config or SweepConfig.from_settings(context.settings, dry_run=dry_run)
        return cls(context.store, context.arr, context.clock, config, default_sender(config.webhook_timeout))

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        started = self.clock()
        if not self.store.try_lock(LOCK_NAME, self.owner, self.config.lock_ttl, started):
            report = {"startedAt": started.isoformat(), "skipped": True, "outcome": "skipped"}
            report["reason"] = "another sweep holds the lock"
            log.info(json.dumps({"event": "sweep", **report}))
            return report
        try:
            return self._run(started)
        finally:
            try:
                self.store.release_lock(LOCK_NAME, self.owner)
            except Exception:  # the lock lapses by itself; never fail the sweep on its release
                log.warning("sweep lock release failed; it lapses after %s", self.config.lock_ttl)

    def _run(self, now: datetime) -> dict:
        timer = time.monotonic()
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="sweep") as pool:
            # the three reads are independent: ARR's lists, the ledger snapshot, the last health row
            snapshot_read = pool.submit(self.store.snapshot, now)
            previous_read = pool.submit(self._previous_start)
            live, listed_ok = self._list_all(errors, pool)
            snapshot, previous = snapshot_read.result(), previous_read.result()
            phases = {"read": time.monotonic()}
            window = None if previous is None else _whole_minutes_window(now - previous)
            options = SweepOptions(warn_before=self.config.warn_before, dry_run=self.config.dry_run, window=window)
            entries = {(e.account, e.session_id): e for e in snapshot.open_entries}
            items, managed, to_look_up = self._join(entries, live, listed_ok, now, options)

            items.extend(pool.map(lambda e: self._look_up(e, now, errors), to_look_up))
            items.extend(self._unmanaged(live, entries, snapshot.projects, options))
            usage = self._effective_usage(snapshot, managed)
            burn = self._burn_rates(managed)
            for entry, session in managed:
                policy = snapshot.projects.get(entry.project)
                decision = rules.decide(
                    session, entry, policy, usage[entry.project], now, options, burn.get(entry.project, 0)
                )
                items.append(self._item(entry, decision, session, policy))
            phases["decide"] = time.monotonic()
            metered = self._meter(managed, now, errors, pool)
            phases["meter"] = time.monotonic()
            list(pool.map(lambda item: self._act(item, now), [i for i in items if i.decision.acts]))
            phases["act"] = time.monotonic()

        finished = self.clock()
        self._audit(items, now, errors)
        phases["audit"] = time.monotonic()
        report = self._health(now, finished, items, live, metered, errors, timer, phases).to_row()
        self._record(report)
        self._notify(items, snapshot.projects, now)
        log.info(json.dumps({"event": "sweep", **report}, default=str))
        return report

    def _join(self, entries, live, listed_ok, now, options):
        """Split the ledger's open entries: managed (listed), to look up (vanished or stale pending)."""
        items: list[Item] = []
        managed: list[tuple[LedgerEntry, Session]] = []
        to_look_up: list[LedgerEntry] = []
        for key, entry in entries.items():
            session = live.get(key)
            if entry.account not in listed_ok:
                continue  # account unknown or its list failed: decide nothing about it this run
            if entry.state is LedgerState.PENDING:
                if rules.pending_due(entry, now, options):
                    if session is not None:
                        items.append(self._item(entry, rules.decide_pending(entry, session, now), session))
                    else:
                        to_look_up.append(entry)
            elif session is None:
                to_look_up.append(entry)
            else:
                managed.append((entry, session))
        return items, managed, to_look_up

    def _previous_start(self) -> datetime | None:
        try:
            last = self.store.last_sweep()
        except Exception:
            log.warning("last sweep unreadable; warnings use the full warn window")
            return None
        health = SweepHealth.from_row(last)
        return health.started_at if health else None

    def _list_all(self, errors: list[str], pool) -> tuple[dict[tuple[str, str], Session], set[str]]:
        arr_error, _, _ = _arr_errors()

        def list_one(name: str):
            try:
                return name, self.arr[name].list()
            except arr_error as exc:
                errors.append(f"list {name}: {exc}"[:300])
                return name, None

        live: dict[tuple[str, str], Session] = {}
        listed_ok: set[str] = set()
        for name, sessions in pool.map(list_one, list(self.arr)):
            if sessions is None:
                continue
            listed_ok.add(name)
            for session in sessions:
                if session.status.active:
                    live[(name, session.id)] = session if session.account == name else replace(session, account=name)
        return live, listed_ok

    @staticmethod
    def _item(entry, decision, session=None, policy=None) -> Item:
        return Item(entry.project, entry.session_id, entry.account, decision, session, entry, policy)

    # ------------------------------------------------------------------ join helpers
    def _look_up(self, entry: LedgerEntry, now: datetime, errors: list[str]) -> Item:
        """GET a pending reservation's or a vanished session's id and decide from what ARR says."""
        arr_error, not_found, _ = _arr_errors()
        client = self.arr[entry.account]
        try:
            found = client.get(entry.session_id)
        except not_found:
            found = None
        except arr_error as exc:
            errors.append(f"get {entry.session_id}: {exc}"[:300])
            decision = Decision(Action.LEAVE, "lookup-failed", {"error": exc.code or str(exc.status)})
            return Item(entry.project, entry.session_id, entry.account, decision, None, entry, ms_cv=exc.ms_cv)
        if entry.state is LedgerState.PENDING:
            return self._item(entry, rules.decide_pending(entry, found, now), found)
        return self._item(entry, rules.decide_vanished(entry, found), found)

    def _unmanaged(self, live, entries, projects, options) -> list[Item]:
        adopt_into = projects.get(self.config.unmanaged_project or "")
        items = []
        for key, session in live.items():
            if key in entries:
                continue
            decision = rules.decide_unmanaged(session, self.config.unmanaged_mode, adopt_into, options)
            project = adopt_into.name if decision.action is Action.ADOPT else ""
            items.append(Item(project, session.id, key[0], decision, session))
        return items

    def _effective_usage(self, snapshot, managed) -> dict[str, dict[Period, Usage]]:
        """Usage as if every listed session were metered now (metering itself may be deferred)."""
        spent: Counter[str] = Counter()
        unheld: Counter[str] = Counter()
        for entry, session in managed:
            delta = cost_of(entry.rate, whole_minutes(session.elapsed)) - entry.charged
            if delta > 0:
                spent[entry.project] += delta
                unheld[entry.project] += min(delta, entry.reserved)
        usage: dict[str, dict[Period, Usage]] = defaultdict(dict)
        for name, policy in snapshot.projects.items():
            for period, budget in ((Period.DAY, policy.daily_budget), (Period.MONTH, policy.monthly_budget)):
                stored = snapshot.usage.get((name, period))
                base = stored or Usage(name, period, period.key(snapshot.read_at or self.clock()), budget)
                usage[name][period] = replace(
                    base, budget=budget, spent=base.spent + spent[name], reserved=base.reserved - unheld[name]
                )
        return usage

    @staticmethod
    def _burn_rates(managed) -> dict[str, int]:
        burn: Counter[str] = Counter()
        for entry, session in managed:
            if session.status is SessionStatus.READY:
                burn[entry.project] += entry.rate
        return burn

    # ------------------------------------------------------------------ meter
    def _meter(self, managed, now: datetime, errors: list[str], pool: ThreadPoolExecutor) -> int:
        """Write checkpoints for projects that need them: writes follow changes, not session count.

        A project is metered when one of its sessions has `checkpoint_minutes` uncharged, or near
        the end of the UTC day (so minutes land in the right day). Cost is cost_of(rate, cumulative
        minutes), so deferring a checkpoint never changes a total; decisions meanwhile use usage as
        if metered now, and the gate's `budget - spent - reserved` is the same either way (metering
        moves money from a session's reservation to spent). Projects are metered in parallel.
        """
        near_day_end = (now + timedelta(minutes=self.config.checkpoint_minutes + 1)).date() != now.date()
        per_project: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        due: set[str] = set()
        for entry, session in managed:
            elapsed = whole_minutes(session.elapsed)
            behind = elapsed - entry.charged_minutes
            if behind <= 0:
                continue
            per_project[entry.project].append((entry.project, entry.session_id, elapsed))
            if behind >= self.config.checkpoint_minutes:
                due.add(entry.project)
        batches = [rows for project, rows in per_project.items() if project in due or near_day_end]

        def meter(rows) -> int:
            try:
                return self.store.meter_many(rows, now)
            except Exception as exc:
                errors.append(f"meter {rows[0][0]}: {type(exc).__name__}"[:300])
                log.warning("metering failed; the next sweep charges the same minutes", exc_info=True)
                return 0

        return sum(pool.map(meter, batches))

    # ------------------------------------------------------------------ act
    def _act(self, item: Item, now: datetime) -> None:
        if item.decision.dry_run:
            item.outcome = "skipped"
            return
        arr_error, not_found, request_error = _arr_errors()
        action = item.decision.action
        try:
            if action is Action.STOP:
                self._stop(item, now, not_found)
            elif action is Action.EXTEND:
                self._extend(item, now, request_error)
            elif action is Action.ADOPT:
                self.store.adopt(item.project, item.session, now)
            elif action is Action.CLOSE:
                final = item.decision.figures.get("final_minutes", item.entry.charged_minutes)
                status = item.session.status.value if item.session else SessionStatus.STOPPED.value
                self.store.close(item.project, item.session_id, final, status, now)
            elif action is Action.ACTIVATE:
                self.store.activate(item.project, item.session_id, item.session)
            elif action is Action.RELEASE:
                self.store.release(item.project, item.session_id, now)
        except Refusal as exc:
            item.outcome, item.error = "skipped", exc.reason
        except arr_error as exc:
            item.outcome, item.error, item.ms_cv = "failed", exc.code or f"http-{exc.status}", exc.ms_cv
        except Exception as exc:  # a store failure: recorded, retried by the next sweep
            item.outcome, item.error = "failed", type(exc).__name__

    def _stop(self, item: Item, now: datetime, not_found) -> None:
        client = self.arr[item.account]
        with contextlib.suppress(not_found):  # already gone: the stop is done
            client.stop(item.session_id)
        if item.entry is None:
            return  # unmanaged: nothing to settle
        try:
            final = client.get(item.session_id)
        except Exception:
            return  # settled by the next sweep, which sees the session gone
        if not final.status.active:
            self.store.close(item.project, item.session_id, whole_minutes(final.elapsed), final.status.value, now)

    def _extend(self, item: Item, now: datetime, request_error) -> None:
        client = self.arr[item.account]
        target = item.decision.new_lease
        if item.decision.reserve:
            target = self._reserve_extension(item, now)
        try:
            applied = client.update_lease(item.session_id, target)
        except request_error:
            applied = client.get(item.session_id)  # 422: ARR may already hold this lease or more
            if rules.ceil_minutes(applied.max_lease) < rules.ceil_minutes(target):
                # ARR refuses this lease for good: give the reservation back rather than retry forever
                revert = getattr(self.store, "revert_extension", None)  # optional in the port's first version
                if revert is not None:
                    revert(item.project, item.session_id, applied.max_lease, now)
                raise
        item.decision.figures["applied_lease_minutes"] = rules.minutes(applied.max_lease)

    def _reserve_extension(self, item: Item, now: datetime) -> timedelta:
        session, policy = item.session, item.policy

        def decide(entry: LedgerEntry, usage: dict[Period, Usage]) -> timedelta:
            target = rules.extension_target(session, policy)
            current = max(entry.lease, session.max_lease)
            if target <= current:
                return entry.lease  # already extended (another sweep or the gate): reserve nothing more
            short = rules.budget_covers(usage, rules.extension_cost(entry.rate, current, target))
            if short is not None:
                raise Refusal("extension-refused-budget", f"the {short.value} budget does not cover the step")
            return target

        entry, _ = self.store.extend(item.project, item.session_id, decide, now)
        return entry.lease

    # ------------------------------------------------------------------ record
    def _health(self, started, finished, items, live, metered, errors, timer, phases) -> SweepHealth:
        counts = Counter(i.decision.action.value for i in items)
        failed = [i for i in items if i.outcome == "failed"]
        for item in failed[:MAX_ERRORS]:
            errors.append(f"{item.decision.action.value} {item.session_id}: {item.error}")
        return SweepHealth(
            started_at=started,
            finished_at=finished,
            outcome="errors" if errors or failed else "ok",
            counts=dict(sorted(counts.items())),
            failed=len(failed),
            metered=metered,
            errors=tuple(errors[:MAX_ERRORS]),
            phases_ms=_phases(timer, phases),
            duration_ms=round((time.monotonic() - timer) * 1000),
            dry_run=self.config.dry_run,
            sessions=len(live),
            decisions=len(items),
            owner=self.owner,
        )

    def _audit(self, items: list[Item], now: datetime, errors: list[str]) -> None:
        records = []
        for item in items:
            decision = item.decision
            if decision.action is Action.LEAVE and decision.reason != "lookup-failed":
                continue
            figures = dict(decision.figures)
            if item.error:
                figures["error"] = item.error
            common = {"at": now, "source": "sweep", "project": item.project, "session_id": item.session_id}
            common["dry_run"] = decision.dry_run
            records.append(
                AuditRecord(
                    **common,
                    action=decision.action.value,
                    reason=decision.reason,
                    figures=figures,
                    outcome=item.outcome,
                    ms_cv=item.ms_cv,
                )
            )
            if decision.warning:
                records.append(AuditRecord(**common, action="warn", reason=decision.warning, figures=figures))
        if not records:
            return
        try:
            self.store.append_audit(records)
        except Exception as exc:
            errors.append(f"audit: {type(exc).__name__}")
            log.warning("audit write failed (%s); decisions are in the sweep log", type(exc).__name__)

    def _record(self, report: dict) -> None:
        try:
            self.store.record_sweep(report)
        except Exception as exc:
            log.warning("health row write failed: %s", type(exc).__name__)

    def _notify(self, items: list[Item], projects: dict[str, ProjectPolicy], now: datetime) -> None:
        if self.webhooks is None:
            return
        secrets: dict[str, str | None] = {}
        for item in items:
            policy = projects.get(item.project)
            if policy is None or not policy.webhook_url:
                continue
            events = []
            done = item.outcome == "ok" or item.decision.dry_run
            if item.decision.event and (done or item.decision.event in ("warn", "refused")):
                events.append((item.decision.event, item.decision.reason))
            if item.decision.warning:
                events.append(("warn", item.decision.warning))
            for event, reason in events:
                if item.project not in secrets:
                    secrets[item.project] = self._secret(item.project)
                payload = {
                    "event": event,
                    "project": item.project,
                    "sessionId": item.session_id,
                    "reason": reason,
                    "figures": item.decision.figures,
                    "dryRun": item.decision.dry_run,
                    "outcome": item.outcome,
                    "at": now.isoformat(),
                }
                self.webhooks.send(policy.webhook_url, secrets[item.project], payload)

    def _secret(self, project: str) -> str | None:
        try:
            return self.store.webhook_secret(project)
        except Exception:
            return None


def _phases(start: float, marks: dict[str, float]) -> dict[str, int]:
    spans, previous = {}, start
    for name, at in marks.items():
        spans[name] = round((at - previous) * 1000)
        previous = at
    return spans


def _whole_minutes_window(gap: timedelta) -> timedelta:
    """ARR reports elapsed time in whole minutes, so a 60.3 s gap between sweeps is one minute:
    otherwise a warning point could fall in two consecutive windows and be sent twice."""
    return timedelta(minutes=max(round(gap.total_seconds() / 60), 1))


def run_sweep(context, dry_run: bool | None = None, config: SweepConfig | None = None) -> dict:
    """The one entry point the timer and the CLI share."""
    return Sweeper.from_context(context, dry_run=dry_run, config=config).run()
