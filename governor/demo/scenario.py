"""The demo's story, driven through the HTTP API only: the manage routes (master key), the gate
(function key + each project's caller key) and, for the one session started behind the gate's
back, ARR's own session API. ARR time runs x60 (one real second is one ARR minute) and the sweep
timer fires on its own; what the sweep decided is read back from the audit table for the timeline,
and every project's signed webhooks (warn, stop, extend, refused, placement, capacity) go to the
demo's own receiver.

studio (USD)  A: Premium, heartbeats            -> extended by the sweep, then stopped by its client
              B: Standard, no heartbeat         -> stopped for idleness
lab (EUR)     C: Standard, heartbeats           -> stopped when lab's budget runs out
              X: refused by the gate (402): costs more than lab has left
ARR directly  U: Standard, 2 h, not via the gate -> found by the sweep, adopted into lab, stopped with C
              A's app waits for Ready and connects through the client library: a token that cannot
              start sessions; its headset connects, a second device is refused
night (USD)   K: Standard, via the key lobby-kiosk (at most 1 session) -> stopped at closing time
              K2: the same key again -> refused by the gate (429): the key's limit, not the project's
review (USD)  H: Standard, heartbeats, a 30-minute hard cap -> extended up to the cap, warned before it,
                 refused more time at it (a `refused` webhook), then stopped by its app
school (USD)  S1-S4: a class, Standard with autoRetry, placement westeurope then japaneast; westeurope
                 has 2 servers -> 2 start there, ARR ends the others for want of servers (`capacity`),
                 and they land in japaneast (`placement`); see classroom.py
"""

from __future__ import annotations

import copy
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from governor_client import GovernorClient, GovernorError

from governor.core.model import whole_minutes
from governor.demo import classroom, narrate, webhooks
from governor.emulator import DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY
from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY

HEARTBEAT_SECONDS = 2.0
STALL_SECONDS = 60.0  # give up when no expected outcome happened for this long (night's closing aside)
DEADLINE_SECONDS = 600.0  # ... or after this long in all (0: no limit)
ADOPT_INTO = "lab"
ARR_API = "api-version=2021-01-01"

PROJECTS: dict[str, dict[str, Any]] = {
    "studio": {
        "allowedSizes": ["Standard", "Premium"],
        "currency": "USD",
        "rates": {"Standard": "3.00", "Premium": "12.00"},
        "budget": {"daily": "30.00", "monthly": "400.00"},
        "maxConcurrent": 3,
        "maxLeaseMinutes": 60,
        "hardMaxMinutes": 180,
        "extensionStepMinutes": 30,
        "extensionThresholdMinutes": 15,
        "idleTimeoutMinutes": 15,
    },
    "lab": {
        "allowedSizes": ["Standard"],
        "currency": "EUR",
        "rates": {"Standard": "6.00"},
        "budget": {"daily": "5.00"},
        "maxConcurrent": 3,
        "maxLeaseMinutes": 45,
        "hardMaxMinutes": 90,
        "extensionStepMinutes": 15,
        "extensionThresholdMinutes": 5,
        "idleTimeoutMinutes": 10,
    },
    "night": {
        "allowedSizes": ["Standard"],
        "currency": "USD",
        "rates": {"Standard": "3.00"},
        "budget": {"daily": "20.00"},
        "maxConcurrent": 3,
        "maxLeaseMinutes": 120,
        "hardMaxMinutes": 240,
        "extensionStepMinutes": 30,
        "extensionThresholdMinutes": 10,
        "idleTimeoutMinutes": 15,
    },
    "review": {
        "allowedSizes": ["Standard"],
        "currency": "USD",
        "rates": {"Standard": "3.00"},
        "budget": {"daily": "20.00"},
        "maxConcurrent": 1,
        "maxLeaseMinutes": 30,
        "hardMaxMinutes": 30,
        "extensionStepMinutes": 15,
        "extensionThresholdMinutes": 10,
        "idleTimeoutMinutes": 15,
    },
    classroom.PROJECT: classroom.POLICY,
}
KIOSK_NAME = "lobby-kiosk"  # a named key of night with its own limit
KIOSK = {"name": KIOSK_NAME, "maxConcurrent": 1}
CLOSING_AFTER_SECONDS = 30  # night closes at the first whole minute (governor's clock) at least this far off
# Budgets are per UTC day of the governor's clock and the demo plays in 40-100 s: it starts only with
# at least this long left of the day, or waits for the next one (Demo.within_one_day).
ONE_DAY_SECONDS = 120.0
PERIOD_FIELD = {"day": "daily", "month": "monthly"}
# Leases asked for, in minutes. Each ends well after the sweep's decision about it is due (minutes
# of margin = real seconds at x60), so a slow box still sees the decision, not an ARR expiry.
LEASES = {"A": 25, "B": 30, "C": 40, "X": 20, "U": 120, "K": 120, "K2": 30, "H": 25}
LEASES.update(dict.fromkeys(classroom.LABELS, 30))


