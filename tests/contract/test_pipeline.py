"""The contract pipeline: server code → api/openapi.yaml → generated clients, kept in step.

No database or server is needed: the spec is emitted from the Flask app in-process.
"""

import re
import shutil
import subprocess
import warnings
from collections import Counter
from pathlib import Path

import pytest
import yaml

from torc.api.base import BASE_PATH
from torc.api.openapi import build_spec, render_yaml
from torc.api_version import API_VERSION

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "api" / "openapi.yaml"
UPSTREAM_PATH = ROOT / "tests" / "data" / "upstream" / "torc-openapi-v0.12.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

#: Upstream operations this server may not serve yet: their absence is tolerated. Shrink it as they
#: land (the test warns about entries that are served already); once served, an operation must
#: match upstream's method, path and operationId whether listed or not. The 15 job-execution
#: operations (cancel_workflow, initialize_jobs, claim_next_jobs, complete_job, ...) that were
#: listed here first are all served now.
NOT_YET_IMPLEMENTED: set[str] = set()


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    """(METHOD, path) → operation object."""
    return {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_checked_in_spec_is_what_the_server_code_emits():
    emitted = render_yaml(build_spec()).encode("utf-8")
    assert SPEC_PATH.read_bytes() == emitted, "api/openapi.yaml is stale: run bash api/sync_openapi.sh all --promote"


def test_sync_script_check_passes():
    """Spec parity plus: the checked-in Python and Julia clients equal a fresh generation."""
    result = subprocess.run(
        ["bash", str(ROOT / "api" / "sync_openapi.sh"), "check"],
        capture_output=True, text=True, timeout=40,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def copy_of_the_checkout(dest: Path) -> Path:
    """What ``sync_openapi.sh`` reads and writes (server code, spec, generator config, both clients),
    copied so a test can break it; the virtualenv is shared (the copy's ``torc`` is imported first)."""
    for name in ("api", "torc", "julia_client"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".work"))
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def sync(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "api/sync_openapi.sh", *args], cwd=checkout, capture_output=True, text=True, timeout=120)


def test_sync_script_check_fails_with_a_readable_report_when_anything_drifted(tmp_path):
    checkout = copy_of_the_checkout(tmp_path)
    with open(checkout / "api" / "openapi.yaml", "a", encoding="utf-8") as spec_file:
        spec_file.write("# edited by hand\n")
    with open(checkout / "torc" / "openapi_client" / "rest.py", "a", encoding="utf-8") as client_file:
        client_file.write("# patched by hand\n")
    (checkout / "julia_client" / "src" / "TorcClient.jl").unlink()

    result = sync(checkout, "check")

    assert result.returncode != 0
    report = result.stderr
    assert "api/openapi.yaml differs from the spec the server code emits" in report
    assert "\n-# edited by hand" in report, "the unified diff shows the hand edit"
    assert "torc/openapi_client is out of date" in report and "rest.py" in report
    assert "julia_client is out of date" in report and "TorcClient.jl" in report
    assert "fix: bash api/sync_openapi.sh all --promote" in report


def test_sync_script_commands_carry_a_server_change_into_spec_and_clients(tmp_path):
    """emit, clients --use-emitted-spec, promote, check and all --promote, after a change of the
    server code (here the API version constant, which reaches info.version and the client)."""
    checkout = copy_of_the_checkout(tmp_path)
    spec_path, client_init = checkout / "api" / "openapi.yaml", checkout / "torc" / "openapi_client" / "__init__.py"
    major = API_VERSION.split(".")[0]

    def set_version(version):
        (checkout / "torc" / "api_version.py").write_text(f'API_VERSION = "{version}"\n', encoding="utf-8")

    def spec_version(path):
        return yaml.safe_load(path.read_text(encoding="utf-8"))["info"]["version"]

    set_version(f"{major}.99.0")
    assert sync(checkout, "emit").returncode == 0
    assert spec_version(checkout / "api" / ".work" / "openapi.emitted.yaml") == f"{major}.99.0"
    assert spec_version(spec_path) == API_VERSION, "emit must not touch the checked-in spec"

    assert sync(checkout, "clients", "--use-emitted-spec").returncode == 0
    assert f'__version__ = "{major}.99.0"' in client_init.read_text(encoding="utf-8")
    assert spec_version(spec_path) == API_VERSION

    assert sync(checkout, "promote").returncode == 0
    assert spec_version(spec_path) == f"{major}.99.0"
    passed = sync(checkout, "check")
    assert passed.returncode == 0, passed.stderr
    assert "OK: api/openapi.yaml matches the server code" in passed.stdout

    refused = sync(checkout, "all")
    assert refused.returncode != 0 and "say 'all --promote'" in refused.stderr
    set_version(f"{major}.98.0")
    assert sync(checkout, "all", "--promote").returncode == 0
    assert spec_version(spec_path) == f"{major}.98.0"
    assert f'__version__ = "{major}.98.0"' in client_init.read_text(encoding="utf-8")


