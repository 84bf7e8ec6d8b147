"""Reports over a workflow's results: resource over-utilization checks and resource plots."""
