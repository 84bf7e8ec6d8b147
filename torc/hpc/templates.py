"""Rendering sbatch scripts from template files, with every value validated or quoted.

A script has two kinds of text torc fills in: ``#SBATCH`` lines, which sbatch parses (a newline
in a value would end the comment and turn the rest into a shell command), and shell lines (the
worker command and its environment), where any value must be quoted. So: values of ``#SBATCH``
lines must match a strict pattern per option (names, accounts, partitions cannot contain anything
but safe characters) and never contain control characters or quotes; shell values go through
:func:`shlex.quote`. A workflow, job or scheduler name can therefore never inject shell code.

Templates are plain files with ``{{ name }}`` placeholders (``{{`` does not occur in shell, unlike
``$name``). torc ships ``slurm_templates/default.sh``; users point torc at their
own file to add module loads and the like: a Slurm scheduler's ``template`` wins, then
``--template`` / ``TORC_SLURM_TEMPLATE`` / the HPC profile's ``template``, then the default.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path

from torc.hpc.scheduler import HpcError
from torc.units import parse_walltime_seconds

DEFAULT_TEMPLATE = "default.sh"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Names (job names, job-name prefixes): what Slurm and file systems both take without surprises.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: Identifiers Slurm uses for accounts, partitions, QOS, features (comma lists allowed).
IDENTIFIER = re.compile(r"^[A-Za-z0-9_.+-]+(?:,[A-Za-z0-9_.+-]+)*$")
MEMORY = re.compile(r"^\d+(?:\.\d+)?[KMGTP]?B?$", re.IGNORECASE)
GRES = re.compile(r"^[A-Za-z0-9_.:()/-]+(?:,[A-Za-z0-9_.:()/-]+)*$")
OPTION = re.compile(r"^--?[A-Za-z][A-Za-z0-9_-]*$")
#: Generic option values (slurm_defaults, extra): printable, no quotes, no backslashes.
FREE_VALUE = re.compile(r"^[^\x00-\x1f\x7f\"'\\`]*$")

#: Scheduler fields that become #SBATCH options, with the check of their values.
SCHEDULER_OPTIONS = {
    "account": ("account", IDENTIFIER),
    "partition": ("partition", IDENTIFIER),
    "qos": ("qos", IDENTIFIER),
    "nodes": ("nodes", None),
    "ntasks_per_node": ("ntasks-per-node", None),
    "mem": ("mem", MEMORY),
    "gres": ("gres", GRES),
    "tmp": ("tmp", MEMORY),
}


class TemplateError(HpcError):
    """A template or a value for it is not acceptable."""


# ---------------------------------------------------------------------------------- values


def check_name(value: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise TemplateError(f"invalid {what} {value!r}: use letters, digits, '_', '.', '-' (at most 128, starting with a letter or digit)")
    return value


def _check(value, pattern: re.Pattern | None, option: str) -> str:
    if pattern is None:  # a positive integer
        if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, str) and value.isdigit()):
            raise TemplateError(f"invalid value {value!r} for --{option}: expected a positive integer")
        if int(value) < 1:
            raise TemplateError(f"invalid value {value!r} for --{option}: expected a positive integer")
        return str(int(value))
    text = str(value)
    if not pattern.fullmatch(text):
        raise TemplateError(f"invalid value {text!r} for --{option}")
    return text


def _free(value: str, option: str) -> str:
    """A value for a free-form option, safe on an #SBATCH line; double-quoted if it has spaces."""
    text = str(value)
    if not FREE_VALUE.fullmatch(text):
        raise TemplateError(f"invalid value {text!r} for {option}: control characters, quotes, backslashes and backticks are not allowed")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def check_walltime(value: str) -> str:
    text = str(value).strip()
    try:
        parse_walltime_seconds(text)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    return text


