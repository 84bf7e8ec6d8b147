"""``torc reports check-resource-utilization`` and ``torc plot-resources``.

The logic lives in ``torc.reports``; these commands only fetch records and print. ``reports`` is a
click group and ``plot_resources`` a top-level command, both registered by ``torc.cli.main``.
"""

from pathlib import Path

import click

from torc.cli.context import CliState, pass_state
from torc.cli.output import columns, emit_records, print_json
from torc.reports.plots import PlotError, write_resource_plots
from torc.reports.utilization import DEFAULT_CPU_TOLERANCE, check_resource_utilization

_TABLE = columns(
    ("Job ID", "job_id"),
    ("Job name", "job_name"),
    ("Status", "status"),
    ("RC", "return_code"),
    ("Exceeded", "resource"),
    ("Requested", "requested"),
    ("Used (peak)", "used"),
    ("Ratio", "ratio"),
    ("Likely cause", "likely_cause"),
)


@click.group("reports")
def reports() -> None:
    """Reports over a workflow's results."""


@reports.command("check-resource-utilization")
@click.argument("workflow_id", type=int)
@click.option("--include-failed", is_flag=True, help="Also check failed and terminated jobs and name their likely cause (OOM, timeout).")
@click.option(
    "--cpu-tolerance", type=click.FloatRange(min=0), default=DEFAULT_CPU_TOLERANCE * 100, show_default=True,
    help="Percent by which peak CPU may exceed num_cpus × 100 % before it is reported.",
)
@click.option("-f", "--format", "output_format", type=click.Choice(["table", "json"]), default=None, help="Overrides the global -f/--format.")
@pass_state
def check_resource_utilization_command(state: CliState, workflow_id: int, include_failed: bool, cpu_tolerance: float, output_format: str | None) -> None:
    """List jobs whose peak memory, peak CPU or run time exceeded their resource requirements.

    Looks at each job's latest result. Jobs on the workflow's placeholder "default" requirements,
    or whose results carry no resource statistics (monitoring disabled), are not reported.
    """
    api = state.api
    results = list(api.iter_results(workflow_id))  # the server returns each job's latest result
    findings = check_resource_utilization(
        results,
        api.iter_jobs(workflow_id),
        api.iter_resource_requirements(workflow_id),
        include_failed=include_failed,
        cpu_tolerance=cpu_tolerance / 100,
    )
    if (output_format or state.output_format) == "json":
        print_json({
            "workflow_id": workflow_id,
            "num_results": len(results),
            "cpu_tolerance_percent": cpu_tolerance,
            "jobs": [finding.to_dict() for finding in findings],
        })
        return
    rows = []
    for finding in findings:
        common = {"job_id": finding.job_id, "job_name": finding.job_name, "status": finding.status,
                  "return_code": finding.return_code, "likely_cause": finding.likely_cause}
        rows.extend({**common, "resource": e.resource, "requested": e.requested_text, "used": e.used_text,
                     "ratio": f"{e.ratio:.2f}"} for e in finding.exceeded)
        if not finding.exceeded:
            rows.append(common)
    emit_records("table", rows, _TABLE, empty=f"No job of workflow {workflow_id} exceeded its resource requirements.")
    for finding in findings:
        if finding.cause_detail:
            click.echo(f"job {finding.job_id} ({finding.job_name}): likely {finding.likely_cause}: {finding.cause_detail}")


@click.command("plot-resources")
@click.argument("db", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write [default: next to DB: x.db → x.html, a directory → DIR/resource_plots.html].")
@click.option("--cdn", is_flag=True, help="Load plotly.js from its CDN instead of embedding it (small file, needs internet to view).")
def plot_resources(db: Path, output: Path | None, cdn: bool) -> None:
    """Plot CPU and memory of every job from resource time-series file(s) as interactive HTML.

    DB is a resource_metrics_*.db written by a worker with resource_monitor granularity
    time_series, or a directory of them (e.g. <output>/resource_utilization). Needs the optional
    plotly dependency: pip install 'torc[plots]'.
    """
    try:
        written = write_resource_plots(db, output, embed_plotlyjs=not cdn)
    except PlotError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {written}")
