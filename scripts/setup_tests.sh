#!/usr/bin/env bash
# Prepare this machine to run torc's test suite: a virtualenv with torc and its dev extras, Java for
# OpenAPI Generator, and the services the tests talk to (PostgreSQL, installed if missing, and a
# login the tests can use). Idempotent: every step checks first, so a second run takes seconds.
# Run as root on Debian 12 (CI and developer machines), fresh or not.
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

die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Python environment. Debian's python3 cannot create virtualenvs without python3-venv (ensurepip).
if [ ! -x .venv/bin/python ]; then
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3 python3-venv
    log "creating .venv"
    python3 -m venv .venv
fi
log "installing torc[dev,postgres] into .venv"
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev,postgres,bench]'

# OpenAPI Generator (the contract check regenerates the clients) needs a Java runtime.
command -v java >/dev/null 2>&1 || apt_install default-jre-headless

# PostgreSQL: the tests run every database test on SQLite and on PostgreSQL. Installing the
# package creates the cluster "main" on port 5432; in a container nothing starts it, so we do.
apt_install postgresql
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

# The tests log in as TORC_TEST_POSTGRES_URL (default: role postgres over TCP on 127.0.0.1, no
# password in the URL). A fresh Debian cluster wants a password there (scram-sha-256) and the role
# has none: give it a random one, kept in ~/.pgpass, which libpq (psycopg2, every torc-server the
# tests start) reads. A role that already has a password is never changed.
ensure_test_login() {
    local url=$1 port=$2 has_password password
    psql "$url" -w -qAtc 'SELECT 1' >/dev/null 2>&1 && return 0
    [ "$url" = "postgresql://postgres@127.0.0.1:$port/postgres" ] \
        || die "cannot log in to PostgreSQL as TORC_TEST_POSTGRES_URL=$url (fix the URL, or its password in ~/.pgpass)"
    has_password=$(runuser -u postgres -- psql -p "$port" -qAtc "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'postgres'")
    [ "$has_password" = f ] \
        || die "role postgres has a password this script does not know: put it in ~/.pgpass (127.0.0.1:$port:*:postgres:PASSWORD) or set TORC_TEST_POSTGRES_URL"
    log "giving role postgres a password for TCP logins (kept in ~/.pgpass)"
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
    runuser -u postgres -- psql -p "$port" -q -v ON_ERROR_STOP=1 <<<"ALTER ROLE postgres PASSWORD '$password';"
    touch ~/.pgpass && chmod 600 ~/.pgpass
    printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$password" >>~/.pgpass
    psql "$url" -w -qAtc 'SELECT 1' >/dev/null || die "still cannot log in to PostgreSQL as $url"
}
ensure_test_login "${TORC_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" 5432

# sshd: the remote-worker tests start their own sshd instances on loopback.
bash tests/remote/install_sshd.sh

# Slurm: a real one-node cluster (slurmctld + slurmd on this machine) for tests/slurm.
bash tests/slurm/start_local_slurm.sh
log "ready"
