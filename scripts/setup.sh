#!/usr/bin/env bash
# Install dockyard and its system packages, start dockyardd, make a busybox image from
# Debian's busybox-static, and run a container. Run as root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
# zlib1g-dev: the shim gzips rotated logs. docker-registry, skopeo and apache2-utils (htpasswd): the tests' local registries.
# debootstrap is for `dockyard image bootstrap` (Debian base images).
PACKAGES="busybox-static runc gcc zlib1g-dev docker-registry skopeo apache2-utils debootstrap"
# libseccomp2: compiles seccomp filters; libc6-dev: the seccomp tests build a static helper.
PACKAGES="$PACKAGES libseccomp2 libc6-dev"
# nftables: libnftables.so.1, through which the daemon writes its firewall tables.
PACKAGES="$PACKAGES nftables"
# iproute2 (ip, ss), e2fsprogs (mkfs.ext4 for block-device volumes), git (remote build contexts)
# and curl: the networking, volume and build tests use them.
PACKAGES="$PACKAGES iproute2 e2fsprogs git curl"
# openssl: the TLS tests make their own CA and certificates.
PACKAGES="$PACKAGES openssl"
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq $PACKAGES >/dev/null
fi
python3 -m pip install -q -e '.[test]'
python3 scripts/cli-launcher.py >/dev/null   # the CLI starts without site-packages' .pth files
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi   # expose the console scripts
# Byte-compile now: an editable install runs from the tree, and with PYTHONDONTWRITEBYTECODE
# set every CLI start would otherwise recompile the modules it imports.
python3 -m compileall -q src >/dev/null

SOCK=/run/dockyard/dockyard.sock
if ! dockyard -H "unix://$SOCK" version >/dev/null 2>&1; then
    mkdir -p /var/log/dockyard
    nohup setsid dockyardd >>/var/log/dockyard/dockyardd.log 2>&1 &
    # Wait for an answer, not for the socket file: a daemon killed without a clean stop
    # leaves its socket behind, and the new one replaces it only once it is ready.
    ready=
    for _ in $(seq 300); do
        if dockyard -H "unix://$SOCK" version >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "dockyardd did not answer on $SOCK within 30 s; its log ends:" >&2
        tail -n 30 /var/log/dockyard/dockyardd.log >&2
        exit 1
    fi
fi
if ! dockyard image inspect busybox >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    python3 scripts/busybox-rootfs.py "$tmp/busybox.tar"
    dockyard import -c 'CMD ["sh"]' "$tmp/busybox.tar" busybox:latest
    rm -rf "$tmp"
fi
dockyard run --rm busybox echo hello
