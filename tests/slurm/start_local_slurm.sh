#!/usr/bin/env bash
# Bring up a real, single-node Slurm cluster on this machine for torc's tests.
#
#   bash tests/slurm/start_local_slurm.sh      # as root; stop: stop_local_slurm.sh
#
# - Installs Debian's munge/slurmctld/slurmd/slurm-client when missing.
# - Writes /etc/slurm/slurm.conf (+ cgroup.conf) for one node named `hostname -s`.
# - Starts munged, slurmctld and slurmd directly (the test machines have no
#   systemd), then proves the cluster works by running a real job.
# - Idempotent: if the cluster is already up with the same config it returns in
#   well under a second; if the config changed it restarts the daemons.
# Exit status is 0 only when a job has been seen to run (or the cluster was
# already healthy). On failure the tail of every daemon log is printed.
#
# Knobs (environment):
#   TORC_SLURM_START_TIMEOUT  seconds to wait for the cluster (default 90)
#   TORC_SLURM_CPUS           CPUs declared for the node (default 8)
#   TORC_SLURM_MEMORY_MB      RealMemory declared for the node (default 8000)
set -euo pipefail

START_TIMEOUT=${TORC_SLURM_START_TIMEOUT:-90}
NODE_CPUS=${TORC_SLURM_CPUS:-8}
NODE_MEM=${TORC_SLURM_MEMORY_MB:-8000}

NODE=$(hostname -s)
SLURM_ETC=/etc/slurm
LOG_DIR=/var/log/slurm
CTLD_SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
JOBCOMP_LOG=$LOG_DIR/jobcomp.log
CTLD_LOG=$LOG_DIR/slurmctld.log
SLURMD_LOG=$LOG_DIR/slurmd.log
MUNGE_LOG=/var/log/munge/munged.log
CTLD_PIDFILE=/run/slurmctld.pid
SLURMD_PIDFILE=/run/slurmd.pid
PACKAGES=(munge slurmctld slurmd slurm-client)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=${EPOCHREALTIME/./}   # microseconds (bash 5)
DEADLINE=$(($(date +%s) + START_TIMEOUT))

log() {
    local us=$((${EPOCHREALTIME/./} - T0))
    printf '[start_local_slurm %d.%01ds] %s\n' $((us / 1000000)) $((us % 1000000 / 100000)) "$*" >&2
}

dump_logs() {
    local f
    for f in "$MUNGE_LOG" "$CTLD_LOG" "$SLURMD_LOG"; do
        if [[ -f $f ]]; then
            echo "----- last 25 lines of $f -----" >&2
            tail -n 25 "$f" >&2
        fi
    done
    if command -v sinfo >/dev/null 2>&1; then
        echo "----- sinfo -N -l -----" >&2
        timeout 5 sinfo -N -l >&2 2>&1 || true
    fi
}

die() {
    log "ERROR: $*"
    dump_logs
    exit 1
}

time_left() { echo $((DEADLINE - $(date +%s))); }

# Poll CMD (a shell string) every 0.1 s until it succeeds or the global
# deadline passes. Polling this fast matters: most of the start time is
# spent waiting for daemons that become ready within a few hundred ms.
wait_for() {
    local what=$1 cmd=$2
    while ! eval "$cmd" >/dev/null 2>&1; do
        (($(time_left) > 0)) || die "timed out (${START_TIMEOUT}s) waiting for $what"
        sleep 0.1
    done
}

# A pidfile may be stale (daemon crashed, pid reused), so also check the name.
pid_alive() {
    local pidfile=$1 name=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ -r /proc/$pid/comm ]] && [[ $(<"/proc/$pid/comm") == "$name" ]]
}

node_state() { timeout 5 sinfo --noheader --nodes="$NODE" --format='%T' 2>/dev/null | head -n1; }

# sinfo %T prints the long state name; these mean "can run jobs".
node_usable() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }

# munge round trip: every slurm RPC is authenticated through munged.
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"

