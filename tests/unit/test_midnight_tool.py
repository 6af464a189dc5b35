"""tools/midnight.py: a process it starts reads the wall clock it was asked for, and its children
inherit the shift (Azurite and the emulator are children of the suite)."""

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import midnight

READ = "import time, datetime; print(time.time()); print(datetime.datetime.now(datetime.UTC).timestamp())"


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
@pytest.mark.parametrize("point", sorted(midnight.POINTS))
def test_a_child_starts_the_lead_before_the_point(point):
    target = midnight.POINTS[point]
    env = midnight.shifted(target, midnight.build())
    grandchild = f"[sys.executable, '-c', {READ!r}]"
    child = f"import subprocess, sys; print(subprocess.run({grandchild}, capture_output=True, text=True).stdout)"
    output = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True).stdout
    expected = target.timestamp() - midnight.LEAD_SECONDS
    readings = [float(line) for line in output.split()]
    assert len(readings) == 2
    for reading in readings:
        assert expected - 1 <= reading <= expected + 10, datetime.fromtimestamp(reading, UTC)


def test_an_unknown_point_is_refused():
    with pytest.raises(SystemExit) as refused:
        midnight.main(["--points", "noon"])
    assert refused.value.code == 2
