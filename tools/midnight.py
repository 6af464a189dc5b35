"""Run the suite with the wall clock set shortly before a UTC midnight, so that the crossing lands
while tests run: an ordinary day, a month's last day, a leap day's eve, a leap February's end and
the year's last day.

Money is split by UTC day and month; tests that assumed nothing changes under them have failed
here before (three, each fixed) where the normal suite, run at a random time of day, passed.
The clock moves on normally from the point: only the wall clock is shifted, in every process the
suite starts (Azurite, the emulator, the local host), by tools/clockshim.c under LD_PRELOAD.
Needs a C compiler. `make midnight` runs every point; `MIDNIGHT_POINTS=year` picks some, and
PYTEST_ARGS narrows the suite.

    python tools/midnight.py [--points day,month,leap,leap-month,year] [pytest arguments...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tools" / "clockshim.c"
LIBRARY = ROOT / ".data" / "clockshim.so"
LEAD_SECONDS = 90  # before midnight: the suite's setup is done and its first files are running
POINTS = {
    "day": datetime(2027, 3, 17, tzinfo=UTC),
    "month": datetime(2027, 5, 1, tzinfo=UTC),
    "leap": datetime(2028, 2, 29, tzinfo=UTC),
    "leap-month": datetime(2028, 3, 1, tzinfo=UTC),  # a month of 29 days ends
    "year": datetime(2028, 1, 1, tzinfo=UTC),
}


def build() -> Path:
    """Compile the shim when the source is newer than the library (or it is missing)."""
    if LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        sys.exit("midnight: no C compiler (cc or gcc) to build tools/clockshim.c")
    LIBRARY.parent.mkdir(exist_ok=True)
    command = [compiler, "-shared", "-fPIC", "-O2", "-o", str(LIBRARY), str(SOURCE), "-ldl", "-lpthread"]
    subprocess.run(command, check=True)
    return LIBRARY


def shifted(midnight: datetime, library: Path, lead: int = LEAD_SECONDS) -> dict[str, str]:
    """The environment that makes a process start `lead` seconds before `midnight`, from the real
    clock even where this process runs shifted itself (the suite under `make midnight` tests this)."""
    preloaded = (os.environ.get("LD_PRELOAD") or "").replace(":", " ").split()
    current = int(os.environ.get("FAKE_OFFSET_SECONDS") or 0) if str(library) in preloaded else 0
    offset = int(midnight.timestamp()) - lead - (int(datetime.now(UTC).timestamp()) - current)
    preload = " ".join([str(library), *(entry for entry in preloaded if entry != str(library))])
    return {**os.environ, "FAKE_OFFSET_SECONDS": str(offset), "LD_PRELOAD": preload}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default=",".join(POINTS), help="comma-separated: " + ", ".join(POINTS))
    known, pytest_args = parser.parse_known_args(argv)
    chosen = [p.strip() for p in known.points.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in POINTS]
    if unknown or not chosen:
        parser.error(f"--points: unknown {unknown}; choose from {', '.join(POINTS)}")
    library = build()
    results = {}
    for name in chosen:
        print(
            f"midnight: {name}: the clock starts {LEAD_SECONDS} s before {POINTS[name]:%Y-%m-%d %H:%M} UTC", flush=True
        )
        command = [sys.executable, "-m", "pytest", *pytest_args]
        results[name] = subprocess.run(command, cwd=ROOT, env=shifted(POINTS[name], library)).returncode
    for name, code in results.items():
        print(f"midnight: {name}: {'passed' if code == 0 else f'FAILED (pytest exit {code})'}")
    return 0 if all(code == 0 for code in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
