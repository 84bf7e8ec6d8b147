#!/usr/bin/env bash
# Stop the test Slurm cluster started by start_local_slurm.sh.
#
#   bash tests/slurm/stop_local_slurm.sh
#
# Cancels every job first (so no job processes outlive slurmd: with
# proctrack/linuxproc nothing else would reap them), then stops slurmd and
# slurmctld. munged is left running: it is cheap and other tools may use it.
# Idempotent: exits 0 when nothing is running.
set -uo pipefail

CTLD_PIDFILE=/run/slurmctld.pid
SLURMD_PIDFILE=/run/slurmd.pid
STOP_TIMEOUT=${TORC_SLURM_STOP_TIMEOUT:-20}

log() { echo "[stop_local_slurm] $*" >&2; }

# Prints the pid if the pidfile names a live process called $2.
live_pid() {
    local pidfile=$1 name=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$name" ]] || return 1
    echo "$pid"
}

ctld_pid=$(live_pid "$CTLD_PIDFILE" slurmctld) || ctld_pid=
slurmd_pid=$(live_pid "$SLURMD_PIDFILE" slurmd) || slurmd_pid=
if [[ -z $ctld_pid && -z $slurmd_pid ]]; then
    log "slurm is not running"
    exit 0
fi

if [[ -n $ctld_pid && -n $slurmd_pid ]]; then
    jobs=$(timeout 5 squeue --noheader --format=%i --states=PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null
        # Give slurmd time to kill the job steps (KillWait=5) before it goes away.
        for _ in $(seq 1 100); do
            [[ -z $(timeout 5 squeue --noheader --format=%i 2>/dev/null --states=RUNNING,COMPLETING) ]] && break
            sleep 0.1
        done
    fi
fi

# SIGTERM is slurm's orderly shutdown (slurmctld saves its state); escalate
# to SIGKILL only if a daemon does not exit in time.
for pid in $slurmd_pid $ctld_pid; do
    log "stopping $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
done
deadline=$(($(date +%s) + STOP_TIMEOUT))
for pid in $slurmd_pid $ctld_pid; do
    while kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s) >= deadline)); then
            log "pid $pid did not exit after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            break
        fi
        sleep 0.1
    done
done
rm -f "$CTLD_PIDFILE" "$SLURMD_PIDFILE"
log "slurm stopped"