def test_spec_version_is_the_api_version(spec):
    assert spec["info"]["version"] == API_VERSION


def test_generated_client_version_is_the_api_version():
    import torc.openapi_client

    assert torc.openapi_client.__version__ == API_VERSION


def test_every_operation_has_a_unique_id_and_one_tag(spec):
    ops = operations(spec)
    missing = [key for key, op in ops.items() if not op.get("operationId")]
    assert not missing, f"operations without operationId: {missing}"
    badly_tagged = {op["operationId"]: op.get("tags") for op in ops.values() if len(op.get("tags") or []) != 1}
    assert not badly_tagged, f"operations need exactly one tag (it names the generated API class): {badly_tagged}"
    duplicates = [name for name, n in Counter(op["operationId"] for op in ops.values()).items() if n > 1]
    assert not duplicates, f"duplicate operationIds: {duplicates}"
    declared = {tag["name"] for tag in spec.get("tags", [])}
    used = {op["tags"][0] for op in ops.values()}
    assert used <= declared, f"tags used but not declared: {used - declared}"


def test_spec_and_flask_routes_match(spec):
    from torc.api.app import create_app

    routes = set()
    for rule in create_app().url_map.iter_rules():
        if not rule.rule.startswith(BASE_PATH + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(BASE_PATH):])
        routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = set(operations(spec))
    assert routes - documented == set(), "served but not in api/openapi.yaml"
    assert documented - routes == set(), "in api/openapi.yaml but not served"


def test_upstream_operations_are_served_with_the_same_operation_ids(spec):
    upstream = yaml.safe_load(UPSTREAM_PATH.read_text(encoding="utf-8"))
    ours = {key: op["operationId"] for key, op in operations(spec).items()}
    theirs = {key: op["operationId"] for key, op in operations(upstream).items()}
    assert NOT_YET_IMPLEMENTED <= set(theirs.values()), "exclusions must name upstream operations"
    missing = {
        f"{m} {p}": op_id for (m, p), op_id in theirs.items() if (m, p) not in ours and op_id not in NOT_YET_IMPLEMENTED
    }
    assert not missing, f"upstream operations not served: {missing}"
    # Served operations must match upstream, excluded or not: the exclusion only waives presence.
    renamed = {f"{m} {p}": (op_id, ours[m, p]) for (m, p), op_id in theirs.items() if (m, p) in ours and ours[m, p] != op_id}
    assert not renamed, f"operationIds differ from upstream (upstream, ours): {renamed}"
    misplaced = {
        op_id: sorted(f"{m} {p}" for (m, p), o in ours.items() if o == op_id)
        for (m, p), op_id in theirs.items()
        if op_id in set(ours.values()) and (m, p) not in ours
    }
    assert not misplaced, f"served under another method/path than upstream's: {misplaced}"
    already_served = NOT_YET_IMPLEMENTED & set(ours.values())
    if already_served:
        warnings.warn(f"served now, remove from NOT_YET_IMPLEMENTED: {sorted(already_served)}", stacklevel=1)



# Parameter and field parity with upstream: same names wherever upstream has them (ours may add).

ERROR_STATUSES_WE_DOCUMENT = {"400", "404", "409", "422"}  # upstream's 403 needs access control on; 500 is our default


