"""``torc hpc ...``: the HPC profiles torc plans allocations with (see :mod:`torc.hpc.profiles`)."""

from __future__ import annotations

from pathlib import Path

import click

from torc.cli.context import CliState, pass_state
from torc.cli.output import columns
from torc.cli.slurm import hpc_errors

PARTITION_COLUMNS = columns(
    "name", "cpus_per_node", ("memory_gb", lambda p: round(p["memory_mb"] / 1024, 1)),
    ("max_walltime", lambda p: _walltime(p["max_walltime_secs"])), "min_nodes", "max_nodes", "gpus_per_node", "gpu_type",
    "shared", ("explicit", "requires_explicit_request"), "debug",
)


def _walltime(seconds):
    from torc.hpc.slurm import format_walltime

    return "unlimited" if seconds is None else format_walltime(seconds)


@click.group()
def hpc():
    """HPC profiles: the partitions of clusters, used to plan Slurm allocations."""


@hpc.command("list")
@pass_state
@hpc_errors
def list_profiles(state: CliState):
    """Known profiles: built-in and from ~/.config/torc/hpc_profiles or TORC_HPC_PROFILE_DIRS."""
    from torc.hpc.profiles import all_profiles

    records = [{"name": p.name, "display_name": p.display_name, "partitions": len(p.partitions), "detected": p.matches(), "source": p.source}
               for p in all_profiles().values()]
    state.records(records, columns("name", "display_name", "partitions", "detected", "source"))


@hpc.command()
@pass_state
@hpc_errors
def detect(state: CliState):
    """The profile of the cluster this machine belongs to."""
    from torc.hpc.profiles import detect_profile

    profile = detect_profile()
    if profile is None:
        state.object({"name": None}, "No HPC profile matches this machine (`torc hpc generate` creates one from Slurm)")
        return
    state.object({"name": profile.name, "display_name": profile.display_name, "source": profile.source},
                 f"{profile.display_name} ({profile.name})")


@hpc.command()
@click.argument("name", required=False)
@pass_state
@hpc_errors
def show(state: CliState, name):
    """A profile in full (default: the detected one)."""
    from torc.hpc.profiles import dump_toml, resolve_profile

    profile = resolve_profile(name)
    if state.json:
        state.object(profile.to_dict())
    else:
        click.echo(dump_toml(profile), nl=False)


@hpc.command()
@click.argument("name", required=False)
@pass_state
@hpc_errors
def partitions(state: CliState, name):
    """The partitions of a profile (default: the detected one)."""
    from dataclasses import asdict

    from torc.hpc.profiles import resolve_profile

    state.records([asdict(p) for p in resolve_profile(name).partitions], PARTITION_COLUMNS)


@hpc.command()
@click.option("--name", help="Profile name (default: Slurm's ClusterName).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the profile here (.toml or .yaml) instead of stdout.")
@pass_state
@hpc_errors
def generate(state: CliState, name, output):
    """Build a profile of this cluster from `scontrol show partition` and `scontrol show node`."""
    import yaml

    from torc.hpc.profiles import dump_toml, generate_profile

    profile = generate_profile(name=name)
    text = yaml.safe_dump(profile.to_dict(), sort_keys=False) if output and Path(output).suffix in (".yaml", ".yml") else dump_toml(profile)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        click.echo(f"Wrote HPC profile {profile.name} ({len(profile.partitions)} partitions) to {output}", err=True)
    else:
        click.echo(text, nl=False)
