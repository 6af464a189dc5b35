"""Connect benchmark: 30 apps asking for their connect bundle, and what the token service sees.

One run starts Azurite and the ARR emulator (with its Entra stand-in over https), points the
governor's connect identity at it (ARR_CONNECT_AUTH=entra, the real azure-identity), and measures
through the functions themselves:

- the bare baseline: the poll an app already makes (GET the session), against connect, at 1
  client, taken in turns of 16 calls (connect p50 over the poll's: report);
- `--clients` (30) apps, each with its own Ready session, calling connect once a second for
  `--seconds` (30): the token service calls the emulator counted (target: 1 per account per
  instance for a run shorter than an hour; the hourly refresh of long leases is unit-tested on a
  clock, tests/unit/arr/test_connect_tokens.py), the Entra token requests, p50/p99 and errors.

Run: `python -m bench.connect_bench [--clients 30] [--seconds 30] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import Gate, backends, interleaved, paced, quiet, summary  # noqa: E402


class ConnectGate(Gate):
    def connect(self, project: str, key: str, session_id: str) -> dict:
        return self._expect(self.call("connect_session", "POST", project, key, session_id, suffix="/connect"), 200)


def sts_calls(emulator) -> int:
    return sum(emulator.stats()["sts"].values())


def burst(gate: ConnectGate, emulator, key: str, sessions: list[str], seconds: float) -> dict:
    """Each app calls connect on its own session once a second for `seconds`."""
    before_sts = sts_calls(emulator)
    before_entra = emulator.stats()["entra"]["tokenRequests"]
    calls = [lambda sid=sid: gate.connect("connect", key, sid) for sid in sessions]
    samples, errors, wall = paced(calls, seconds)
    result = summary(samples, wall, len(sessions), len(errors))
    result["sts_calls"] = sts_calls(emulator) - before_sts
    result["entra_token_requests"] = emulator.stats()["entra"]["tokenRequests"] - before_entra
    result["seconds"] = seconds
    if errors:
        result["first_error"] = errors[0]
    return result


def run(clients: int, seconds: float, turns: int) -> dict:
    from governor.bootstrap import get_context
    from governor.core.model import ProjectPolicy, VmSize

    with backends("bench", tls=True) as (_, emulator):
        store = get_context().store
        store.put_project(ProjectPolicy(name="connect", rates={VmSize.STANDARD: 3_000_000}, max_concurrent=1_000))
        key = store.rotate_key("connect")
        gate = ConnectGate()
        sessions = [gate.create("connect", key) for _ in range(clients)]
        emulator.advance(6)  # every session Ready
        time.sleep(float(get_context().settings["GOVERNOR_GATE_READ_SECONDS"]))  # the create's Starting view ages out
        first = sessions[0]
        before = sts_calls(emulator)
        single = interleaved(
            {
                "poll (baseline)": lambda _: gate.get("connect", key, first),
                "connect": lambda _: gate.connect("connect", key, first),
            },
            turns,
        )
        results = {"single": single, "burst": burst(gate, emulator, key, sessions, seconds)}
        results["sts_calls_whole_run"] = sts_calls(emulator) - before
        results["ratio_connect_over_poll"] = round(single["connect"]["p50_ms"] / single["poll (baseline)"]["p50_ms"], 2)
        return results


def table(results: dict) -> str:
    single, burst_ = results["single"], results["burst"]
    poll, connect = single["poll (baseline)"], single["connect"]
    return "\n".join(
        [
            "| figure | target | this run |",
            "|---|---|---|",
            f"| 1 client: connect p50 / poll p50 (the baseline) | report | {results['ratio_connect_over_poll']} "
            f"({connect['p50_ms']} vs {poll['p50_ms']} ms, {connect['count']} calls each) |",
            f"| the whole run (1 client, then {burst_['clients']} apps x {burst_['seconds']:.0f} s, connect once a "
            f"second): token service calls | <= 1 per account and instance | {results['sts_calls_whole_run']} "
            f"({connect['count'] + burst_['count']} connects; {burst_['sts_calls']} during the burst) |",
            f"| same: p50 / p99; errors | report; 0 | {burst_['p50_ms']} / {burst_['p99_ms']} ms; {burst_['errors']} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30, help="apps, each with its own session (default 30)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the burst (default 30)")
    parser.add_argument("--turns", type=int, default=96, help="calls of each at 1 client (default 96)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    quiet()
    results = run(args.clients, args.seconds, args.turns)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0 if results["burst"]["errors"] == 0 and results["sts_calls_whole_run"] <= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
