"""A client of the test server, for the tests of tests/hpc that need one."""

import pytest

from torc.client import make_api


@pytest.fixture
def api(api_url):
    with make_api(api_url) as api:
        yield api
