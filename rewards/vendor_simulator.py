"""A simulated voucher vendor: a real HTTP server on loopback, for development and tests.

Protocol (the one our vendor client speaks):

    POST /vouchers   Idempotency-Key: <our voucher reference>
    {"reference": "...", "product_code": "...", "denomination": "10"}
    → 200 {"voucher": "CODE", "valid_till": "2027-01-31", "pin": "1234"}

How it answers is set per call, through a script of outcomes consumed one per call (then the
default): "ok", "slow" (sleeps `slow_seconds`, then ok), "500", "429", "400", "no_voucher"
(200 without a voucher), "drop" (closes the connection). A repeated Idempotency-Key that already
succeeded gets the same code again, as a real vendor would. Control it in-process
(`VendorSimulator.script(...)`) or over HTTP: POST /_control {"script": [...], "default": "ok",
"slow_seconds": 2}; GET /_calls lists the calls received.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OUTCOMES = {"ok", "slow", "500", "429", "400", "no_voucher", "drop"}


@dataclass
class _State:
    script: deque[str] = field(default_factory=deque)
    default: str = "ok"
    slow_seconds: float = 2.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # idempotency key → code
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self) -> None:
        if self.path == "/_calls":
            with self.server.state.lock:
                self._json(200, list(self.server.state.calls))
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        body = self._body()
        if self.path == "/_control":
            if not isinstance(body, dict):
                self._json(400, {"error": "bad control body"})
                return
            self.server.simulator.script(
                *body.get("script", []),
                default=body.get("default", state.default),
                slow_seconds=body.get("slow_seconds", state.slow_seconds),
            )
            self._json(200, {"ok": True})
            return
        if self.path.rstrip("/") != "/vouchers":
            self._json(404, {"error": "not found"})
            return
        key = self.headers.get("Idempotency-Key", "")
        with state.lock:
            outcome = state.script.popleft() if state.script else state.default
            state.calls.append(
                {
                    "key": key,
                    "body": body,
                    "outcome": outcome,
                    "auth": self.headers.get("Authorization"),
                }
            )
        if outcome == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if outcome == "slow":
            time.sleep(state.slow_seconds)
        if outcome == "500":
            self._json(500, {"error": "vendor exploded"})
        elif outcome == "429":
            self._json(429, {"error": "slow down"}, {"Retry-After": "1"})
        elif outcome == "400":
            self._json(400, {"error": "unknown product"})
        elif outcome == "no_voucher":
            self._json(200, {"status": "accepted"})
        else:
            with state.lock:
                code = state.issued.setdefault(
                    key or secrets.token_hex(4), "V" + secrets.token_hex(5).upper()
                )
            self._json(200, {"voucher": code, "valid_till": "2027-12-31", "pin": "0000"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: VendorSimulator) -> None:
        self.simulator = simulator
        self.state = simulator.state
        super().__init__(address, _Handler)


class VendorSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = _State()
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VendorSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(
        self, *outcomes: str, default: str = "ok", slow_seconds: float | None = None
    ) -> None:
        unknown = set(outcomes) - OUTCOMES | ({default} - OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcomes: {sorted(unknown)}")
        with self.state.lock:
            self.state.script = deque(outcomes)
            self.state.default = default
            if slow_seconds is not None:
                self.state.slow_seconds = float(slow_seconds)

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.calls)

    def __enter__(self) -> VendorSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
