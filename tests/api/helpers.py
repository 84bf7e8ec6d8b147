"""Small HTTP helpers for server tests: raw requests against the real server, asserting status."""

import requests


class Http:
    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def call(self, method: str, path: str, expect: int = 200, **kwargs):
        answer = self.session.request(method, self.base + path, timeout=30, **kwargs)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        assert answer.headers["Content-Type"].startswith("application/json"), answer.headers["Content-Type"]
        return answer.json()

    def get(self, path, expect=200, **kw):
        return self.call("GET", path, expect, **kw)

    def post(self, path, body=None, expect=200, **kw):
        return self.call("POST", path, expect, json=body, **kw)

    def put(self, path, body=None, expect=200, **kw):
        return self.call("PUT", path, expect, json=body, **kw)

    def delete(self, path, expect=200, **kw):
        return self.call("DELETE", path, expect, **kw)

    def workflow(self, name="wf", **fields) -> int:
        return self.post("/workflows", {"name": name, "user": "tester", **fields})["id"]
