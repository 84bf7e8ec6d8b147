"""torc: a workflow orchestrator for HPC users."""

__version__ = "0.1.0"