@dataclass
class Target:
    """Where the governor runs: its /api base URL, the ARR emulator, and its store (read-only here)."""

    base: str
    emulator: str
    store: Any
    tables: str = field(default="", repr=False)  # the store's connection string (Azurite's public dev key)


@dataclass
class Outcomes:
    refused_budget: bool = False
    extended: bool = False
    kept_past_lease: bool = False
    idle_stop: bool = False
    budget_stop: bool = False
    unmanaged_handled: bool = False
    stopped_by_client: bool = False
    refused_key: bool = False
    closing_stop: bool = False
    connected: bool = False
    hard_cap: bool = False
    webhooks: bool = False
    next_region: bool = False

    LABELS = {
        "refused_budget": "a request refused by the gate for budget (402)",
        "extended": "a session kept alive by heartbeats and extended by the sweep",
        "kept_past_lease": "that session ran past the lease it was admitted with",
        "idle_stop": "a session stopped for idleness",
        "budget_stop": "a gated session stopped when its project's budget ran out",
        "unmanaged_handled": "an unmanaged session found and handled (adopted, then governed)",
        "stopped_by_client": "the extended session stopped by its client and settled",
        "refused_key": "a request refused for its key's own limit (429) while the project had room",
        "closing_stop": "a session stopped by the sweep at the project's closing time",
        "connected": "an app connected to its Ready session with a token that cannot start sessions, one device",
        "hard_cap": "a session extended up to its hard cap, warned before the cap and refused more time at it",
        "webhooks": "signed webhooks of every kind received and verified: warn, stop, extend, refused",
        "next_region": "a region ran out of servers and the class landed in the next one, told by signed webhooks, "
        "with no error seen by its clients",
    }

    @property
    def missing(self) -> list[str]:
        return [label for name, label in self.LABELS.items() if not getattr(self, name)]


