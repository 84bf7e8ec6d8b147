"""HPC profiles: what a cluster offers, as data, so that torc can plan allocations for it.

A profile names a cluster's partitions with their node sizes (CPUs, memory, GPUs, local disk),
time limits and node-count limits, how to recognize the cluster (environment variables, host
names, files), and limits torc must respect (how many allocations may wait in the queue).

Profiles are TOML or YAML files: built-in ones ship in ``torc/hpc/profiles/`` (NREL Kestrel);
users add or override them in ``~/.config/torc/hpc_profiles/`` or the directories in
``TORC_HPC_PROFILE_DIRS``; ``torc hpc generate`` writes one for the current cluster from
``scontrol show partition`` and ``scontrol show node``.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from torc.hpc.scheduler import HpcError
from torc.units import parse_walltime_seconds

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
PROFILE_SUFFIXES = (".toml", ".yaml", ".yml")
#: Default backlog: allocations of one workflow that may wait in the queue at once.
DEFAULT_MAX_QUEUED = 50


class ProfileError(HpcError):
    """A profile file is invalid, or no profile matches."""


@dataclass
class Partition:
    name: str
    cpus_per_node: int
    memory_mb: int
    max_walltime_secs: int | None = None  # None: no limit
    min_nodes: int = 1
    max_nodes: int | None = None
    gpus_per_node: int = 0
    gpu_type: str | None = None
    gpu_memory_gb: float | None = None
    local_disk_gb: float | None = None
    #: Several jobs share a node: request only the CPUs/memory needed, not whole nodes.
    shared: bool = False
    #: Slurm routes jobs here only when asked by name (debug, shared); torc sets --partition then.
    requires_explicit_request: bool = True
    #: Development partition: used only if nothing else fits.
    debug: bool = False
    default_qos: str | None = None
    features: list[str] = field(default_factory=list)
    description: str | None = None

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "Partition":
        data = dict(data)
        if "name" in data:
            where = f"{where} ({data['name']})"
        if "max_walltime" in data:  # a Slurm time is friendlier to write than seconds
            try:
                data["max_walltime_secs"] = parse_walltime_seconds(str(data.pop("max_walltime")))
            except ValueError as exc:
                raise ProfileError(f"{where}: max_walltime: {exc}") from None
        partition = _build(cls, data, where)
        partition._validate(where)
        return partition

    def _validate(self, where: str) -> None:
        """Numbers a planner divides by or compares must be whole and in range, named in the error."""
        for name, minimum in (("cpus_per_node", 1), ("memory_mb", 1), ("min_nodes", 1), ("gpus_per_node", 0)):
            _check_int(getattr(self, name), f"{where}: {name}", minimum)
        for name in ("max_nodes", "max_walltime_secs"):
            if getattr(self, name) is not None:
                _check_int(getattr(self, name), f"{where}: {name}", 1)
        if self.max_nodes is not None and self.min_nodes > self.max_nodes:
            raise ProfileError(f"{where}: min_nodes ({self.min_nodes}) is greater than max_nodes ({self.max_nodes})")

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024


@dataclass
class HpcProfile:
    name: str
    display_name: str
    partitions: list[Partition]
    description: str | None = None
    default_account: str | None = None
    #: Rules, any of which identifies the cluster: env {NAME: value}, hostname (regex), file (path).
    detect: dict = field(default_factory=dict)
    max_queued_allocations: int = DEFAULT_MAX_QUEUED
    #: sbatch script template for this cluster (a file or a name in slurm_templates/).
    template: str | None = None
    source: str | None = None

    @classmethod
    def from_dict(cls, data: dict, source: str) -> "HpcProfile":
        data = dict(data)
        parts = data.pop("partitions", None)
        if not parts or not isinstance(parts, list):
            raise ProfileError(f"{source}: a profile needs a non-empty list of partitions")
        data["partitions"] = [Partition.from_dict(p, f"{source}: partition {i + 1}") for i, p in enumerate(parts)]
        limits = data.pop("limits", {}) or {}
        unknown = sorted(set(limits) - {"max_queued_allocations"})
        if unknown:
            raise ProfileError(f"{source}: limits: unknown field(s) {', '.join(unknown)}")
        if "max_queued_allocations" in limits:
            data["max_queued_allocations"] = limits["max_queued_allocations"]
        data.setdefault("display_name", data.get("name"))
        profile = _build(cls, {**data, "source": source}, source)
        _check_int(profile.max_queued_allocations, f"{source}: limits: max_queued_allocations", 1)
        names = [p.name for p in profile.partitions]
        if len(set(names)) != len(names):
            raise ProfileError(f"{source}: duplicate partition names")
        return profile

    def partition(self, name: str) -> Partition:
        for partition in self.partitions:
            if partition.name == name:
                return partition
        raise ProfileError(f"profile {self.name} has no partition {name!r} (it has {', '.join(p.name for p in self.partitions)})")

    def matches(self, env=os.environ, hostname: str | None = None) -> bool:
        rules = self.detect or {}
        if rules.get("env") and all(env.get(k) == str(v) for k, v in rules["env"].items()):
            return True
        if rules.get("hostname"):
            host = hostname or socket.getfqdn()
            if re.search(rules["hostname"], host) or re.search(rules["hostname"], host.split(".")[0]):
                return True
        return bool(rules.get("file")) and Path(rules["file"]).exists()

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("source")
        data["limits"] = {"max_queued_allocations": data.pop("max_queued_allocations")}
        data["partitions"] = [{k: v for k, v in p.items() if v not in (None, [])} for p in data["partitions"]]
        return {k: v for k, v in data.items() if v not in (None, {}, [])}


def _check_int(value, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{where} must be a whole number, not {value!r}")
    if value < minimum:
        raise ProfileError(f"{where} must be at least {minimum}, not {value}")


def _build(cls, data: dict, where: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProfileError(f"{where}: unknown field(s) {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ProfileError(f"{where}: {exc}") from None


# ------------------------------------------------------------------ finding profiles


def profile_dirs() -> list[Path]:
    """Built-in first; later directories override earlier ones by profile name."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    dirs = [BUILTIN_DIR, config / "torc" / "hpc_profiles"]
    dirs += [Path(d) for d in os.environ.get("TORC_HPC_PROFILE_DIRS", "").split(os.pathsep) if d]
    return dirs


