"""Bad flags of the dev tools' commands are usage errors (exit 2, the flag and its range named),
refused before anything starts, not tracebacks after."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from governor import cli

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("argv", "flag", "says"),
    [
        (["run", "--azurite-port", "99999"], "--azurite-port", "0 to 65535"),
        (["run", "--port", "99999"], "--port", "0 to 65535"),
        (["run", "--emulator-port", "-1"], "--emulator-port", "0 to 65535"),
        (["run", "--time-scale", "0"], "--time-scale", "greater than 0"),
        (["run", "--time-scale", "nan"], "--time-scale", "greater than 0"),
        (["serve", "--port", "99999"], "--port", "0 to 65535"),
        (["emulator", "--port", "99999"], "--port", "0 to 65535"),
        (["emulator", "--tls-port", "65536"], "--tls-port", "0 to 65535"),
        (["emulator", "--time-scale", "inf"], "--time-scale", "greater than 0"),
    ],
)
def test_an_out_of_range_flag_is_a_usage_error_before_anything_starts(tmp_path, argv, flag, says):
    if argv[0] == "run":
        argv = [*argv, "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [sys.executable, "-m", "governor", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert f"argument {flag}: must be" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # not even "starting ..."
    assert not (tmp_path / "data").exists()  # no Azurite, no emulator, no logs


@pytest.mark.parametrize("text", ["0", "1", "7071", "65535"])
def test_a_port_from_0_to_65535_is_taken(text):
    assert cli.port(text) == int(text)


@pytest.mark.parametrize("text", ["65536", "-1", "", " 80", "80 ", "8o", "٨٠", "1e3", "9" * 5000])
def test_anything_else_is_not_a_port(text):
    with pytest.raises(argparse.ArgumentTypeError, match="0 to 65535"):
        cli.port(text)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "-inf", "x", ""])
def test_a_time_scale_is_a_finite_number_above_0(text):
    with pytest.raises(argparse.ArgumentTypeError, match="greater than 0"):
        cli.positive(text)
    assert cli.positive("0.5") == 0.5