def extra_directives(extra: str | None) -> list[str]:
    """A scheduler's raw ``extra`` flags (``--signal=B:TERM@300 --exclusive``) as #SBATCH lines."""
    if not extra:
        return []
    try:
        tokens = shlex.split(extra)
    except ValueError as exc:
        raise TemplateError(f"cannot parse extra sbatch flags {extra!r}: {exc}") from None
    lines: list[list[str]] = []
    for token in tokens:
        flag, _, value = token.partition("=")
        if flag.startswith("-"):
            if not OPTION.fullmatch(flag):
                raise TemplateError(f"invalid sbatch flag {token!r} in extra flags {extra!r}")
            lines.append([flag + (f"={_free(value, flag)}" if value else "")])
        elif lines and len(lines[-1]) == 1 and "=" not in lines[-1][0]:
            lines[-1].append(_free(token, lines[-1][0]))  # the value of a flag written as "-p short"
        else:
            raise TemplateError(f"unexpected {token!r} in extra sbatch flags {extra!r}: every flag must start with '-'")
    return ["#SBATCH " + " ".join(parts) for parts in lines]


def default_directives(defaults: Mapping | None) -> list[str]:
    """Workflow ``slurm_defaults`` (``{"mail-type": "END", "exclusive": true}``) as #SBATCH lines."""
    lines = []
    for key, value in (defaults or {}).items():
        option = str(key).replace("_", "-")
        if not OPTION.fullmatch("--" + option):
            raise TemplateError(f"invalid slurm_defaults option {key!r}")
        if value is True:
            lines.append(f"#SBATCH --{option}")
        elif value is False or value is None:
            continue
        else:
            lines.append(f"#SBATCH --{option}={_free(value, '--' + option)}")
    return lines


def sbatch_directives(scheduler: Mapping, *, job_name: str, output_dir: Path, workflow_id: int,
                      slurm_defaults: Mapping | None = None) -> list[str]:
    """All #SBATCH lines of an allocation: torc's own, the scheduler's fields, defaults, extras.

    Scheduler fields win over workflow ``slurm_defaults`` of the same option; ``extra`` comes last
    (so sbatch lets it override anything, as upstream).
    """
    log = f"{Path(output_dir).absolute()}/slurm_output_wf{int(workflow_id)}_sl%j"
    lines = [f"#SBATCH --job-name={check_name(job_name, 'Slurm job name')}"]
    if scheduler.get("walltime"):
        lines.append(f"#SBATCH --time={check_walltime(scheduler['walltime'])}")
    lines += [f"#SBATCH --output={_free(log + '.o', 'the output directory')}", f"#SBATCH --error={_free(log + '.e', 'the output directory')}"]
    managed = set()
    for field, (option, pattern) in SCHEDULER_OPTIONS.items():
        value = scheduler.get(field)
        if value is None or value == "":
            continue
        lines.append(f"#SBATCH --{option}={_check(value, pattern, option)}")
        managed.add(option)
    defaults = {k: v for k, v in (slurm_defaults or {}).items() if str(k).replace("_", "-") not in managed}
    lines += default_directives(defaults)
    lines += extra_directives(scheduler.get("extra"))
    return lines


def export_lines(env: Mapping[str, str]) -> list[str]:
    """``export NAME='value'`` lines; names are checked, values quoted."""
    lines = []
    for name, value in env.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise TemplateError(f"invalid environment variable name {name!r}")
        lines.append(f"export {name}={shlex.quote(str(value))}")
    return lines


#: One worker per node: ``srun`` starts one task per node, each with all of the node's CPUs. The
#: per-CPU/GPU memory variables of the allocation would conflict with the step's own request.
SRUN_PREFIX = 'unset SLURM_MEM_PER_CPU SLURM_MEM_PER_GPU\nexec srun --ntasks-per-node=1 --cpus-per-task="${SLURM_CPUS_ON_NODE:-1}" '


def quote_args(args: Iterable[str]) -> str:
    """A command line with every argument shell-quoted."""
    return " ".join(shlex.quote(str(a)) for a in args)


def shell_command(args: Iterable[str], one_worker_per_node: bool = False) -> str:
    """The script's worker launch line, every argument quoted; behind ``srun`` for one worker per node.

    ``exec`` replaces the batch shell by the worker (or by ``srun``, which forwards signals to its
    tasks): Slurm's SIGTERM before the time limit then reaches the torc worker, which stops and
    reports its jobs, instead of killing a waiting bash and leaving the worker to SIGKILL.
    """
    line = quote_args(args)
    return SRUN_PREFIX + line if one_worker_per_node else "exec " + line


