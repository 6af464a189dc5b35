"""Check the tree's imports against docs/architecture.md's "Rooms and rules" table with import-linter.

    python tools/import_contracts.py            # check (what `make lint` runs); exit 1 on a violation
    python tools/import_contracts.py --print    # show the contracts generated from the table

The table is the only source: each row becomes a `forbidden` contract that keeps the room's
modules from importing any room, or third-party package, its "may import" cell does not name, and
the entry point's row (function_app.py, a module grimp cannot read) a contract of this tool's own
type; a room the cell allows "only from `path`" adds a contract that keeps the row's other modules
from it. So import-linter's verdict ("Contracts: N kept") counts every row and every such rule. Nothing else is
configured, so the contracts cannot drift from the table.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

PACKAGE = "governor"
ENTRY_POINT = "entry_point"  # the contract type of the entry point's row (EntryPointContract)
APP = "function_app"  # the entry point: a module, not a package, so checked here rather than by import-linter
HEADING = "## Rooms and rules"
COLUMNS = ["room", "path", "what", "may import"]
NOTHING = {"stdlib only", "—", ""}
NO_IO = "no I/O"  # in a "may import" cell: not even the standard library's modules that do I/O
ONLY = r"([a-z][\w-]*)\s*\(only from `([^`]+)`"  # a room the row's other modules may not import
# The standard library's I/O: files, processes, sockets, threads, clocks that wait, logging's
# handlers. grimp sees stdlib modules by their top-level name only, so urllib (parse, a pure
# module, beside request) cannot be told apart and is left out; zoneinfo's tzdata reads are the
# table's one stated exception.
IO_STDLIB = (
    "asyncio", "concurrent", "ftplib", "http", "io", "logging", "mmap", "multiprocessing", "os",
    "pathlib", "queue", "select", "selectors", "shutil", "signal", "smtplib", "socket",
    "socketserver", "sqlite3", "ssl", "subprocess", "sys", "tempfile", "threading", "time",
)  # fmt: skip


class TableError(ValueError):
    """The table cannot be read as contracts, or leaves a module out."""


@dataclass
class Room:
    name: str
    modules: list[str]  # from the path column: governor/core/policy/ -> governor.core.policy
    rooms: set[str]  # rooms it may import
    packages: set[str]  # third-party top-level packages it may import
    members: list[str] = field(default_factory=list)  # the modules it owns, each with its descendants
    pure: bool = False  # "no I/O": IO_STDLIB is forbidden too
    # "arr (only from `governor/commands/arr.py`)": a room it may import from those modules alone
    only: dict[str, list[str]] = field(default_factory=dict)


def read_rooms(markdown: str) -> list[Room]:
    if HEADING not in markdown:
        raise TableError(f"no {HEADING!r} section")
    lines = markdown.split(HEADING, 1)[1].splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise TableError(f"no table under {HEADING!r}")
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    if [c.lower() for c in table[0]] != COLUMNS:
        raise TableError(f"the table's columns must be {' | '.join(COLUMNS)}, not {' | '.join(table[0])}")
    rooms = [_room(row) for row in table[2:]]
    names = {room.name for room in rooms}
    for room in rooms:
        unknown = room.rooms - names
        if unknown:
            raise TableError(f"room {room.name!r} may import {sorted(unknown)}, which name no room")
    return rooms


def _room(row: list[str]) -> Room:
    if len(row) != len(COLUMNS):
        raise TableError(f"a row needs {len(COLUMNS)} cells: {' | '.join(row)}")
    name, path, _, may = row
    modules = [_module(p) for p in re.findall(r"`([^`]+)`", path)]
    if not modules:
        raise TableError(f"room {name!r} names no path")
    only = {word: [_module(p)] for word, p in re.findall(ONLY, may)}
    may = re.sub(r"\([^)]*\)", "", may)  # commentary
    packages = set(re.findall(r"`([^`]+)`", may))
    words = {w.strip() for w in re.sub(r"`[^`]+`", "", may).split(",")}
    rooms = {w for w in words if w not in NOTHING | {NO_IO}}
    if set(only) - rooms:
        raise TableError(f"room {name!r}: 'only from' qualifies {sorted(set(only) - rooms)}, which it may not import")
    return Room(name, modules, rooms, packages, pure=NO_IO in words, only=only)


def _module(path: str) -> str:
    if path == f"{APP}.py":
        return APP
    if not path.startswith(PACKAGE + "/"):
        raise TableError(f"{path!r} is not under {PACKAGE}/ (nor {APP}.py)")
    return path.removesuffix("/").removesuffix(".py").replace("/", ".")


def assign(rooms: list[Room], graph) -> None:
    """Give each room the modules under its paths. Every folder is one room: a path inside another
    room's path is an error, as is a module of the package in no room (the package's own
    `__init__`, which may import only the standard library, is everyone's)."""
    claimed = [m for room in rooms for m in room.modules]
    for room in rooms:
        for module in room.modules:
            if module == APP:
                room.members.append(module)
                continue
            if module not in graph.modules:
                raise TableError(f"room {room.name!r}: {module} does not exist")
            outer = [o for o in claimed if module.startswith(o + ".")]
            if outer:
                raise TableError(f"room {room.name!r}: {module} lies inside {outer[0]}, another room's folder")
            room.members.append(module)
    homeless = sorted(
        m for m in graph.find_descendants(PACKAGE) if not any(m == o or m.startswith(o + ".") for o in claimed)
    )
    if homeless:
        raise TableError(f"in no room of docs/architecture.md: {', '.join(homeless)}")


