"""The ``torc`` command line: workflows, jobs and their records on a torc server.

``torc.cli.main:cli`` is the entry point; see ``docs/cli.md``. Commands reach the server only
through ``torc.client`` and multi-step operations live in ``torc.workflow_ops`` so that other
tools can reuse them.
"""