# ---------------------------------------------------------------------------------- templates


def template_dirs() -> list[Path]:
    """Where templates are looked up by name, first match wins.

    ``TORC_SLURM_TEMPLATE_DIR``; the repository's ``slurm_templates/`` (source checkouts and
    ``pip install -e``); the installed copy under ``<prefix>/share/torc/slurm_templates`` (a
    normal install, see setup.cfg ``data_files``, also for ``--user`` installs).
    """
    dirs = []
    if os.environ.get("TORC_SLURM_TEMPLATE_DIR"):
        dirs.append(Path(os.environ["TORC_SLURM_TEMPLATE_DIR"]))
    dirs.append(Path(__file__).resolve().parents[2] / "slurm_templates")
    for scheme_path in {sysconfig.get_path("data"), sys.prefix, getattr(sys, "base_prefix", sys.prefix)}:
        dirs.append(Path(scheme_path) / "share" / "torc" / "slurm_templates")
    try:
        import site

        dirs.append(Path(site.getuserbase()) / "share" / "torc" / "slurm_templates")
    except Exception:  # noqa: BLE001 - user base is optional
        pass
    return dirs


def find_template(name_or_path: str | os.PathLike | None = None) -> Path:
    """A template file: an explicit path, a name in :func:`template_dirs`, or the default."""
    name_or_path = name_or_path or os.environ.get("TORC_SLURM_TEMPLATE") or DEFAULT_TEMPLATE
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    if path.name == str(name_or_path):
        for directory in template_dirs():
            if (directory / path.name).is_file():
                return directory / path.name
    raise TemplateError(f"Slurm template {str(name_or_path)!r} not found (looked in {', '.join(str(d) for d in template_dirs())})")


def render(template_text: str, values: Mapping[str, str | int]) -> str:
    """Fill ``{{ name }}`` placeholders; an unknown placeholder is an error (a typo would silently drop a line)."""
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(template_text)} - set(values))
    if unknown:
        raise TemplateError(f"unknown placeholder(s) {', '.join(unknown)} in the Slurm template; known: {', '.join(sorted(values))}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template_text)


def scheduler_template_text(scheduler: Mapping | None, fallback: str | os.PathLike | None) -> str:
    """The template text of a scheduler's allocations: its own ``template``, else ``fallback``.

    ``fallback`` is what the submitter chose (``--template``, ``TORC_SLURM_TEMPLATE`` or the HPC
    profile's template; the default when empty). A scheduler's own file is checked when it is used,
    not when the workflow is created, so the error names the scheduler and the path it stores.
    """
    own = (scheduler or {}).get("template")
    if not own:
        path = find_template(fallback)
        try:
            return path.read_text()
        except OSError as exc:
            raise TemplateError(f"cannot read Slurm template {str(path)!r}: {exc.strerror or exc}") from None
    label = f"Slurm scheduler {scheduler.get('name') or scheduler.get('id')!r}"
    try:
        return find_template(own).read_text()
    except TemplateError:
        raise TemplateError(f"{label}: template {own!r} not found (a file path, relative to the current directory "
                            f"{os.getcwd()!r}, or a name in {', '.join(str(d) for d in template_dirs())})") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TemplateError(f"{label}: cannot read template {own!r}: {reason}") from None


def render_script(template: str | os.PathLike | None, *, directives: list[str], environment: Mapping[str, str],
                  worker_command: str, workflow_id: int, job_name: str, output_dir: Path, url: str,
                  scheduler: Mapping | None = None) -> str:
    """The complete sbatch script of one allocation; ``scheduler``'s own template wins over ``template``."""
    text = scheduler_template_text(scheduler, template)
    if not PLACEHOLDER.search(text) or "sbatch_directives" not in {m.group(1) for m in PLACEHOLDER.finditer(text)}:
        raise TemplateError("a Slurm template must contain {{ sbatch_directives }} before any command")
    return render(text, {
        "sbatch_directives": "\n".join(directives),
        "environment": "\n".join(export_lines(environment)),
        "worker_command": worker_command,
        "workflow_id": int(workflow_id),
        "job_name": check_name(job_name, "Slurm job name"),
        "output_dir": shlex.quote(str(output_dir)),
        "url": shlex.quote(url),
    })
