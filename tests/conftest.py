"""Shared fixtures. Real components only: the ARR emulator over HTTP and Azurite."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.fixtures.emulator", "tests.fixtures.azurite", "tests.fixtures.stack", "tests.fixtures.regions"]
