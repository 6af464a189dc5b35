"""`python -m governor projects ...`: manage project policies and caller keys in Table Storage.

Uses GOVERNOR_TABLES_CONNECTION (or GOVERNOR_TABLES_ENDPOINT) and GOVERNOR_TABLE_PREFIX.
A caller key is printed once, when a project is created or its key rotated, and never again.

`set` and `apply` refuse a project naming an ARR account (`account`, `placement`) the app does not
have, as the manage routes do: the app's accounts are read from ARR_ACCOUNT_ID ("default") and
GOVERNOR_ARR_ACCOUNTS, names only, so no secret is needed. Where neither is set they refuse, since
nothing could be checked, unless --no-account-check writes without the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from governor.bootstrap import account_names, store_from_settings
from governor.core.errors import Refusal, ServiceError
from governor.core.policy.document import PolicyError, parse_policy_text, parse_projects_file
from governor.service.manage import ManageService
from governor.settings import Settings, SettingsError, load

# a project or key that is not there, or a key name taken: 1; anything the caller must fix: 2
NOT_THERE = {"unknown-project", "not-found", "conflict"}
NO_ACCOUNT_CHECK = (
    "write without checking the project's ARR accounts against the app's (ARR_ACCOUNT_ID, "
    "GOVERNOR_ARR_ACCOUNTS); needed where those are not set. The app answers 503 to every request "
    "of a project whose account it does not have."
)
NO_ACCOUNTS = (
    "no ARR account is configured here, so the project's ARR accounts cannot be checked against the "
    "app's: set ARR_ACCOUNT_ID (the account named 'default') and GOVERNOR_ARR_ACCOUNTS as the app has "
    "them (only the names are read), or pass --no-account-check to write without the check"
)


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
    put.add_argument("--no-account-check", dest="account_check", action="store_false", help=NO_ACCOUNT_CHECK)
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
    apply.add_argument("--no-account-check", dest="account_check", action="store_false", help=NO_ACCOUNT_CHECK)


def run(args: argparse.Namespace, store=None, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        settings = load()
        # only set and apply write project documents (and have the flag)
        accounts = _accounts(settings) if getattr(args, "account_check", False) else None
        store = store if store is not None else store_from_settings(settings)
        loopback = bool(settings.get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"))
        manage = ManageService(store, loopback_webhooks=loopback, accounts=accounts)
        return _ACTIONS[args.action](args, manage, out, err)
    except Refusal as refusal:
        print(f"error: {refusal.detail}", file=err)
        return 1 if refusal.reason in NOT_THERE else 2
    except (PolicyError, ServiceError, SettingsError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 2


def _accounts(settings: Settings) -> frozenset[str]:
    """The names of the app's ARR accounts, which a written project may name; none: refused."""
    names = account_names(settings)
    if not names:
        raise SettingsError(NO_ACCOUNTS)
    return frozenset(names)


def _read(path: Path) -> str:
    return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")


def _list(args, manage: ManageService, out, err) -> int:
    documents = sorted(manage.list()["projects"], key=lambda d: d["name"])
    if args.json:
        print(json.dumps({"projects": documents}, indent=2), file=out)
        return 0
    for doc in documents:
        state = "enabled" if doc["enabled"] else "disabled"
        print(f"{doc['name']}\t{state}\tmax {doc['maxConcurrent']}\t{doc['currency']}", file=out)
    return 0


def _get(args, manage: ManageService, out, err) -> int:
    print(json.dumps(manage.get(args.name), indent=2), file=out)
    return 0


def _set(args, manage: ManageService, out, err) -> int:
    text = args.inline if args.inline is not None else _read(args.file)
    spec = parse_policy_text(text, name=args.name, allow_loopback_http=manage.loopback_webhooks)
    created = manage.put_spec(spec)
    print(f"{'created' if created else 'updated'} {spec.policy.name}", file=err)
    if created:
        _print_key(manage.rotate_key(spec.policy.name)["key"], spec.policy.name, out, err)
    return 0


def _delete(args, manage: ManageService, out, err) -> int:
    manage.delete(args.name)
    print(f"deleted {args.name}", file=err)
    return 0


def _rotate(args, manage: ManageService, out, err) -> int:
    _print_key(manage.rotate_key(args.name)["key"], args.name, out, err)
    return 0


def _print_key(key: str, name: str, out, err, key_name: str | None = None) -> None:
    print(f"caller key {key_name + ' ' if key_name else ''}for {name} (shown once; store it now):", file=err)
    print(key, file=out)


SAID = {"keep": "not in file (kept; --prune deletes)"}


def _apply(args, manage: ManageService, out, err) -> int:
    # a bad file raises here, and a project naming an ARR account the app lacks in apply(): before any write
    specs = parse_projects_file(_read(args.file), allow_loopback_http=manage.loopback_webhooks)
    applied = manage.apply(specs, prune=args.prune, dry_run=args.dry_run)
    for step in applied:
        print(f"{SAID.get(step.action, step.action)} {step.name}", file=err)
    for step in applied:
        if step.key:
            _print_key(step.key, step.name, out, err)
    return 0


def _keys(args, manage: ManageService, out, err) -> int:
    if args.keys_action == "list":
        keys = manage.list_keys(args.name)["keys"]
        if args.json:
            print(json.dumps({"project": args.name, "keys": keys}, indent=2), file=out)
            return 0
        for k in keys:
            limits = ", ".join(f"{f} {v}" for f, v in k["limits"].items() if v is not None)
            used = k["lastUsedAt"] or "never used"
            print(f"{k['name']}\tcreated {k['createdAt']}\texpires {k['expiresAt']}\t{used}\t{limits}", file=out)
        return 0
    if args.keys_action == "revoke":
        manage.revoke_key(args.name, args.key_name)
        print(f"revoked {args.key_name} of {args.name}", file=err)
        return 0
    if args.keys_action == "add":
        body = {"name": args.key_name, "expiresAt": args.expires, "maxConcurrent": args.max_concurrent}
        body |= {"dailyBudget": args.daily_budget, "monthlyBudget": args.monthly_budget}
        key = manage.add_key(args.name, {k: v for k, v in body.items() if v is not None})["key"]
    else:
        key = manage.rotate_named_key(args.name, args.key_name)["key"]
    _print_key(key, args.name, out, err, key_name=args.key_name)
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
