"""A real `seqkeras serve` HTTP server on a free local port, and a plain HTTP client for it."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request

from seqkeras.serving.rest import ModelRepository, make_app


@contextlib.contextmanager
def served(base_path, poll_seconds: float = 0.2):
    """Serve `base_path` (uvicorn in a thread); yields {"url", "repository"}."""
    import uvicorn

    repository = ModelRepository(base_path, poll_seconds=poll_seconds)
    repository.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(repository), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "repository": repository}
    finally:
        server.should_exit = True
        thread.join(10)
        repository.stop()


def call(server, path: str, body=None, timeout: float = 120) -> tuple[int, dict]:
    """(HTTP status, JSON answer) of a GET (`body` None) or a POST of `body` (JSON, or raw bytes)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(server["url"] + path, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
