"""The demo's placement scene: a class of four sessions in the project `school`, whose placement is
westeurope, then japaneast (the local stack's regions, `governor.localhost.regions`).

Just before the class asks, westeurope is given two Standard servers (`PUT /_emulator/capacity`).
Every request asks for both regions with `autoRetry`: the first two start in westeurope; ARR ends
the others in Error for want of servers (a `capacity` event), and the governor, on a client's
poll or in the sweep, starts their next attempts in japaneast (`placement` events). Each client
polls only the id it was given and sees Starting, then Ready; once Ready it sends heartbeats and
stops its session when the lesson is over (LESSON_MINUTES of ARR time).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from governor.localhost.regions import REGIONS

PROJECT = "school"
LABELS = ("S1", "S2", "S3", "S4")
FIRST, NEXT = "westeurope", "japaneast"
SERVERS = 2  # Standard servers westeurope has left: fewer than the class needs
LESSON_MINUTES = 10  # ARR minutes each session runs once Ready, well inside its lease
POLICY = {
    "allowedSizes": ["Standard"],
    "currency": "USD",
    "rates": {"Standard": "3.00"},
    "budget": {"daily": "20.00"},
    "maxConcurrent": 6,
    "maxLeaseMinutes": 30,
    "hardMaxMinutes": 60,
    "extensionStepMinutes": 15,
    "extensionThresholdMinutes": 5,
    "idleTimeoutMinutes": 15,
    "placement": [FIRST, NEXT],
}
REQUEST = {"regions": [FIRST, NEXT], "autoRetry": True}


@dataclass
class Classroom:
    ready: dict[str, dict] = field(default_factory=dict)  # label -> the answer that first said Ready
    stopped: set[str] = field(default_factory=set)
    told: set[tuple[str, str | None]] = field(default_factory=set)  # (label, error code) said once
    news: list[tuple[str, str, str]] = field(default_factory=list)  # timeline lines, said after the audit's
    limits_before: dict | None = None  # the emulator's capacity limits before the scene, put back after it

    def fill_first_region(self, demo) -> None:
        url = f"{demo.target.emulator}/_emulator/capacity"
        self.limits_before = demo.http.get(url, timeout=10).json()["limits"]
        limits = {**self.limits_before, REGIONS[FIRST]: {"Standard": SERVERS}}
        demo.http.put(url, json={"limits": limits}, timeout=10).raise_for_status()
        demo.say("ARR", f"{FIRST} has {SERVERS} Standard servers left; {NEXT} has room", "PUT /_emulator/capacity")

    def ask(self, demo, minutes: int) -> None:
        for label in LABELS:
            demo.request(PROJECT, "Standard", minutes, label, extra=REQUEST)

    def attend(self, demo) -> None:
        """Each client: poll its id until Ready, then heartbeat; stop once the lesson is over."""
        for label in LABELS:
            if label not in demo.ids or label in self.stopped:
                continue
            if label not in self.ready:
                answer = demo.gate("GET", PROJECT, f"sessions/{demo.ids[label]}").json()
                self._follow(demo, label, answer)
                continue
            answer = demo.gate("POST", PROJECT, f"sessions/{demo.ids[label]}/heartbeat").json()
            if (answer.get("elapsedMinutes") or 0) >= LESSON_MINUTES:
                self.stopped.add(label)
                demo.stop(label, PROJECT)

    def _follow(self, demo, label: str, answer: dict) -> None:
        attempt = answer.get("sessionId")
        if attempt and attempt != demo.ids[label]:
            demo.attempts[attempt] = label  # the id it polls leads to the attempt that replaced it
        error = answer.get("error") or {}
        if error and (label, error.get("code")) not in self.told:
            self.told.add((label, error.get("code")))
            seen = f"{label}'s client sees {answer.get('status')}: {error.get('code')}"
            self.news.append((PROJECT, seen, error.get("message", "")))
        if answer.get("status") != "Ready":
            return
        self.ready[label] = answer
        failed = [f"{p['account']} ({p['error']})" for p in answer.get("previousAttempts") or []]
        attempts = "a failed attempt" if len(failed) == 1 else f"{len(failed)} failed attempts"
        figures = f"after {attempts} in {', '.join(failed)}" if failed else "its first attempt"
        event = f"{label} is Ready in {answer.get('account')}; its client polled only its own id"
        self.news.append((PROJECT, event, figures))

    def said(self) -> list[tuple[str, str, str]]:
        """What the clients saw since last asked: said after the audit rows read in the same round,
        which tell how the attempts they now see came about."""
        news, self.news = self.news, []
        return news

    def landed(self, hooks) -> bool:
        """Every session of the class Ready with no error; those in the next region placed there by
        the governor (signed `placement` events), after the first region ran out (a signed `capacity`
        event), unless the first region had no session at all: within the capacity window of an
        earlier run, the gate still remembers it ran out and places the whole class in the next one."""
        if len(self.ready) < len(LABELS) or any("error" in answer for answer in self.ready.values()):
            return False
        accounts = Counter(answer.get("account") for answer in self.ready.values())
        if not accounts[NEXT] or accounts[FIRST] > SERVERS or set(accounts) - {FIRST, NEXT}:
            return False
        told = [d for d in hooks.received if d.verified and d.project == PROJECT]
        placed = {d.session_id for d in told if d.kind == "placement" and d.figures.get("account") == NEXT}
        ran_out = any(d.kind == "capacity" and d.figures.get("account") == FIRST for d in told)
        moved = {answer["sessionId"] for answer in self.ready.values() if answer.get("account") == NEXT}
        return moved <= placed and (ran_out or not accounts[FIRST])

    def restore(self, demo) -> None:
        """Put the emulator's servers back as they were (a `make run` stack outlives the demo)."""
        if self.limits_before is not None:
            url = f"{demo.target.emulator}/_emulator/capacity"
            demo.http.put(url, json={"limits": self.limits_before}, timeout=10)
            self.limits_before = None
