"""Field-by-field validation of a raw spec document (any format, already parsed).

Upstream torc deserializes specs with serde and ``deny_unknown_fields``; here each object
kind is a :class:`Schema` table of field validators, applied strictly at every level so a
typo anywhere (``comand``, ``num_cpu``) is reported with its path instead of ignored.
``null`` counts as "not given", like serde's ``Option`` fields.

The result is the same document with values normalized (parameter strings parsed into value
lists); defaults are applied later, where the output records are built.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torc import units

from .errors import Context
from .parameters import IDENTIFIER, parse_values

Validator = Callable[[Any, Context], Any]

TRIGGER_TYPES = (
    "on_workflow_start",
    "on_workflow_complete",
    "on_jobs_ready",
    "on_jobs_complete",
    "on_worker_start",
    "on_worker_complete",
)
JOB_TRIGGERS = ("on_jobs_ready", "on_jobs_complete")
# sbatch options torc sets itself, so slurm_defaults may not override them (upstream list).
SLURM_MANAGED_OPTIONS = ("partition", "nodes", "walltime", "time", "mem", "gres", "name", "job-name")


@dataclass(frozen=True)
class Schema:
    """Fields of one object kind; ``check`` validates combinations of fields."""

    label: str
    fields: dict[str, Validator]
    required: tuple[str, ...] = ()
    check: Callable[[dict, Context], None] | None = field(default=None)


def validate(value: Any, schema: Schema, ctx: Context) -> dict:
    """Validated copy of ``value``: unknown, missing and mistyped fields raise SpecError."""
    if not isinstance(value, dict):
        raise ctx.error(_expected(f"a mapping for {schema.label}", value))
    result = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ctx.error(f"field names must be strings, got {key!r}")
        validator = schema.fields.get(key)
        if validator is None:
            raise ctx.at(key).error(f"unknown field '{key}' in {schema.label}{_suggest(key, schema.fields)}")
        if item is not None:
            result[key] = validator(item, ctx.at(key))
    for key in schema.required:
        if key not in result:
            raise ctx.at(key).error(f"missing required field '{key}' in {schema.label}")
    if schema.check is not None:
        schema.check(result, ctx)
    return result


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _expected(what: str, value: Any) -> str:
    if isinstance(value, bool):
        got = f"boolean {value}"
    elif isinstance(value, (int, float)):
        got = f"number {value}"
        if what == "a string":
            got += " (put it in quotes)"
    elif isinstance(value, str):
        got = f"string {value!r}"
    elif isinstance(value, list):
        got = "a list"
    elif isinstance(value, dict):
        got = "a mapping"
    else:
        got = type(value).__name__
    return f"expected {what}, got {got}"


# --- scalar validators -------------------------------------------------------------------


def string(value: Any, ctx: Context) -> str:
    if not isinstance(value, str):
        raise ctx.error(_expected("a string", value))
    return value


def name(value: Any, ctx: Context) -> str:
    if not string(value, ctx).strip():
        raise ctx.error("name must not be empty")
    return value


def boolean(value: Any, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(_expected("true or false", value))
    return value


def integer(minimum: int | None = None) -> Validator:
    def check(value: Any, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(_expected("an integer", value))
        if minimum is not None and value < minimum:
            raise ctx.error(f"must be at least {minimum}, got {value}")
        return value

    return check


def one_of(*choices: str) -> Validator:
    def check(value: Any, ctx: Context) -> str:
        if value not in choices:
            raise ctx.error(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    return check


def _unit(parse: Callable[[str], Any]) -> Validator:
    def check(value: Any, ctx: Context) -> str:
        try:
            parse(string(value, ctx))
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
        return value

    return check


memory = _unit(units.parse_memory_bytes)
duration = _unit(units.parse_duration_seconds)

def walltime(value: Any, ctx: Context) -> str:
    """Every time format sbatch --time accepts: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, unlimited."""
    try:
        units.parse_walltime_seconds(string(value, ctx))
    except ValueError as exc:
        raise ctx.error(str(exc)) from None
    return value


def json_value(value: Any, ctx: Context) -> Any:
    """Any JSON-representable value (YAML may produce dates or sets, which are not)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ctx.error(f"JSON object keys must be strings, got {key!r}")
            json_value(item, ctx.at(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            json_value(item, ctx.at(i))
    elif (value is not None and not isinstance(value, (str, int, float))) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise ctx.error(f"value {value!r} cannot be represented in JSON")
    return value


# --- collection validators ---------------------------------------------------------------


def list_of(item: Validator) -> Validator:
    def check(value: Any, ctx: Context) -> list:
        if not isinstance(value, list):
            raise ctx.error(_expected("a list", value))
        return [item(element, ctx.at(i)) for i, element in enumerate(value)]

    return check


def obj(schema: Schema) -> Validator:
    return lambda value, ctx: validate(value, schema, ctx)


def obj_list(schema: Schema, *, job_context: bool = False) -> Validator:
    """List of objects; for jobs, errors inside an entry also name the (unexpanded) job."""

    def check(value: Any, ctx: Context) -> list[dict]:
        if not isinstance(value, list):
            raise ctx.error(_expected(f"a list of {schema.label} entries", value))
        result = []
        for i, entry in enumerate(value):
            entry_ctx = ctx.at(i)
            if job_context and isinstance(entry, dict) and isinstance(entry.get("name"), str):
                entry_ctx = entry_ctx.for_job(entry["name"])
            result.append(validate(entry, schema, entry_ctx))
        return result

    return check


def parameters(value: Any, ctx: Context) -> dict[str, list]:
    """Parameter name -> parsed list of values."""
    if not isinstance(value, dict):
        raise ctx.error(_expected("a mapping of parameter names to values", value))
    result = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not re.fullmatch(IDENTIFIER, key):
            raise ctx.error(f"invalid parameter name {key!r}: use letters, digits and '_'")
        result[key] = parse_values(raw, ctx.at(key))
    return result


def slurm_defaults(value: Any, ctx: Context) -> dict[str, Any]:
    """Free-form sbatch long options, except those torc manages per scheduler."""
    if not isinstance(value, dict):
        raise ctx.error(_expected("a mapping of sbatch options", value))
    for key, item in value.items():
        if not isinstance(key, str):
            raise ctx.error(f"option names must be strings, got {key!r}")
        if key.lower() in SLURM_MANAGED_OPTIONS:
            raise ctx.at(key).error(
                f"'{key}' is managed by torc and cannot be a slurm default "
                f"(managed: {', '.join(SLURM_MANAGED_OPTIONS)})"
            )
        if not isinstance(item, (str, int, float)):  # bool is an int
            raise ctx.at(key).error(_expected("a string, number or boolean", item))
    return dict(value)


# --- object kinds ------------------------------------------------------------------------

string_list = list_of(string)

PARAMETERIZATION = {
    "parameters": parameters,
    "parameter_mode": one_of("product", "zip"),
    "use_parameters": string_list,
}


def _check_rule(rule: dict, ctx: Context) -> None:
    if not rule.get("exit_codes") and not rule.get("match_all_exit_codes"):
        raise ctx.error("a rule needs 'exit_codes' or 'match_all_exit_codes: true'")


def _check_handler(handler: dict, ctx: Context) -> None:
    if not handler["rules"]:
        raise ctx.at("rules").error(f"failure handler '{handler['name']}' has no rules")


def _check_resource_requirements(rr: dict, ctx: Context) -> None:
    if rr["name"] == "default":
        raise ctx.at("name").error(
            "'default' is reserved: the server creates it for jobs without resource_requirements"
        )


def _check_action(action: dict, ctx: Context) -> None:
    trigger, kind = action["trigger_type"], action["action_type"]
    if trigger in JOB_TRIGGERS and not (action.get("jobs") or action.get("job_name_regexes")):
        raise ctx.error(f"{trigger} action needs 'jobs' or 'job_name_regexes'")
    if kind == "run_commands" and not action.get("commands"):
        raise ctx.at("commands").error("run_commands action needs a non-empty 'commands' list")
    if kind == "schedule_nodes":
        for key in ("scheduler", "scheduler_type"):
            if key not in action:
                raise ctx.at(key).error(f"schedule_nodes action needs '{key}'")


JOB = Schema(
    "job",
    {
        "name": name,
        "command": string,
        "invocation_script": string,
        "cancel_on_blocking_job_failure": boolean,
        "supports_termination": boolean,
        "resource_requirements": string,
        "failure_handler": string,
        "scheduler": string,
        "depends_on": string_list,
        "depends_on_regexes": string_list,
        "input_files": string_list,
        "input_file_regexes": string_list,
        "output_files": string_list,
        "output_file_regexes": string_list,
        "input_user_data": string_list,
        "input_user_data_regexes": string_list,
        "output_user_data": string_list,
        "output_user_data_regexes": string_list,
        **PARAMETERIZATION,
    },
    required=("name", "command"),
)
FILE = Schema("file", {"name": name, "path": string, **PARAMETERIZATION}, required=("name", "path"))
USER_DATA = Schema(
    "user_data",
    {"name": name, "data": json_value, "is_ephemeral": boolean, **PARAMETERIZATION},
    required=("name",),
)
RESOURCE_REQUIREMENTS = Schema(
    "resource_requirements",
    {
        "name": name,
        "num_cpus": integer(1),
        "num_gpus": integer(0),
        "num_nodes": integer(1),
        "memory": memory,
        "runtime": duration,
    },
    required=("name",),
    check=_check_resource_requirements,
)
FAILURE_RULE = Schema(
    "failure handler rule",
    {
        "exit_codes": list_of(integer()),
        "match_all_exit_codes": boolean,
        "recovery_script": string,
        "max_retries": integer(0),
    },
    check=_check_rule,
)
FAILURE_HANDLER = Schema(
    "failure_handler",
    {"name": name, "rules": obj_list(FAILURE_RULE)},
    required=("name", "rules"),
    check=_check_handler,
)
SLURM_SCHEDULER = Schema(
    "slurm_scheduler",
    {
        "name": name,
        "account": string,
        "partition": string,
        "nodes": integer(1),
        "walltime": walltime,
        "mem": string,
        "gres": string,
        "qos": string,
        "ntasks_per_node": integer(1),
        "tmp": string,
        "extra": string,
        "template": string,
    },
    required=("name", "account"),
)
RESOURCE_MONITOR = Schema(
    "resource_monitor",
    {
        "enabled": boolean,
        "granularity": one_of("summary", "time_series"),
        "sample_interval_seconds": integer(1),
        "generate_plots": boolean,
        # Not used by upstream torc, but its own slurm_staged_pipeline example sets it.
        "metrics": string_list,
    },
)
ACTION = Schema(
    "action",
    {
        "trigger_type": one_of(*TRIGGER_TYPES),
        "action_type": one_of("run_commands", "schedule_nodes"),
        "jobs": string_list,
        "job_name_regexes": string_list,
        "commands": string_list,
        "scheduler": string,
        "scheduler_type": one_of("slurm"),
        "num_allocations": integer(1),
        "start_one_worker_per_node": boolean,
        "max_parallel_jobs": integer(1),
        "persistent": boolean,
    },
    required=("trigger_type", "action_type"),
    check=_check_action,
)
WORKFLOW = Schema(
    "workflow",
    {
        "name": name,
        "user": string,
        "description": string,
        "project": string,
        "metadata": json_value,
        "parameters": parameters,
        "jobs": obj_list(JOB, job_context=True),
        "files": obj_list(FILE),
        "user_data": obj_list(USER_DATA),
        "resource_requirements": obj_list(RESOURCE_REQUIREMENTS),
        "failure_handlers": obj_list(FAILURE_HANDLER),
        "slurm_schedulers": obj_list(SLURM_SCHEDULER),
        "slurm_defaults": slurm_defaults,
        "resource_monitor": obj(RESOURCE_MONITOR),
        "actions": obj_list(ACTION),
        "use_pending_failed": boolean,
        "compute_node_expiration_buffer_seconds": integer(0),
        "compute_node_wait_for_new_jobs_seconds": integer(0),
        "compute_node_ignore_workflow_completion": boolean,
        "compute_node_wait_for_healthy_database_minutes": integer(0),
        "compute_node_min_time_for_new_jobs_seconds": integer(0),
        "jobs_sort_method": one_of("gpus_runtime_memory", "gpus_memory_runtime", "none"),
    },
    required=("name", "jobs"),
)


def validate_workflow(document: Any) -> dict:
    """Validate a whole parsed spec document against :data:`WORKFLOW`."""
    return validate(document, WORKFLOW, Context())
