"""docs/architecture.md's "Rooms and rules" table, as import-linter contracts, fails an arrow the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

import import_contracts  # noqa: E402


def check(root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, str(root / "tools" / "import_contracts.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of what the contracts read: the package, the table and the tool."""
    for name in ("governor", "docs", "tools"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "function_app.py", tmp_path / "function_app.py")
    return tmp_path


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")


def test_the_tree_keeps_every_contract():
    result = check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "core may import stdlib only, no I/O KEPT" in result.stdout
    assert "app may import functions KEPT" in result.stdout  # the entry point's row, a contract of the tool's type
    rooms = import_contracts.read_rooms((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    rules = len(rooms) + sum(len(room.only) for room in rooms)  # every row, and each "only from" of a row
    assert f"Contracts: {rules} kept, 0 broken." in result.stdout  # one verdict
    assert "commands may import arr only from governor.commands.arr KEPT" in result.stdout


LATE = "def _late():\n    {}\n"


@pytest.mark.parametrize(
    ("path", "statement", "arrow"),
    [
        (
            "governor/core/policy/gate.py",
            "from governor.service import ports",
            "governor.core.policy.gate -> governor.service.ports",
        ),
        ("governor/core/model.py", "import requests", "governor.core.model -> requests"),
        # the core's row says "no I/O": not even the standard library's
        ("governor/core/model.py", "import threading", "governor.core.model -> threading"),
        ("governor/core/policy/gate.py", "from pathlib import Path", "governor.core.policy.gate -> pathlib"),
        ("governor/core/timespan.py", "import os", "governor.core.timespan -> os"),
        ("governor/store/keys.py", "from governor.arr import errors", "governor.store.keys -> governor.arr.errors"),
        ("governor/arr/wire.py", "import governor.service.ports", "governor.arr.wire -> governor.service.ports"),
        (
            "governor/service/gate/base.py",
            "from governor.arr.errors import ArrNotFound",
            "governor.service.gate.base -> governor.arr.errors",
        ),
        (
            "governor/service/sweep/run.py",
            "from governor.store import TableStore",
            "governor.service.sweep.run -> governor.store",
        ),
        (
            "governor/functions/http.py",
            "from governor.store import errors",
            "governor.functions.http -> governor.store.errors",
        ),
        ("governor/functions/openapi.py", "import function_app", "governor.functions.openapi -> function_app"),
        (
            "governor/emulator/app.py",
            "from governor.store import TableStore",
            "governor.emulator.app -> governor.store",
        ),
        # commands may import arr only from the ARR command's own module
        (
            "governor/commands/projects.py",
            "from governor.arr.accounts import account_names",
            "governor.commands.projects -> governor.arr.accounts",
        ),
    ],
)
def test_an_import_the_table_does_not_allow_fails_even_inside_a_function(tree, path, statement, arrow):
    append(tree / path, LATE.format(statement))
    result = check(tree)
    assert result.returncode == 1
    assert arrow in result.stdout, result.stdout


@pytest.mark.parametrize("statement", ["from governor.store import TableStore", LATE.format("import requests")])
def test_the_entry_point_may_import_only_the_functions(tree, statement):
    append(tree / "function_app.py", statement)
    result = check(tree)
    assert result.returncode == 1
    assert "app may import functions BROKEN" in result.stdout, result.stdout + result.stderr
    assert "function_app.py imports what its row does not allow" in result.stdout
    assert ("function_app -> governor.store" if "store" in statement else "function_app -> requests") in result.stdout


def test_a_module_in_no_room_fails(tree):
    (tree / "governor" / "extra.py").write_text('"""Somewhere new."""\n', encoding="utf-8")
    result = check(tree)
    assert result.returncode == 1
    assert "in no room" in result.stderr and "governor.extra" in result.stderr


def test_a_room_inside_another_rooms_folder_fails(tree):
    table = tree / "docs" / "architecture.md"
    text = table.read_text(encoding="utf-8")
    row = "| ports | `governor/service/ports.py` | the ports | core |\n"
    table.write_text(text.replace("| bootstrap |", row + "| bootstrap |", 1), encoding="utf-8")
    result = check(tree)
    assert result.returncode == 1
    assert "governor.service.ports lies inside governor.service" in result.stderr


def test_the_table_is_the_source(tree):
    table = tree / "docs" / "architecture.md"
    text = table.read_text(encoding="utf-8")
    allowed = "| core, settings, telemetry (the interface: a span per table read and transaction), "
    allowed += "`azure` (azure-data-tables; azure-identity lazily: Entra ID only) |"
    assert allowed in text
    table.write_text(
        text.replace(allowed, allowed.replace("core, settings,", "core, settings, arr,")), encoding="utf-8"
    )
    append(tree / "governor/store/keys.py", LATE.format("from governor.arr import errors"))
    assert check(tree).returncode == 0  # the row now allows store -> arr


def test_rooms_are_read_from_the_table():
    rooms = {r.name: r for r in import_contracts.read_rooms((ROOT / "docs" / "architecture.md").read_text())}
    assert rooms["core"].modules == ["governor.core"]
    assert (rooms["core"].rooms, rooms["core"].packages) == (set(), set())
    assert (rooms["store"].rooms, rooms["store"].packages) == ({"core", "settings", "telemetry"}, {"azure"})
    assert rooms["bootstrap"].modules == ["governor.bootstrap"]
    assert rooms["commands"].modules == ["governor.commands"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("| x | `governor/x.py` | x | core, nowhere |", "name no room"),
        ("| x | governor/x.py | x | core |", "names no path"),
        ("| x | `lib/x.py` | x | core |", "is not under governor/"),
        ("| x | `governor/x.py` | core |", "needs 4 cells"),
        ("| x | `governor/x.py` | x | stdlib only (only from `governor/x.py`) |", "which it may not import"),
    ],
)
def test_a_row_the_tool_cannot_read_is_an_error(row, message):
    head = "## Rooms and rules\n\n| room | path | what | may import |\n|---|---|---|---|\n"
    core = "| core | `governor/core/model.py` | the core | stdlib only |\n"
    with pytest.raises(import_contracts.TableError, match=message):
        import_contracts.read_rooms(head + core + row + "\n")


def test_a_table_without_the_entry_points_row_fails(tree):
    """Else function_app.py would go unchecked and the verdict would not say so."""
    table = tree / "docs" / "architecture.md"
    lines = [line for line in table.read_text(encoding="utf-8").splitlines() if not line.startswith("| app |")]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = check(tree)
    assert result.returncode == 1
    assert "no row for function_app.py" in result.stderr, result.stderr


def test_an_only_from_outside_the_room_is_an_error(tree):
    table = tree / "docs" / "architecture.md"
    text = table.read_text(encoding="utf-8")
    assert "arr (only from `governor/commands/arr.py`" in text
    table.write_text(text.replace("only from `governor/commands/arr.py`", "only from `governor/core/model.py`"))
    result = check(tree)
    assert result.returncode == 1
    assert "governor.core.model (only from) is not one of its modules" in result.stderr, result.stderr
