"""A local server that speaks the Anthropic Messages API (POST /v1/messages), for tests that run
the real `anthropic` SDK against it through its base_url."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import anthropic


class FakeMessagesApi:
    """POST /v1/messages: records each request; answers with a caption, or fails on demand."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_after: int | None = None  # successes before every further call fails with 500
        self.status: int | None = None  # answer every call with this error status
        self.successes = 0
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with api.lock:
                    api.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                    if api.status or (api.fail_after is not None and api.successes >= api.fail_after):
                        status = api.status or 500
                        kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "api_error")
                        return self._send(status, {"type": "error", "error": {"type": kind, "message": "refused by the test"}})
                    api.successes += 1
                    number = api.successes
                answer = {"content": ["a woman", f"scene {number}"], "style": ["flat colour"], "caption": f"a woman in scene {number}, flat colour"}
                self._send(200, {
                    "id": f"msg_{number}", "type": "message", "role": "assistant", "model": body["model"],
                    "content": [{"type": "text", "text": json.dumps(answer)}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 1000, "output_tokens": 40},
                })

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key="test-key", base_url=self.url, max_retries=0)


def serve() -> Iterator[FakeMessagesApi]:
    """Run a FakeMessagesApi on a thread for the duration of a fixture."""
    fake = FakeMessagesApi()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
