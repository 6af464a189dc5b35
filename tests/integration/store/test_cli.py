"""`python -m governor projects ...` against Azurite."""

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from governor.commands import projects as cli
from governor.core.model import utcnow
from governor.core.policy.document import parse_projects_file
from governor.emulator import DEV_ACCOUNT_ID
from governor.localhost import regions
from governor.service.manage import ManageService
from tests.fixtures.azurite import azurite_env

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "projects.json"
# The ARR accounts of the app the commands manage, as `make run` configures them: `default`,
# `westeurope` and `japaneast`, every account examples/projects.json names. `set` and `apply`
# refuse a project naming another (and, with none configured, refuse unless --no-account-check).
APP_ACCOUNTS = {
    "ARR_ACCOUNT_ID": DEV_ACCOUNT_ID,
    "ARR_SERVICE_ENDPOINT": "http://127.0.0.1:7081",
    "GOVERNOR_ARR_ACCOUNTS": regions.accounts_setting("http://127.0.0.1:7081", {}),
}
NO_ARR = ("ARR_ACCOUNT_ID", "GOVERNOR_ARR_ACCOUNTS")


@pytest.fixture(autouse=True)
def app_accounts(monkeypatch):
    for name, value in APP_ACCOUNTS.items():
        monkeypatch.setenv(name, value)


def run(store, *argv):
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(parser.parse_args(argv), store=store, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_apply_is_declarative_and_idempotent(store, tmp_path):
    code, out, err = run(store, "apply", "-f", str(EXAMPLE))
    assert code == 0 and "create demo" in err and "create design-review" in err
    keys = out.split()
    assert len(keys) == 2 and store.verify_key("demo", keys[0]) and store.verify_key("design-review", keys[1])
    code, out, err = run(store, "apply", "-f", str(EXAMPLE))
    assert code == 0 and out == "" and err.count("unchanged") == 2
    assert store.verify_key("demo", keys[0])  # keys survive a re-apply


def test_a_bad_file_changes_nothing_and_names_field_and_line(store, tmp_path):
    run(store, "apply", "-f", str(EXAMPLE))
    before = store.list_projects()
    text = EXAMPLE.read_text().replace('"maxConcurrent": 1', '"maxConcurrent": "one"')
    text = text.replace('"daily": "40"', '"daily": "41"')  # a valid change earlier in the file
    bad = tmp_path / "projects.json"
    bad.write_text(text)
    code, out, err = run(store, "apply", "-f", str(bad))
    assert out == ""
    assert code == 2
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if '"one"' in text_line)
    assert f"line {line}: projects[1].maxConcurrent: must be a whole number" in err
    assert store.list_projects() == before


def test_prune_deletes_projects_missing_from_the_file(store, tmp_path):
    run(store, "apply", "-f", str(EXAMPLE))
    only = tmp_path / "one.json"
    only.write_text(json.dumps({"projects": [json.loads(EXAMPLE.read_text())["projects"][0]]}))
    run(store, "apply", "-f", str(only))
    assert store.get_project("design-review") is not None
    run(store, "apply", "-f", str(only), "--prune")
    assert [p.name for p in store.list_projects()] == ["demo"]


def test_set_get_rotate_delete(store):
    doc = '{"allowedSizes": ["Standard"], "rates": {"Standard": 3}, "budget": {"daily": 10}}'
    code, out, _ = run(store, "set", "alpha", "--json", doc)
    assert code == 0 and store.verify_key("alpha", out.strip())
    code, out, _ = run(store, "get", "alpha")
    assert json.loads(out)["budget"] == {"daily": "10.000000", "monthly": None}
    code, new_key, _ = run(store, "rotate-key", "alpha")
    assert store.verify_key("alpha", new_key.strip())
    code, out, _ = run(store, "list")
    assert out.startswith("alpha\tenabled")
    assert run(store, "delete", "alpha")[0] == 0
    assert run(store, "get", "alpha")[0] == 1
    code, _, err = run(store, "set", "alpha", "--json", '{"rates": {"Huge": 1}}')
    assert code == 2 and "rates.Huge: unknown VM size" in err


def _governor(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "governor", *argv], cwd=ROOT, capture_output=True, text=True)


def test_help_names_every_action_and_apply_its_options():
    top = _governor("projects", "--help")
    assert top.returncode == 0 and top.stdout.startswith("usage: python -m governor projects ")
    listed = re.findall(r"^    (\S+)", top.stdout, re.MULTILINE)
    assert listed == ["list", "get", "set", "delete", "rotate-key", "keys", "apply"]
    apply = _governor("projects", "apply", "--help")
    assert apply.returncode == 0
    assert re.search(r"-f FILE, --file FILE\s+projects\.json", apply.stdout)
    assert "--prune" in apply.stdout and "--dry-run" in apply.stdout
    assert "--no-account-check" in apply.stdout and "--no-account-check" in _governor("projects", "set", "-h").stdout
    unknown = _governor("projects", "rename")
    assert unknown.returncode == 2 and "invalid choice: 'rename'" in unknown.stderr


