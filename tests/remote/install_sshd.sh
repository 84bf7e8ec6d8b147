#!/usr/bin/env bash
# Install Debian's OpenSSH server for the loopback-sshd test fixture
# (tests/remote/sshd_fixture.py). Idempotent: does nothing when
# /usr/sbin/sshd already exists. Needs root.
#
# The fixture runs its own sshd processes with private configs/keys; the
# system sshd service is NOT started or configured here.
set -euo pipefail

if [[ -x /usr/sbin/sshd ]] && command -v ssh-keygen >/dev/null 2>&1; then
    exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "install_sshd.sh: must run as root" >&2; exit 1; }

# Without systemd, the package's postinst would try to start the system sshd
# on port 22 via its init script. A policy-rc.d answering 101 prevents that;
# keep an existing one (Docker-style images ship their own).
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

# Lock timeout: other test setup (e.g. tests/slurm) may run apt at the same time.
apt=(apt-get -q -o DPkg::Lock::Timeout=300)
"${apt[@]}" update >/dev/null
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends openssh-server openssh-client >/dev/null
[[ -x /usr/sbin/sshd ]] || { echo "install_sshd.sh: /usr/sbin/sshd still missing" >&2; exit 1; }
echo "install_sshd.sh: openssh-server installed" >&2
