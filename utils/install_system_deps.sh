#!/usr/bin/env bash
# System programs the corpus generator needs: Flite, whose clustergen voices awb, rms and slt
# speak for part of the demo corpus's speakers (dinosr_espnet/data/synth/flite.py).
# Usage: utils/install_system_deps.sh   (as root, or with the programs already installed)
# Idempotent: returns at once when everything is there.
set -euo pipefail

packages=(flite)
programs=(flite)
missing=()
for i in "${!programs[@]}"; do
    command -v "${programs[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "[install_system_deps] ${programs[*]}: installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[install_system_deps] error: missing ${missing[*]}; install as root with" \
        "'apt-get install -y ${missing[*]}' (Debian/Ubuntu) or your system's package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[install_system_deps] installed ${missing[*]}"