def test_cli_process_uses_the_environment(azurite, table_prefix):
    env = {**os.environ, **azurite_env(table_prefix)}
    command = [sys.executable, "-m", "governor", "projects"]
    applied = subprocess.run([*command, "apply", "-f", str(EXAMPLE)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    listed = subprocess.run([*command, "list", "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert [p["name"] for p in json.loads(listed.stdout)["projects"]] == ["demo", "design-review"]
    assert "AccountKey" not in applied.stderr + listed.stderr


def test_named_keys_list_add_revoke_rotate(store):
    doc = '{"rates": {"Standard": 6}, "budget": {"daily": 50}, "maxConcurrent": 4}'
    run(store, "set", "alpha", "--json", doc)
    code, key, err = run(store, "keys", "add", "alpha", "kiosk", "--max-concurrent", "2", "--daily-budget", "10")
    assert code == 0 and "shown once" in err
    key = key.strip()
    assert store.find_key("alpha", key, utcnow()).name == "kiosk"
    code, out, _ = run(store, "keys", "list", "alpha")
    assert code == 0 and "kiosk" in out and "default" in out and key not in out
    code, out, _ = run(store, "keys", "list", "alpha", "--json")
    listed = {k["name"]: k for k in json.loads(out)["keys"]}
    assert listed["kiosk"]["limits"] == {"maxConcurrent": 2, "dailyBudget": "10.000000", "monthlyBudget": None}
    assert run(store, "keys", "add", "alpha", "kiosk")[0] == 1  # taken
    code, _, err = run(store, "keys", "add", "alpha", "big", "--max-concurrent", "5")
    assert code == 2 and "maxConcurrent" in err and "big" not in run(store, "keys", "list", "alpha")[1]
    code, _, err = run(store, "keys", "add", "alpha", "a/b")
    assert code == 2 and "name" in err
    code, new_key, _ = run(store, "keys", "rotate", "alpha", "kiosk")
    assert code == 0 and store.find_key("alpha", key, utcnow()) is None
    assert store.find_key("alpha", new_key.strip(), utcnow()).name == "kiosk"
    assert run(store, "keys", "revoke", "alpha", "kiosk")[0] == 0
    assert store.find_key("alpha", new_key.strip(), utcnow()) is None
    assert run(store, "keys", "revoke", "alpha", "kiosk")[0] == 1
    assert run(store, "keys", "list", "ghost")[0] == 1  # no such project: 1, as for get and delete


def test_a_dry_run_says_the_plan_and_writes_nothing(store, tmp_path):
    code, out, err = run(store, "apply", "-f", str(EXAMPLE), "--dry-run")
    assert (code, out) == (0, "") and "create demo" in err and "create design-review" in err
    assert store.list_projects() == []
    run(store, "apply", "-f", str(EXAMPLE))
    only = tmp_path / "one.json"
    changed = json.loads(EXAMPLE.read_text())["projects"][0] | {"maxConcurrent": 7}
    only.write_text(json.dumps({"projects": [changed]}))
    before = store.list_projects()
    code, out, err = run(store, "apply", "-f", str(only), "--prune", "--dry-run")
    assert (code, out) == (0, "") and "update demo" in err and "delete design-review" in err
    assert store.list_projects() == before
    code, _, err = run(store, "apply", "-f", str(only))
    assert "not in file (kept; --prune deletes) design-review" in err
    assert store.get_project("demo").max_concurrent == 7


def test_a_created_projects_key_is_answered_once_and_never_in_a_repr(store):
    specs = parse_projects_file(EXAMPLE.read_text())
    applied = ManageService(store).apply(specs)
    keys = [step.key for step in applied if step.action == "create"]
    assert len(keys) == 2 and all(store.verify_key(step.name, step.key) for step in applied)
    assert not any(key in repr(applied) for key in keys)
    again = ManageService(store).apply(specs)
    assert [(step.action, step.key) for step in again] == [("unchanged", None)] * 2


DOC = {"allowedSizes": ["Standard"], "rates": {"Standard": 3}, "budget": {"daily": 10}}


def test_set_refuses_an_arr_account_the_app_lacks_and_writes_nothing(store):
    """As the manage route does: every request of such a project would answer 503 'not configured'."""
    code, out, err = run(store, "set", "lost", "--json", json.dumps(DOC | {"account": "nowhere"}))
    assert (code, out) == (2, "")
    assert "error: account: ARR account 'nowhere' is not configured (configured: default, japaneast, westeurope)" in err
    placed = DOC | {"placement": ["default", {"account": "nowhere", "rates": {"Standard": 4}}]}
    code, out, err = run(store, "set", "lost", "--json", json.dumps(placed))
    assert (code, out) == (2, "") and "error: placement[1]: ARR account 'nowhere' is not configured" in err
    assert store.get_project("lost") is None and store.list_projects() == []
    code, out, err = run(store, "set", "lost", "--json", json.dumps(DOC | {"placement": ["westeurope", "default"]}))
    assert code == 0 and "created lost" in err and store.verify_key("lost", out.strip())  # accounts it has: written


def test_apply_naming_an_arr_account_the_app_lacks_writes_none_of_the_file(store, tmp_path):
    projects = json.loads(EXAMPLE.read_text())["projects"]
    lost = projects[1] | {"account": "nowhere"}
    bad = tmp_path / "projects.json"
    bad.write_text(json.dumps({"projects": [projects[0], lost]}, indent=2))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if text == "    {" and i > 3)
    for extra in ((), ("--dry-run",)):
        code, out, err = run(store, "apply", "-f", str(bad), *extra)
        assert (code, out) == (2, "") and "Traceback" not in err
        assert f"error: line {line}: projects[1].account: ARR account 'nowhere' is not configured" in err
        assert store.list_projects() == []  # not even the good project before it
    run(store, "apply", "-f", str(EXAMPLE))
    before = store.list_projects()
    changed = projects[0] | {"maxConcurrent": 7}  # a valid change before the bad project
    bad.write_text(json.dumps({"projects": [changed, projects[1] | {"placement": ["default", "mars"]}]}))
    code, out, err = run(store, "apply", "-f", str(bad), "--prune")
    assert (code, out) == (2, "") and "projects[1].placement[1]: ARR account 'mars' is not configured" in err
    assert store.list_projects() == before


def test_without_arr_settings_set_and_apply_refuse_unless_told_not_to_check(store, monkeypatch):
    """Nothing to check against: not a silent write, not a refusal of every account (the embedded
    defaults configure none); the message says what to set, or the flag that skips the check."""
    for name in NO_ARR:
        monkeypatch.delenv(name)
    for argv in (("set", "alpha", "--json", json.dumps(DOC)), ("apply", "-f", str(EXAMPLE))):
        code, out, err = run(store, *argv)
        assert (code, out) == (2, "")
        assert "no ARR account is configured here" in err and "ARR_ACCOUNT_ID" in err
        assert "GOVERNOR_ARR_ACCOUNTS" in err and "--no-account-check" in err
    assert store.list_projects() == []
    assert run(store, "list") == (0, "", "")  # the commands that write no project need no ARR settings
    code, _, err = run(store, "set", "alpha", "--json", json.dumps(DOC | {"account": "anywhere"}), "--no-account-check")
    assert code == 0 and "created alpha" in err
    code, _, err = run(store, "apply", "-f", str(EXAMPLE), "--no-account-check")
    assert code == 0 and "create demo" in err and "create design-review" in err


def test_only_the_account_names_are_read(store, monkeypatch):
    """An operator's shell has the app's account settings but not the secrets they name."""
    monkeypatch.delenv("ARR_ACCOUNT_ID")
    extra = [{"name": "eastus", "accountId": DEV_ACCOUNT_ID, "serviceEndpoint": "eastus", "accountKeySetting": "UNSET"}]
    monkeypatch.setenv("GOVERNOR_ARR_ACCOUNTS", json.dumps(extra))
    code, _, err = run(store, "set", "alpha", "--json", json.dumps(DOC))  # account "default", which it lacks
    assert code == 2 and "account: ARR account 'default' is not configured (configured: eastus)" in err
    assert run(store, "set", "alpha", "--json", json.dumps(DOC | {"account": "eastus"}))[0] == 0


def test_the_cli_process_refuses_an_unknown_account_without_a_traceback(azurite, table_prefix, tmp_path):
    env = {**os.environ, **azurite_env(table_prefix)}
    lost = tmp_path / "lost.json"
    lost.write_text(json.dumps(DOC | {"account": "nowhere"}))
    command = [sys.executable, "-m", "governor", "projects"]
    done = subprocess.run([*command, "set", "lost", "-f", str(lost)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: account: ARR account 'nowhere' is not configured"), done.stderr
    assert "Traceback" not in done.stderr
    listed = subprocess.run([*command, "list"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout == ""