# Serialize concurrent callers (e.g. several pytest workers each calling this
# script): the second one waits, then takes the fast path below.
# (The daemons are started with fd 9 closed so they don't inherit the lock.)
exec 9>/run/torc-start-local-slurm.lock
flock -w 600 9 || die "another start_local_slurm.sh holds /run/torc-start-local-slurm.lock"

# --------------------------------------------------------------------------
# 1. Packages
# --------------------------------------------------------------------------
install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} (apt)"
    # Without systemd, the packages' postinst would try to start the daemons via
    # their init scripts, with no slurm.conf yet. A policy-rc.d that answers
    # 101 ("action forbidden") stops that; we start everything ourselves below.
    # Docker-style images often already have one: leave theirs alone.
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    # Other engineers/tests may be running apt concurrently: wait for the lock.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    local rc=0
    "${apt[@]}" update >/dev/null &&
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >/tmp/torc-slurm-apt.log 2>&1 ||
        rc=$?
    ((own_policy)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        tail -n 30 /tmp/torc-slurm-apt.log >&2 || true
        die "apt-get install failed (rc=$rc), full log in /tmp/torc-slurm-apt.log"
    fi
    # Package install is not bounded by START_TIMEOUT; restart the clock.
    DEADLINE=$(($(date +%s) + START_TIMEOUT))
}
install_packages

# --------------------------------------------------------------------------
# 2. Name resolution: slurm looks up its own node name; make it loopback.
# --------------------------------------------------------------------------
if ! getent ahostsv4 "$NODE" 2>/dev/null | grep -q '^127\.0\.0\.1 '; then
    log "adding '127.0.0.1 $NODE' to /etc/hosts"
    echo "127.0.0.1 $NODE" >>/etc/hosts
fi

# --------------------------------------------------------------------------
# 3. Configuration (written to a temp file; only replaced when it differs, so
#    that an unchanged config lets a running cluster be reused as-is)
# --------------------------------------------------------------------------
mkdir -p "$SLURM_ETC" "$LOG_DIR" "$CTLD_SPOOL" "$SLURMD_SPOOL"
new_conf=$(mktemp)
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
# Generated by torc tests/slurm/start_local_slurm.sh -- edits are overwritten.
# A one-node test cluster: everything on 127.0.0.1, no slurmdbd, no cgroups.
ClusterName=torc-test
SlurmctldHost=${NODE}(127.0.0.1)
# root everywhere: no file-ownership surprises in the spool/log dirs.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=${CTLD_SPOOL}
SlurmdSpoolDir=${SLURMD_SPOOL}
SlurmctldPidFile=${CTLD_PIDFILE}
SlurmdPidFile=${SLURMD_PIDFILE}
SlurmctldLogFile=${CTLD_LOG}
SlurmdLogFile=${SLURMD_LOG}
SlurmctldDebug=info
SlurmdDebug=info
# No mail program on the test machines (the default /bin/mail logs an error).
MailProg=/bin/true

# The test machines have no (writable) cgroups and no systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# "sacct -c" reads this file, so job history works without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=${JOBCOMP_LOG}

# Several 1-CPU jobs at once: the node claims ${NODE_CPUS} CPUs whatever the
# hardware has; config_overrides stops slurmd from draining the node for
# "Low socket*core*thread count".
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides

# Fast turnaround: try to schedule on every submit/completion event, a
# backfill pass every second, no artificial delays.
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=0,batch_sched_delay=0,default_queue_depth=1000
SchedulerTimeSlice=30
# A node that was DOWN (e.g. slurmd killed) comes back as soon as slurmd registers.
ReturnToService=2
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
# Time limit enforcement: SIGTERM, then SIGKILL KillWait seconds later.
KillWait=5
OverTimeLimit=0
Waittime=0
# Finished jobs stay visible in squeue/scontrol for 5 minutes.
MinJobAge=300
# Reject at submit time a job that exceeds its partition's limits (e.g.
# --time over MaxTime, more CPUs than the node), like most production sites,
# instead of letting it pend forever (reason PartitionTimeLimit).
EnforcePartLimits=ALL

NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${NODE_CPUS} RealMemory=${NODE_MEM} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=${NODE} MaxTime=00:10:00 State=UP
EOF

