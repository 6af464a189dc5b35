"""A real stack for sweep tests: the ARR emulator, Azurite, the Table store and ARR clients.

The test clock follows the emulator's virtual clock: `stack.advance(seconds)` moves both, so
heartbeats, period keys and ARR's elapsed time stay in step while hours pass in seconds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from governor.core.model import LedgerEntry, LedgerState, ProjectPolicy, VmSize, cost_of
from governor.service.sweep import SweepConfig, Sweeper
from governor.settings import load
from tests.fixtures.azurite import azurite_env


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Standard Webhooks form: base64 of 24 bytes
RATE = 3_000_000  # 3.00 an hour: 50_000 micros a minute


def stack_env(emulator, azurite, prefix: str, **extra: str) -> dict[str, str]:
    return {
        **emulator.env(),
        "ARR_RETRY_TOTAL_SECONDS": "3",
        "ARR_HTTP_TIMEOUT_SECONDS": "5",
        **azurite_env(prefix, azurite),
        **extra,
    }


@dataclass
class Stack:
    emulator: object
    store: object
    arr: dict
    env: dict
    now: datetime
    webhooks: object = None
    sweeps: list = field(default_factory=list)

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now = parse_time(self.emulator.advance(seconds))

    def project(self, name: str, **kw) -> ProjectPolicy:
        base = dict(
            name=name,
            rates={VmSize.STANDARD: RATE, VmSize.PREMIUM: 2 * RATE},
            allowed_sizes=frozenset({VmSize.STANDARD, VmSize.PREMIUM}),
            daily_budget=1_000_000_000,
            max_concurrent=50,
            max_lease=timedelta(hours=4),
            hard_max_duration=timedelta(hours=2),
            extension_step=timedelta(minutes=30),
            extension_threshold=timedelta(minutes=10),
            idle_timeout=timedelta(minutes=15),
        )
        base.update(kw)
        policy = ProjectPolicy(**base)
        self.store.put_project(policy, webhook_secret=kw.get("webhook_url") and WEBHOOK_SECRET)
        return policy

    def admit(
        self, policy: ProjectPolicy, lease_minutes: int, size: VmSize = VmSize.STANDARD, caller: str | None = None
    ) -> str:
        """What the gate does (for `caller`, whom the row names): reserve, create under the same id, activate."""
        sid = f"{policy.name}-{uuid.uuid4().hex[:8]}"
        rate = policy.rate(size)
        lease = timedelta(minutes=lease_minutes)
        pending = LedgerEntry(
            policy.name, sid, "default", size, LedgerState.PENDING, self.now, lease, rate=rate, caller=caller
        )
        self.store.reserve(policy.name, pending, lambda snap: cost_of(rate, lease_minutes), self.now)
        session = self.arr["default"].create(size, lease, session_id=sid)
        self.store.activate(policy.name, sid, session)
        return sid

    def heartbeat(self, project: str, sid: str) -> None:
        self.store.heartbeat(project, sid, self.now)

    def sweeper(self, **config) -> Sweeper:
        base = dict(concurrency=4, checkpoint_minutes=1, warn_before=timedelta(minutes=10))
        base.update(config)
        return Sweeper(self.store, self.arr, self.clock, SweepConfig(**base), self.webhooks)

    def sweep(self, **config) -> dict:
        report = self.sweeper(**config).run()
        self.sweeps.append(report)
        return report

    def truth(self) -> dict[str, dict]:
        return {s["id"]: s for s in self.emulator.truth()}

    def audit(self, project: str | None = None) -> list:
        return self.store.recent_audit(limit=1000, project=project)


# Every sweep test starts at this time of day (UTC, virtual): the emulator's clock is real time after
# a reset, and a test that moves it hours on would otherwise cross midnight, and split its day
# figures, only when the suite runs late in the day.
START_OF_TEST = timedelta(hours=1)


def to_start_of_test(emulator) -> datetime:
    now = parse_time(emulator.now())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = (
        midnight + START_OF_TEST if now <= midnight + START_OF_TEST else midnight + timedelta(days=1) + START_OF_TEST
    )
    return parse_time(emulator.advance((start - now).total_seconds()))


@pytest.fixture
def stack(emulator, azurite, table_prefix, store):
    from governor.arr import clients_from_settings

    now = to_start_of_test(emulator)
    env = stack_env(emulator, azurite, table_prefix)
    arr = clients_from_settings(load(env))
    yield Stack(emulator, store, arr, env, now)
    for client in arr.values():
        client.close()
