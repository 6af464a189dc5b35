"""Shared fixtures. Real components only: the ARR emulator over HTTP and Azurite."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.fixtures.emulator", "tests.fixtures.azurite", "tests.fixtures.stack", "tests.fixtures.regions"]

# `make test` hands each worker a whole test file at a time (xdist --dist loadfile, in collection
# order). The long files (the demo, the invariant machines, the crash tests) are in these folders:
# they start first, so no long file runs alone at the end while the other workers sit idle.
LONG_FIRST = ("e2e", "reliability", "clients", "integration", "unit")


def pytest_collection_modifyitems(items):
    def folder(item) -> int:
        parts = Path(str(item.path)).relative_to(ROOT / "tests").parts
        return LONG_FIRST.index(parts[0]) if parts[0] in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=folder)  # stable: a file's tests keep their order
