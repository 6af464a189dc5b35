"""Write the governor's OpenAPI document, as GET /api/openapi.json serves it, to a file or stdout.

    python tools/openapi_json.py                     # to stdout
    python tools/openapi_json.py --out openapi.json  # to a file (what `make lint` hands Spectral)

Built from the same app function_app.py exposes, without a host, settings or storage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from governor.functions import build_app
    from governor.functions.openapi_doc import document, registered_functions

    text = json.dumps(document(registered_functions(build_app())), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
