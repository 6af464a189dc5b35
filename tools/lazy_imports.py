"""Imports at the top of each module; an import inside a function says why it is lazy.

    python tools/lazy_imports.py            # governor/ and function_app.py (what `make lint` runs)
    python tools/lazy_imports.py PATH...    # these files or folders

An `import` or `from ... import` inside a function or method fails the check, listed as
`path:line: module`, unless its first line ends with `# lazy: <reason>`. Two reasons hold. The cold
start: Flex Consumption imports function_app in every new worker, so `import function_app` must stay
about as cheap as `import azure.functions` (bench/cold_start_bench.py), and what it loads defers the
SDKs and the governor's inner rooms to their first use (tests/unit/infra/test_cold_import.py pins
which). And optional SDKs, which load only when their feature is on. Module-level imports, those in
`if TYPE_CHECKING:` blocks included, are not checked.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (ROOT / "governor", ROOT / "function_app.py")
MARKER = re.compile(r"#\s*lazy:\s*\S")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def unmarked(source: str, path: str = "<source>") -> list[str]:
    """`path:line: module` for each import inside a function of `source` without a `# lazy:` reason."""
    lines = source.splitlines()
    return [
        f"{path}:{node.lineno}: {_module(node)}"
        for node in _nested_imports(ast.parse(source, path), in_function=False)
        if not MARKER.search(lines[node.lineno - 1])
    ]


def _nested_imports(node: ast.AST, in_function: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if in_function and isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _nested_imports(child, in_function or isinstance(child, FUNCTIONS))


def _module(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.Import):
        return ", ".join(alias.name for alias in node.names)
    return "." * node.level + (node.module or "")


def check(paths: Iterable[Path]) -> list[str]:
    """What `unmarked` finds in these files, and in every .py file under these folders."""
    found = []
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            name = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
            found += unmarked(file.read_text(encoding="utf-8"), str(name))
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    found = check([Path(a).resolve() for a in args] or DEFAULT)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import(s) inside a function without a `# lazy: <reason>` comment", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
