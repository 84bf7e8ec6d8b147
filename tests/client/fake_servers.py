"""Tiny real socket servers on 127.0.0.1 that misbehave on purpose, each in a daemon thread."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from torc.api_version import API_VERSION

BASE_PATH = "/torc-service/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeTorcServer:
    """Answers ``GET /version`` with ``version``, ``GET /ping``, ``GET /workflows`` (no workflows),
    and echoes ``POST /workflows``.

    The first ``unavailable`` requests get a 503 like a busy torc server's. ``requests`` lists the
    (method, path) of every request received.
    """

    def __init__(self, version: str = API_VERSION, *, port: int = 0, unavailable: int = 0):
        self.version = version
        self.unavailable = unavailable
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, body=None):
                fake.requests.append((self.command, self.path))
                if fake.unavailable > 0:
                    fake.unavailable -= 1
                    return self._answer(503, {"code": 503, "status": "Service Unavailable", "message": "database busy, retry"})
                routes = {
                    ("GET", f"{BASE_PATH}/version"): lambda: {
                        "version": fake.version, "api_version": fake.version, "server_version": "fake"
                    },
                    ("GET", f"{BASE_PATH}/ping"): lambda: {"status": "ok"},
                    ("GET", f"{BASE_PATH}/workflows"): lambda: {
                        "items": [], "offset": 0, "max_limit": 10000, "count": 0, "total_count": 0, "has_more": False
                    },
                    ("POST", f"{BASE_PATH}/workflows"): lambda: {**body, "id": 1},
                }
                route = routes.get((self.command, self.path.partition("?")[0]))
                if route is None:
                    return self._answer(404, {"code": 404, "status": "Not Found", "message": f"no route {self.path}"})
                self._answer(200, route())

            def do_GET(self):
                self._handle()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self._handle(json.loads(self.rfile.read(length) or b"{}"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class LateServer:
    """Starts a ``FakeTorcServer`` on ``port`` after ``delay`` seconds (connections refused until then)."""

    def __init__(self, port: int, delay: float):
        self.port, self.delay = port, delay
        self.server: FakeTorcServer | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._stop = threading.Event()

    def _run(self):
        if self._stop.wait(self.delay):
            return
        self.server = FakeTorcServer(port=self.port).__enter__()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        if self.server:
            self.server.__exit__()


class DroppingServer:
    """Reads each HTTP request completely, then closes the connection without answering."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                self.requests.append(self._read_request(conn))

    @staticmethod
    def _read_request(conn) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        deadline = time.monotonic() + 5
        while len(body) < length and time.monotonic() < deadline:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.sock.close()
