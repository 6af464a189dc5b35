"""The demo's closing tables: usage per project (GET .../usage), each session as the gate and as
ARR's ground truth see it, and the checklist of expected outcomes."""

from __future__ import annotations

from governor.demo.narrate import money
from governor.demo.scenario import PROJECTS, Demo, Outcomes
from governor.demo.webhooks import KINDS


def usage_report(demo: Demo) -> dict[str, dict]:
    print("\nUsage report (GET /api/projects/{project}/usage)", file=demo.out)
    header = f"  {'project':<8} {'period':<6} {'key':<10} {'budget':>8} {'spent':>8} {'reserved':>8} {'remaining':>9}"
    header += f" {'saved':>8}"
    print(header, file=demo.out)
    usages = {}
    for project in PROJECTS:
        usage = usages[project] = demo.gate("GET", project, "usage").json()
        for period in usage.get("periods", []):
            amounts = " ".join(f"{money(period.get(k)):>8}" for k in ("budget", "spent", "reserved"))
            remaining, saved = money(period.get("remaining")), money(period.get("saved"))
            line = f"  {project:<8} {period['period']:<6} {period['key']:<10} {amounts} {remaining:>9} {saved:>8}"
            print(f"{line} {usage.get('currency', '')}", file=demo.out)
        counts = usage.get("sessions", {})
        print(f"  {'':<8} sessions: {counts.get('day', 0)} today, {counts.get('open', 0)} open", file=demo.out)
        if PROJECTS[project].get("placement"):
            print(f"  {'':<8} {placement_line(usage.get('placement') or {})}", file=demo.out)
    return usages


def placement_line(placement: dict) -> str:
    ran = ", ".join(f"{account} {count}" for account, count in placement.get("sessionsByAccount", {}).items())
    failed = ", ".join(f"{f['account']} {f['size']} {f['count']}" for f in placement.get("capacityFailures", []))
    return f"placement: sessions by region {ran or 'none'}; capacity failures {failed or 'none'}"


def sessions_report(demo: Demo) -> None:
    print("\nSessions (the gate's view | ARR's ground truth, GET /_emulator/sessions)", file=demo.out)
    truth = demo.arr_truth()
    for project in PROJECTS:
        listed = demo.gate("GET", project, "sessions?includeClosed=true").json().get("sessions", [])
        ours = [s for s in listed if demo.label_of(s["sessionId"])]  # not those of an earlier run
        # a class session's attempts in the order they were made: the id it was given first
        for session in sorted(ours, key=lambda s: (demo.label_of(s["sessionId"]), s["sessionId"] in demo.attempts)):
            label = demo.label_of(session["sessionId"])
            arr = truth.get(session["sessionId"], {})
            where = session.get("account", "")
            print(
                f"  {label:<2} {project:<7} {session['size']:<9} {where:<10} {session['status']:<8} "
                f"lease {session['leaseMinutes']:>4g} min, {session['extensions']} ext, "
                f"cost {money(session['costSoFar']):>6} {session.get('currency', '')} | "
                f"ARR {arr.get('status', '?'):<8} {int(arr.get('billedSeconds') or 0) // 60:>3} min billed",
                file=demo.out,
            )


def webhooks_report(demo: Demo) -> None:
    print("\nWebhooks received (signed CloudEvents, POST /webhooks/{project} on the demo's receiver)", file=demo.out)
    received = demo.hooks.received if demo.hooks else []
    for kind in KINDS:
        these = [d for d in received if d.kind == kind]
        verified = sum(d.verified for d in these)
        examples = sorted({f"{demo.label_of(d.session_id) or '?'} {d.reason}" for d in these})
        shown = ", ".join(examples[:4]) + (", ..." if len(examples) > 4 else "")
        print(f"  {kind:<9} {len(these):>2} received, {verified:>2} verified  {shown}", file=demo.out)


def checklist(outcomes: Outcomes, out) -> None:
    print("\nOutcomes", file=out)
    for name, label in Outcomes.LABELS.items():
        print(f"  [{'x' if getattr(outcomes, name) else ' '}] {label}", file=out, flush=True)
