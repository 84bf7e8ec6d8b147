#!/bin/bash
# A torc allocation: one worker that claims and runs the jobs of workflow {{ workflow_id }}.
# Rendered by torc from slurm_templates/default.sh. To use your own template, copy this file and
# set `template` on a Slurm scheduler (wins), pass --template FILE, set TORC_SLURM_TEMPLATE, or set
# `template` in your HPC profile. Placeholders:
#   sbatch_directives  the #SBATCH lines (must stay before any command)
#   environment        `export` lines torc's worker needs
#   worker_command     `exec` of the worker (already shell-quoted): keep it the last command so
#                      Slurm's SIGTERM reaches the worker
#   workflow_id, job_name, output_dir, url   (already shell-quoted where they are strings)
{{ sbatch_directives }}

# Site setup (modules, conda environments, ...) goes here in a custom template.
{{ environment }}

{{ worker_command }}
