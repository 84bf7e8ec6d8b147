"""The workflow engine: every rule about job states, as plain functions over the database.

Endpoints call these functions and nothing else changes job states, so the same rules hold for
every endpoint and on both databases. Each function that writes runs inside a write transaction
opened by its caller's ``with write_transaction()`` or its own.

- ``lifecycle``: initialize, reset, cancel a workflow.
- ``claims``: hand ready jobs to workers, atomically.
- ``transitions``: start, complete, retry a job; manual status changes.
- ``propagation``: what a finished job does to its dependents (release, cancel cascade, reset).
- ``actions``: counting triggers of workflow actions.
- ``queries``: read-only questions (is it complete, what is ready, what changed).
- ``wakeup``: waking long-poll claims when jobs become ready.
"""
