"""What a worker offers: CPUs, memory and GPUs, detected or given on the command line."""

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field

import psutil

logger = logging.getLogger(__name__)


@dataclass
class Resources:
    num_cpus: int
    memory_gb: float
    gpu_ids: list[int] = field(default_factory=list)
    num_nodes: int = 1

    @property
    def num_gpus(self) -> int:
        return len(self.gpu_ids)


def detect_gpus() -> list[int]:
    """Indices of NVIDIA GPUs from ``nvidia-smi`` (none when it is missing or fails)."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return []
    try:
        out = subprocess.run(
            [executable, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        return sorted(int(line.strip()) for line in out.splitlines() if line.strip())
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        logger.warning("nvidia-smi failed (%s); assuming no GPUs", exc)
        return []


def visible_gpus(environ=os.environ) -> list[int]:
    """The GPUs this worker may hand out: the ids in a pre-set ``CUDA_VISIBLE_DEVICES`` (a Slurm
    allocation that gave the worker GPUs 2,3 means jobs get 2 and 3, not 0 and 1), else all
    that ``nvidia-smi`` lists."""
    preset = environ.get("CUDA_VISIBLE_DEVICES")
    if preset is None:
        return detect_gpus()
    try:
        return [int(part) for part in preset.split(",") if part.strip()]
    except ValueError:
        logger.warning("CUDA_VISIBLE_DEVICES=%r is not a list of GPU indices; assuming no GPUs", preset)
        return []


def detect(num_cpus: int | None = None, memory_gb: float | None = None, num_gpus: int | None = None) -> Resources:
    """Given values win; the rest is detected (all CPUs, available memory, all GPUs)."""
    gpus = visible_gpus()
    if num_gpus is not None:
        gpus = gpus[:num_gpus] if len(gpus) >= num_gpus else list(range(num_gpus))
    return Resources(
        num_cpus=num_cpus if num_cpus is not None else psutil.cpu_count(logical=True) or 1,
        memory_gb=memory_gb if memory_gb is not None else psutil.virtual_memory().total / 1024**3,
        gpu_ids=gpus,
    )
