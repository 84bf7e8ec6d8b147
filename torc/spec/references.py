"""Resolution of a job's references to other jobs, files and user_data.

A job names what it depends on, reads and writes in three ways, all resolved here to plain
lists of expanded names:

* exact names (``depends_on``, ``input_files``, ...), which must exist;
* regexes (``depends_on_regexes``, ``input_file_regexes``, ...), matched with ``re.search``
  against every expanded name; a regex matching nothing is an error (almost always a typo);
* ``${files.input.NAME}`` / ``${files.output.NAME}`` in the command or invocation script,
  replaced by the file's path, and ``${user_data.input.NAME}`` / ``${user_data.output.NAME}``,
  replaced by the JSON text of the user data's ``data`` (upstream behaviour).

Regex results are cached per pattern, so a barrier job pattern shared by many jobs is
matched once, and name checks are dict lookups: resolution is linear in jobs + references.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping

from .errors import Context
from .expansion import PROGRESS_EVERY, Expansion, Progress

# Beyond this many names a "did you mean" search would make error reporting slow.
_SUGGESTION_LIMIT = 5000
_REFERENCE_RE = re.compile(r"\$\{(files|user_data)\.([^{}]*)\}")

# job field -> (which index it refers to, which output list it fills)
_NAME_FIELDS = {
    "depends_on": ("job", "depends_on"),
    "input_files": ("file", "input_files"),
    "output_files": ("file", "output_files"),
    "input_user_data": ("user_data", "input_user_data"),
    "output_user_data": ("user_data", "output_user_data"),
}
_REGEX_FIELDS = {
    "depends_on_regexes": ("job", "depends_on"),
    "input_file_regexes": ("file", "input_files"),
    "output_file_regexes": ("file", "output_files"),
    "input_user_data_regexes": ("user_data", "input_user_data"),
    "output_user_data_regexes": ("user_data", "output_user_data"),
}
_OUTPUT_LISTS = ("depends_on", "input_files", "output_files", "input_user_data", "output_user_data")


class NameIndex:
    """The expanded names of one kind of record, with cached regex lookups.

    Lookups raise ``ValueError`` with a message; callers add the location, which keeps
    context objects off the per-job hot path.
    """

    def __init__(self, kind: str, records: Mapping[str, object]) -> None:
        self.kind = kind
        self.records = records
        self._matches: dict[str, list[str]] = {}

    def get(self, name: str):
        record = self.records.get(name)
        if record is None:
            raise ValueError(f"unknown {self.kind} '{name}'{self._suggest(name)}")
        return record

    def matching(self, pattern: str) -> list[str]:
        matches = self._matches.get(pattern)
        if matches is None:
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
            matches = self._matches[pattern] = [name for name in self.records if regex.search(name)]
        if not matches:
            raise ValueError(f"regex {pattern!r} matches no {self.kind}")
        return matches

    def _suggest(self, name: str) -> str:
        if len(self.records) > _SUGGESTION_LIMIT:
            return ""
        close = difflib.get_close_matches(name, list(self.records), n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""


def resolve_jobs(
    expansions: dict[str, Expansion],
    indexes: dict[str, NameIndex],
    root: Context,
    progress: Progress | None = None,
) -> list[dict]:
    """Final job records. ``indexes`` maps kind -> NameIndex for every kind a job may
    reference: job, file, user_data, resource_requirements, failure handler, slurm scheduler.
    ``progress`` is called as ``("resolving jobs", jobs done, total)``.
    """
    jobs, total = [], len(expansions)
    for expansion in expansions.values():
        jobs.append(_resolve_job(expansion, indexes, root))
        if progress is not None and (len(jobs) % PROGRESS_EVERY == 0 or len(jobs) == total):
            progress("resolving jobs", len(jobs), total)
    return jobs


def _resolve_job(expansion: Expansion, indexes: dict[str, NameIndex], root: Context) -> dict:
    name, fields = expansion.name, expansion.fields

    def fail(k: int, field: str, message: object) -> Exception:
        """Located error for the k-th parameter combination that produced this job."""
        return expansion.context(root, k).at(field).error(str(message))

    for field, kind in (
        ("resource_requirements", "resource_requirements"),
        ("failure_handler", "failure handler"),
        ("scheduler", "slurm scheduler"),
    ):
        if field in fields:
            try:
                indexes[kind].get(fields[field])
            except ValueError as exc:
                raise fail(0, field, exc) from None

    lists: dict[str, list[str]] = {key: [] for key in _OUTPUT_LISTS}
    for k, rendered in enumerate(expansion.lists):
        for field, refs in rendered.items():
            if field in _NAME_FIELDS:
                kind, target = _NAME_FIELDS[field]
                try:
                    for ref in refs:
                        indexes[kind].get(ref)
                except ValueError as exc:
                    raise fail(k, field, exc) from None
                lists[target].extend(refs)
            else:
                kind, target = _REGEX_FIELDS[field]
                for pattern in refs:
                    try:
                        matches = indexes[kind].matching(pattern)
                    except ValueError as exc:
                        raise fail(k, field, exc) from None
                    if kind == "job":
                        # A barrier job matching its own name pattern means "the others".
                        matches = [match for match in matches if match != name]
                        if not matches:
                            raise fail(k, field, f"regex {pattern!r} matches no job but itself")
                    lists[target].extend(matches)

    text_fields = {}
    for field in ("command", "invocation_script"):
        if field in fields:
            try:
                text_fields[field] = _substitute(fields[field], indexes, lists)
            except ValueError as exc:
                raise fail(0, field, exc) from None

    return {
        "name": name,
        "command": text_fields["command"],
        "invocation_script": text_fields.get("invocation_script"),
        "cancel_on_blocking_job_failure": fields.get("cancel_on_blocking_job_failure", True),
        "supports_termination": fields.get("supports_termination", False),
        "resource_requirements": fields.get("resource_requirements"),
        "failure_handler": fields.get("failure_handler"),
        "scheduler": fields.get("scheduler"),
        **{key: _unique(values) for key, values in lists.items()},
    }


def _substitute(text: str, indexes: dict[str, NameIndex], lists: dict[str, list[str]]) -> str:
    """Replace ``${files|user_data.input|output.NAME}`` and record each reference."""

    def replace(match: re.Match) -> str:
        kind, rest = match.groups()
        direction, _, ref = rest.partition(".")
        if direction not in ("input", "output") or not ref:
            raise ValueError(
                f"invalid reference '{match.group(0)}': expected "
                f"${{{kind}.input.NAME}} or ${{{kind}.output.NAME}}"
            )
        if kind == "files":
            lists[f"{direction}_files"].append(ref)
            return indexes["file"].get(ref)["path"]
        lists[f"{direction}_user_data"].append(ref)
        return json.dumps(indexes["user_data"].get(ref)["data"], separators=(",", ":"))

    return _REFERENCE_RE.sub(replace, text)


def _unique(values: list[str]) -> list[str]:
    """Deduplicated, first occurrence kept."""
    return list(dict.fromkeys(values)) if len(values) > 1 else values
