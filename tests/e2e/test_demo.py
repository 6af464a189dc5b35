"""`python -m governor demo` (make demo): the scenario's outcomes happen, over the real stack."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_scenario_reaches_every_expected_outcome(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "governor", "demo", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "-> 402 budget-exhausted" in out
    for line in (
        "[x] a request refused by the gate for budget (402)",
        "[x] a session kept alive by heartbeats and extended by the sweep",
        "[x] that session stopped by its client and settled",
        "[x] a session stopped for idleness",
        "[x] an unmanaged session found and handled (adopted into lab)",
        "[x] a session stopped when its project's budget ran out",
    ):
        assert line in out
    report = out.split("Usage report", 1)[1]
    assert "studio   day" in report and "lab      day" in report
    sessions = out.split("\nSessions\n", 1)[1].split("\nOutcomes", 1)[0].splitlines()
    assert sorted(line.split()[0] for line in sessions if line.strip()) == ["A", "C", "U"]
    assert all(" Stopped " in line for line in sessions if line.strip())  # nothing left running
