"""HPC batch schedulers (Slurm): submitting allocations, the allocation worker, profiles, recovery.

* :mod:`~torc.hpc.scheduler`: the scheduler interface; :mod:`~torc.hpc.slurm` (Slurm commands)
  and :mod:`~torc.hpc.pyslurm_backend` (optional) implement it;
* :mod:`~torc.hpc.templates`: sbatch scripts from ``slurm_templates/``, values validated/quoted;
* :mod:`~torc.hpc.allocations`: scheduled compute nodes + sbatch (``schedule-nodes``, actions);
* :mod:`~torc.hpc.environment`: the worker inside an allocation (``slurm run-jobs``);
* :mod:`~torc.hpc.orphans`: allocations that died, and rerunning their jobs;
* :mod:`~torc.hpc.profiles` / :mod:`~torc.hpc.planning`: cluster descriptions and ``submit-slurm``;
* :mod:`~torc.hpc.logs` / :mod:`~torc.hpc.accounting`: ``parse-logs`` and ``sacct``.

Modules import nothing heavy at package import, so ``torc`` stays fast on login nodes.
"""
