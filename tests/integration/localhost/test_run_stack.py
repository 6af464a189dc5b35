"""`python -m governor run`'s own steps, without its children: applying the projects file and the banner."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from governor.localhost import stack as stack_module
from governor.localhost.stack import Stack

PROJECTS = '{"projects": [{"name": "mine"}, {"name": "yours"}]}'


def _options(data_dir: Path, projects) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    stack_module.configure(parser)
    return parser.parse_args(["--data-dir", str(data_dir), "--projects", str(projects)])


class FakeApply:
    """`projects apply` as a process: what it was asked, and the output of a real one that created projects."""

    def __init__(self, created: dict[str, str]):
        self.created = created
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, argv, cwd, **kwargs):
        self.calls.append((list(argv), Path(cwd)))
        stderr = "".join(f"created {name}\n" for name in self.created)
        stderr += "".join(f"caller key for {name} (shown once; store it now):\n" for name in self.created)
        stdout = "".join(f"{key}\n" for key in self.created.values())
        return subprocess.CompletedProcess(argv, 0, stdout, stderr)


@pytest.fixture
def fake_apply(monkeypatch):
    fake = FakeApply({"mine": "key-of-mine-0123456789", "yours": "key-of-yours-0123456789"})
    monkeypatch.setattr(stack_module.subprocess, "run", fake)
    return fake


def test_a_relative_projects_path_is_read_where_it_was_checked(tmp_path, monkeypatch, fake_apply):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.json").write_text(PROJECTS, encoding="utf-8")
    monkeypatch.chdir(elsewhere)  # not the repository root, where `projects apply` runs
    stack = Stack(_options(tmp_path / "data", "mine.json"))
    stack.logs.mkdir(parents=True)

    line = stack.apply_projects()

    assert "applied" in line and "NOT" not in line and "FAILED" not in line
    [(argv, cwd)] = fake_apply.calls
    assert cwd != elsewhere  # the case that failed: the file is named relative to another directory
    given = Path(argv[argv.index("-f") + 1])
    assert (cwd / given).resolve() == (elsewhere / "mine.json").resolve()


def test_a_missing_relative_projects_path_is_named_and_nothing_is_applied(tmp_path, monkeypatch, fake_apply):
    monkeypatch.chdir(tmp_path)
    stack = Stack(_options(tmp_path / "data", "missing.json"))
    assert stack.apply_projects() == "projects: NOT applied: missing.json does not exist"
    assert fake_apply.calls == []


def test_the_banner_shows_every_caller_key_the_apply_created_and_no_log_file_has_one(tmp_path, fake_apply):
    (tmp_path / "two.json").write_text(PROJECTS, encoding="utf-8")
    stack = Stack(_options(tmp_path / "data", tmp_path / "two.json"))
    stack.logs.mkdir(parents=True)
    stack.host_url = "http://127.0.0.1:7071"

    text = stack_module.banner(stack, stack.apply_projects())

    for name, key in fake_apply.created.items():
        assert f"Caller key of project {name} (created now, shown once): {key}" in text
    assert text.count("X-Api-Key: key-of-mine-0123456789") == 2  # the example requests use the first one
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            written = path.read_text(encoding="utf-8")
            assert [key for key in fake_apply.created.values() if key in written] == [], path
