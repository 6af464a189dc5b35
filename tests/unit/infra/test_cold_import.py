"""What `import function_app` loads: the platform pays for it at every cold start (Flex Consumption
stops an app that needs more than 30 s), so SDKs and the governor's inner rooms load on first use.
Speed itself is measured in bench/cold_start_bench.py; this pins which modules may load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Each of these once crept into the import (the OpenAPI schemas pulled in the whole core).
LAZY = (
    "requests",
    "azure.core",
    "azure.data",
    "azure.identity",
    "azure.monitor",
    "opentelemetry",
    "standardwebhooks",
    "croniter",
    "zoneinfo",
    "uuid",
    "decimal",
    "governor.core.model",
    "governor.core.policy",
    "governor.service",
    "governor.store",
    "governor.arr",
    "governor.settings",
    "governor.telemetry",
)


def test_importing_the_app_loads_no_sdk_and_no_inner_room():
    probe = "import json, sys, function_app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "azure.functions" in loaded and "governor.functions.gate" in loaded  # the probe saw the app
    early = [m for m in loaded if any(m == lazy or m.startswith(lazy + ".") for lazy in LAZY)]
    assert early == []
