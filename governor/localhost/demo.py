"""`python -m governor demo` (what `make demo` calls): about a minute of the governor at work.

Starts its own stack (as `run` does, on free ports, data in a temporary directory), creates two
projects through the manage API and drives sessions through the gate's HTTP API while the sweep
timer runs. The ARR emulator runs at x60, so one real second is one ARR minute. It prints a
timeline (the client's calls and the governor's decisions from the audit table), then the usage
report, then which expected outcomes happened; the exit code is 0 only if all did.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY

TIME_SCALE = 60.0
SWEEP_SCHEDULE = "*/2 * * * * *"  # every 2 s: every 2 ARR minutes
HEARTBEAT_SECONDS = 2.0
DEADLINE_SECONDS = 120.0

PROJECTS = {
    "studio": {
        "allowedSizes": ["Standard", "Premium"],
        "currency": "USD",
        "rates": {"Standard": "3.00", "Premium": "12.00"},
        "budget": {"daily": "30.00", "monthly": "400.00"},
        "maxConcurrent": 3,
        "maxLeaseMinutes": 60,
        "hardMaxMinutes": 180,
        "extensionStepMinutes": 30,
        "extensionThresholdMinutes": 10,
        "idleTimeoutMinutes": 15,
    },
    "lab": {
        "allowedSizes": ["Standard"],
        "currency": "USD",
        "rates": {"Standard": "6.00"},
        "budget": {"daily": "4.00"},
        "maxConcurrent": 3,
        "maxLeaseMinutes": 30,
        "hardMaxMinutes": 90,
        "extensionStepMinutes": 15,
        "extensionThresholdMinutes": 5,
        "idleTimeoutMinutes": 10,
    },
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1].replace("\n", " ")
    parser.add_argument("--data-dir", type=Path, help="keep the stack's data and logs here (default: a temporary dir)")


@dataclass
class Outcomes:
    refused_budget: bool = False
    extended: bool = False
    stopped_by_client: bool = False
    idle_stop: bool = False
    unmanaged_handled: bool = False
    budget_stop: bool = False

    LABELS = {
        "refused_budget": "a request refused by the gate for budget (402)",
        "extended": "a session kept alive by heartbeats and extended by the sweep",
        "stopped_by_client": "that session stopped by its client and settled",
        "idle_stop": "a session stopped for idleness",
        "unmanaged_handled": "an unmanaged session found and handled (adopted into lab)",
        "budget_stop": "a session stopped when its project's budget ran out",
    }

    @property
    def missing(self) -> list[str]:
        return [label for name, label in self.LABELS.items() if not getattr(self, name)]


@dataclass
class Demo:
    base: str
    emulator: str
    out: object = sys.stdout
    keys: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    outcomes: Outcomes = field(default_factory=Outcomes)
    started: float = field(default_factory=time.monotonic)
    arr_start: datetime | None = None

    def __post_init__(self):
        import requests

        self.http = requests.Session()
        self.arr_start = self._arr_now()

    # --- timeline ---
    def _arr_now(self) -> datetime:
        now = self.http.get(f"{self.emulator}/_emulator/clock", timeout=10).json()["now"]
        return datetime.fromisoformat(now.replace("Z", "+00:00"))

    def say(self, who: str, text: str) -> None:
        minutes = int((self._arr_now() - self.arr_start).total_seconds() // 60)
        wall = time.monotonic() - self.started
        print(f"{wall:6.1f}s  {minutes // 60}:{minutes % 60:02d}  {who:<9} {text}", file=self.out, flush=True)

    # --- HTTP ---
    def call(self, method: str, path: str, project: str | None = None, **kwargs):
        headers = {"x-functions-key": DEV_MASTER_KEY if project is None else DEV_FUNCTION_KEY}
        if project is not None:
            headers["X-Api-Key"] = self.keys[project]
        return self.http.request(method, f"{self.base}/{path}", headers=headers, timeout=30, **kwargs)

    def create_projects(self) -> None:
        for name, document in PROJECTS.items():
            self.call("PUT", f"manage/projects/{name}", json=document).raise_for_status()
            self.keys[name] = self.call("POST", f"manage/projects/{name}/keys").json()["key"]
            rates = ", ".join(f"{size} {rate}/h" for size, rate in document["rates"].items())
            budget = document["budget"]["daily"]
            self.say("operator", f"project {name}: {rates}; {budget} {document['currency']} a day")

    def request(self, project: str, size: str, minutes: int, label: str) -> str | None:
        body = {"size": size, "maxLeaseTime": minutes}
        response = self.call("POST", f"projects/{project}/sessions", project, json=body)
        what = f"asks for {size} x {minutes} min ->"
        if response.status_code == 202:
            session = response.json()
            self.labels[session["sessionId"]] = label
            self.say(project, f"{what} 202 admitted as {label}; {_money(session['reservedCost'])} reserved")
            return session["sessionId"]
        problem = response.json()
        reason = problem.get("type", "").rsplit(":", 1)[-1]
        self.say(project, f"{what} {response.status_code} {reason}: {problem.get('detail', '')}")
        if response.status_code == 402:
            self.outcomes.refused_budget = True
        return None

    def unmanaged(self, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "governor", "arr", "create", "--size", "standard", "--lease", "2:00:00"]
        argv += ["--id", "unmanaged-demo"]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            self.say("someone", f"could not create a session on ARR: {result.stderr.strip()}")
            return
        self.labels["unmanaged-demo"] = "U"
        self.say("someone", "starts U: Standard x 2 h directly on the ARR account, not through the gate")

    # --- the governor's decisions, from the audit table ---
    def decisions(self, store, seen: set) -> None:
        records = [r for r in store.recent_audit(limit=100) if r.source == "sweep"]
        for record in sorted(records, key=lambda r: r.at):
            key = (record.at, record.session_id, record.action, record.reason)
            if key in seen or record.session_id not in self.labels:
                continue
            seen.add(key)
            self._decision(record)

    def _decision(self, record) -> None:
        label, figures = self.labels[record.session_id], record.figures
        if record.action == "extend":
            self.outcomes.extended |= label == "A"
            text = (
                f"extends {label} to {figures.get('new_lease_minutes')} min: {figures.get('remaining_lease_minutes')}"
            )
            text += " min left, below the threshold, and its heartbeats show it is in use"
        elif record.action == "stop" and record.reason == "idle":
            self.outcomes.idle_stop = True
            text = f"stops {label}: idle (no heartbeat; idle timeout {_num(figures.get('idle_timeout_minutes'))} min)"
        elif record.action == "stop" and record.reason == "budget-exhausted":
            self.outcomes.budget_stop = True
            text = f"stops {label}: {record.project}'s {figures.get('period', '')} budget is used up"
        elif record.action == "adopt":
            self.outcomes.unmanaged_handled = True
            text = f"finds {label}, a session the gate did not create, and adopts it into {record.project}"
        elif record.action == "warn" and record.reason == "budget-stop-soon":
            left = _num(figures.get("minutes_to_budget_stop"))
            text = f"warns {record.project}: at this burn rate its budget runs out in {left} min"
        elif record.action == "warn":
            text = f"warns {record.project} about {label}: {record.reason}"
        else:
            text = f"{record.action} {label}: {record.reason}"
        self.say("sweep", text)

    def report(self) -> None:
        print("\nUsage report", file=self.out)
        print(
            f"  {'project':<8} {'period':<8} {'budget':>10} {'spent':>10} {'reserved':>10} {'remaining':>10}",
            file=self.out,
        )
        for project in PROJECTS:
            usage = self.call("GET", f"projects/{project}/usage", project).json()
            for period in usage.get("periods", []):
                figures = [_money(period.get(k)) for k in ("budget", "spent", "reserved", "remaining")]
                line = f"  {project:<8} {period['period']:<8} " + " ".join(f"{f:>10}" for f in figures)
                print(f"{line} {usage.get('currency', '')}", file=self.out)
        print("\nSessions", file=self.out)
        for project in PROJECTS:
            listed = self.call("GET", f"projects/{project}/sessions?includeClosed=true", project).json()
            for session in listed.get("sessions", []):
                label = self.labels.get(session["sessionId"], "?")
                print(
                    f"  {label:<2} {project:<8} {session['size']:<9} {session['status']:<8} "
                    f"{session['elapsedMinutes']:>4} min  cost {_money(session['costSoFar'])}  "
                    f"lease {session['leaseMinutes']} min, {session['extensions']} extension(s)",
                    file=self.out,
                )


def _num(value) -> str:
    return "?" if value is None else f"{float(value):g}"


def _money(value) -> str:
    return "-" if value is None else f"{float(value):.2f}"


def scenario(demo: Demo, env: dict[str, str], store) -> None:
    demo.create_projects()
    a = demo.request("studio", "Premium", 20, "A")
    demo.request("lab", "Standard", 15, "C")
    demo.request("lab", "Standard", 30, "X")  # 3.00 > what lab has left: refused
    demo.unmanaged(env)
    demo.say("studio", "A's client sends a heartbeat every 2 s (2 ARR minutes); C's client sends none")
    seen: set = set()
    last_beat = 0.0
    while time.monotonic() - demo.started < DEADLINE_SECONDS:
        if a and time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            demo.call("POST", f"projects/studio/sessions/{a}/heartbeat", "studio")
            last_beat = time.monotonic()
        demo.decisions(store, seen)
        done = demo.outcomes
        if a and done.extended and done.idle_stop and done.budget_stop:
            response = demo.call("DELETE", f"projects/studio/sessions/{a}", "studio")
            settled = response.json().get("costSoFar", "?") if response.ok else response.status_code
            demo.say("studio", f"A's client is done and stops A -> {response.status_code}; cost {settled}")
            demo.outcomes.stopped_by_client = response.ok
            a = None
        if not a:
            break
        time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    from governor.localhost.children import ChildFailed
    from governor.localhost.stack import Stack, azurite_connection_string
    from governor.store import TableStore

    with tempfile.TemporaryDirectory(prefix="governor-demo-") as scratch:
        data = Path(args.data_dir or scratch)
        options = argparse.Namespace(
            host="127.0.0.1",
            port=0,
            azurite_port=0,
            emulator_port=0,
            time_scale=TIME_SCALE,
            sweep_schedule=SWEEP_SCHEDULE,
            data_dir=data,
            projects="",
        )
        settings = {
            "GOVERNOR_UNMANAGED_MODE": "adopt",
            "GOVERNOR_UNMANAGED_PROJECT": "lab",
            "GOVERNOR_TABLE_PREFIX": "demo",
        }
        stack = Stack(options, extra_env=settings)
        demo = None
        print("ARR lease governor demo: two projects, four sessions, one refusal; ARR time runs x60", flush=True)
        try:
            print("starting Azurite, the ARR emulator (x60) and the function host ...", flush=True)
            stack.start()
            kept = "" if args.data_dir else " (removed at exit; --data-dir keeps them)"
            print(f"serving {stack.host_url}/api; logs in {stack.logs}{kept}\n", flush=True)
            print(f"{'wall':>7}  ARR   {'who':<9} what", flush=True)
            demo = Demo(f"{stack.host_url}/api", stack.emulator_url)
            store = TableStore(azurite_connection_string(stack.azurite_port), "demo")
            scenario(demo, stack.env, store)
            demo.report()
        except ChildFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        finally:
            stack.stop()
    print("\nOutcomes", flush=True)
    for name, label in Outcomes.LABELS.items():
        print(f"  [{'x' if getattr(demo.outcomes, name) else ' '}] {label}", flush=True)
    missing = demo.outcomes.missing
    if missing:
        print(f"\n{len(missing)} expected outcome(s) did not happen; see the logs above", file=sys.stderr)
    return 1 if missing else 0