def load_profile_file(path: Path) -> HpcProfile:
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read HPC profile {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping")
    return HpcProfile.from_dict(data, str(path))


def all_profiles() -> dict[str, HpcProfile]:
    profiles: dict[str, HpcProfile] = {}
    for directory in profile_dirs():
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.suffix in PROFILE_SUFFIXES:
                    profile = load_profile_file(path)
                    profiles[profile.name] = profile
    return profiles


def get_profile(name_or_path: str) -> HpcProfile:
    """A profile by name, or from a file path."""
    path = Path(name_or_path)
    if path.suffix in PROFILE_SUFFIXES and path.is_file():
        return load_profile_file(path)
    profiles = all_profiles()
    if name_or_path not in profiles:
        raise ProfileError(f"no HPC profile {name_or_path!r}; known: {', '.join(sorted(profiles)) or 'none'} (see `torc hpc list`)")
    return profiles[name_or_path]


def detect_profile(env=os.environ, hostname: str | None = None) -> HpcProfile | None:
    for profile in all_profiles().values():
        if profile.matches(env, hostname):
            return profile
    return None


def resolve_profile(name_or_path: str | None) -> HpcProfile:
    """The named profile, else the detected one; a clear error when there is none."""
    if name_or_path:
        return get_profile(name_or_path)
    profile = detect_profile()
    if profile is None:
        raise ProfileError("no HPC profile matches this machine: pass --hpc-profile, or create one with "
                           "`torc hpc generate -o ~/.config/torc/hpc_profiles/<cluster>.toml`")
    return profile


# ------------------------------------------------------------------ generating a profile


def _fields(line: str) -> dict[str, str]:
    """``Key=Value Key2=Value 2`` (scontrol --oneliner) as a dict; values may contain spaces."""
    pairs = re.findall(r"(\S+?)=(.*?)(?=\s+\S+?=|$)", line.strip())
    return {key: value.strip() for key, value in pairs}


def _count_gpus(gres: str) -> tuple[int, str | None]:
    for item in (gres or "").split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu":
            count = parts[-1]
            return (int(count) if count.isdigit() else 0), (parts[1] if len(parts) == 3 else None)
    return 0, None


def profile_from_scontrol(partitions_text: str, nodes_text: str, name: str, hostname: str | None = None) -> HpcProfile:
    """A profile from ``scontrol show partition --oneliner`` and ``scontrol show node --oneliner``.

    A partition's node size is the smallest of its nodes (a plan that fits it fits every node).
    """
    nodes = [_fields(line) for line in nodes_text.splitlines() if line.startswith("NodeName=")]
    partitions = []
    for line in partitions_text.splitlines():
        if not line.startswith("PartitionName="):
            continue
        info = _fields(line)
        members = [n for n in nodes if info["PartitionName"] in n.get("Partitions", "").split(",")]
        if not members:
            continue
        gpus = [_count_gpus(n.get("Gres", "")) for n in members]
        max_time = info.get("MaxTime", "UNLIMITED")
        max_nodes = info.get("MaxNodes", "UNLIMITED")
        tmp = min(int(n.get("TmpDisk", "0") or 0) for n in members)
        partitions.append(Partition(
            name=info["PartitionName"],
            cpus_per_node=min(int(n.get("CPUTot", "1")) for n in members),
            memory_mb=min(int(n.get("RealMemory", "1")) for n in members),
            max_walltime_secs=parse_walltime_seconds(max_time) if max_time.upper() not in ("UNLIMITED", "INFINITE") else None,
            min_nodes=max(1, int(info.get("MinNodes", "1") or 1)),
            max_nodes=len(members) if max_nodes.upper() == "UNLIMITED" else min(int(max_nodes), len(members)),
            gpus_per_node=min(g for g, _ in gpus),
            gpu_type=gpus[0][1] if gpus[0][0] else None,
            local_disk_gb=round(tmp / 1024, 1) if tmp else None,
            shared=not info.get("OverSubscribe", "NO").upper().startswith("EXCLUSIVE") and info.get("ExclusiveUser", "NO") == "NO",
            requires_explicit_request=True,
            debug="debug" in info["PartitionName"].lower() and info.get("MaxTime", "").upper() not in ("UNLIMITED", "INFINITE"),
            default_qos=None if info.get("QoS", "N/A") == "N/A" else info["QoS"],
            description=f"{len(members)} node(s): {info.get('Nodes')}" + ("; the default partition" if info.get("Default") == "YES" else ""),
        ))
    if not partitions:
        raise ProfileError("scontrol listed no partition with nodes")
    detect = {"hostname": f"^{re.escape(hostname)}$"} if hostname else {}
    return HpcProfile(name=name, display_name=f"{name} (generated)", partitions=partitions, detect=detect,
                      description="Generated by `torc hpc generate` from scontrol; check and adjust.")


def generate_profile(hpc=None, name: str | None = None) -> HpcProfile:
    """A profile of the cluster this machine belongs to (needs Slurm's commands)."""
    from torc.hpc.slurm import SlurmCommands

    hpc = hpc or SlurmCommands()
    partitions = hpc.run(["scontrol", "show", "partition", "--oneliner"]).stdout
    nodes = hpc.run(["scontrol", "show", "node", "--oneliner"]).stdout
    config = hpc.run(["scontrol", "show", "config"]).stdout
    cluster = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.MULTILINE)
    name = name or (cluster.group(1) if cluster else "cluster")
    return profile_from_scontrol(partitions, nodes, name, socket.gethostname())


def dump_toml(profile: HpcProfile) -> str:
    """The profile as TOML (the subset profiles use: scalars, lists, tables, arrays of tables)."""
    data = profile.to_dict()
    lines = []
    for key, value in data.items():
        if not isinstance(value, (dict, list)) or (isinstance(value, list) and value and not isinstance(value[0], dict)):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in value.items()]
    for partition in data["partitions"]:
        lines += ["", "[[partitions]]"] + [f"{k} = {_toml_value(v)}" for k, v in partition.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
