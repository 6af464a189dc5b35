"""What ships to Azure: the files .funcignore leaves in, which must be exactly what the app imports.

The file list follows Core Tools' rules (`func azure functionapp publish`): its GitIgnoreParser
matches every pattern at the start of a file's path, a negated pattern re-admits, and `.git`,
`.vscode`, `.funcignore`, `.gitignore`, `local.settings.json` and `project.lock.json` never ship.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.unit.infra.bicep import ROOT

APP_FILES = {"function_app.py", "host.json", "requirements.txt"}
NEVER_DIRS = {".git", ".vscode"}
NEVER_FILES = {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}


def _regex(patterns: list[str]) -> re.Pattern:
    if not patterns:
        return re.compile("$^")
    parts = []
    for pattern in patterns:
        escaped = re.sub(r"[-\[\]/{}()+?.\\^$|]", lambda m: "\\" + m.group(), pattern)
        parts.append(escaped.replace("**", "(.+)").replace("*", "([^/]+)"))
    return re.compile("^((" + ")|(".join(parts) + "))")


class FuncIgnore:
    def __init__(self, text: str):
        positive, negative = [], []
        for line in (line.strip() for line in text.split("\n")):
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            line = line.removeprefix("!").removeprefix("/")
            (negative if negated else positive).append(line)
        self._positive, self._negative = _regex(sorted(positive)), _regex(sorted(negative))

    def ships(self, path: str) -> bool:
        parts = path.split("/")
        if NEVER_DIRS & set(parts[:-1]) or parts[-1] in NEVER_FILES:
            return False
        return bool(self._negative.match(path)) or not self._positive.match(path)


FUNCIGNORE = FuncIgnore((ROOT / ".funcignore").read_text(encoding="utf-8"))


def package() -> list[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return sorted(path for path in tracked.splitlines() if FUNCIGNORE.ships(path))


def module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def imported_by_the_app() -> set[str]:
    """Every governor module `import function_app` and its functions can import, late imports included:
    function_app.py's imports and the blueprints it registers by name, then their imports, closed
    over (with each package's __init__, which Python runs first)."""
    from governor.functions import BLUEPRINT_MODULES

    tree = ast.parse((ROOT / "function_app.py").read_text(encoding="utf-8"))
    start = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    start |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    graph = grimp.build_graph("governor", cache_dir=None)
    todo = [m for m in start | set(BLUEPRINT_MODULES) if m.split(".")[0] == "governor"]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += graph.find_modules_directly_imported_by(module)
    return seen


def test_the_package_is_the_app_and_the_modules_it_imports():
    shipped = package()
    outside = [p for p in shipped if p not in APP_FILES and not p.startswith("governor/")]
    assert outside == []
    assert set(shipped) >= APP_FILES
    shipped_modules = {module_of(p) for p in shipped if p.startswith("governor/")}
    needed = imported_by_the_app()
    assert sorted(needed - shipped_modules) == []  # imported by the app, left out of the package
    assert sorted(shipped_modules - needed) == []  # shipped, never imported by the app


def zip_deploy_command() -> list[str]:
    """docs/deploy.md's `git archive` command (zip deploy), as shell words."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    found = re.search(r"^ *(git archive .*?)\n *az functionapp", text, re.S | re.M)
    assert found, "docs/deploy.md lost its git archive command"
    return shlex.split(found.group(1).replace("\\\n", " "))


def test_the_zip_deploy_packages_what_funcignore_keeps():
    words = zip_deploy_command()
    pathspecs = words[words.index("HEAD") + 1 :]
    excluded = sorted(p.removeprefix(":(exclude)") for p in pathspecs if p.startswith(":(exclude)"))
    ignored = [line.strip() for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()]
    assert excluded == sorted(line.rstrip("/") for line in ignored if line.startswith("governor/"))
    listed = subprocess.run(
        ["git", "ls-files", "--", *pathspecs], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert sorted(listed.splitlines()) == package()


@pytest.mark.parametrize(
    "path",
    [
        "local.settings.json",
        ".venv/lib/python3.11/site-packages/x.py",
        "tests/conftest.py",
        ".data/__azurite_db_table__.json",
        "node_modules/azurite/package.json",
        "governor/__pycache__/model.cpython-311.pyc",
        "governor/emulator/server.py",
        "governor/localhost/server.py",
        "governor/demo/cli.py",
        "tools/import_contracts.py",
    ],
)
def test_local_and_development_files_never_ship(path):
    assert not FUNCIGNORE.ships(path)


def test_the_matcher_reads_patterns_as_core_tools_does():
    ignore = FuncIgnore("docs\n*.md\n**/x/\n!keep.md\n/lead\n")
    assert not ignore.ships("docs/a.md") and not ignore.ships("docsite/a")  # a prefix of the path
    assert not ignore.ships("README.md") and ignore.ships("sub/README.md")  # * stops at /
    assert not ignore.ships("a/b/x/c.py") and ignore.ships("x/c.py")  # ** needs one character or more
    assert ignore.ships("keep.md") and not ignore.ships("lead/a")
    assert not ignore.ships("a/.git/config") and not ignore.ships("a/local.settings.json")


def test_function_app_imports_and_indexes_from_the_package_alone(tmp_path):
    for path in package():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, tmp_path / path)
    shipped = sorted(module_of(p) for p in package() if p.startswith("governor/"))
    script = (
        "import importlib, json, sys\n"
        "import function_app, governor\n"
        "names = sorted(f.get_function_name() for f in function_app.app.get_functions())\n"
        f"for name in {shipped!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'names': names, 'from': governor.__file__}))\n"
    )
    # -E -s: no PYTHONPATH and no user site, so only the package's copy can be found
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(answer["from"]).resolve().is_relative_to(tmp_path.resolve())
    from governor.functions import build_app
    from governor.functions.openapi_doc import registered_functions

    assert answer["names"] == sorted(f.get_function_name() for f in registered_functions(build_app()))
    assert len(answer["names"]) >= 10
