"""Workflow actions: resolve job selections and split off the action configuration.

The server stores an action as trigger/action types, the IDs of the jobs it watches and a
free-form ``action_config`` object; this module produces exactly that shape with expanded
job names in place of IDs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import Context
from .references import NameIndex

# Worker-lifecycle actions run on every worker, so upstream makes them persistent.
_WORKER_TRIGGERS = ("on_worker_start", "on_worker_complete")
_NOT_CONFIG = ("trigger_type", "action_type", "jobs", "job_name_regexes", "persistent")


def build_actions(actions: list[dict], jobs: NameIndex, schedulers: NameIndex, root: Context) -> list[dict]:
    return [
        _build_action(action, jobs, schedulers, root.at("actions").at(i)) for i, action in enumerate(actions)
    ]


def _build_action(action: dict, jobs: NameIndex, schedulers: NameIndex, ctx: Context) -> dict:
    names: list[str] = []
    for i, ref in enumerate(action.get("jobs", ())):
        _lookup(jobs.get, ref, ctx.at("jobs").at(i))
        names.append(ref)
    for i, pattern in enumerate(action.get("job_name_regexes", ())):
        names.extend(_lookup(jobs.matching, pattern, ctx.at("job_name_regexes").at(i)))
    if action["action_type"] == "schedule_nodes":
        _lookup(schedulers.get, action["scheduler"], ctx.at("scheduler"))
    return {
        "trigger_type": action["trigger_type"],
        "action_type": action["action_type"],
        "job_names": list(dict.fromkeys(names)),
        "action_config": {key: value for key, value in action.items() if key not in _NOT_CONFIG},
        "persistent": action.get("persistent", action["trigger_type"] in _WORKER_TRIGGERS),
    }


def _lookup(find: Callable[[str], Any], key: str, ctx: Context) -> Any:
    """``find(key)``, with its ValueError turned into a located SpecError."""
    try:
        return find(key)
    except ValueError as exc:
        raise ctx.error(str(exc)) from None
