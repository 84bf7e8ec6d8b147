"""Parameter expansion: one spec entry (job, file, user_data) -> many named records.

Each combination of an entry's parameters is rendered into a name and fields. When several
combinations of the *same* entry render the same name, they are one record: this is how a
parameterized ``depends_on: [train_{lr}]`` on a job whose name does not use ``lr`` becomes
a fan-in over every ``train_*`` job (upstream would create duplicate jobs). Such merging is
only allowed when every non-list field is identical; anything else, and any name produced
by two different entries, is a duplicate-name error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import Context
from .parameters import ParameterSet, ParamValue

JOB_REFERENCE_LISTS = ("depends_on", "input_files", "output_files", "input_user_data", "output_user_data")
JOB_REGEX_LISTS = (
    "depends_on_regexes",
    "input_file_regexes",
    "output_file_regexes",
    "input_user_data_regexes",
    "output_user_data_regexes",
)


@dataclass(frozen=True)
class Layout:
    """Which fields of a section's entries are templates, and of what kind."""

    section: str
    label: str
    templates: tuple[str, ...]  # string fields rendered per combination; "name" first
    lists: tuple[str, ...] = ()  # lists of names, rendered per combination
    regex_lists: tuple[str, ...] = ()  # lists of regexes: inserted values are escaped
    fixed: tuple[str, ...] = ()  # copied as given


JOBS = Layout(
    "jobs",
    "job",
    templates=(
        "name",
        "command",
        "invocation_script",
        "resource_requirements",
        "failure_handler",
        "scheduler",
    ),
    lists=JOB_REFERENCE_LISTS,
    regex_lists=JOB_REGEX_LISTS,
    fixed=("cancel_on_blocking_job_failure", "supports_termination"),
)
FILES = Layout("files", "file", templates=("name", "path"))
USER_DATA = Layout("user_data", "user_data", templates=("name",), fixed=("data", "is_ephemeral"))


@dataclass
class Expansion:
    """Every combination of one entry that produced the same name (more than one = fan-in)."""

    layout: Layout
    entry: int
    params: ParameterSet
    fields: dict[str, Any]
    combos: list[tuple[int, ...]] = field(default_factory=list)
    lists: list[dict[str, list[str]]] = field(default_factory=list)  # per combination

    @property
    def name(self) -> str:
        return self.fields["name"]

    def context(self, root: Context, k: int = 0) -> Context:
        """Error context of the k-th combination, naming the job and its parameter values."""
        ctx = root.at(self.layout.section).at(self.entry)
        if self.layout.label != "job":
            return ctx
        return ctx.for_job(self.name, self.params.describe(self.combos[k]))


#: Combinations between two calls of a progress callback.
PROGRESS_EVERY = 2000

#: ``progress(phase, done, total)``: how far a long step of loading a spec got.
Progress = Callable[[str, int, int], None]


def expand_section(
    entries: list[dict],
    layout: Layout,
    workflow_params: dict[str, list[ParamValue]],
    root: Context,
    progress: Progress | None = None,
) -> dict[str, Expansion]:
    """Expand a section's entries into records keyed by name, in spec order.

    ``progress`` is called as ``(f"expanding {layout.section}", combinations done, total)``.
    """
    result: dict[str, Expansion] = {}
    planned = []
    for index, entry in enumerate(entries):
        ctx = root.at(layout.section).at(index)
        if layout.label == "job":
            ctx = ctx.for_job(entry["name"])
        params = _resolve_parameters(entry, workflow_params, ctx)
        planned.append((index, entry, ctx, params, params.combinations(entry.get("parameter_mode", "product"), ctx.at("parameter_mode"))))
    total, done, phase = sum(len(item[-1]) for item in planned), 0, f"expanding {layout.section}"
    for index, entry, ctx, params, combos in planned:
        templates = {key: params.compile(entry[key], ctx.at(key)) for key in layout.templates if key in entry}
        list_templates = {
            key: [
                params.compile(text, ctx.at(key).at(i), regex=key in layout.regex_lists)
                for i, text in enumerate(entry[key])
            ]
            for key in layout.lists + layout.regex_lists
            if key in entry
        }
        fixed = {key: entry[key] for key in layout.fixed if key in entry}
        for combo in combos:
            done += 1
            if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
                progress(phase, done, total)
            fields = {key: template.render(combo) for key, template in templates.items()}
            fields.update(fixed)
            lists = {key: [t.render(combo) for t in items] for key, items in list_templates.items()}
            existing = result.get(fields["name"])
            if existing is None:
                result[fields["name"]] = Expansion(layout, index, params, fields, [combo], [lists])
            else:
                _merge(existing, index, params, fields, combo, lists, root)
    return result


def _resolve_parameters(entry: dict, workflow_params: dict[str, list], ctx: Context) -> ParameterSet:
    """Workflow parameters selected by ``use_parameters``, overridden by local ``parameters``."""
    selected = {}
    for i, param in enumerate(entry.get("use_parameters", ())):
        if param not in workflow_params:
            known = ", ".join(workflow_params) or "none"
            raise (
                ctx.at("use_parameters")
                .at(i)
                .error(f"unknown workflow parameter '{param}' (workflow parameters: {known})")
            )
        selected[param] = workflow_params[param]
    selected.update(entry.get("parameters", {}))
    return ParameterSet.from_dict(selected)


def _merge(
    existing: Expansion,
    index: int,
    params: ParameterSet,
    fields: dict[str, Any],
    combo: tuple[int, ...],
    lists: dict[str, list[str]],
    root: Context,
) -> None:
    layout = existing.layout
    if existing.entry != index:
        duplicate = Expansion(layout, index, params, fields, [combo])
        raise duplicate.context(root).error(
            f"duplicate {layout.label} name '{existing.name}' "
            f"(already produced by {layout.section}[{existing.entry}])"
        )
    # Same entry, so both have the same keys; only rendered values can differ.
    differing = next((key for key in fields if fields[key] != existing.fields[key]), None)
    if differing is not None:
        raise existing.context(root).error(
            f"parameter values ({params.describe(existing.combos[0])}) and ({params.describe(combo)}) "
            f"both produce {layout.label} name '{existing.name}' but different '{differing}'; "
            "use all parameters in the name"
        )
    existing.combos.append(combo)
    existing.lists.append(lists)
