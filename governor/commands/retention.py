"""`python -m governor retention [--json] [--max-rows N]`: one retention run now, the timer's code."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from governor.bootstrap import cli_context
from governor.service.retention import RetentionConfig, run_retention


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the run's report as one JSON object")
    parser.add_argument(
        "--max-rows", type=int, default=None, metavar="N", help="override GOVERNOR_RETENTION_MAX_ROWS for this run"
    )


def run(args: argparse.Namespace) -> int:
    context = cli_context()
    if context is None:
        return 2
    config = RetentionConfig.from_settings(context.settings)
    if args.max_rows is not None:
        config = replace(config, max_rows=max(args.max_rows, 1))
    try:
        report = run_retention(context.store, context.clock, config)
    except Exception as exc:  # storage unreachable: say so, without a traceback or secrets
        print(f"error: retention could not run: {type(exc).__name__}")
        return 1
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        more = " (more to do: the next run continues)" if report["more"] else ""
        moved, deleted, failures = report["moved"], report["auditDeleted"], report["capacityFailuresDeleted"]
        print(
            f"retention: moved {moved} ledger rows to history, deleted {deleted} audit rows"
            f" and {failures} capacity failures{more}"
        )
    return 0
