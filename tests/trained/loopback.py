"""A loopback HTTP server (stdlib, one thread) that serves files from memory, answering HEAD
and GET the way the Hugging Face Hub and download.pytorch.org answer the libraries' loaders.

Every path not served is a 404 with the Hub's ``X-Error-Code: EntryNotFound``. Requests are
recorded, so a test can say what the loader asked for.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the Hub's X-Repo-Commit: any 40 hex digits


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[tuple[str, str]] = []

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def _answer(self, body: bool) -> None:
        self.requests.append((self.command, self.path))
        data = self.files.get(self.path.split("?", 1)[0])
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Serve `files` (URL path -> bytes; entries added later are served too) on 127.0.0.1 at a
    free port: yields (base URL, the list of (method, path) requests)."""
    handler = type("Handler", (_Handler,), {"files": files, "requests": []})  # files: read live
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
