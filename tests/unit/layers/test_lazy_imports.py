"""tools/lazy_imports.py: an import inside a function says why it is not at the top."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

import lazy_imports  # noqa: E402


def test_an_unmarked_import_inside_a_function_fails():
    source = "def f():\n    import json\n\n    return json\n"
    assert lazy_imports.unmarked(source, "m.py") == ["m.py:2: json"]


def test_an_import_inside_a_method_or_a_nested_function_fails_once():
    source = (
        "class C:\n"
        "    def m(self):\n"
        "        def inner():\n"
        "            from governor.store import TableStore\n"
        "        from . import sibling\n"
    )
    assert lazy_imports.unmarked(source, "m.py") == ["m.py:4: governor.store", "m.py:5: ."]


def test_a_marked_import_passes():
    source = "def f():\n    from governor.service import gate  # lazy: cold start (governor.service)\n"
    assert lazy_imports.unmarked(source) == []


def test_a_marker_on_the_first_line_of_a_long_import_passes():
    source = "def f():\n    from azure.identity import (  # lazy: optional feature (Entra ID)\n        A,\n    )\n"
    assert lazy_imports.unmarked(source) == []


def test_a_marker_without_a_reason_fails():
    for comment in ("# lazy:", "# lazy:   ", "# lazy"):
        source = f"def f():\n    import json  {comment}\n"
        assert lazy_imports.unmarked(source, "m.py") == ["m.py:2: json"], comment


def test_module_level_imports_pass():
    source = (
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from governor.settings import Settings\n"
        "try:\n"
        "    import tomllib\n"
        "except ImportError:\n"
        "    tomllib = None\n"
        "class C:\n"
        "    x = 1\n"
    )
    assert lazy_imports.unmarked(source) == []


def test_the_whole_tree_says_why_each_lazy_import_is_lazy():
    assert lazy_imports.check([ROOT / "governor", ROOT / "function_app.py"]) == []
