#!/usr/bin/env bash
# Install (as root) or check (otherwise) the Debian packages listed in the given files.
# Usage: envs/install-system.sh envs/apt-runtime.txt [envs/apt-test.txt]
set -euo pipefail
pkgs=$(grep -hv '^\s*#' "$@" | tr -s ' \n' ' ')
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "[setup] missing Debian packages:$missing" >&2
    echo "[setup] install them with: sudo apt-get install$missing" >&2
    echo "[setup] (or use conda: envs/genorisk.yaml has bcftools, htslib and plink2)" >&2
    exit 1
fi
