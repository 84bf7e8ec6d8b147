"""``torc slurm sacct``: one line per allocation of a workflow, joining torc's records with Slurm's."""

from __future__ import annotations

from torc.client import TorcApi
from torc.hpc.scheduler import HpcScheduler


def allocation_summary(api: TorcApi, workflow_id: int, hpc: HpcScheduler) -> list[dict]:
    """Each scheduled compute node with its Slurm state, times, exit code and nodes (from sacct)."""
    records = [r for r in api.iter_scheduled_compute_nodes(workflow_id) if r.scheduler_id]
    names = {s.id: s.name for s in api.iter_items(api.slurm_schedulers.list_slurm_schedulers, workflow_id)}
    ids = [str(r.scheduler_id) for r in records]
    # The allocation's own line, not its steps ("123.batch", "123.0").
    accounting = {a.job_id: a for a in hpc.accounting(ids)} if ids else {}
    live = hpc.status(ids) if ids else {}
    summary = []
    for record in records:
        job_id = str(record.scheduler_id)
        acct = accounting.get(job_id)
        info = live.get(job_id)
        summary.append({
            "id": record.id,
            "slurm_job_id": job_id,
            "scheduler": names.get(record.scheduler_config_id, record.scheduler_config_id),
            "status": record.status,
            "state": acct.state if acct else (info.state if info else None),
            "start": acct.start if acct else None,
            "end": acct.end if acct else None,
            "elapsed": acct.elapsed if acct else None,
            "exit_code": acct.exit_code if acct else None,
            "nodes": (acct.nodes if acct else None) or (info.nodes if info else None),
            "steps": [vars(a) for a in accounting.values() if a.job_id.startswith(job_id + ".")],
        })
    return summary
