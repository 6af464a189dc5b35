"""A stand-in for Application Insights' ingestion endpoint, on loopback: it accepts what the Azure
Monitor exporter posts to `/v2.1/track` (or `/v2/track`), gzip'd or plain, as a JSON array or JSON
lines, keeps every envelope and every raw body, and answers as ingestion does (all accepted).

Point `APPLICATIONINSIGHTS_CONNECTION_STRING` at `Ingestion.connection_string`.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INSTRUMENTATION_KEY = "00000000-0000-4000-8000-000000000024"  # any GUID: ingestion is ours


class Ingestion:
    def __init__(self):
        self.envelopes: list[dict] = []
        self.bodies: list[str] = []  # every request body as text, for the secret scan
        self.paths: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip" or raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                text = raw.decode("utf-8")
                items = owner._parse(text)
                with owner._lock:
                    owner.paths.append(self.path)
                    owner.bodies.append(text)
                    if self.path.rstrip("/").endswith("/track"):
                        owner.envelopes.extend(items)
                answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def _parse(text: str) -> list[dict]:
        text = text.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={self.url};LiveEndpoint={self.url}"

    def __enter__(self) -> Ingestion:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
