"""`python -m governor sweep [--dry-run] [--json]`: one sweep now, the same code the timer runs."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import timedelta

from governor.bootstrap import cli_context
from governor.service.sweep import SweepConfig, Sweeper


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decide, audit and report, but act on nothing (overrides GOVERNOR_DRY_RUN)",
    )
    parser.add_argument("--json", action="store_true", help="print the sweep report as one JSON object")
    parser.add_argument(
        "--lock-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help="lease of the sweep lock (default 600); a run killed while holding it blocks others this long",
    )


def run(args: argparse.Namespace) -> int:
    context = cli_context()
    if context is None:
        return 2
    config = SweepConfig.from_settings(context.settings, dry_run=True if args.dry_run else None)
    if args.lock_ttl is not None:
        config = replace(config, lock_ttl=timedelta(seconds=max(args.lock_ttl, 0.001)))
    sweeper = Sweeper.from_context(context, config=config)
    try:
        report = sweeper.run()
    except Exception as exc:  # storage unreachable, bad credentials: say so, without a traceback or secrets
        print(f"error: the sweep could not run: {type(exc).__name__}")
        return 1
    if sweeper.webhooks is not None:
        sweeper.webhooks.drain(timeout=config.webhook_timeout * 3 + 2)
    if args.json:
        print(json.dumps(report, sort_keys=True, default=str))
    else:
        print(_text(report))
    if report.get("skipped"):
        return 3
    return 1 if report.get("errors") else 0


def _text(report: dict) -> str:
    if report.get("skipped"):
        return f"sweep skipped: {report.get('reason')}"
    counts = ", ".join(f"{k} {v}" for k, v in report.get("counts", {}).items()) or "nothing to decide"
    lines = [
        f"sweep {'(dry run) ' if report.get('dryRun') else ''}in {report.get('durationMs')} ms: "
        f"{report.get('sessions')} sessions; {counts}; metered {report.get('metered')}; failed {report.get('failed')}"
    ]
    lines += [f"  error: {error}" for error in report.get("errors", [])]
    return "\n".join(lines)