@dataclass
class Demo:
    target: Target
    out: Any = sys.stdout
    deadline_seconds: float = DEADLINE_SECONDS
    stall_seconds: float = STALL_SECONDS
    keys: dict[str, str] = field(default_factory=dict, repr=False)  # caller keys: never printed
    ids: dict[str, str] = field(default_factory=dict)  # label -> session id
    projects: dict[str, str] = field(default_factory=dict)  # label -> project
    leases: dict[str, int] = field(default_factory=dict)  # label -> lease asked for, minutes
    asked_with: dict[str, str] = field(
        default_factory=dict
    )  # label -> the named key that asked (a key acts on its own)
    refusal: dict | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
    warned: set = field(default_factory=set)
    decided: dict = field(default_factory=dict)  # label -> {(action, reason)} the sweep audited
    hooks: webhooks.Receiver | None = None
    hook_kinds: set = field(default_factory=set)  # webhook kinds shown in the timeline
    closes_at: float | None = None  # night's closing time (time.monotonic()): its stop cannot come sooner
    attempts: dict = field(default_factory=dict)  # next attempt's session id -> the label whose id leads to it
    classroom: classroom.Classroom = field(default_factory=classroom.Classroom)

    def __post_init__(self):
        self.http = requests.Session()
        self.started = time.monotonic()
        self.arr_start = self._arr_now()
        if self.hooks is None:
            self.hooks = webhooks.Receiver().__enter__()

    @property
    def receiver(self) -> webhooks.Receiver:
        assert self.hooks is not None  # __post_init__ starts one when none was given
        return self.hooks

    def close(self) -> None:
        if self.hooks is not None:
            self.hooks.__exit__(None, None, None)

    # ------------------------------------------------------------ timeline
    def _arr_now(self) -> datetime:
        now = self.http.get(f"{self.target.emulator}/_emulator/clock", timeout=10).json()["now"]
        return datetime.fromisoformat(now.replace("Z", "+00:00"))

    def say(self, actor: str, event: str, figures: str = "") -> None:
        minutes = whole_minutes(self._arr_now() - self.arr_start)
        wall = time.monotonic() - self.started
        line = f"{wall:5.1f}s  {minutes // 60}:{minutes % 60:02d}  {actor:<8}  {event}"
        print(f"{line}  [{figures}]" if figures else line, file=self.out, flush=True)

    def label_of(self, session_id: str) -> str | None:
        found = next((label for label, sid in self.ids.items() if sid == session_id), None)
        return found or self.attempts.get(session_id)

    # ------------------------------------------------------------ HTTP
    def manage(self, method: str, path: str, body: dict | None = None):
        headers = {"x-functions-key": DEV_MASTER_KEY}
        return self.http.request(method, f"{self.target.base}/{path}", headers=headers, json=body, timeout=30)

    def gate(self, method: str, project: str, path: str = "", body: dict | None = None, key: str | None = None):
        """`key`: a named key's label in `keys` (default: the project's own key)."""
        headers = {"x-functions-key": DEV_FUNCTION_KEY, "X-Api-Key": self.keys[key or project]}
        url = f"{self.target.base}/projects/{project}/{path}".rstrip("/")
        return self.http.request(method, url, headers=headers, json=body, timeout=30)

    def arr_truth(self) -> dict[str, dict]:
        listed = self.http.get(f"{self.target.emulator}/_emulator/sessions", timeout=10).json()["sessions"]
        return {s["id"]: s for s in listed}

    def _arr(self, method: str, path: str, body: dict | None = None):
        base = f"{self.target.emulator}/accounts/{DEV_ACCOUNT_ID}"
        auth = {"Authorization": f"Bearer {DEV_ACCOUNT_ID}:{DEV_ACCOUNT_KEY}"}
        token = self.http.get(f"{base}/token", headers=auth, timeout=10).json()["AccessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        return self.http.request(method, f"{base}/{path}?{ARR_API}", headers=headers, json=body, timeout=10)

    # ------------------------------------------------------------ steps
    def create_projects(self) -> None:
        for name, policy in PROJECTS.items():
            # every project's webhooks go to the demo's receiver, signed with a secret of this run
            document = {**policy, "webhookUrl": self.receiver.url(name), "webhookSecret": self.receiver.secret(name)}
            created = self.manage("PUT", f"manage/projects/{name}", document)
            created.raise_for_status()
            # the demo is its projects' operator: its own key may act on every session of the project
            body = {"revokeOthers": True, "scope": "project"}
            rotated = self.manage("POST", f"manage/projects/{name}/keys", body)
            rotated.raise_for_status()
            self.keys[name] = rotated.json()["key"]
            verb = "creates" if created.status_code == 201 else "replaces"
            self.say("admin", f"{verb} project {name}; rotates its caller key", narrate.policy_figures(document))
            self._fresh_start(name, document)
        self.manage("DELETE", f"manage/projects/night/keys/{KIOSK_NAME}")  # left by an earlier run, if any
        added = self.manage("POST", "manage/projects/night/keys", KIOSK)
        added.raise_for_status()
        self.keys[KIOSK_NAME] = added.json()["key"]
        self.say("admin", f"adds the key {KIOSK_NAME} to night", f"at most {KIOSK['maxConcurrent']} session at once")

    def within_one_day(self) -> None:
        """Budgets are per UTC day of the governor's (real) clock, and the story needs one: lab's C is
        admitted with 4.00 of its 5.00 a day and stopped once C and U used the day's 5.00, which a
        midnight in between renews (the new day has its own 5.00, and C runs out its lease instead).
        With less than ONE_DAY_SECONDS of the day left, the demo waits for the next day."""
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        left = (midnight - now).total_seconds()
        if left >= ONE_DAY_SECONDS:
            return
        self.say("demo", f"waits {left:.0f} s for UTC midnight", "budgets are per UTC day; the story plays within one")
        while datetime.now(UTC) < midnight:
            time.sleep(min(1.0, max((midnight - datetime.now(UTC)).total_seconds(), 0.01)))
        self.started, self.arr_start = time.monotonic(), self._arr_now()  # the timeline starts with the day

    def set_closing(self) -> None:
        """Give night working hours that end at the next whole minute at least CLOSING_AFTER_SECONDS off.
        Working hours run on the governor's clock (real time), not ARR's x60 one."""
        now = datetime.now(UTC)
        closes = (now + timedelta(seconds=CLOSING_AFTER_SECONDS + 59)).replace(second=0, microsecond=0)
        opened = closes - timedelta(hours=2)
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opened.weekday()]
        window = f"{opened:%H:%M}-{closes:%H:%M}"
        schedule = {"timeZone": "UTC", "hours": {weekday: [window]}, "closing": "stop", "warnBeforeMinutes": 1}
        document = self.manage("GET", "manage/projects/night").json()
        self.manage("PUT", "manage/projects/night", {**document, "schedule": schedule}).raise_for_status()
        seconds = (closes - now).total_seconds()
        self.closes_at = time.monotonic() + seconds
        self.say("admin", f"sets night's working hours: {weekday} {window} UTC", f"closes in {seconds:.0f} s; stop")

    def _fresh_start(self, name: str, document: dict) -> None:
        """On a stack that ran the demo before: stop what is left open and lift the budgets by the
        money already used, so the story plays the same (a fresh stack has nothing to undo)."""
        listed = self.gate("GET", name, "sessions").json().get("sessions", [])
        for session in listed:
            self.gate("DELETE", name, f"sessions/{session['sessionId']}")
        usage = self.gate("GET", name, "usage").json()
        raised = copy.deepcopy(document)
        used = {}
        for period in usage.get("periods", []):
            key = PERIOD_FIELD.get(period.get("period"))
            spent = Decimal(period.get("spent") or 0) + Decimal(period.get("reserved") or 0)
            if key in raised["budget"] and spent > 0:
                raised["budget"][key] = str(Decimal(raised["budget"][key]) + spent)
                used[period["period"]] = spent
        if listed or used:
            self.manage("PUT", f"manage/projects/{name}", raised).raise_for_status()
            figures = ", ".join(f"{period} +{narrate.money(v)}" for period, v in used.items())
            self.say(
                "admin", f"{name} ran before: stops {len(listed)} left open, lifts budgets by what was used", figures
            )

    def request(
        self, project: str, size: str, minutes: int, label: str, key: str | None = None, extra: dict | None = None
    ) -> str | None:
        """`extra`: more of the request's body (`regions`, `autoRetry`); the answer then names the region."""
        extra = extra or {}
        response = self.gate("POST", project, "sessions", {"size": size, "maxLeaseTime": minutes, **extra}, key)
        asked = f"asks for {size} x {minutes} min" + (f" with the key {key}" if key else "")
        asked += f" in {' or '.join(extra['regions'])}" if extra.get("regions") else ""
        asked += ", autoRetry" if extra.get("autoRetry") else ""
        body = response.json()
        if response.status_code == 202:
            self.ids[label], self.projects[label], self.leases[label] = body["sessionId"], project, minutes
            if key:
                self.asked_with[label] = key
            currency = body.get("currency", "")
            reserved, left = narrate.money(body["reservedCost"]), narrate.money(body["remainingBudget"])
            where = f" in {body.get('account')}" if extra.get("regions") else ""
            figures = f"reserved {reserved} {currency}, {left} left"
            self.say(project, f"{asked} -> 202 admitted as {label}{where}", figures)
            return body["sessionId"]
        reason = str(body.get("type", "")).rsplit(":", 1)[-1]
        self.say(project, f"{asked} -> {response.status_code} {reason}", body.get("detail", ""))
        if response.status_code == 402:
            self.refusal = {"status": response.status_code, **body}
            self.outcomes.refused_budget = True
        if response.status_code == 429 and body.get("limit") == "caller":
            self.outcomes.refused_key = True
        return None

    def start_unmanaged(self, label: str, minutes: int) -> None:
        session_id = f"unmanaged-{secrets.token_hex(3)}"
        response = self._arr("PUT", f"sessions/{session_id}", {"maxLeaseTimeMinutes": minutes, "size": "Standard"})
        if response.status_code not in (200, 201):
            self.say("someone", f"could not start a session on ARR: {response.status_code}")
            return
        self.ids[label], self.leases[label] = session_id, minutes
        self.say("someone", f"starts {label} directly with ARR's API, not through the gate", f"Standard, {minutes} min")

    def connect(self, label: str) -> None:
        """The app of `label`, as a client app would: the client library waits for Ready and gets
        the connect bundle; the headset connects with its token (the emulator's stand-in for ARR's
        runtime handshake), and a second device is refused."""
        project, session_id = self.projects[label], self.ids[label]
        app = GovernorClient(self.target.base, self.keys[project], project, function_key=DEV_FUNCTION_KEY)
        try:
            bundle = app.connect(session_id, ready_timeout=60)
        except GovernorError as exc:
            self.say(project, f"{label}'s app cannot connect -> {exc.status} {exc.reason}")
            return
        figures = f"token from {bundle.connect_auth}, can start sessions: {bundle.can_start_sessions}"
        self.say(project, f"{label} is Ready; its app connects -> 200 {bundle.hostname}", figures)
        handshake = f"{self.target.emulator}/_emulator/sessions/{session_id}/connect"
        devices = {}
        for device in ("headset", "tablet"):
            headers = {"Authorization": f"Bearer {bundle.access_token}"} if bundle.access_token else {}
            devices[device] = self.http.post(handshake, json={"device": device}, headers=headers, timeout=10)
        self.say(
            "ARR",
            f"the headset connects to {label} -> {devices['headset'].status_code}; "
            f"a tablet too -> {devices['tablet'].status_code}",
            "one device at a time",
        )
        self.outcomes.connected = (
            bundle.can_start_sessions is False
            and devices["headset"].status_code == 200
            and devices["tablet"].status_code == 409
        )

    def heartbeat(self, labels: list[str]) -> None:
        for label in labels:
            if label in self.ids:
                self.gate(
                    "POST",
                    self.projects[label],
                    f"sessions/{self.ids[label]}/heartbeat",
                    key=self.asked_with.get(label),
                )

    def stop(self, label: str, actor: str) -> dict | None:
        response = self.gate(
            "DELETE", self.projects[label], f"sessions/{self.ids[label]}", key=self.asked_with.get(label)
        )
        if not response.ok:
            self.say(actor, f"stops {label} -> {response.status_code}")
            return None
        session = response.json()
        figures = f"{session['elapsedMinutes']:g} min, cost {narrate.money(session['costSoFar'])} {session['currency']}"
        self.say(actor, f"stops {label} -> 200 {session['status']}", figures)
        return session

    def follow(self, seen: set, beating: list[str]) -> None:
        """Heartbeat, narrate new decisions and webhooks, and end once every outcome happened. It
        waits on events, not for a fixed time: it gives up when no further outcome happened for
        `stall_seconds` (counted from night's closing time at the earliest, as K's stop waits for
        it), or after `deadline_seconds` in all (0: never)."""
        last_beat, progress, state = 0.0, time.monotonic(), None
        while True:
            now = time.monotonic()
            quiet = now - max(progress, self.closes_at or 0.0)
            if quiet > self.stall_seconds or 0 < self.deadline_seconds < now - self.started:
                break
            if now - last_beat >= HEARTBEAT_SECONDS:
                self.heartbeat(beating)
                self.classroom.attend(self)
                last_beat = time.monotonic()
            known = [*self.ids.values(), *self.attempts]
            records = narrate.new_records(self.target.store, PROJECTS, known, seen)
            for record in records:
                self._record(record, beating)
            for delivery in self.receiver.fresh():
                self._webhook(delivery)
            for line in self.classroom.said():
                self.say(*line)
            done = self.outcomes
            done.webhooks = set(webhooks.SWEEP_KINDS) <= self.receiver.kinds()
            done.next_region = self.classroom.landed(self.hooks)
            if asdict(done) != state:  # an outcome more
                progress, state = time.monotonic(), asdict(done)
            ended = done.extended and done.idle_stop and done.budget_stop and done.unmanaged_handled
            ended = ended and done.next_region
            if ended and done.closing_stop and done.connected and done.hard_cap and done.webhooks:
                a = self.arr_truth().get(self.ids["A"], {})
                if a.get("elapsedMinutes", 0) > self.leases["A"]:
                    done.kept_past_lease = True
                    beating[:] = [label for label in beating if label != "A"]
                    done.stopped_by_client = self.stop("A", "studio") is not None
                    return
            time.sleep(0.5)
        waited, idle = time.monotonic() - self.started, time.monotonic() - progress
        why = f"no outcome for {idle:.0f} s" if idle > self.stall_seconds else "the deadline passed"
        self.say("demo", f"gave up after {waited:.0f} s ({why})", "; ".join(self.outcomes.missing))

    def _record(self, record, beating: list[str]) -> None:
        label = self.label_of(record.session_id) or "?"
        warned = (record.at, record.project, record.reason)
        if record.reason not in ("budget-stop-soon", "closing-soon") or warned not in self.warned:  # once a project
            self.warned.add(warned)
            self.say(*narrate.describe(record, label))
        if record.action == "stop" and label in beating:
            beating.remove(label)
        if record.outcome == "ok":
            self.decided.setdefault(label, set()).add((record.action, record.reason))
        done = self.outcomes
        done.extended |= label == "A" and record.action == "extend"
        done.idle_stop |= label == "B" and (record.action, record.reason) == ("stop", "idle")
        done.budget_stop |= label == "C" and (record.action, record.reason) == ("stop", "budget-exhausted")
        done.unmanaged_handled |= label == "U" and record.action in ("adopt", "stop") and record.outcome == "ok"
        done.closing_stop |= label == "K" and (record.action, record.reason, record.outcome) == (
            "stop",
            "closed-hours",
            "ok",
        )
        capped = {("extend", "lease-low"), ("warn", "hard-cap-soon"), ("warn", "extension-refused-cap")}
        done.hard_cap = capped <= self.decided.get("H", set())
        if label == "H" and record.reason == "extension-refused-cap" and label in beating:
            beating.remove(label)  # no more time to be had: H's app ends the review
            self.stop("H", "review")

    def _webhook(self, delivery: webhooks.Delivery) -> None:
        """The first webhook of each kind, as the project's receiver got it. A placement can come
        before a client's poll leads to the attempt it is about: it waits for the label."""
        if delivery.kind in self.hook_kinds and delivery.verified:
            return
        if self.label_of(delivery.session_id) is None and delivery.kind in webhooks.PLACEMENT_KINDS:
            self.receiver.later(delivery)
            return
        self.hook_kinds.add(delivery.kind)
        label = self.label_of(delivery.session_id) or "?"
        checked = "signature verified" if delivery.verified else "signature NOT verified"
        place = delivery.figures.get("account")
        where = f"{place} {delivery.figures.get('size')}; " if place else ""
        event = f"{delivery.project}'s receiver gets `{delivery.kind}` for {label}: {delivery.reason}"
        self.say("webhook", event, where + checked)

    def clean_up(self) -> None:
        """Nothing the demo started keeps running (and costing) after it."""
        self.classroom.restore(self)
        truth = self.arr_truth()
        for label, session_id in [*self.ids.items(), *((label, sid) for sid, label in self.attempts.items())]:
            if truth.get(session_id, {}).get("status") not in ("Starting", "Ready"):
                continue
            if label in self.projects:
                self.stop(label, "demo")
            else:
                self._arr("POST", f"sessions/{session_id}/:stop")
                self.say("demo", f"stops {label} with ARR's API (the sweep left it running)")