conf_changed=0
if ! cmp -s "$new_conf" "$SLURM_ETC/slurm.conf"; then
    install -m 0644 "$new_conf" "$SLURM_ETC/slurm.conf"
    conf_changed=1
fi
# Read by slurmd even with proctrack/linuxproc; keep it from probing cgroups.
cgroup_conf="# Generated by torc tests/slurm/start_local_slurm.sh
# No cgroups are used (proctrack/linuxproc, task/none).
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
"
if [[ ! -f $SLURM_ETC/cgroup.conf ]] || [[ $(<"$SLURM_ETC/cgroup.conf") != "${cgroup_conf%$'\n'}" ]]; then
    printf '%s' "$cgroup_conf" >"$SLURM_ETC/cgroup.conf"
    conf_changed=1
fi

# --------------------------------------------------------------------------
# 4. Fast path: already running with this config and the node is usable.
# --------------------------------------------------------------------------
if ((conf_changed == 0)) && pid_alive "$CTLD_PIDFILE" slurmctld && pid_alive "$SLURMD_PIDFILE" slurmd &&
    munge_ok && node_usable; then
    log "slurm already running and healthy (node $NODE is $(node_state))"
    exit 0
fi
if ((conf_changed)) && { pid_alive "$CTLD_PIDFILE" slurmctld || pid_alive "$SLURMD_PIDFILE" slurmd; }; then
    log "slurm.conf changed: restarting the daemons"
    bash "$SCRIPT_DIR/stop_local_slurm.sh"
fi

# --------------------------------------------------------------------------
# 5. munge (authentication between all slurm components)
# --------------------------------------------------------------------------
if ! munge_ok; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            create-munge-key -f
        fi
    fi
    # munged refuses to run unless its key/dirs belong to it and are private.
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
    # /run is not always a fresh tmpfs here (no systemd-tmpfiles), so create it.
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged 9>&- || die "munged failed to start"
    wait_for "munged" munge_ok
fi

# --------------------------------------------------------------------------
# 6. slurmctld, then slurmd (slurmd registers with slurmctld at start-up)
# --------------------------------------------------------------------------
if ! pid_alive "$CTLD_PIDFILE" slurmctld; then
    log "starting slurmctld"
    # -i: ignore errors in old state files (e.g. after a config change) rather
    # than refuse to start. Job ids continue across restarts.
    slurmctld -i </dev/null >>"$CTLD_LOG" 2>&1 9>&- || die "slurmctld failed to start"
fi
wait_for "slurmctld to answer" "timeout 5 scontrol ping | grep -q 'is UP'"

if ! pid_alive "$SLURMD_PIDFILE" slurmd; then
    log "starting slurmd -N $NODE"
    slurmd -N "$NODE" </dev/null >>"$SLURMD_LOG" 2>&1 9>&- || die "slurmd failed to start"
fi

# The node can come back from saved state as DOWN/DRAIN (e.g. a previous
# slurmd died): resume it once slurmd is up rather than wait for an admin.
while ! node_usable; do
    (($(time_left) > 0)) || die "timed out (${START_TIMEOUT}s): node $NODE is '$(node_state)', not idle"
    state=$(node_state)
    if [[ $state =~ drain|down|fail ]] && pid_alive "$SLURMD_PIDFILE" slurmd; then
        timeout 5 scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
    fi
    pid_alive "$SLURMD_PIDFILE" slurmd || sleep 0.2 # slurmd may still be daemonizing
    pid_alive "$SLURMD_PIDFILE" slurmd || die "slurmd exited during start-up (see its log below)"
    sleep 0.1
done
log "node $NODE is $(node_state)"

# --------------------------------------------------------------------------
# 7. Prove it: a real job must run to completion.
# --------------------------------------------------------------------------
left=$(time_left)
((left > 1)) || left=2
if ! out=$(timeout "$left" srun --nodes=1 --ntasks=1 --time=1 --job-name=torc-selftest echo slurm-ok 2>&1) ||
    [[ $out != *slurm-ok* ]]; then
    echo "$out" >&2
    die "test job (srun echo) did not complete"
fi
log "slurm is up: test job ran on $NODE"
