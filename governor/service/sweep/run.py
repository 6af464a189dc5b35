"""The sweep use case: list, join, meter, decide, act, audit, report. Called by the timer and the CLI.

One run: take the sweep lock; list every ARR account once (all pages); join the sessions with
the ledger snapshot; reconcile pending admissions and settle vanished sessions; meter changed
sessions from ARR's own elapsed minutes; decide each session with the pure table in
`governor.core.policy.sweep`; act with bounded concurrency; record what refusals saved; write the
audit rows and the health row; hand the webhooks to their thread pool; and tell telemetry
(`observe`: logs with dimensions, metrics; the pass is one span). Every step is idempotent, so a
run that dies anywhere is repaired by the next one: metering is by checkpoint, extensions are
written to the ledger before ARR and re-applied from it, and stops and closes repeat harmlessly.

This module orchestrates; the steps live beside it: `reconcile` (list and join), `meter` (usage and
checkpoints), `act`, `record` (audit, savings, webhooks), `capacity` (autoRetry's next attempts) and
`observe`. Every decision is made by the pure rules in `governor.core.policy` (`sweep`,
`sweep_reconcile`, `sweep_steps`); the steps gather facts and carry decisions out.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from governor import telemetry
from governor.core.model import SweepHealth, UnmanagedMode
from governor.core.policy import sweep as rules
from governor.core.policy import sweep_steps as steps
from governor.service.health import sweep_interval
from governor.service.ports import ArrPort, SweepStore
from governor.service.sweep import meter as metering
from governor.service.sweep import observe, reconcile
from governor.service.sweep.act import act
from governor.service.sweep.capacity import settle_capacity_failures
from governor.service.sweep.items import item_for
from governor.service.sweep.observe import SWEEP_NAMESPACE
from governor.service.sweep.record import complete_unfinished, notify, record_refusals, write_audit, write_intents
from governor.service.webhooks import default_sender

log = logging.getLogger("governor.sweep")

LOCK_NAME = "sweep"
LOCK_TTL = timedelta(minutes=10)  # the Functions timeout: a crashed run's lock lapses by then
CHECKPOINT_MINUTES = 5  # meter a project when one of its sessions has this many uncharged minutes (see meter)
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
    webhook_loopback_http: bool = False  # local development only: deliver to http://127.0.0.1
    # ARR seconds per governor second (GOVERNOR_ARR_TIME_SCALE; the emulator's locally) and the
    # timer's schedule: the warning window is the gap between sweeps measured on ARR's clock.
    arr_time_scale: float = 1.0
    schedule: str | None = None
    capacity_window: timedelta = timedelta(minutes=10)  # GOVERNOR_CAPACITY_WINDOW_MINUTES

    @classmethod
    def from_settings(cls, settings, dry_run: bool | None = None) -> SweepConfig:
        return cls(
            arr_time_scale=settings.get("GOVERNOR_ARR_TIME_SCALE"),
            schedule=settings.get("GOVERNOR_SWEEP_SCHEDULE"),
            warn_before=timedelta(minutes=settings.get("GOVERNOR_WARN_BEFORE_MINUTES")),
            dry_run=bool(settings.get("GOVERNOR_DRY_RUN")) if dry_run is None else dry_run,
            unmanaged_mode=UnmanagedMode.parse(settings.get("GOVERNOR_UNMANAGED_MODE")),
            unmanaged_project=settings.get("GOVERNOR_UNMANAGED_PROJECT"),
            concurrency=settings.get("GOVERNOR_SWEEP_CONCURRENCY"),
            webhook_timeout=settings.get("GOVERNOR_WEBHOOK_TIMEOUT_SECONDS"),
            webhook_loopback_http=settings.get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"),
            capacity_window=timedelta(minutes=settings.get("GOVERNOR_CAPACITY_WINDOW_MINUTES")),
        )


class Sweeper:
    def __init__(
        self,
        store: SweepStore,
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
        config = config or SweepConfig.from_settings(context.settings, dry_run=dry_run)
        sender = default_sender(config.webhook_timeout, config.webhook_loopback_http)
        return cls(context.store, context.arr, context.clock, config, sender)

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        with telemetry.span("sweep", **{"governor.dry_run": self.config.dry_run}) as span:
            report = self._locked_run()
            summary = {key: report.get(key) for key in ("outcome", "sessions", "decisions", "failed", "metered")}
            for name, value in telemetry.attributes(SWEEP_NAMESPACE, **summary).items():
                span.set(name, value)
            return report

    def _locked_run(self) -> dict:
        started = self.clock()
        if not self.store.try_lock(LOCK_NAME, self.owner, self.config.lock_ttl, started):
            report = {"startedAt": started.isoformat(), "skipped": True, "outcome": "skipped"}
            report["reason"] = "another sweep holds the lock"
            log.info("sweep skipped: another sweep holds the lock", extra=telemetry.dimensions(outcome="skipped"))
            telemetry.add(telemetry.SWEEPS, outcome="skipped", dry_run=self.config.dry_run)
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
        charged: Counter[str] = Counter()
        with telemetry.ContextPool(max_workers=self.config.concurrency, thread_name_prefix="sweep") as pool:
            previous_read = pool.submit(self._previous)
            # ARR's lists first, then the ledger: a session is reserved before ARR makes it, so every
            # session a list shows has its row in a snapshot read after. Read side by side, an
            # admission landing while a (slow) list is on its way looked unmanaged: stopped, or
            # adopted into a second row and charged twice.
            live, listed_ok = reconcile.list_all(self.arr, errors, pool)
            # ARR counted its minutes when it answered, which may be after midnight even though the
            # sweep started before it (a slow or throttled list): metering splits the day there
            listed_at = self.clock()
            snapshot, last = self.store.snapshot(now), previous_read.result()
            previous = None if last is None else last.started_at
            phases = {"read": time.monotonic()}
            config = self.config
            interval = None if config.schedule is None else sweep_interval(config.schedule, now)
            seen = None if last is None or last.inside is None else frozenset(last.inside)
            options = rules.sweep_options(
                config.warn_before, config.dry_run, now, previous, interval, config.arr_time_scale, seen
            )
            entries = {(e.account, e.session_id): e for e in snapshot.open_entries}
            v1 = {name for name, client in self.arr.items() if not client.ids_are_ours}
            items, managed, to_look_up, claims = reconcile.join(entries, live, listed_ok, now, options, v1)

            items.extend(pool.map(lambda e: reconcile.look_up(self.arr[e.account], e, now, errors), to_look_up))
            unmanaged = (self.config.unmanaged_mode, self.config.unmanaged_project)
            items.extend(
                reconcile.unowned(self.store, live, entries, claims, snapshot.projects, options, unmanaged, now, errors)
            )
            usage = metering.effective_usage(snapshot, managed, self.clock)
            burn = metering.burn_rates(managed)
            figures = snapshot.caller_figures()
            decided: dict[tuple[str, str], frozenset[str]] = {}  # the horizons each managed session is inside
            for entry, session in managed:
                policy = snapshot.projects.get(entry.project)
                caller = rules.caller_of(entry, policy, snapshot, figures)
                decision = rules.decide(
                    session, entry, policy, usage[entry.project], now, options, burn.get(entry.project, 0), caller
                )
                items.append(item_for(entry, decision, session, policy))
                decided[(entry.account, session.id)] = decision.inside
            inside = rules.recorded_horizons(decided, options.seen, entries)
            if inside is None:
                log.warning("over %d warning horizons: the next sweep judges by its gap", rules.MAX_RECORDED)
            phases["decide"] = time.monotonic()
            metered = metering.meter(
                self.store, managed, listed_at, errors, pool, config.checkpoint_minutes, charged, config.arr_time_scale
            )
            phases["meter"] = time.monotonic()
            write_intents(self.store, items, now, errors)
            acting = [i for i in items if i.decision.acts]
            list(pool.map(lambda item: act(self.store, self.arr, item, now, config.arr_time_scale, self.clock), acting))
            record_refusals(self.store, items, now, errors)
            settle_capacity_failures(
                self.store,
                self.arr,
                self.clock,
                items,
                snapshot.projects,
                self.config.capacity_window,
                self.config.dry_run,
                self._notify,
                errors,
                config.arr_time_scale,
            )
            phases["act"] = time.monotonic()

        finished = self.clock()
        write_audit(self.store, items, now, errors)
        since = steps.unfinished_since(previous, now, self.config.lock_ttl)
        own = {item.audit_key for item in items if item.audit_key}
        complete_unfinished(self.store, since, live, entries, own, now, errors)
        phases["audit"] = time.monotonic()
        report = self._health(now, finished, items, live, metered, errors, timer, phases, inside).to_row()
        self._record(report)
        notify(self.store, self.webhooks, items, snapshot.projects, now)
        observe.sweep_finished(report, items, snapshot, usage, charged)
        return report

    def _notify(self, policy, payload: dict) -> None:
        """A placement or capacity event of a next attempt the sweep started, through its sender."""
        if self.webhooks is not None:
            self.webhooks.send(policy.webhook_url, self.store.webhook_secret(policy.name), payload)

    def _previous(self) -> SweepHealth | None:
        try:
            last = self.store.last_sweep()
        except Exception:
            log.warning("last sweep unreadable; warnings use the full warn window")
            return None
        return SweepHealth.from_row(last)

    # ------------------------------------------------------------------ record
    def _health(self, started, finished, items, live, metered, errors, timer, phases, inside) -> SweepHealth:
        counts = Counter(i.decision.action.value for i in items)
        failed = [i for i in items if i.outcome == "failed"]
        for item in failed[:MAX_ERRORS]:
            errors.append(f"{item.decision.action.value} {item.session_id}: {item.error}")
        return SweepHealth(
            started_at=started,
            finished_at=finished,
            outcome=steps.health_outcome(len(errors), len(failed)),
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
            inside=inside,
        )

    def _record(self, report: dict) -> None:
        try:
            self.store.record_sweep(report)
        except Exception as exc:
            log.warning("health row write failed: %s", type(exc).__name__)


def _phases(start: float, marks: dict[str, float]) -> dict[str, int]:
    spans, previous = {}, start
    for name, at in marks.items():
        spans[name] = round((at - previous) * 1000)
        previous = at
    return spans
