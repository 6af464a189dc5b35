"""`python -m governor projects ...`: manage project policies and caller keys in Table Storage.

Uses GOVERNOR_TABLES_CONNECTION (or GOVERNOR_TABLES_ENDPOINT) and GOVERNOR_TABLE_PREFIX.
A caller key is printed once, when a project is created or its key rotated, and never again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from governor.core.errors import Refusal
from governor.core.model import utc_text as _iso
from governor.core.model import utcnow
from governor.core.policy.callers import check_key_name, parse_new_key
from governor.core.policy.document import (
    PolicyError,
    limits_to_document,
    parse_policy_text,
    parse_projects_file,
    policy_to_document,
)
from governor.settings import SettingsError, load
from governor.store import TableStore
from governor.store.errors import NotFound, StoreError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list projects")
    listing.add_argument("--json", action="store_true", help="print the policy documents as JSON")
    get = sub.add_parser("get", help="print a project's policy document")
    get.add_argument("name")
    put = sub.add_parser("set", help="create or replace a project from a policy document")
    put.add_argument("name")
    source = put.add_mutually_exclusive_group(required=True)
    source.add_argument("-f", "--file", type=Path, help="policy document (JSON); '-' reads stdin")
    source.add_argument("--json", dest="inline", help="policy document as a JSON string")
    delete = sub.add_parser("delete", help="delete a project (its ledger history stays)")
    delete.add_argument("name")
    rotate = sub.add_parser("rotate-key", help="revoke every caller key, add one named default and print it once")
    rotate.add_argument("name")
    keys = sub.add_parser("keys", help="named caller keys: list, add, revoke or rotate one")
    keys_sub = keys.add_subparsers(dest="keys_action", metavar="KEYS_ACTION", required=True)
    keys_list = keys_sub.add_parser("list", help="a project's keys: names, dates, limits (never a secret)")
    keys_list.add_argument("name")
    keys_list.add_argument("--json", action="store_true")
    add = keys_sub.add_parser("add", help="add a named key and print it once")
    add.add_argument("name")
    add.add_argument("key_name", metavar="KEY_NAME")
    add.add_argument("--expires", help="ISO 8601 time with an offset, e.g. 2026-12-31T18:00:00Z")
    add.add_argument("--max-concurrent", type=int, help="at most the project's maxConcurrent")
    add.add_argument("--daily-budget", help="cost units, at most the project's daily budget")
    add.add_argument("--monthly-budget", help="cost units, at most the project's monthly budget")
    for verb, text in (
        ("revoke", "revoke one key by name"),
        ("rotate", "a new secret for one named key, printed once"),
    ):
        one = keys_sub.add_parser(verb, help=text)
        one.add_argument("name")
        one.add_argument("key_name", metavar="KEY_NAME")
    apply = sub.add_parser("apply", help="make the store match a projects.json file (idempotent)")
    apply.add_argument("-f", "--file", type=Path, required=True, help="projects.json ('-' reads stdin)")
    apply.add_argument("--prune", action="store_true", help="also delete projects the file does not list")
    apply.add_argument("--dry-run", action="store_true", help="validate and show what would change; write nothing")


def run(args: argparse.Namespace, store=None, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if store is None:
            store = _store_from_environment()
        return _ACTIONS[args.action](args, store, out, err)
    except (PolicyError, StoreError, SettingsError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except Refusal as refusal:
        print(f"error: {refusal.detail}", file=err)
        return 2


def _store_from_environment():
    return TableStore.from_settings(load())


def _read(path: Path) -> str:
    return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")


def _list(args, store, out, err) -> int:
    policies = sorted(store.list_projects(), key=lambda p: p.name)
    if args.json:
        print(json.dumps({"projects": [policy_to_document(p) for p in policies]}, indent=2), file=out)
        return 0
    for policy in policies:
        state = "enabled" if policy.enabled else "disabled"
        print(f"{policy.name}\t{state}\tmax {policy.max_concurrent}\t{policy.currency}", file=out)
    return 0


def _get(args, store, out, err) -> int:
    policy = store.get_project(args.name)
    if policy is None:
        print(f"error: project {args.name!r} does not exist", file=err)
        return 1
    print(json.dumps(policy_to_document(policy), indent=2), file=out)
    return 0


def _set(args, store, out, err) -> int:
    text = args.inline if args.inline is not None else _read(args.file)
    spec = parse_policy_text(text, name=args.name, allow_loopback_http=_loopback_webhooks())
    existed = store.get_project(spec.policy.name) is not None
    store.put_project(spec.policy, spec.webhook_secret)
    print(f"{'updated' if existed else 'created'} {spec.policy.name}", file=err)
    if not existed:
        _print_key(store, spec.policy.name, out, err)
    return 0


def _delete(args, store, out, err) -> int:
    if not store.delete_project(args.name):
        print(f"error: project {args.name!r} does not exist", file=err)
        return 1
    print(f"deleted {args.name}", file=err)
    return 0


def _rotate(args, store, out, err) -> int:
    _print_key(store, args.name, out, err)
    return 0


def _loopback_webhooks() -> bool:
    return bool(load().get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"))


def _print_key(store, name: str, out, err) -> None:
    key = store.rotate_key(name)
    print(f"caller key for {name} (shown once; store it now):", file=err)
    print(key, file=out)


def _apply(args, store, out, err) -> int:
    # a bad file raises here, before any write
    specs = parse_projects_file(_read(args.file), allow_loopback_http=_loopback_webhooks())
    current = {policy.name: policy for policy in store.list_projects()}
    plan = []
    for spec in specs:
        name = spec.policy.name
        if name not in current:
            plan.append(("create", spec))
        elif current[name] != spec.policy or spec.webhook_secret is not None:
            plan.append(("update", spec))
        else:
            plan.append(("unchanged", spec))
    stale = sorted(set(current) - {spec.policy.name for spec in specs})
    for action, spec in plan:
        print(f"{action} {spec.policy.name}", file=err)
    for name in stale:
        print(f"{'delete' if args.prune else 'not in file (kept; --prune deletes)'} {name}", file=err)
    if args.dry_run:
        return 0
    for action, spec in plan:
        if action == "unchanged":
            continue
        store.put_project(spec.policy, spec.webhook_secret)
        if action == "create":
            _print_key(store, spec.policy.name, out, err)
    if args.prune:
        for name in stale:
            store.delete_project(name)
    return 0


def _keys(args, store, out, err) -> int:
    policy = store.get_project(args.name)
    if policy is None:
        raise NotFound(f"project {args.name!r} does not exist")
    now = utcnow()
    if args.keys_action == "list":
        keys = store.list_keys(args.name)
        if args.json:
            rows = [
                {"name": k.name, "createdAt": _iso(k.created_at), "expiresAt": _iso(k.expires_at),
                 "lastUsedAt": _iso(k.last_used), "limits": limits_to_document(k.limits)}
                for k in keys
            ]  # fmt: skip
            print(json.dumps({"project": args.name, "keys": rows}, indent=2), file=out)
        for k in [] if args.json else keys:
            limits = ", ".join(f"{f} {v}" for f, v in limits_to_document(k.limits).items() if v is not None)
            used = _iso(k.last_used) or "never used"
            print(f"{k.name}\tcreated {_iso(k.created_at)}\texpires {_iso(k.expires_at)}\t{used}\t{limits}", file=out)
        return 0
    if args.keys_action == "add":
        body = {"name": args.key_name, "expiresAt": args.expires, "maxConcurrent": args.max_concurrent}
        body |= {"dailyBudget": args.daily_budget, "monthlyBudget": args.monthly_budget}
        new = parse_new_key({k: v for k, v in body.items() if v is not None}, policy, now)
        if any(k.name == new.name for k in store.list_keys(args.name)):
            print(f"error: the project already has a key named {new.name!r}", file=err)
            return 1
        key = store.add_key(args.name, new.name, now, new.expires_at, new.limits)
    elif args.keys_action == "revoke":
        if not store.revoke_key(args.name, check_key_name(args.key_name, "KEY_NAME")):
            print(f"error: the project has no key named {args.key_name!r}", file=err)
            return 1
        print(f"revoked {args.key_name} of {args.name}", file=err)
        return 0
    else:
        key = store.rotate_named_key(args.name, check_key_name(args.key_name, "KEY_NAME"), now)
    print(f"caller key {args.key_name} for {args.name} (shown once; store it now):", file=err)
    print(key, file=out)
    return 0


_ACTIONS = {
    "keys": _keys,
    "list": _list,
    "get": _get,
    "set": _set,
    "delete": _delete,
    "rotate-key": _rotate,
    "apply": _apply,
}
