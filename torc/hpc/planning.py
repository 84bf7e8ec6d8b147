"""Planning allocations for a workflow from its jobs' resource requirements and an HPC profile.

``torc submit-slurm`` and ``torc slurm generate`` use this to write the Slurm schedulers and
``schedule_nodes`` actions a user would otherwise write by hand:

* jobs are grouped by resource requirements (or by partition) and by **stage**: jobs without
  dependencies are requested at workflow start; a job with dependencies is requested when its
  stage's jobs become ready (``on_jobs_ready``). The stage is the job's depth in the dependency
  graph, so an action never waits for jobs of a later stage (which would deadlock);
* each group gets the partition that fits its jobs best (enough CPUs, memory, GPUs, nodes and
  time; GPU partitions only for GPU jobs; a shared partition for small jobs; the shortest time
  limit that fits; development partitions only as a last resort);
* walltime = longest runtime × multiplier, plus the workflow's expiration buffer (the worker only
  claims jobs that finish before the end minus that buffer), capped by the partition;
* allocations = ceil(jobs / (jobs per allocation × runs per walltime)), capped by the profile's
  ``max_queued_allocations``: never more than the cluster lets a workflow queue at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from torc.hpc.profiles import HpcProfile, Partition, ProfileError
from torc.hpc.slurm import format_walltime
from torc.spec import ExpandedWorkflow
from torc.units import parse_duration_seconds, parse_memory_bytes

DEFAULT_MULTIPLIER = 1.5
#: Time a worker needs to start and register, added to every walltime.
STARTUP_SECONDS = 60
#: The server's default expiration buffer (workflow field compute_node_expiration_buffer_seconds).
DEFAULT_BUFFER_SECONDS = 180
#: "Small" jobs go to a shared partition: at most this fraction of a node's CPUs and memory.
SMALL_FRACTION = 0.25
DEFAULT_RR = {"name": "default", "num_cpus": 1, "num_gpus": 0, "num_nodes": 1, "memory": "1m", "runtime": "P0DT1M"}


@dataclass
class Needs:
    """One job's needs, in the units partitions use."""

    cpus: int
    memory_mb: int
    gpus: int
    nodes: int
    runtime_s: int

    @classmethod
    def of(cls, rr: dict) -> "Needs":
        return cls(int(rr.get("num_cpus") or 1), math.ceil(parse_memory_bytes(rr.get("memory") or "1m") / 1024**2),
                   int(rr.get("num_gpus") or 0), int(rr.get("num_nodes") or 1), parse_duration_seconds(rr.get("runtime") or "PT1M"))

    def per_node(self, partition: Partition) -> int:
        """How many of these jobs fit on one node of the partition at once."""
        if self.nodes > 1:
            return 1
        fits = [partition.cpus_per_node // max(self.cpus, 1), partition.memory_mb // max(self.memory_mb, 1)]
        if self.gpus:
            fits.append(partition.gpus_per_node // self.gpus)
        return max(0, min(fits))


@dataclass
class PlannedScheduler:
    name: str
    partition: str
    job_names: list[str]
    stage: int
    num_allocations: int
    nodes: int
    walltime: str
    jobs_per_allocation: int
    record: dict
    start_one_worker_per_node: bool = False

    @property
    def trigger_type(self) -> str:
        return "on_workflow_start" if self.stage == 0 else "on_jobs_ready"

    def action(self) -> dict:
        config = {"scheduler": self.name, "scheduler_type": "slurm", "num_allocations": self.num_allocations}
        if self.start_one_worker_per_node:
            config["start_one_worker_per_node"] = True
        return {"trigger_type": self.trigger_type, "action_type": "schedule_nodes",
                "job_names": [] if self.stage == 0 else list(self.job_names), "action_config": config, "persistent": False}

    def summary(self) -> dict:
        return {"scheduler": self.name, "partition": self.partition, "trigger": self.trigger_type, "stage": self.stage,
                "jobs": len(self.job_names), "allocations": self.num_allocations, "nodes": self.nodes, "walltime": self.walltime,
                "jobs_per_allocation": self.jobs_per_allocation, "mem": self.record.get("mem"), "gres": self.record.get("gres"),
                "extra": self.record.get("extra")}


@dataclass
class Plan:
    profile: str
    schedulers: list[PlannedScheduler] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def apply(self, expanded: ExpandedWorkflow) -> ExpandedWorkflow:
        """The workflow with these schedulers and actions instead of its own Slurm ones."""
        data = expanded.to_dict()
        data["slurm_schedulers"] = [s.record for s in self.schedulers]
        data["actions"] = [a for a in data["actions"] if a["action_type"] != "schedule_nodes"] + [s.action() for s in self.schedulers]
        owner = {job: s.name for s in self.schedulers for job in s.job_names}
        for job in data["jobs"]:
            job["scheduler"] = owner.get(job["name"])
        return ExpandedWorkflow(**data)

    def spec_sections(self) -> dict:
        """The schedulers and actions in workflow-spec syntax (to paste into a spec)."""
        actions = []
        for s in self.schedulers:
            action = s.action()
            entry = {"trigger_type": action["trigger_type"], "action_type": "schedule_nodes"}
            if action["job_names"]:
                entry["jobs"] = action["job_names"]
            actions.append({**entry, **action["action_config"]})
        return {"slurm_schedulers": [s.record for s in self.schedulers], "actions": actions}

    def as_dict(self) -> dict:
        return {"profile": self.profile, "schedulers": [s.summary() for s in self.schedulers],
                "slurm_schedulers": [s.record for s in self.schedulers], "actions": [s.action() for s in self.schedulers],
                "warnings": self.warnings}


def stages(expanded: ExpandedWorkflow) -> dict[str, int]:
    """Job name → depth in the dependency graph (explicit and through files/user data)."""
    writers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for job in expanded.jobs:
        for kind in ("files", "user_data"):
            for name in job.get(f"output_{kind}", []):
                writers[(kind, name)].append(job["name"])
    upstream = {
        job["name"]: set(job.get("depends_on", []))
        | {w for kind in ("files", "user_data") for name in job.get(f"input_{kind}", []) for w in writers[(kind, name)] if w != job["name"]}
        for job in expanded.jobs
    }
    depth: dict[str, int] = {}
    pending = [name for name in upstream]
    while pending:  # the spec loader already rejected cycles
        progressed = []
        for name in pending:
            if all(u in depth for u in upstream[name]):
                depth[name] = 1 + max((depth[u] for u in upstream[name]), default=-1)
                progressed.append(name)
        if not progressed:
            raise ProfileError("the job graph has a cycle")
        pending = [n for n in pending if n not in depth]
    return depth


def choose_partition(profile: HpcProfile, needs: Needs, min_walltime_s: int) -> Partition:
    """The partition for jobs with these needs (see the module docstring for the preferences)."""
    candidates = [
        p for p in profile.partitions
        if needs.per_node(p) >= 1
        and (p.max_walltime_secs is None or p.max_walltime_secs >= min_walltime_s)
        and (p.max_nodes is None or p.max_nodes >= needs.nodes) and p.min_nodes <= max(needs.nodes, 1)
    ]
    if not candidates:
        raise ProfileError(
            f"no partition of profile {profile.name} fits jobs needing {needs.cpus} CPUs, {needs.memory_mb} MB, {needs.gpus} GPUs, "
            f"{needs.nodes} node(s) and {format_walltime(min_walltime_s)} (runtime plus buffers)")
    biggest = max(candidates, key=lambda p: (p.cpus_per_node, p.memory_mb))
    small = (needs.nodes == 1 and needs.gpus == 0 and needs.cpus <= SMALL_FRACTION * biggest.cpus_per_node
             and needs.memory_mb <= SMALL_FRACTION * biggest.memory_mb)

    def preference(p: Partition):
        return (
            p.debug,  # development partitions last
            bool(p.gpus_per_node) and not needs.gpus,
            small != p.shared,  # small jobs prefer shared nodes, big ones whole nodes
            p.max_walltime_secs if p.max_walltime_secs is not None else math.inf,  # the shortest limit that fits
            p.min_nodes > 1,
            p.memory_mb, p.cpus_per_node,  # the smallest node that fits
        )

    return min(candidates, key=preference)


def plan_workflow(
    expanded: ExpandedWorkflow,
    profile: HpcProfile,
    account: str,
    *,
    group_by: str = "resource-requirements",
    multiplier: float = DEFAULT_MULTIPLIER,
    max_partition_time: int | None = None,
    single_allocation: bool = False,
) -> Plan:
    if group_by not in ("resource-requirements", "partition"):
        raise ProfileError(f"unknown grouping {group_by!r}: resource-requirements or partition")
    rrs = {rr["name"]: rr for rr in expanded.resource_requirements}
    buffer_s = int(expanded.workflow.get("compute_node_expiration_buffer_seconds", DEFAULT_BUFFER_SECONDS))
    depth = stages(expanded)
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for job in expanded.jobs:
        groups[(job.get("resource_requirements") or "default", depth[job["name"]])].append(job["name"])
    plan = Plan(profile.name)
    planned = []
    for (rr_name, stage), names in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        needs = Needs.of(rrs.get(rr_name, DEFAULT_RR))
        wanted = math.ceil(needs.runtime_s * multiplier) + buffer_s + STARTUP_SECONDS
        partition = choose_partition(profile, needs, needs.runtime_s + buffer_s + STARTUP_SECONDS)
        limit = min(t for t in (partition.max_walltime_secs, max_partition_time, wanted) if t is not None)
        planned.append(_size(plan, profile, partition, needs, rr_name, stage, names, limit, buffer_s, account, single_allocation))
    plan.schedulers = _merge_by_partition(planned) if group_by == "partition" else planned
    _name(plan.schedulers, group_by)
    return plan


def _size(plan: Plan, profile: HpcProfile, partition: Partition, needs: Needs, rr_name: str, stage: int, names: list[str],
          walltime_s: int, buffer_s: int, account: str, single_allocation: bool) -> PlannedScheduler:
    per_node = needs.per_node(partition)
    runs = max(1, (walltime_s - buffer_s - STARTUP_SECONDS) // max(needs.runtime_s, 1))
    nodes = max(needs.nodes, partition.min_nodes)
    per_allocation = min(per_node, len(names)) if partition.shared and needs.nodes == 1 else per_node
    allocations = math.ceil(len(names) / (per_allocation * runs))
    record = {"name": rr_name, "account": account, "nodes": nodes, "walltime": format_walltime(walltime_s)}
    if partition.requires_explicit_request:
        record["partition"] = partition.name
    if partition.shared and needs.nodes == 1:
        # Share the node: ask for what the jobs need, not for the whole node.
        record["mem"] = f"{needs.memory_mb * per_allocation}M"
        record["extra"] = f"--cpus-per-task={needs.cpus * per_allocation}"
        gpus = needs.gpus * per_allocation
    else:
        record["mem"] = f"{partition.memory_mb}M"
        record["extra"] = "--exclusive"
        gpus = partition.gpus_per_node if needs.gpus else 0
    if gpus:
        record["gres"] = f"gpu:{gpus}"
    worker_per_node = False
    if single_allocation and needs.nodes == 1 and allocations > 1:
        nodes = min(allocations * nodes, partition.max_nodes or allocations * nodes)
        record["nodes"], allocations, worker_per_node = nodes, 1, True
    if allocations > profile.max_queued_allocations:
        plan.warnings.append(f"{rr_name} (stage {stage}): {allocations} allocations needed, capped at {profile.max_queued_allocations} "
                             "(the profile's max_queued_allocations); the jobs share them over time")
        allocations = profile.max_queued_allocations
    if partition.max_nodes is not None and nodes > partition.max_nodes:
        raise ProfileError(f"{rr_name}: jobs need {nodes} nodes but partition {partition.name} allows {partition.max_nodes}")
    return PlannedScheduler(rr_name, partition.name, list(names), stage, allocations, nodes, record["walltime"], per_allocation,
                            record, worker_per_node)


def _merge_by_partition(planned: list[PlannedScheduler]) -> list[PlannedScheduler]:
    """One scheduler per (partition, stage): the largest request of its groups, their allocations summed."""
    merged: dict[tuple[str, int], PlannedScheduler] = {}
    for item in planned:
        key = (item.partition, item.stage)
        if key not in merged:
            merged[key] = item
            item.name = item.partition
            continue
        into = merged[key]
        into.job_names += item.job_names
        into.num_allocations += item.num_allocations
        if _walltime_s(item.walltime) > _walltime_s(into.walltime):
            into.walltime = into.record["walltime"] = item.walltime
        into.nodes = into.record["nodes"] = max(into.nodes, item.nodes)
        for key_, pick in (("mem", _mb), ("extra", _cpus), ("gres", _gpus)):
            if item.record.get(key_) and (not into.record.get(key_) or pick(item.record[key_]) > pick(into.record[key_])):
                into.record[key_] = item.record[key_]
    return list(merged.values())


def _name(schedulers: list[PlannedScheduler], group_by: str) -> None:
    """``<rr>_scheduler`` for the first stage, ``<rr>_deferred_scheduler`` later (upstream's names),
    with the stage number when one group has several later stages."""
    later = defaultdict(int)
    for s in schedulers:
        if s.stage:
            later[s.name] += 1
    for s in schedulers:
        base = s.name
        s.name = f"{base}_scheduler" if s.stage == 0 else (f"{base}_deferred_scheduler" if later[base] == 1 else f"{base}_deferred{s.stage}_scheduler")
        s.record["name"] = s.name


def _walltime_s(text: str) -> int:
    from torc.units import parse_walltime_seconds

    return parse_walltime_seconds(text) or 0


def _mb(text: str) -> int:
    return int(text.rstrip("M"))


def _cpus(text: str) -> int:
    return int(text.split("=")[1]) if text.startswith("--cpus-per-task=") else 10**9  # --exclusive: the whole node


def _gpus(text: str) -> int:
    return int(text.split(":")[-1])
