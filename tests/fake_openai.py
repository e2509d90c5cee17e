"""A local OpenAI-compatible chat server for the tests and benchmarks of `knowtune generate`'s api backend."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class FakeServer:
    """POST /v1/chat/completions, answered by `reply(first message's content)` after `delay` seconds, many
    requests at once; `faults` maps the n-th request (from 1) to a fault to inject."""

    def __init__(self, reply: Callable[[str], str], faults=None, fail_if=None, delay=0.0, timeout_sleep=1.5):
        self.reply = reply
        self.faults = dict(faults or {})
        self.fail_if = fail_if  # requests whose prompt contains this always get a 503
        self.delay, self.timeout_sleep = delay, timeout_sleep
        self.log = []  # (n, fault, messages, authorization)
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    n = len(server.log) + 1
                    prompt = body["messages"][0]["content"]
                    fault = "always_503" if server.fail_if and server.fail_if in prompt else server.faults.get(n)
                    server.log.append((n, fault, body["messages"], self.headers.get("Authorization")))
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                self.counted = True
                time.sleep(server.delay)
                try:
                    self.answer(body, fault)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow reply
                    pass
                finally:
                    self.finish_request()

            def finish_request(self):
                """No longer in flight: before the reply is written (a client that has read it may send its next
                request at once, before this thread would get back here)."""
                if getattr(self, "counted", False):
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

            def answer(self, body, fault):
                if fault == "503":
                    return self.send(503, b'{"error": {"message": "overloaded"}}')
                if fault == "429":  # rate limited; the client waits as long as the server asks
                    return self.send(429, b'{"error": {"message": "rate limit"}}', {"retry-after-ms": "20"})
                if fault == "drop":  # the connection closes before any reply
                    self.close_connection = True
                    return None
                if fault == "cut":  # the connection closes halfway through the reply
                    self.finish_request()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "400")
                    self.end_headers()
                    self.wfile.write(b'{"id": "chatcmpl-test", "choices": [')
                    self.close_connection = True
                    return None
                if fault == "always_503":  # as some servers do, with the key it was sent in the message
                    message = f"overloaded, retry later (key {self.headers.get('Authorization')})"
                    return self.send(503, json.dumps({"error": {"message": message}}).encode())
                if fault == "timeout":
                    time.sleep(server.timeout_sleep)
                if fault == "bad_json":
                    return self.send(200, b'{"choices": [{"message": ')
                if fault == "no_choices":
                    return self.send(200, b'{"id": "x", "choices": []}')
                # A retry after an unparseable reply is a longer conversation; the task is its first message.
                content = "I am not sure what you mean." if fault == "unparseable" else server.reply(body["messages"][0]["content"])
                reply = {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                }
                self.send(200, json.dumps(reply).encode())

            def send(self, status, payload, headers=None):
                self.finish_request()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def prompts(self) -> set[str]:
        return {json.dumps(messages, sort_keys=True) for _, _, messages, _ in self.log}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