def scenario(demo: Demo) -> Outcomes:
    demo.within_one_day()
    demo.create_projects()
    demo.request("studio", "Premium", LEASES["A"], "A")
    demo.request("studio", "Standard", LEASES["B"], "B")
    demo.request("lab", "Standard", LEASES["C"], "C")
    demo.request("lab", "Standard", LEASES["X"], "X")  # 2.00 EUR, and lab has 1.00 left: refused
    demo.start_unmanaged("U", LEASES["U"])
    demo.request("night", "Standard", LEASES["K"], "K", key=KIOSK_NAME)
    demo.request("night", "Standard", LEASES["K2"], "K2", key=KIOSK_NAME)  # the key runs its 1: refused
    demo.request("review", "Standard", LEASES["H"], "H")
    demo.classroom.fill_first_region(demo)
    demo.classroom.ask(demo, LEASES[classroom.LABELS[0]])
    demo.set_closing()
    demo.say(
        "clients", "A's, C's, K's and H's clients send a heartbeat every 2 s (2 ARR minutes); B's client sends none"
    )
    # the app waits for Ready on a thread of its own, as an app would, while the clients beat on
    connecting = threading.Thread(target=demo.connect, args=("A",), daemon=True) if "A" in demo.ids else None
    try:
        if connecting:
            connecting.start()
        demo.follow(set(), ["A", "C", "K", "H"])
    finally:
        if connecting:
            connecting.join(timeout=30)
        demo.clean_up()
    return demo.outcomes
