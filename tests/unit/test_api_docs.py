"""Every JSON request body in docs/api.md and the README's HTTP API block is one the governor accepts:
project documents parse with governor.core.policy.document, session bodies with the gate's parsers."""

import json
import re
from pathlib import Path

import pytest

from governor.core.model import ProjectPolicy, utcnow
from governor.core.policy.callers import parse_keys_post
from governor.core.policy.document import policy_from_document
from governor.core.policy.gate import parse_extend_request, parse_session_request

ROOT = Path(__file__).resolve().parents[2]


def bash_commands(markdown: str) -> list[str]:
    """The curl commands of the ```bash blocks, joined over backslash continuations and over
    newlines inside a single-quoted body."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        pending = ""
        for line in block.splitlines():
            pending += line.removesuffix("\\") + " "
            if not line.endswith("\\") and pending.count("'") % 2 == 0:
                commands.append(pending.strip())
                pending = ""
    return [c for c in commands if "curl" in c]


def readme_http_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    assert "```bash" in section, "README's HTTP API block is gone"
    return section


def examples() -> list[tuple[str, str, str]]:
    """(where, command, body) for every `-d '...'` body."""
    found = []
    for where, text in (("docs/api.md", (ROOT / "docs/api.md").read_text(encoding="utf-8")), ("README", "")):
        text = text or readme_http_block()
        for command in bash_commands(text):
            found += [(where, command, body) for body in re.findall(r"-d '([^']*)'", command)]
    return found


def check(command: str, body: str) -> str:
    value = json.loads(body)
    method = (re.search(r"-X (\w+)", command) or [None, "GET"])[1]
    project = re.search(r'(?:manage/projects|\$P)/(\w+)"', command)
    if method == "PUT" and project:
        policy_from_document(value, project[1])
        return "project"
    if method == "PATCH":
        parse_extend_request(value)
        return "extend"
    if method == "POST" and re.search(r'/keys"', command):
        parse_keys_post(value, ProjectPolicy(name="demo", max_concurrent=10), utcnow())
        return "key"
    if method == "POST" and re.search(r'(sessions|\$S)"', command):
        parse_session_request(value)
        return "session"
    raise AssertionError(f"no parser known for this example: {command}")


@pytest.mark.parametrize(("where", "command", "body"), examples())
def test_example_body_is_accepted(where, command, body):
    check(command, body)


def test_each_kind_of_body_is_exemplified_in_both_places():
    kinds = {(where, check(command, body)) for where, command, body in examples()}
    assert kinds == {(w, k) for w in ("docs/api.md", "README") for k in ("project", "session", "extend", "key")}


def test_an_old_style_document_would_be_caught():
    with pytest.raises(ValueError, match="dailyBudget"):
        check("""curl -X PUT "$GOV/api/manage/projects/demo" """, '{"dailyBudget": "50", "maxLease": 240}')
