"""A scripted HTTP server on 127.0.0.1 (in a thread) that records every request it receives."""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass, field

__all__ = ["Received", "Reply", "ScriptedServer"]


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Received:
    """One request as the server saw it (the body de-chunked)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering from a script; records every request."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.default = Reply(404, {"Content-Type": "text/plain"}, b"no scripted reply")
        script = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    data = bytes(body)
                else:
                    data = self.rfile.read(int(headers.get("content-length", "0")))
                script.received.append(Received(self.command, self.path, headers, data))
                reply = script.replies.pop(0) if script.replies else script.default
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply.body)
                self.close_connection = True

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-http"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def reply(self, status: int = 200, body: bytes = b"", **headers: str) -> None:
        """Queue a reply (header names with ``_`` for ``-``: ``Content_Type=...``)."""
        self.replies.append(
            Reply(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)
        )
