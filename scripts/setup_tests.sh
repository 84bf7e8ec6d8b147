#!/usr/bin/env bash
# Prepare this machine to run torc's test suite: a virtualenv with torc and its dev extras, Java for
# OpenAPI Generator, and the services the tests talk to (PostgreSQL). Idempotent: every step checks
# first, so a second run takes seconds. Run as root on Debian 12 (CI and developer machines).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

apt_install() {
    # Install Debian packages only when one of them is missing.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Python environment.
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
log "installing torc[dev,postgres] into .venv"
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev,postgres,bench]'

# OpenAPI Generator (the contract check regenerates the clients) needs a Java runtime.
command -v java >/dev/null 2>&1 || apt_install default-jre-headless

# PostgreSQL: the tests run every database test on SQLite and on PostgreSQL.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

# sshd: the remote-worker tests start their own sshd instances on loopback.
bash tests/remote/install_sshd.sh

# Slurm: a real one-node cluster (slurmctld + slurmd on this machine) for tests/slurm.
bash tests/slurm/start_local_slurm.sh
log "ready"
