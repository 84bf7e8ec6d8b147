"""Events the engine records about what happened to a workflow."""

import json
import time

from torc.db.models import Event


def now_ms() -> int:
    return int(time.time() * 1000)


def record_event(workflow_id: int, category: str, message: str, **details) -> Event:
    data = {"category": category, "message": message, **details}
    return Event.create(workflow=workflow_id, timestamp=now_ms(), data=json.dumps(data, sort_keys=True), category=category)
