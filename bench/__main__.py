"""Run every benchmark module in bench/ (files named *_bench.py), one after another."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("*_bench.py"))
    selected = [n for n in names if not argv or any(a in n for a in argv)]
    failed = 0
    for name in selected:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(f"bench.{name}")
        failed += 1 if module.main([]) else 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
