"""Client tests configure the client explicitly: the developer's environment must not leak in."""

import pytest


@pytest.fixture(autouse=True)
def _clean_client_environment(monkeypatch):
    for name in ("TORC_API_URL", "TORC_PASSWORD", "TORC_SKIP_VERSION_CHECK"):
        monkeypatch.delenv(name, raising=False)