def third_party(graph) -> set[str]:
    return {
        m
        for m in graph.modules
        if m != PACKAGE and not m.startswith(PACKAGE + ".") and m not in sys.stdlib_module_names
    }


def contracts(rooms: list[Room], graph, root: Path) -> str:
    """One contract per row: a `forbidden` one for each room of the package, and the entry point's
    of this tool's own type (`EntryPointContract`), so import-linter's verdict counts every row."""
    externals = third_party(graph)
    out = ["[importlinter]", f"root_package = {PACKAGE}", "include_external_packages = True"]
    out += ["contract_types =", f"    {ENTRY_POINT}: {Path(__file__).stem}.EntryPointContract", ""]
    for room in rooms:
        if room.members == [APP]:
            allowed = ", ".join(sorted(room.rooms | room.packages)) or "stdlib only"
            out += [f"[importlinter:contract:{room.name}]", f"name = {room.name} may import {allowed}"]
            out += [f"type = {ENTRY_POINT}", f"root = {root}", ""]
            continue
        forbidden = sorted(
            {
                m
                for other in rooms
                if other.name != room.name and other.name not in room.rooms and other.members != [APP]
                for m in other.members
            }
            | (externals - room.packages)
            | ({m for m in IO_STDLIB if m in graph.modules} if room.pure else set())
        )
        if not forbidden:
            raise TableError(f"room {room.name!r} may import every room: a row must forbid something")
        allowed = ", ".join(sorted(room.rooms) + sorted(room.packages)) or "stdlib only"
        allowed += ", no I/O" if room.pure else ""
        out += [
            f"[importlinter:contract:{room.name}]",
            f"name = {room.name} may import {allowed}",
            "type = forbidden",
            "source_modules =",
            *(f"    {m}" for m in room.members),
            "forbidden_modules =",
            *(f"    {m}" for m in forbidden),
            # Each room's contract checks its own arrows; chains are the sum of those.
            "allow_indirect_imports = True",
            "",
        ]
        out += _only_contracts(room, rooms, graph)
    return "\n".join(out)


