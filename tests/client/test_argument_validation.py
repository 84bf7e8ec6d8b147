"""The generated client checks a method's arguments before it sends anything, although it builds
each method's validator only on the method's first call (the client template defers it)."""

import pydantic
import pytest

from torc.client import make_api

#: Nothing listens here: a request that was sent would fail with a connection error instead.
UNUSED_URL = "http://127.0.0.1:9/torc-service/v1"


@pytest.mark.parametrize("call", [
    lambda api: api.workflows.get_workflow("seven"),
    lambda api: api.jobs.list_jobs(1, limit="many"),
    lambda api: api.workflows.claim_next_jobs(1, limit=10, unknown_option=True),
])
def test_wrong_arguments_fail_validation_without_a_request(call):
    with make_api(UNUSED_URL) as api:
        for _ in range(2):  # the first call builds the validator, the second reuses it
            with pytest.raises(pydantic.ValidationError):
                call(api)
