"""Fixtures for the site tests: a strict mkdocs build on the fixture catalog, served on localhost."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sitebuild, whatever the import mode
from sitebuild import FIXTURE_DATA, build_site  # noqa: E402


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    """A localhost server bound before the build: material's instant navigation only
    intercepts links whose host *and port* match the sitemap, so site_url needs the port."""
    out = tmp_path_factory.mktemp("site")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    yield srv, out
    srv.server_close()


@pytest.fixture(scope="session")
def site_env(server: tuple[ThreadingHTTPServer, Path]) -> dict[str, str]:
    return {"RFZOO_SITE_URL": f"http://127.0.0.1:{server[0].server_address[1]}/"}


@pytest.fixture(scope="session")
def fixture_site(server: tuple[ThreadingHTTPServer, Path], site_env: dict[str, str]) -> Path:
    build_site(FIXTURE_DATA, server[1], site_env)
    return server[1]


@pytest.fixture(scope="session")
def site_url(server: tuple[ThreadingHTTPServer, Path], fixture_site: Path,
             site_env: dict[str, str]) -> Iterator[str]:
    """The built fixture site served on 127.0.0.1."""
    thread = threading.Thread(target=server[0].serve_forever, daemon=True)
    thread.start()
    yield site_env["RFZOO_SITE_URL"]
    server[0].shutdown()