def _only_contracts(room: Room, rooms: list[Room], graph) -> list[str]:
    """A `forbidden` contract per "only from" of the row: the room's other modules may not import
    that room. Module by module (`as_packages = False`): the allowed module lies inside the room."""

    def expand(modules: list[str]) -> set[str]:
        return {m for module in modules for m in {module} | graph.find_descendants(module)}

    out = []
    for other_name, allowed in room.only.items():
        for module in allowed:
            if not any(module == m or module.startswith(m + ".") for m in room.members):
                raise TableError(f"room {room.name!r}: {module} (only from) is not one of its modules")
        other = next(r for r in rooms if r.name == other_name)
        sources = sorted(m for m in expand(room.members) if m not in expand(allowed))
        out += [
            f"[importlinter:contract:{room.name}-{other_name}]",
            f"name = {room.name} may import {other_name} only from {', '.join(allowed)}",
            "type = forbidden",
            "as_packages = False",
            "source_modules =",
            *(f"    {m}" for m in sources),
            "forbidden_modules =",
            *(f"    {m}" for m in sorted(expand(other.members))),
            "allow_indirect_imports = True",
            "",
        ]
    return out


def app_violations(rooms: list[Room], root: Path) -> list[str]:
    """function_app.py's imports (at any depth) its row does not allow. grimp analyses packages only,
    and the entry point is a module; every other room's contract forbids importing it, since the
    graph sees it as an outside module no row grants."""
    app = next((room for room in rooms if room.members == [APP]), None)
    if app is None:
        raise TableError(f"no row for {APP}.py")
    owners = {m: room.name for room in rooms for m in room.members}
    tree = ast.parse((root / f"{APP}.py").read_text(encoding="utf-8"))
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            owner = max((m for m in owners if name == m or name.startswith(m + ".")), key=len, default=None)
            if owner is not None:
                allowed = owners[owner] in app.rooms
            else:
                allowed = top in sys.stdlib_module_names or top == "__future__" or top in app.packages
            if not allowed:
                wrong.append(f"{APP} -> {name} (l.{node.lineno})")
    return wrong


def rooms_of(root: Path, graph) -> list[Room]:
    """The table's rooms, each with the modules it owns in `graph`."""
    rooms = read_rooms((root / "docs" / "architecture.md").read_text(encoding="utf-8"))
    assign(rooms, graph)
    return rooms


def build(root: Path) -> str:
    """The import-linter configuration: one contract per row of the table."""
    import grimp

    sys.path.insert(0, str(root))
    graph = grimp.build_graph(PACKAGE, include_external_packages=True, cache_dir=None)
    stray = graph.find_modules_directly_imported_by(PACKAGE) - set(sys.stdlib_module_names)
    if stray:
        raise TableError(f"{PACKAGE}/__init__.py must import only the standard library, not {sorted(stray)}")
    rooms = rooms_of(root, graph)
    if not any(room.members == [APP] for room in rooms):
        raise TableError(f"no row for {APP}.py")
    return contracts(rooms, graph, root)


class EntryPointContract(Contract):
    """The entry point's row. grimp reads packages only and function_app.py is a module, so its
    imports are read here (`app_violations`); the verdict is import-linter's, beside the other rows'."""

    root = fields.StringField()

    def check(self, graph, verbose: bool) -> ContractCheck:
        root = Path(str(self.root))
        wrong = app_violations(rooms_of(root, graph), root)
        return ContractCheck(kept=not wrong, metadata={"wrong": wrong})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error(f"{APP}.py imports what its row does not allow:")
        for arrow in check.metadata["wrong"]:
            output.print_error(f"    {arrow}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the generated contracts and stop")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the repository")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        config = build(root)
    except TableError as exc:
        print(f"import contracts: {exc}", file=sys.stderr)
        return 1
    if args.print:
        print(config)
        return 0
    from importlinter.cli import lint_imports

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # import-linter imports the entry point's type
    with tempfile.NamedTemporaryFile("w", suffix=".ini", prefix="importlinter-", delete=False) as file:
        file.write(config)
    try:
        return lint_imports(config_filename=file.name, no_cache=True, no_logo=True)
    finally:
        Path(file.name).unlink()


if __name__ == "__main__":
    sys.exit(main())
