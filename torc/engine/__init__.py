"""The workflow engine: every rule about job states, as plain functions over the database.

Endpoints call these functions and nothing else changes job states, so the same rules hold for
every endpoint and on both databases. Each function that writes runs inside a write transaction
opened by its caller's ``with write_transaction()`` or its own.

- ``creation``: bulk creation of workflows from spec records, and of jobs.
- ``lifecycle``: initialize, reinitialize, reset, cancel a workflow.
- ``claims``: hand ready jobs to workers, atomically; long-poll waits.
- ``transitions``: start, complete, retry a job; manual status changes.
- ``propagation``: what a finished job does to its dependents (release, cancel cascade, reset).
- ``actions``: creating workflow actions and counting their triggers.
- ``fingerprints``: what each job consumes, to rerun only the jobs whose inputs changed.
- ``cycles``: refusing dependency cycles wherever edges appear.
- ``workers``: leases of workers and recovery of the jobs of lost ones.
- ``queries``: read-only questions (is it complete, what is ready, what is missing).
- ``wakeup``: waking long-poll claims when jobs become ready.
"""