def resolve(spec: dict, node):
    """Follow ``$ref`` (local references only) to the node it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def field_paths(spec: dict, schema, prefix: str = "", seen: frozenset = frozenset()) -> set[str]:
    """Every property of a schema as a path (``items[].name``), through refs, arrays and allOf/oneOf/anyOf."""
    if not isinstance(schema, dict):
        return set()
    ref = schema.get("$ref")
    if ref in seen:
        return set()
    seen = seen | {ref} if ref else seen
    schema = resolve(spec, schema)
    paths = set()
    for combined in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(combined) or []:
            paths |= field_paths(spec, part, prefix, seen)
    if "items" in schema:
        paths |= field_paths(spec, schema["items"], prefix + "[]", seen)
    for name, sub in (schema.get("properties") or {}).items():
        paths.add(f"{prefix}.{name}")
        paths |= field_paths(spec, sub, f"{prefix}.{name}", seen)
    return paths


def operation_shape(spec: dict, op: dict, path_item: dict) -> dict:
    """What a client sees of an operation: parameters (location, name) and the field paths of its
    JSON request body, its 200 answer and each documented error answer."""

    def json_schema(container):
        content = (resolve(spec, container or {}).get("content") or {}).get("application/json") or {}
        return content.get("schema")

    parameters = [resolve(spec, p) for p in (path_item.get("parameters") or []) + (op.get("parameters") or [])]
    return {
        "parameters": {(p["in"], p["name"]) for p in parameters},
        "body": field_paths(spec, json_schema(op.get("requestBody"))),
        "responses": {code: field_paths(spec, json_schema(answer)) for code, answer in op["responses"].items()},
    }


def shapes(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation_shape(spec, op, item)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def shape_differences(upstream: dict, ours: dict) -> list[str]:
    """What upstream clients rely on that ours lacks: parameters, body and answer fields, error statuses."""
    problems = []
    our_shapes = shapes(ours)
    for key, theirs in shapes(upstream).items():
        mine = our_shapes.get(key)
        if mine is None:
            continue  # presence is test_upstream_operations_are_served_with_the_same_operation_ids's job
        label = " ".join(key)
        if missing := theirs["parameters"] - mine["parameters"]:
            problems.append(f"{label}: parameters {sorted(missing)}")
        if missing := theirs["body"] - mine["body"]:
            problems.append(f"{label}: request body fields {sorted(missing)}")
        for code, fields in theirs["responses"].items():
            if code != "200" and code not in ERROR_STATUSES_WE_DOCUMENT:
                continue
            if code not in mine["responses"]:
                problems.append(f"{label}: does not document {code}")
            elif missing := fields - mine["responses"][code]:
                problems.append(f"{label}: {code} answer fields {sorted(missing)}")
    return problems


def test_upstream_parameters_and_fields_keep_their_names(spec):
    upstream = yaml.safe_load(UPSTREAM_PATH.read_text(encoding="utf-8"))
    problems = shape_differences(upstream, spec)
    assert not problems, "differences from upstream's contract:\n" + "\n".join(problems)


def test_the_parity_comparison_notices_a_renamed_field_or_parameter(spec):
    """The comparison itself: rename one thing at a time in a copy of our spec and it must complain."""
    import copy

    upstream = yaml.safe_load(UPSTREAM_PATH.read_text(encoding="utf-8"))
    renamed_field = copy.deepcopy(spec)
    props = renamed_field["components"]["schemas"]["job_model"]["properties"]
    props["cmd"] = props.pop("command")
    assert any("POST /jobs: request body fields ['.command']" == p for p in shape_differences(upstream, renamed_field))
    assert any(p.startswith("GET /jobs/{id}: 200 answer fields") and ".command" in p for p in shape_differences(upstream, renamed_field))
    renamed_parameter = copy.deepcopy(spec)
    for parameter in renamed_parameter["paths"]["/jobs"]["get"]["parameters"]:
        if parameter.get("name") == "workflow_id":
            parameter["name"] = "workflow"
    assert "GET /jobs: parameters [('query', 'workflow_id')]" in shape_differences(upstream, renamed_parameter)
