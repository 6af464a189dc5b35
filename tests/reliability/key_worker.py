"""A second gate process for the cross-instance key tests (`python -m tests.reliability.key_worker`).

It runs the function app in process, like tests/integration/gate, with the settings it inherits.
Per stdin line (JSON: action "create" or "list", project, key) it makes that one request and prints
`{"status": ..., "reason": ..., "sessionId": ...}` as one JSON line.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from tests.integration.gate.conftest import Gate

    gate = Gate(store=None, emulator=None)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["action"] == "create":
            reply = gate.create(command["project"], command["key"], command.get("body"))
        else:
            reply = gate.list(command["project"], command["key"])
        body = reply.body if isinstance(reply.body, dict) else {}
        print(
            json.dumps({"status": reply.status, "reason": reply.reason, "sessionId": body.get("sessionId")}), flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
