"""HTTP and timer blueprints. function_app.py registers every blueprint listed here.

Each blueprint module must stay cheap to import: no I/O and no heavy SDK at module level.
"""

from __future__ import annotations

import importlib

# Modules that define a module-level `bp = func.Blueprint()`.
BLUEPRINT_MODULES: tuple[str, ...] = (
    "governor.functions.gate",
    "governor.functions.manage",
    "governor.functions.health",
    "governor.functions.openapi",
    "governor.functions.dashboard",
    "governor.functions.sweep",
)


def blueprints() -> list:
    return [importlib.import_module(name).bp for name in BLUEPRINT_MODULES]
